"""Training labels for the predictor: the next bars' log return and its direction.

Labels look ahead on purpose (the value at bar t uses the close of bar t + horizon); they are
targets, never inputs. The last ``horizon`` bars have no label (NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tengri.errors import InvalidInputError
from tengri.features._compute import require_bars

__all__ = ["direction_label", "next_return"]


def next_return(ohlcv: pd.DataFrame, horizon: int = 1) -> pd.Series:
    """Return the log return from the close of each bar to the close ``horizon`` bars later.

    ``next_return[t] = log(Close[t + horizon] / Close[t])``.

    Parameters
    ----------
    ohlcv
        Validated bars.
    horizon
        How many bars ahead (≥ 1).

    Returns
    -------
    pandas.Series
        float64, same index as ``ohlcv``, named ``next_return_{horizon}``; NaN for the last
        ``horizon`` bars.

    Raises
    ------
    InvalidInputError
        If ``horizon`` is not an integer ≥ 1.
    DataValidationError
        If ``ohlcv`` is not in the validated form.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise InvalidInputError(f"next_return: horizon must be an integer ≥ 1, got {horizon!r}")
    require_bars(ohlcv, min_bars=1, caller="next_return")
    log_close = np.log(ohlcv["Close"].to_numpy(dtype=np.float64))
    values = np.full(log_close.shape, np.nan)
    values[:-horizon] = log_close[horizon:] - log_close[:-horizon]
    return pd.Series(values, index=ohlcv.index, name=f"next_return_{horizon}")


def direction_label(ohlcv: pd.DataFrame, horizon: int = 1, *, threshold: float = 0.0) -> pd.Series:
    """Return 1.0 where the next log return exceeds ``threshold``, else 0.0 (NaN without a label).

    Parameters
    ----------
    ohlcv
        Validated bars.
    horizon
        How many bars ahead (≥ 1), as for :func:`next_return`.
    threshold
        A return must be strictly above it to count as up; 0.0 makes a flat bar "not up".

    Returns
    -------
    pandas.Series
        float64 (so that it can hold NaN), same index as ``ohlcv``, named
        ``direction_{horizon}``; NaN for the last ``horizon`` bars.

    Raises
    ------
    InvalidInputError, DataValidationError
        As for :func:`next_return`.
    """
    returns = next_return(ohlcv, horizon)
    values = np.where(returns.isna(), np.nan, (returns > threshold).astype(np.float64))
    return pd.Series(values, index=ohlcv.index, name=f"direction_{horizon}")
