"""Market data: load, validate, resample OHLCV bars, and the bundled samples."""
