"""Bundled OHLCV samples, addressed as ``"sample:<name>"`` wherever a data source is accepted.

The samples ship inside the package (``tengri/data/samples/*.csv``) and are read through
:mod:`importlib.resources`, so they work from a wheel, a zip or an editable install alike.

- ``sample:eurusd_h1``: EURUSD hourly bars, 5,000 rows (2017-04-19 to 2018-02-07).
- ``sample:goog_d1``: GOOG daily bars, 2,148 rows (2004-08-19 to 2013-03-01).

Both come from the test data of backtesting.py (AGPL-3.0 code, data as published there).

- ``sample:aapl_d1``, ``sample:msft_d1``, ``sample:ibm_d1``: AAPL, MSFT and IBM daily bars,
  3,270 rows each (2000-03-01 to 2013-03-01), for portfolio runs.

These three are derived from the ``bokeh-sampledata`` package (``bokeh.sampledata.stocks``):
open, high, low and close are scaled by the day's ``adj_close / close`` (so that splits are not
price jumps; close is ``adj_close``), volume divided by it, prices rounded to 4 decimals.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

from tengri.errors import DataValidationError

__all__ = ["SAMPLE_PREFIX", "is_sample_address", "list_samples", "sample_resource"]

SAMPLE_PREFIX = "sample:"


def _samples_directory() -> Traversable:
    return resources.files("tengri.data").joinpath("samples")


def list_samples() -> tuple[str, ...]:
    """Return the addresses of the bundled samples, sorted.

    Returns
    -------
    tuple of str
        Addresses such as ``"sample:eurusd_h1"``, usable wherever a source is accepted.
    """
    names = (entry.name for entry in _samples_directory().iterdir() if entry.name.endswith(".csv"))
    return tuple(sorted(SAMPLE_PREFIX + name.removesuffix(".csv") for name in names))


def is_sample_address(source: str) -> bool:
    """Return whether ``source`` names a bundled sample (starts with ``"sample:"``)."""
    return source.startswith(SAMPLE_PREFIX)


def sample_resource(address: str) -> Traversable:
    """Return the packaged CSV file behind a sample address.

    Parameters
    ----------
    address
        ``"sample:<name>"``, for instance ``"sample:goog_d1"``.

    Returns
    -------
    importlib.resources.abc.Traversable
        The CSV resource; open it with ``.open("rb")``.

    Raises
    ------
    DataValidationError
        If no sample has that name; the message lists the known addresses.
    """
    name = address.removeprefix(SAMPLE_PREFIX)
    known = list_samples()
    if SAMPLE_PREFIX + name not in known:
        raise DataValidationError(f"{address}: unknown sample; known samples: {', '.join(known)}")
    return _samples_directory().joinpath(f"{name}.csv")
