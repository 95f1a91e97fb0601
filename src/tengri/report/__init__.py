"""Reports: HTML and plots from results; reads results, never computes signals.

The replay service writes a run folder (see :mod:`tengri.report.run_folder`) and calls
:func:`build_report`; it writes ``summary.json`` with :func:`write_summary` from
:func:`compute_statistics`.

Names are imported on first use: the HTML report needs bokeh and matplotlib (about a second to
import), which a run that only reads its folder, or writes its statistics, must not pay for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tengri._lazy import lazy_exports

if TYPE_CHECKING:
    from tengri.report.html import SECTION_IDS, build_report
    from tengri.report.run_folder import RunFolder, load_run
    from tengri.report.statistics import compute_statistics
    from tengri.report.summary import write_summary

# Public name -> module that defines it.
_LAZY: dict[str, str] = {
    "SECTION_IDS": "tengri.report.html",
    "build_report": "tengri.report.html",
    "RunFolder": "tengri.report.run_folder",
    "load_run": "tengri.report.run_folder",
    "compute_statistics": "tengri.report.statistics",
    "write_summary": "tengri.report.summary",
}

__all__ = ["SECTION_IDS", "RunFolder", "build_report", "compute_statistics", "load_run", "write_summary"]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
