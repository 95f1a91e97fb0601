"""Raw features of every bar: the indicator set on the input and on completed higher-timeframe bars.

The base timeframe's columns carry the names of :data:`tengri.features.INDICATOR_NAMES`
(``ret_1``, ``rsi_14``, …). For each higher factor ``k`` the same set is computed on blocks of ``k``
consecutive input bars (``tengri.data.resample_ohlcv(bars, factor=k)``, counted from the first
bar) and prefixed ``x{k}_`` (``x4_rsi_14``). A block's features reach the base bars with
:func:`tengri.data.align_to_base`: the bar that completes a block is the first to see it, and
every base bar carries the latest completed block's values until the next one completes. No base
bar ever sees a block that it does not complete or follow, so there is no look-ahead.

Warm-up
-------
The base set is NaN for its first :data:`~tengri.features.LOOKBACK` = 33 rows. Higher block ``j``
(0-based) completes at base row ``(j + 1)·k − 1`` and is the first valid one when ``j = 33``, so the
``x{k}_`` columns are NaN for the first ``34·k − 1`` rows. With the default factors (4, 24) the
first 815 rows are warm-up (:func:`warmup_bars`); every later row is finite.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

from tengri.data import COMPLETED_AT, OHLCV_COLUMNS, align_to_base, resample_ohlcv
from tengri.errors import DataValidationError, InvalidInputError
from tengri.features._indicators import INDICATOR_NAMES, LOOKBACK, indicator_columns

__all__ = [
    "DEFAULT_HIGHER_FACTORS",
    "compute_features",
    "feature_names",
    "higher_prefix",
    "normalise_factors",
    "require_bars",
    "warmup_bars",
]

DEFAULT_HIGHER_FACTORS: Final = (4, 24)
"""Higher timeframes built by default: 4× and 24× the input's bar (H4 and D1 for hourly bars)."""


def compute_features(
    ohlcv: pd.DataFrame, *, higher_factors: Sequence[int] = DEFAULT_HIGHER_FACTORS
) -> pd.DataFrame:
    """Compute the raw (unscaled) features of every bar, NaN during the warm-up.

    Parameters
    ----------
    ohlcv
        Validated bars (from :func:`tengri.data.load_ohlcv`): a UTC ``DatetimeIndex``, strictly
        increasing, and finite float columns ``Open, High, Low, Close, Volume`` with prices > 0.
        At least ``warmup_bars(higher_factors) + 1`` rows.
    higher_factors
        Higher timeframes as multiples (integers ≥ 2, distinct) of the input's bar; ``()`` for the
        base timeframe alone.

    Returns
    -------
    pandas.DataFrame
        Same index as ``ohlcv``; float64 columns ``feature_names(higher_factors)``. The first
        ``warmup_bars(higher_factors)`` rows hold NaN, every later row is finite. The value at
        row ``t`` depends on rows ``0..t`` only: appending bars never changes it.

    Raises
    ------
    DataValidationError
        If ``ohlcv`` is not in the validated form (missing column, naive or unordered index, NaN,
        infinite or non-positive price, negative volume); the message names the row and column.
    InvalidInputError
        If ``higher_factors`` is invalid or there are too few bars for one complete row.
    """
    factors = normalise_factors(higher_factors)
    require_bars(ohlcv, min_bars=warmup_bars(factors) + 1, caller="compute_features")
    bars = ohlcv.loc[:, list(OHLCV_COLUMNS)]
    blocks = [pd.DataFrame(indicator_columns(bars), index=ohlcv.index)]
    for factor in factors:
        higher = resample_ohlcv(bars, factor=factor)
        values = pd.DataFrame(indicator_columns(higher), index=higher.index)
        values[COMPLETED_AT] = higher[COMPLETED_AT]
        aligned = align_to_base(values, ohlcv.index, prefix=higher_prefix(factor))
        blocks.append(aligned.loc[:, [higher_prefix(factor) + name for name in INDICATOR_NAMES]])
    features = pd.concat(blocks, axis=1)
    return features.astype(np.float64)


def feature_names(higher_factors: Sequence[int] = DEFAULT_HIGHER_FACTORS) -> list[str]:
    """Return the columns of :func:`compute_features` for these factors, in order.

    Parameters
    ----------
    higher_factors
        As for :func:`compute_features`.

    Returns
    -------
    list of str
        The base names, then each factor's names prefixed ``x{k}_`` in the order of the factors.
    """
    factors = normalise_factors(higher_factors)
    prefixes = ["", *(higher_prefix(factor) for factor in factors)]
    return [prefix + name for prefix in prefixes for name in INDICATOR_NAMES]


def warmup_bars(higher_factors: Sequence[int] = DEFAULT_HIGHER_FACTORS) -> int:
    """Return how many leading rows of :func:`compute_features` hold NaN.

    ``max(LOOKBACK, (LOOKBACK + 1)·k − 1 for every factor k)``: 815 for the default (4, 24).

    Parameters
    ----------
    higher_factors
        As for :func:`compute_features`.

    Returns
    -------
    int
        The number of warm-up rows; row ``warmup_bars`` is the first complete one.
    """
    factors = normalise_factors(higher_factors)
    return max([LOOKBACK, *((LOOKBACK + 1) * factor - 1 for factor in factors)])


def higher_prefix(factor: int) -> str:
    """Return the column prefix of a higher timeframe, ``x{factor}_``."""
    return f"x{factor}_"


def normalise_factors(higher_factors: Sequence[int]) -> tuple[int, ...]:
    """Check higher factors (integers ≥ 2, distinct) and return them as a tuple of int.

    Raises
    ------
    InvalidInputError
        If a factor is not an integer ≥ 2 or appears twice.
    """
    if isinstance(higher_factors, str | bytes) or not isinstance(higher_factors, Sequence):
        raise InvalidInputError(f"higher_factors must be a sequence of integers, got {higher_factors!r}")
    factors: list[int] = []
    for factor in higher_factors:
        if isinstance(factor, bool) or not isinstance(factor, int | np.integer) or factor < 2:
            raise InvalidInputError(f"higher_factors: each factor must be an integer ≥ 2, got {factor!r}")
        if int(factor) in factors:
            raise InvalidInputError(f"higher_factors: factor {int(factor)} appears twice")
        factors.append(int(factor))
    return tuple(factors)


def require_bars(ohlcv: object, *, min_bars: int, caller: str) -> None:
    """Check that ``ohlcv`` is a validated OHLCV frame with at least ``min_bars`` rows.

    A cheap, vectorised form of :func:`tengri.data.validate_ohlcv`'s checks, enough to trust the
    bars inside this layer.

    Raises
    ------
    DataValidationError
        If the frame is not in the validated form; the message names the row (1-based) and column.
    InvalidInputError
        If it has fewer than ``min_bars`` rows.
    """
    if not isinstance(ohlcv, pd.DataFrame):
        raise DataValidationError(
            f"{caller}: expected a pandas DataFrame of bars, got {type(ohlcv).__name__}"
        )
    missing = [name for name in OHLCV_COLUMNS if name not in ohlcv.columns]
    if missing:
        raise DataValidationError(
            f"{caller}: missing column(s) {', '.join(missing)}; load the bars with tengri.data.load_ohlcv",
            column=missing[0],
        )
    index = ohlcv.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise DataValidationError(f"{caller}: the index must be a tz-aware (UTC) DatetimeIndex")
    if not (index.is_monotonic_increasing and index.is_unique):
        raise DataValidationError(f"{caller}: timestamps must be strictly increasing")
    try:
        values = ohlcv.loc[:, list(OHLCV_COLUMNS)].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DataValidationError(f"{caller}: OHLCV columns must be numeric ({error})") from error
    checks = (
        (~np.isfinite(values), "missing or infinite value"),
        (np.column_stack([values[:, :4] <= 0.0, values[:, 4] < 0.0]), "price ≤ 0 or negative volume"),
    )
    for mask, problem in checks:
        rows, columns = np.nonzero(mask)
        if rows.size:
            row, column = int(rows[0]), OHLCV_COLUMNS[int(columns[0])]
            raise DataValidationError(
                f"{caller}: {problem} at row {row + 1} ({index[row].isoformat()}), column {column}",
                row=row + 1,
                column=column,
            )
    if len(index) < min_bars:
        raise InvalidInputError(
            f"{caller}: {len(index)} bars are too few; at least {min_bars} are needed "
            f"(the warm-up plus one complete row)"
        )
