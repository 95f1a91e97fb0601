"""Market data: load, validate, resample OHLCV bars, and the bundled samples.

The bottom layer of Tengri: it imports nothing from Tengri but :mod:`tengri.errors`.
"""

from tengri.data._panel import Panel, merge_bars, read_panel, symbol_of
from tengri.data._reading import OHLCVSource, load_ohlcv, read_ohlcv, write_ohlcv
from tengri.data._resampling import COMPLETED_AT, align_to_base, resample_ohlcv
from tengri.data._samples import list_samples
from tengri.data._summary import describe_ohlcv
from tengri.data._validation import OHLCV_COLUMNS, OHLCVData, validate_ohlcv

__all__ = [
    "COMPLETED_AT",
    "OHLCV_COLUMNS",
    "OHLCVData",
    "OHLCVSource",
    "Panel",
    "align_to_base",
    "describe_ohlcv",
    "list_samples",
    "load_ohlcv",
    "merge_bars",
    "read_ohlcv",
    "read_panel",
    "resample_ohlcv",
    "symbol_of",
    "validate_ohlcv",
    "write_ohlcv",
]
