"""Reports: HTML and plots from results; reads results, never computes signals.

The replay service writes a run folder (see :mod:`tengri.report.run_folder`) and calls
:func:`build_report`; it writes ``summary.json`` with :func:`write_summary` from
:func:`compute_statistics`.
"""

from __future__ import annotations

from tengri.report.html import SECTION_IDS, build_report
from tengri.report.run_folder import RunFolder, load_run
from tengri.report.statistics import compute_statistics
from tengri.report.summary import write_summary

__all__ = ["SECTION_IDS", "RunFolder", "build_report", "compute_statistics", "load_run", "write_summary"]
