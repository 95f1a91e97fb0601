"""FeaturePipeline: scaler fitted on training rows only, clean float32 output, JSON round trip."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import RobustScaler, StandardScaler

from tengri.errors import DataValidationError, InvalidInputError
from tengri.features import FeaturePipeline, compute_features, feature_names, warmup_bars
from tengri.features import _pipeline as pipeline_module

TRAIN_END = 3999


@pytest.fixture(scope="module")
def fitted(eurusd: pd.DataFrame) -> FeaturePipeline:
    return FeaturePipeline().fit(eurusd, train_end=eurusd.index[TRAIN_END])


def test_transform_gives_complete_float32_rows_after_the_warmup(
    fitted: FeaturePipeline, eurusd: pd.DataFrame
) -> None:
    matrix = fitted.transform(eurusd)
    assert fitted.feature_names == feature_names() == list(matrix.columns)
    assert fitted.warmup_bars == warmup_bars() == 815
    assert matrix.index.equals(eurusd.index[815:])
    assert (matrix.dtypes == np.float32).all()
    assert np.isfinite(matrix.to_numpy()).all()


def test_the_robust_scaler_uses_the_training_rows_after_the_warmup_only(
    fitted: FeaturePipeline, eurusd: pd.DataFrame
) -> None:
    training = compute_features(eurusd).iloc[warmup_bars() : TRAIN_END + 1]
    reference = RobustScaler().fit(training.to_numpy())
    state = fitted.to_dict()
    assert state["train_rows"] == TRAIN_END + 1 - warmup_bars()
    np.testing.assert_array_equal(state["center"], reference.center_)
    np.testing.assert_array_equal(state["scale"], reference.scale_)
    # Scaled training rows have median 0 in every column.
    scaled = fitted.transform(eurusd).loc[: eurusd.index[TRAIN_END]]
    np.testing.assert_allclose(np.median(scaled.to_numpy(), axis=0), 0.0, atol=1e-6)


def test_changing_rows_after_train_end_does_not_change_the_fitted_parameters(
    fitted: FeaturePipeline, eurusd: pd.DataFrame
) -> None:
    changed = eurusd.copy()
    later = changed.index > changed.index[TRAIN_END]
    changed.loc[later, ["Open", "High", "Low", "Close"]] *= 3.0
    changed.loc[later, "Volume"] = 0.0
    refit = FeaturePipeline().fit(changed, train_end=changed.index[TRAIN_END])
    assert refit.to_dict() == fitted.to_dict()
    # ... and the test rows themselves do change.
    assert not np.array_equal(refit.transform(changed).to_numpy(), fitted.transform(eurusd).to_numpy())


def test_fit_accepts_precomputed_features_and_a_naive_train_end(
    fitted: FeaturePipeline, eurusd: pd.DataFrame
) -> None:
    features = compute_features(eurusd)
    naive_end = eurusd.index[TRAIN_END].tz_localize(None)
    from_features = FeaturePipeline().fit(features.iloc[:, ::-1], train_end=naive_end)
    assert from_features.to_dict() == fitted.to_dict()
    np.testing.assert_array_equal(from_features.transform(features), fitted.transform(eurusd))


def test_the_standard_scaler_and_clipping(eurusd: pd.DataFrame) -> None:
    pipeline = FeaturePipeline(scaler="standard", clip=3.0).fit(eurusd)
    training = compute_features(eurusd).iloc[warmup_bars() :]
    reference = StandardScaler().fit(training.to_numpy())
    np.testing.assert_array_equal(pipeline.to_dict()["center"], reference.mean_)
    np.testing.assert_array_equal(pipeline.to_dict()["scale"], reference.scale_)
    matrix = pipeline.transform(eurusd).to_numpy()
    assert matrix.min() == -3.0
    assert matrix.max() == 3.0


def test_a_constant_feature_keeps_scale_one(eurusd: pd.DataFrame) -> None:
    pipeline = FeaturePipeline(higher_factors=()).fit(eurusd.assign(Volume=0.0))
    state = pipeline.to_dict()
    volume_z = pipeline.feature_names.index("volume_z")
    assert state["scale"][volume_z] == 1.0
    assert np.isfinite(pipeline.transform(eurusd.assign(Volume=0.0)).to_numpy()).all()


def test_to_dict_from_dict_round_trips_through_json_to_identical_transforms(
    fitted: FeaturePipeline, eurusd: pd.DataFrame
) -> None:
    text = json.dumps(fitted.to_dict())
    restored = FeaturePipeline.from_dict(json.loads(text))
    assert restored.to_dict() == fitted.to_dict()
    pd.testing.assert_frame_equal(restored.transform(eurusd), fitted.transform(eurusd))
    assert repr(restored) == repr(fitted)
    unfitted = FeaturePipeline.from_dict(json.loads(json.dumps(FeaturePipeline((8,)).to_dict())))
    assert not unfitted.is_fitted
    assert unfitted.higher_factors == (8,)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        ({"format": "pickle"}, "not a tengri.features.FeaturePipeline state"),
        ({"version": 99}, "version 99"),
        ({"feature_names": ["ret_1"]}, "feature_names do not match"),
        ({"center": [0.0] * 3}, "51 values"),
        ({"scale": None}, "both be set"),
        ({"scale": [0.0] * 51}, "scale finite and > 0"),
        ({"scaler": "minmax"}, "scaler must be"),
        ({"higher_factors": [1]}, "higher_factors"),
    ],
)
def test_from_dict_rejects_a_bad_state(fitted: FeaturePipeline, edit: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        FeaturePipeline.from_dict(fitted.to_dict() | edit)


def test_fit_and_transform_errors(eurusd: pd.DataFrame, fitted: FeaturePipeline) -> None:
    with pytest.raises(InvalidInputError, match="call fit"):
        FeaturePipeline().transform(eurusd)
    with pytest.raises(InvalidInputError, match="801 bars are too few"):
        FeaturePipeline().fit(eurusd, train_end=eurusd.index[800])
    with pytest.raises(
        InvalidInputError, match=r"fit: no complete row in 801 rows up to train_end=.*too few"
    ):
        FeaturePipeline().fit(compute_features(eurusd), train_end=eurusd.index[800])
    with pytest.raises(InvalidInputError, match="815 bars are too few"):
        fitted.transform(eurusd.iloc[:815])
    with pytest.raises(InvalidInputError, match="transform: no complete row in 815 rows; too few"):
        fitted.transform(compute_features(eurusd).iloc[:815])
    with pytest.raises(DataValidationError, match="expected OHLCV bars"):
        fitted.transform(pd.DataFrame({"ret_1": [0.0]}))
    with pytest.raises(InvalidInputError, match="clip"):
        FeaturePipeline(clip=0.0)
    features = compute_features(eurusd)
    features.iloc[2000, 3] = np.nan
    with pytest.raises(DataValidationError, match="transform: feature ret_8 is not finite"):
        fitted.transform(features)
    # fit looks at nothing after train_end, not even to validate it.
    assert FeaturePipeline().fit(features, train_end=eurusd.index[1999]).is_fitted
    with pytest.raises(DataValidationError, match="missing or infinite value at row 3"):
        fitted.transform(eurusd.assign(Close=eurusd["Close"].where(eurusd.index != eurusd.index[2])))


def test_the_docstring_example_runs() -> None:
    result = doctest.testmod(pipeline_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
