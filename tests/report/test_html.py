"""build_report writes one self-contained report.html with every section, from a run folder."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import matplotlib
import pytest

from tengri.errors import DataValidationError, NotFoundError
from tengri.report import SECTION_IDS, build_report, load_run
from tengri.report.calibration import calibration_table
from tengri.report.html import daily_budget_seconds

MakeRun = Callable[..., Path]  # the make_run fixture of conftest.py


def test_report_has_every_section(make_run: MakeRun) -> None:
    path = build_report(make_run())
    assert path.name == "report.html"
    page = path.read_text(encoding="utf-8")
    for section_id in SECTION_IDS:
        assert re.search(rf'<section id="{section_id}">', page), section_id
    assert "Tengri run run-test-0001" in page
    assert "EURUSD_1h.csv" in page
    assert "enhanced-lstm" in page
    assert page.count('<img src="data:image/png;base64,') == 4  # calibration, confidence, zones, bursts
    # Price and equity are interactive: three bokeh roots (price, equity, drawdown) with zoom and pan.
    assert page.count("data-root-id=") == 3
    assert "xwheel_zoom" in page or "WheelZoomTool" in page


def test_every_statistic_has_a_label(make_run: MakeRun) -> None:
    page = build_report(make_run()).read_text(encoding="utf-8")
    table = page.split('<section id="statistics">')[1].split("</section>")[0]
    assert "Ruined (equity reached 0)" in table
    names = re.findall(r"<tr><td>([^<]*)</td>", table)
    assert names, "no statistics rows"
    assert not [n for n in names if re.fullmatch(r"[a-z_]+", n)]  # no raw key left unlabelled


def _external_references(page: str) -> list[str]:
    """Every element attribute that would load something: a script's or image's src, a link's href."""
    tags = re.findall(r"<(?:script|link|img|iframe|source|object|embed)\b[^>]*>", page, flags=re.IGNORECASE)
    return [
        t for t in tags if re.search(r"""\b(src|href|data)\s*=\s*["'](?!data:|#)""", t, flags=re.IGNORECASE)
    ]


def test_report_is_self_contained(make_run: MakeRun) -> None:
    page = build_report(make_run()).read_text(encoding="utf-8")
    assert _external_references(page) == []
    assert not re.search(r"""<a\b[^>]*href\s*=\s*["'](?!#)""", page), "links are anchors in the page"
    # Bokeh's JavaScript is in the page itself (its bundle mentions URLs in comments and strings).
    assert "BEGIN bokeh.min.js" in page
    assert "cdn.bokeh.org" not in page


def test_empty_signals_and_bursts_are_explained(make_run: MakeRun) -> None:
    run_dir = make_run(signals=False, bursts=False, budget=False)
    (run_dir / "bursts.csv").write_text("")  # "may be empty": a zero-byte file too
    page = build_report(run_dir).read_text(encoding="utf-8")
    assert "No model signals in this run." in page
    assert "No bursts were used in this run (no daily budget in the run&#x27;s config)." in page
    for section_id in SECTION_IDS:
        assert f'<section id="{section_id}">' in page


def test_large_run_stays_small(make_run: MakeRun) -> None:
    path = build_report(make_run(bars=5000, n_trades=400))
    assert path.stat().st_size < 3_000_000


def test_a_run_of_100k_bars_is_downsampled_and_keeps_every_trade(make_run: MakeRun) -> None:
    run_dir = make_run(bars=120_000, n_trades=1_500)
    page = build_report(run_dir).read_text(encoding="utf-8")
    assert len(page.encode()) < 4_000_000  # bokeh's 1.3 MB, charts of at most 4 points per pixel column
    trades = load_run(run_dir).trades
    assert all(str(e) in page for e in trades["execution_id"])  # every trade is drawn (its hover id)


def test_report_is_deterministic(make_run: MakeRun) -> None:
    run_dir = make_run()
    first = build_report(run_dir).read_bytes()
    assert build_report(run_dir).read_bytes() == first


def test_building_leaves_matplotlib_global_state_alone(make_run: MakeRun) -> None:
    before = dict(matplotlib.rcParams)
    backend = matplotlib.rcParams["backend"]
    build_report(make_run())
    assert dict(matplotlib.rcParams) == before
    assert matplotlib.rcParams["backend"] == backend


def test_trades_table_shows_the_last_fifty(make_run: MakeRun) -> None:
    run_dir = make_run(bars=2000, n_trades=120)
    trades = load_run(run_dir).trades
    page = build_report(run_dir).read_text(encoding="utf-8")
    table = page.split('<section id="trades">')[1].split("</section>")[0]
    assert table.count("<tr>") == 51  # header + 50 rows
    assert str(trades["execution_id"].iloc[-1]) in table
    assert str(trades["execution_id"].iloc[-51]) not in table


def test_missing_file_and_column_are_named_errors(make_run: MakeRun) -> None:
    run_dir = make_run()
    (run_dir / "signals.csv").unlink()
    with pytest.raises(NotFoundError, match=r"signals\.csv"):
        build_report(run_dir)
    run_dir = make_run("other")
    (run_dir / "timeline.csv").write_text("timestamp,close\n2024-01-01T00:00:00Z,1.0\n")
    with pytest.raises(DataValidationError, match="equity"):
        build_report(run_dir)


def test_daily_budget_from_config() -> None:
    assert daily_budget_seconds({"thermal": {"daily_budget_fraction": 0.1}}) == pytest.approx(8640.0)
    assert daily_budget_seconds({"thermal": {"daily_budget_seconds": 600}}) == 600.0
    assert daily_budget_seconds({"daily_budget_fraction": 0.5}) == 43_200.0
    assert daily_budget_seconds({}) is None


def test_calibration_bins_and_wilson_interval(make_run: MakeRun) -> None:
    signals = load_run(make_run()).signals.iloc[:0]
    signals = signals.reindex(range(10)).assign(stated_confidence=[0.85] * 10, hit=[1] * 8 + [0] * 2)
    table = calibration_table(signals)
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["lower"], row["upper"], row["count"], row["hit_rate"]) == pytest.approx((0.8, 0.9, 10, 0.8))
    # Wilson 95 % interval of 8/10 (a textbook value): 0.490 to 0.943.
    assert row["hit_low"] == pytest.approx(0.4902, abs=1e-4)
    assert row["hit_high"] == pytest.approx(0.9433, abs=1e-4)


def test_run_json_without_bars_per_year_defaults(make_run: MakeRun) -> None:
    run_dir = make_run()
    meta = json.loads((run_dir / "run.json").read_text())
    del meta["bars_per_year"]
    (run_dir / "run.json").write_text(json.dumps(meta))
    assert load_run(run_dir).bars_per_year == 252.0
    assert build_report(run_dir).is_file()


@pytest.mark.parametrize("bars", [1, 2])
def test_tiny_run_without_trades_builds(make_run: MakeRun, bars: int) -> None:
    page = build_report(make_run(bars=bars, signals=False, bursts=False)).read_text(encoding="utf-8")
    assert "No closed trades in this run." in page
    for section_id in SECTION_IDS:
        assert f'<section id="{section_id}">' in page
