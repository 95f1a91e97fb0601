"""Labels: the next bars' log return and its direction, NaN where the future is unknown."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tengri.errors import DataValidationError, InvalidInputError
from tengri.features import direction_label, next_return


@pytest.mark.parametrize("horizon", [1, 3])
def test_next_return_is_the_log_return_to_the_close_horizon_bars_ahead(
    eurusd: pd.DataFrame, horizon: int
) -> None:
    labels = next_return(eurusd, horizon)
    close = eurusd["Close"]
    assert labels.name == f"next_return_{horizon}"
    assert labels.index.equals(eurusd.index)
    np.testing.assert_allclose(labels.to_numpy(), np.log(close.shift(-horizon) / close).to_numpy(), rtol=1e-9)
    assert labels.iloc[-horizon:].isna().all()
    assert labels.iloc[:-horizon].notna().all()


def test_direction_label_is_one_above_the_threshold_and_nan_at_the_end(eurusd: pd.DataFrame) -> None:
    returns = next_return(eurusd)
    labels = direction_label(eurusd)
    assert labels.name == "direction_1"
    assert labels.dtype == np.float64
    assert np.isnan(labels.iloc[-1])
    body = labels.iloc[:-1]
    assert set(body.unique()) == {0.0, 1.0}
    np.testing.assert_array_equal(body.to_numpy(), (returns.iloc[:-1] > 0).to_numpy(dtype=np.float64))
    strict = direction_label(eurusd, threshold=1e-3)
    assert strict.iloc[:-1].sum() < body.sum()


def test_label_errors(eurusd: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="horizon"):
        next_return(eurusd, 0)
    with pytest.raises(InvalidInputError, match="horizon"):
        direction_label(eurusd, True)
    with pytest.raises(DataValidationError, match="missing column"):
        next_return(eurusd.drop(columns="Close"))
