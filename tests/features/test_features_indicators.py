"""compute_features: names, shapes, warm-up, each indicator against a direct TA-Lib / pandas call."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import talib
from numpy.testing import assert_allclose, assert_array_equal

from tengri.data import resample_ohlcv
from tengri.errors import DataValidationError, InvalidInputError
from tengri.features import (
    INDICATOR_NAMES,
    LOOKBACK,
    compute_features,
    feature_names,
    warmup_bars,
)

SMA = talib.MA_Type.SMA  # type: ignore[attr-defined]  # the stubs do not re-export MA_Type


def _direct(bars: pd.DataFrame) -> dict[str, np.ndarray]:
    """Compute every indicator straight from TA-Lib / pandas, written out independently."""
    h, lo, c, v = (bars[name].to_numpy() for name in ("High", "Low", "Close", "Volume"))
    close = pd.Series(c)
    expected = {f"ret_{k}": np.log(close / close.shift(k)).to_numpy() for k in (1, 2, 4, 8, 16)}
    one_bar = np.log(close / close.shift(1))
    expected |= {f"vol_{w}": one_bar.rolling(w).std().to_numpy() for w in (8, 24)}
    macd, signal, _ = talib.MACD(c, 12, 26, 9)
    upper, middle, lower = talib.BBANDS(c, 20, 2.0, 2.0, SMA)
    slow_k, slow_d = talib.STOCH(h, lo, c, 14, 3, SMA, 3, SMA)
    volume = pd.Series(v).rolling(24)
    expected |= {
        "rsi_14": talib.RSI(c, 14),
        "macd": macd / c,
        "macd_signal": signal / c,
        "bb_pct_b": (c - lower) / (upper - lower),
        "bb_width": (upper - lower) / middle,
        "atr_ratio": talib.ATR(h, lo, c, 14) / c,
        "adx_14": talib.ADX(h, lo, c, 14),
        "stoch_k": slow_k,
        "stoch_d": slow_d,
        "volume_z": ((pd.Series(v) - volume.mean()) / volume.std()).to_numpy(),
    }
    return expected


def test_feature_names_are_the_base_set_then_each_factor_prefixed() -> None:
    names = feature_names((4, 24))
    assert names[:17] == list(INDICATOR_NAMES)
    assert names[17:34] == [f"x4_{name}" for name in INDICATOR_NAMES]
    assert names[34:] == [f"x24_{name}" for name in INDICATOR_NAMES]
    assert len(set(names)) == 51
    assert list(INDICATOR_NAMES) == [
        *(f"ret_{k}" for k in (1, 2, 4, 8, 16)),
        "vol_8",
        "vol_24",
        "rsi_14",
        "macd",
        "macd_signal",
        "bb_pct_b",
        "bb_width",
        "atr_ratio",
        "adx_14",
        "stoch_k",
        "stoch_d",
        "volume_z",
    ]
    assert feature_names(()) == list(INDICATOR_NAMES)


@pytest.mark.parametrize("name", ["eurusd_h1", "goog_d1"])
def test_features_have_the_input_index_and_float_columns(
    name: str, sample_bars: dict[str, pd.DataFrame], sample_features: dict[str, pd.DataFrame]
) -> None:
    bars, features = sample_bars[name], sample_features[name]
    assert features.index.equals(bars.index)
    assert list(features.columns) == feature_names()
    assert (features.dtypes == np.float64).all()


@pytest.mark.parametrize("name", ["eurusd_h1", "goog_d1"])
def test_warmup_rows_are_nan_and_every_later_row_is_finite(
    name: str, sample_features: dict[str, pd.DataFrame]
) -> None:
    values = sample_features[name].to_numpy()
    complete = np.isfinite(values).all(axis=1)
    assert warmup_bars() == 815 == 34 * 24 - 1
    assert not complete[: warmup_bars()].any()
    assert complete[warmup_bars() :].all()
    # The warm-up is set by the slowest column, x24_macd, alone.
    assert np.isnan(values[warmup_bars() - 1, feature_names().index("x24_macd")])


@pytest.mark.parametrize(
    ("factors", "expected"), [((), 33), ((2,), 67), ((4,), 135), ((24, 4), 815), ((3, 7), 237)]
)
def test_warmup_bars_follows_the_slowest_timeframe(factors: tuple[int, ...], expected: int) -> None:
    assert LOOKBACK == 33
    assert warmup_bars(factors) == expected


def test_warmup_bars_matches_the_leading_nan_rows_for_other_factors(
    make_bars: Callable[..., pd.DataFrame],
) -> None:
    bars = make_bars(600, seed=3)
    features = compute_features(bars, higher_factors=(3, 7))
    complete = np.isfinite(features.to_numpy()).all(axis=1)
    assert int(np.argmax(complete)) == warmup_bars((3, 7))
    assert complete[warmup_bars((3, 7)) :].all()


@pytest.mark.parametrize("name", ["eurusd_h1", "goog_d1"])
def test_each_base_indicator_matches_a_direct_computation(
    name: str, sample_bars: dict[str, pd.DataFrame], sample_features: dict[str, pd.DataFrame]
) -> None:
    features = sample_features[name]
    for column, values in _direct(sample_bars[name]).items():
        # Same library calls on the same arrays; returns differ only by log(a/b) vs log a − log b.
        assert_allclose(features[column].to_numpy(), values, rtol=1e-9, atol=1e-15, err_msg=column)


@pytest.mark.parametrize("factor", [4, 24])
def test_higher_timeframe_columns_are_the_indicators_of_completed_blocks(
    factor: int, eurusd: pd.DataFrame, sample_features: dict[str, pd.DataFrame]
) -> None:
    features = sample_features["eurusd_h1"]
    higher = resample_ohlcv(eurusd, factor=factor)
    direct = _direct(higher)
    completing = np.arange(factor - 1, len(eurusd), factor)[: len(higher)]
    for column, values in direct.items():
        aligned = features[f"x{factor}_{column}"].to_numpy()
        # Block j reaches the base bars at its k-th bar, row (j + 1)·k − 1, and not before.
        assert_allclose(aligned[completing], values, rtol=1e-9, atol=1e-15, err_msg=column)
        for offset in range(1, factor):
            assert_array_equal(
                aligned[completing[:-1] + offset], aligned[completing[:-1]], err_msg=f"{column}+{offset}"
            )
        assert np.isnan(aligned[: factor - 1]).all()


def test_a_higher_bar_is_seen_only_from_the_bar_that_completes_it(eurusd: pd.DataFrame) -> None:
    features = compute_features(eurusd.iloc[:900], higher_factors=(4,))
    close = eurusd["Close"].to_numpy()
    # x4_ret_1 at row 4j + 3 is the return of block j: close of row 4j + 3 over close of row 4j − 1.
    for row in (7, 11, 403, 899):
        assert features["x4_ret_1"].iloc[row] == pytest.approx(np.log(close[row] / close[row - 4]), rel=1e-12)
        assert features["x4_ret_1"].iloc[row - 1] == pytest.approx(
            np.log(close[row - 4] / close[row - 8]) if row >= 11 else np.nan, rel=1e-12, nan_ok=True
        )


def test_zero_volume_and_flat_prices_give_finite_features(eurusd: pd.DataFrame) -> None:
    bars = eurusd.iloc[:2000].copy()
    bars["Volume"] = 0.0  # an FX feed without volume
    bars.iloc[1000:1300, :4] = 1.1  # a market that does not move for 300 bars
    features = compute_features(bars).iloc[warmup_bars() :]
    assert np.isfinite(features.to_numpy()).all()
    assert (features["volume_z"] == 0.0).all()
    assert features["bb_pct_b"].iloc[1290 - warmup_bars()] == 0.5


def test_too_few_bars_is_a_clear_error(eurusd: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match=r"815 bars are too few; at least 816"):
        compute_features(eurusd.iloc[:815])
    assert compute_features(eurusd.iloc[:816]).iloc[-1].notna().all()
    assert len(compute_features(eurusd.iloc[:34], higher_factors=())) == 34


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda f: f.assign(Close=f["Close"].where(f.index != f.index[900])), r"row 901 .*column Close"),
        (lambda f: f.assign(Volume=-f["Volume"]), r"negative volume at row 1 .*column Volume"),
        (lambda f: f.drop(columns="High"), r"missing column\(s\) High"),
        (lambda f: f.tz_localize(None), r"tz-aware"),
        (lambda f: f.iloc[::-1], r"strictly increasing"),
    ],
)
def test_bad_bars_are_rejected_with_the_row_and_column(
    eurusd: pd.DataFrame, change: Callable[[pd.DataFrame], pd.DataFrame], match: str
) -> None:
    with pytest.raises(DataValidationError, match=match):
        compute_features(change(eurusd.iloc[:1000]))


@pytest.mark.parametrize("factors", [(1,), (4, 4), (2.5,), (True,), "4"])
def test_bad_higher_factors_are_rejected(eurusd: pd.DataFrame, factors: object) -> None:
    with pytest.raises(InvalidInputError, match="higher_factors"):
        compute_features(eurusd, higher_factors=factors)  # type: ignore[arg-type]


def test_the_input_frame_is_not_modified(eurusd: pd.DataFrame) -> None:
    before = eurusd.copy()
    compute_features(eurusd.assign(Extra="x"))
    pd.testing.assert_frame_equal(eurusd, before)
