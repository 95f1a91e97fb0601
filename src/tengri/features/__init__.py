"""Feature engineering from OHLCV bars (TA-Lib and vectorised pandas), without look-ahead."""
