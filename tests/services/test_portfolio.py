"""Portfolios in the replay: several instruments merged by time into one stream through one account."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tengri.config import TengriConfig
from tengri.data import load_ohlcv, merge_bars, read_panel
from tengri.errors import DataValidationError, InvalidInputError
from tengri.report.run_folder import load_run
from tengri.services.replay import ProgressEvent, run_replay
from tengri.strategies import SmaCross

TRADING = {
    "commission": 0.002,
    "slippage": 0.0,
    "position_fraction": 1.0,
    "whole_units": True,
    "trade_patterns": False,
    "min_confidence": 0.0,
    "holding_bars": None,
}


def _config(data_dir: Path, slots: int) -> TengriConfig:
    return TengriConfig.load(data_dir=data_dir).with_overrides(
        trading={**TRADING, "max_open_executions": slots}, engine={"defensive_margin": 0.0}
    )


def _files(tmp_path: Path) -> list[Path]:
    """GOOG and AAPL daily, 600 bars each over the same dates, as two CSV files."""
    paths = []
    for name in ("goog", "aapl"):
        frame = load_ohlcv(f"sample:{name}_d1").loc["2006-01-01":].iloc[:600]
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path)
        paths.append(path)
    return paths


def _signature(trades: pd.DataFrame) -> list[tuple[str, str, int]]:
    return list(zip(trades["entry_time"], trades["exit_time"], trades["direction"], strict=True))


def test_a_portfolio_trades_each_symbol_as_it_trades_alone(tmp_path: Path) -> None:
    goog, aapl = _files(tmp_path)
    portfolio = run_replay(
        _config(tmp_path / "p", 2), [goog, aapl], model="none", strategy=SmaCross(), build_html=False
    )
    trades = pd.read_csv(portfolio.run_dir / "trades.csv")
    timeline = pd.read_csv(portfolio.run_dir / "timeline.csv")
    assert set(trades["symbol"]) == {"goog", "aapl"}
    assert len(timeline) == 1_200
    # Each trade is entered and exited on its own symbol's bars.
    by_bar = timeline.set_index("bar")["symbol"]
    assert (by_bar.loc[trades["entry_bar"]].to_numpy() == trades["symbol"].to_numpy()).all()
    assert (by_bar.loc[trades["exit_bar"]].to_numpy() == trades["symbol"].to_numpy()).all()
    # The signals and fills of a symbol do not depend on the other's bars: the same trades, in
    # time and direction, as the symbol replayed alone (sizes differ: one account for both).
    for path in (goog, aapl):
        alone = run_replay(
            _config(tmp_path / path.stem, 1), path, model="none", strategy=SmaCross(), build_html=False
        )
        own = trades[trades["symbol"] == path.stem]
        assert _signature(own) == _signature(pd.read_csv(alone.run_dir / "trades.csv"))
    # Statistics for the account and for each symbol.
    summary = portfolio.summary
    assert set(summary["symbols"]) == {"goog", "aapl"}
    assert sum(s["num_trades"] for s in summary["symbols"].values()) == summary["num_trades"]
    assert summary["bars"] == 1_200
    assert summary["start"].startswith("2006-01-03")
    executions = pd.read_csv(portfolio.run_dir / "executions.csv")
    assert set(executions["symbol"]) == {"goog", "aapl"}
    # The account's equity is one series: the timeline's last row per timestamp ends at the summary's.
    assert timeline["equity"].iloc[-1] == pytest.approx(summary["equity_final"])


def test_a_long_format_file_is_the_same_portfolio(tmp_path: Path) -> None:
    goog, aapl = _files(tmp_path)
    several = run_replay(
        _config(tmp_path / "a", 2), [goog, aapl], model="none", strategy=SmaCross(), build_html=False
    )
    long = pd.concat([pd.read_csv(p).assign(symbol=p.stem.upper()) for p in (goog, aapl)]).sort_values(
        "timestamp", kind="mergesort"
    )
    path = tmp_path / "long.csv"
    long.to_csv(path, index=False)
    one = run_replay(_config(tmp_path / "b", 2), path, model="none", strategy=SmaCross(), build_html=False)
    first = pd.read_csv(several.run_dir / "trades.csv")
    second = pd.read_csv(one.run_dir / "trades.csv")
    assert set(second["symbol"]) == {"GOOG", "AAPL"}
    columns = ["entry_time", "exit_time", "direction", "size", "entry_price", "exit_price", "profit"]
    pd.testing.assert_frame_equal(first[columns], second[columns])


def test_equal_timestamps_keep_the_order_the_symbols_were_given(tmp_path: Path) -> None:
    goog, aapl = _files(tmp_path)
    merged = merge_bars(read_panel([aapl, goog]))
    assert merged["symbol"].iloc[:4].tolist() == ["aapl", "goog", "aapl", "goog"]
    assert merged.index.is_monotonic_increasing


def test_an_interrupted_portfolio_resumes_to_the_same_files(tmp_path: Path) -> None:
    goog, aapl = _files(tmp_path)
    config = _config(tmp_path / "whole", 2).with_overrides(engine={"checkpoint_interval": 100})
    whole = run_replay(config, [goog, aapl], model="none", strategy=SmaCross(), build_html=False)

    def interrupt(event: ProgressEvent) -> None:
        if event.bar == 777:
            raise KeyboardInterrupt

    split = _config(tmp_path / "split", 2).with_overrides(engine={"checkpoint_interval": 100})
    with pytest.raises(KeyboardInterrupt):
        run_replay(split, [goog, aapl], model="none", strategy=SmaCross(), on_progress=interrupt)
    resumed = run_replay(
        split, [goog, aapl], model="none", strategy=SmaCross(), resume=True, build_html=False
    )
    for name in ("trades.csv", "executions.csv"):
        assert (resumed.run_dir / name).read_bytes() == (whole.run_dir / name).read_bytes(), name


def test_bad_portfolios_are_refused_with_a_clear_error(tmp_path: Path) -> None:
    goog, aapl = _files(tmp_path)
    with pytest.raises(InvalidInputError, match="a model runs on one instrument"):
        run_replay(_config(tmp_path, 2), [goog, aapl], model="lstm")
    with pytest.raises(DataValidationError, match="symbol 'goog' is given twice"):
        read_panel([goog, goog])
    long = pd.read_csv(goog).assign(symbol="G")
    long.loc[3, "symbol"] = None
    path = tmp_path / "holes.csv"
    long.to_csv(path, index=False)
    with pytest.raises(DataValidationError, match="row 4 has no symbol"):
        read_panel([path])
    with pytest.raises(DataValidationError, match="holds a whole portfolio; give it alone"):
        read_panel([aapl, path])
    assert not (tmp_path / "runs").exists()  # nothing was written


def test_a_portfolio_report_has_a_panel_per_symbol_and_loads_nothing(tmp_path: Path) -> None:
    goog, aapl = _files(tmp_path)
    outcome = run_replay(_config(tmp_path / "r", 2), [goog, aapl], model="none", strategy=SmaCross())
    assert outcome.report_path is not None
    page = outcome.report_path.read_text(encoding="utf-8")
    for symbol in ("goog", "aapl"):
        panel = page.split(f'<div class="panel" id="symbol-{symbol}">')[1].split('<div class="panel"')[0]
        assert f"<h3>{symbol}</h3>" in panel
        assert "data-root-id=" in panel  # its interactive price chart
        assert "Return [%]" in panel  # its own statistics
    assert '<section id="symbols">' in page
    # Nothing in the page loads from elsewhere: no script, link or image with an outside address.
    tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", page, flags=re.IGNORECASE)
    assert not [t for t in tags if re.search(r"""\b(src|href)\s*=\s*["'](?!data:|#)""", t)]
    assert not re.search(r"""(src|href)\s*=\s*["']https?://""", page)


def test_merged_bars_name_their_symbol_in_a_categorical_column(tmp_path: Path) -> None:
    goog, aapl = _files(tmp_path)
    for paths in ([goog], [aapl, goog]):
        merged = merge_bars(read_panel(paths))
        symbols = merged["symbol"]
        assert isinstance(symbols.dtype, pd.CategoricalDtype)  # a byte a bar, not a string
        assert list(symbols.cat.categories) == [Path(p).stem for p in paths]
        assert symbols.cat.codes.dtype == np.int8


def test_symbols_that_look_like_numbers_stay_symbols(tmp_path: Path) -> None:
    # Files named by exchange codes: read back as numbers, the symbols matched no bar (a crash).
    paths = []
    for path, code in zip(_files(tmp_path), ("600519", "000001"), strict=True):
        paths.append(path.rename(tmp_path / f"{code}.csv"))
    config = _config(tmp_path / "p", 2)
    outcome = run_replay(config, paths, model="none", strategy=SmaCross(), build_html=True)
    per_symbol = outcome.summary["symbols"]
    assert set(per_symbol) == {"600519", "000001"}
    assert all(stats["num_trades"] > 0 for stats in per_symbol.values())
    run = load_run(outcome.run_dir)
    assert set(run.trades["symbol"]) == {"600519", "000001"}
    assert set(run.timeline["symbol"]) == {"600519", "000001"}
