"""A synthetic run folder, written to the replay service's contract, for the report tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PROFIT_ZONES = ("unknown", "stable", "surging", "drawdown", "volatile")
THERMAL_ZONES = ((60.0, "cool"), (70.0, "normal"), (80.0, "warm"), (90.0, "hot"), (np.inf, "critical"))

MakeRun = Callable[..., Path]
TRADE_COLUMNS = [
    "execution_id",
    "strategy_id",
    "source",
    "direction",
    "size",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "entry_bar",
    "exit_bar",
    "profit",
    "return_pct",
    "costs",
    "reason",
    "confidence",
]


def _iso(times: pd.DatetimeIndex | pd.Series) -> list[str]:
    return [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in pd.DatetimeIndex(times)]


def write_run_folder(
    run_dir: Path,
    *,
    bars: int = 300,
    seed: int = 7,
    n_trades: int = 24,
    signals: bool = True,
    bursts: bool = True,
    budget: bool = True,
) -> Path:
    """Write every file of the run-folder contract for a random-walk hourly run of ``bars`` bars."""
    rng = np.random.default_rng(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    times = pd.date_range("2024-03-04", periods=bars, freq="h", tz="UTC")
    close = 1.10 * np.exp(np.cumsum(rng.normal(0, 0.002, bars)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.001, bars))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.001, bars))

    # Non-overlapping trades of 10,000 units, each held 2 to 12 bars.
    size, cash0 = 10_000.0, 10_000.0
    rows = []
    bar = 5
    strategies = [f"s{i:02d}" for i in range(12)]
    while len(rows) < n_trades and bar < bars - 14:
        hold = int(rng.integers(2, 12))
        entry, exit_ = bar, bar + hold
        direction = int(rng.choice([1, -1]))
        costs = 0.2
        profit = direction * (close[exit_] - close[entry]) * size - costs
        rows.append(
            {
                "execution_id": f"e{len(rows):04d}",
                "strategy_id": strategies[int(rng.integers(0, 4 if len(rows) % 3 else len(strategies)))],
                "source": ("pattern", "model", "strategy")[len(rows) % 3],
                "direction": direction,
                "size": size,
                "entry_time": times[entry],
                "entry_price": close[entry],
                "exit_time": times[exit_],
                "exit_price": close[exit_],
                "entry_bar": entry,
                "exit_bar": exit_,
                "profit": profit,
                "return_pct": profit / (close[entry] * size) * 100,
                "costs": costs,
                "reason": ("holding", "opposite", "stop_loss", "take_profit", "signal")[len(rows) % 5],
                "confidence": np.nan if len(rows) % 4 == 0 else float(rng.uniform(0.4, 0.9)),
            }
        )
        bar = exit_ + int(rng.integers(1, 6))
    trades = pd.DataFrame(rows, columns=TRADE_COLUMNS)
    position = np.zeros(bars)
    equity = np.full(bars, cash0)
    realised = np.zeros(bars)
    for trade in rows:
        e, x, d = trade["entry_bar"], trade["exit_bar"], trade["direction"]
        position[e:x] += d * size
        equity[e:x] += d * size * (close[e:x] - close[e])
        realised[x:] += trade["profit"]
    equity += realised
    temperature = 62 + 12 * np.sin(np.arange(bars) / 25) + rng.normal(0, 1.0, bars)
    thermal = [next(name for bound, name in THERMAL_ZONES if t < bound) for t in temperature]
    profit_zone = np.repeat(rng.choice(PROFIT_ZONES, size=bars // 20 + 1), 20)[:bars]
    in_burst = ((np.arange(bars) // 15) % 7 == 3).astype(int) if bursts else np.zeros(bars, dtype=int)
    timeline = pd.DataFrame(
        {
            "timestamp": _iso(times),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "equity": equity,
            "cash": cash0 + realised,
            "position": position,
            "open_executions": (position != 0).astype(int),
            "profit_zone": profit_zone,
            "thermal_zone": thermal,
            "temperature": temperature,
            "in_burst": in_burst,
        }
    )
    timeline.to_csv(run_dir / "timeline.csv", index=False)
    for source, name in ((trades, "trades"), (trades.assign(status="completed"), "executions")):
        written = source.assign(entry_time=_iso(source["entry_time"]), exit_time=_iso(source["exit_time"]))
        written.to_csv(run_dir / f"{name}.csv", index=False)

    sample_bars = np.arange(0, bars, 6)
    confidences = pd.DataFrame(
        [
            {"timestamp": times[b], "strategy_id": s, "confidence": 0.5 + 0.4 * np.sin(b / 40 + i)}
            for i, s in enumerate(strategies)
            for b in sample_bars
        ]
    )
    confidences["timestamp"] = _iso(confidences["timestamp"])
    confidences.to_csv(run_dir / "confidences.csv", index=False)

    n_signals = bars // 2 if signals else 0
    stated = rng.uniform(0.5, 1.0, n_signals)
    signal_times = times[rng.choice(bars, n_signals, replace=False)].sort_values()
    pd.DataFrame(
        {
            "timestamp": _iso(signal_times),
            "stated_confidence": stated,
            "hit": (rng.uniform(0, 1, n_signals) < stated - 0.05).astype(int),
        }
    ).to_csv(run_dir / "signals.csv", index=False)

    burst_rows = []
    if bursts:
        for first in np.flatnonzero(np.diff(np.r_[0, in_burst]) == 1):
            start = times[first] + pd.Timedelta(minutes=5)
            seconds = float(rng.uniform(60, 300))
            burst_rows.append(
                {
                    "start": start,
                    "end": start + pd.Timedelta(seconds=seconds),
                    "seconds": seconds,
                    "label": "training",
                }
            )
    bursts_frame = pd.DataFrame(burst_rows, columns=["start", "end", "seconds", "label"])
    bursts_frame["start"] = _iso(bursts_frame["start"])
    bursts_frame["end"] = _iso(bursts_frame["end"])
    bursts_frame.to_csv(run_dir / "bursts.csv", index=False)

    config: dict[str, object] = {"trading": {"holding_bars": 6}}
    if budget:
        config["thermal"] = {"daily_budget_fraction": 0.1, "max_burst_seconds": 300.0}
    meta = {
        "run_id": "run-test-0001",
        "data": "EURUSD_1h.csv",
        "model": "enhanced-lstm" if signals else None,
        "bars": bars,
        "started_at": "2024-03-20T10:00:00Z",
        "finished_at": "2024-03-20T10:02:13Z",
        "config": config,
        "bars_per_year": 6240.0,
    }
    (run_dir / "run.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return run_dir


@pytest.fixture
def make_run(tmp_path: Path) -> MakeRun:
    """Return a factory writing a synthetic run folder under ``tmp_path`` (keyword options as above)."""

    def factory(name: str = "run", **options: object) -> Path:
        return write_run_folder(tmp_path / name, **options)  # type: ignore[arg-type]

    return factory
