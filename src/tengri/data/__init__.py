"""Market data: load, validate, resample OHLCV bars, and the bundled samples.

The bottom layer of Tengri: it imports nothing from Tengri but :mod:`tengri.errors`.
"""

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
    "align_to_base",
    "describe_ohlcv",
    "list_samples",
    "load_ohlcv",
    "read_ohlcv",
    "resample_ohlcv",
    "validate_ohlcv",
    "write_ohlcv",
]
