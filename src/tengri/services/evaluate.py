"""Walk-forward evaluation of every model variant against honest baselines, written as a report folder.

Folds (expanding window): the first ``train_fraction`` of the bars is the first training set; the
rest is cut into ``folds`` consecutive test blocks. Fold k fits on every bar before its block and
tests on the block's bars from ``horizon`` bars after its start (the gap), so no label of a
training bar overlaps a test bar. Each neural model fits with its own validation split inside its
training set (early stopping and calibration), then streams over the series up to the block's end.

Models: the ablation ladder ``lstm``, ``lstm+lif``, ``lstm+attention``, ``enhanced`` (both),
``qlstm``; baselines ``flat`` (always flat), ``buy_and_hold``, ``previous_direction`` (the last
bar's direction again), ``logistic`` (logistic regression on the same scaled features).

Per model and fold: coverage (the share of bars with a buy or sell) and directional accuracy on
those bars with a 95% Wilson interval, Brier score, expected
calibration error, Spearman information coefficient, and the net Sharpe ratio, total return and
maximum drawdown of trading the signals (buy +1, sell −1, hold 0) after commission. A
Diebold–Mariano test on the per-bar Brier loss says whether each model differs from the logistic
regression, and (in the summary, pooled over folds) from the flat 0.5 forecast: beating a logistic
regression that is itself worse than chance is no edge. A model that states 0.5 everywhere (the flat
baseline, or a network whose calibration found no signal) holds: no coverage, no accuracy.

The rows and the summary go to a report folder written by :mod:`tengri.services._evaluation_report`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from tengri.data import OHLCVSource, read_ohlcv
from tengri.features import FeaturePipeline, next_return
from tengri.predict import DEFAULT_HIGHER_FACTORS, LSTMTradingPredictor, PredictorSettings, action_for
from tengri.predict.calibration import expected_calibration_error
from tengri.predict.metrics import (
    accuracy_interval,
    brier_score,
    diebold_mariano,
    information_coefficient,
    max_drawdown,
    periods_per_year,
    sharpe_ratio,
    strategy_returns,
)
from tengri.services._evaluation_report import EvaluationResult, write_report
from tengri.services.compute import command_compute

if TYPE_CHECKING:
    from tengri.config import TengriConfig
    from tengri.engine import ThermalZoneManager
    from tengri.predict import Pacer

__all__ = ["EvaluationResult", "EvaluationSettings", "evaluate"]

NEURAL: Final = (
    "lstm",
    "lstm+lif",
    "lstm+attention",
    "enhanced",
    "enhanced+qattention",
    "enhanced+qmemory",
    "qlstm",
)
BASELINES: Final = ("flat", "buy_and_hold", "previous_direction", "logistic")


@dataclass(frozen=True)
class EvaluationSettings:
    """How an evaluation runs; stated in its report."""

    folds: int
    epochs: int
    hidden_size: int
    patience: int
    qlstm_bars: int | None
    qlstm_epochs: int
    commission: float
    train_fraction: float
    seed: int
    horizon: int = 1
    models: tuple[str, ...] = NEURAL

    @classmethod
    def from_config(cls, config: TengriConfig, *, quick: bool) -> EvaluationSettings:
        """Quick: 2 folds, 3 epochs, width 16, QLSTM on the 700 bars before each test block."""
        section = config.model
        commission, seed = config.trading.commission, config.seed
        if quick:
            return cls(2, 3, 16, 2, 700, 2, commission, 0.5, seed)
        return cls(
            4,
            section.epochs,
            section.hidden_size,
            section.patience,
            1500,
            min(section.epochs, 10),
            commission,
            section.train_fraction,
            seed,
        )


def evaluate(
    config: TengriConfig, data: OHLCVSource, *, quick: bool, thermal: ThermalZoneManager | None = None
) -> EvaluationResult:
    """Evaluate every model on ``data`` walk-forward; write evaluation.md / .csv / .json.

    Each fold's fits and predictions run inside thermal bursts (:mod:`tengri.services.compute`).

    Parameters
    ----------
    config
        Tengri's configuration (seed, commission, model settings, reports directory).
    data
        A data source for :func:`tengri.data.load_ohlcv` (``"sample:eurusd_h1"``, a path).
    quick
        Small settings that finish in a few minutes on 2 CPU cores (see
        :meth:`EvaluationSettings.from_config`).
    thermal
        The thermal manager granting bursts (default: one over the configured store and sensors).

    Returns
    -------
    EvaluationResult
        The folder ``<reports_dir>/evaluate-<data>-<quick|full>`` (overwritten by a rerun: the
        same data, config and seed give the same numbers) and the rows.
    """
    settings = EvaluationSettings.from_config(config, quick=quick)
    loaded = read_ohlcv(data)
    bars = loaded.frame
    returns = next_return(bars, settings.horizon)
    folds = _folds(len(bars), settings)
    rows: list[dict[str, Any]] = []
    losses: dict[str, list[np.ndarray]] = {}
    with command_compute(config, thermal) as compute:
        for number, (start, test_start, stop) in enumerate(folds, start=1):
            test_index = bars.index[test_start:stop]
            forecasts = _baselines(bars, returns, start, test_index, settings)
            with compute.budget(f"fold {number}") as budget:
                for name in settings.models:
                    budget.pause_point()
                    forecasts[name] = _neural(config, name, bars, (start, stop), test_index, settings, budget)
            rows += _fold_rows(number, forecasts, returns, test_index, settings, losses)
    summary = _summary(rows, losses, settings)
    result = write_report(config, loaded.source, quick, settings, folds, bars, rows, summary)
    return replace(result, bursts=compute.bursts)


def _fold_rows(
    number: int,
    forecasts: dict[str, Forecast],
    returns: pd.Series,
    test_index: pd.DatetimeIndex,
    settings: EvaluationSettings,
    losses: dict[str, list[np.ndarray]],
) -> list[dict[str, Any]]:
    """One row per model of a fold; each model's Brier losses per bar are added to ``losses``."""
    rows: list[dict[str, Any]] = []
    logistic_loss = _brier_per_bar(forecasts["logistic"][0], returns.loc[test_index])
    for name, (prob_up, position, score) in forecasts.items():
        realised = returns.loc[test_index].to_numpy()
        loss = _brier_per_bar(prob_up, returns.loc[test_index])
        losses.setdefault(name, []).append(loss)
        row = _metrics(name, prob_up, position, score, realised, test_index, settings)
        row.update(fold=number, dm_stat=math.nan, dm_p=math.nan)
        if name != "logistic":
            row["dm_stat"], row["dm_p"] = diebold_mariano(loss, logistic_loss, settings.horizon)
        rows.append(row)
    return rows


def _folds(n_bars: int, settings: EvaluationSettings) -> list[tuple[int, int, int]]:
    """Return ``(first test-block bar, first test bar after the gap, end)`` per fold."""
    first = int(n_bars * settings.train_fraction)
    end = n_bars - settings.horizon  # the last bars have no label
    edges = np.linspace(first, end, settings.folds + 1).round().astype(int)
    return [(int(a), int(a) + settings.horizon, int(b)) for a, b in itertools.pairwise(edges)]


Forecast = tuple[np.ndarray, np.ndarray, np.ndarray]  # prob_up, position, score (for the IC)


def _baselines(
    bars: pd.DataFrame, returns: pd.Series, start: int, test_index: pd.DatetimeIndex, s: EvaluationSettings
) -> dict[str, Forecast]:
    n = len(test_index)
    train_returns = returns.iloc[: start - s.horizon].dropna()
    up_rate = float((train_returns > 0).mean())
    last_return = np.log(bars["Close"]).diff()
    # How often the next bar moved the way the last one did, on the training bars.
    persistence = float((np.sign(train_returns) == np.sign(last_return.loc[train_returns.index])).mean())
    previous = last_return.loc[test_index].to_numpy()
    previous_up = previous > 0
    pipeline = FeaturePipeline(DEFAULT_HIGHER_FACTORS).fit(bars, train_end=bars.index[start - 1 - s.horizon])
    features = pipeline.transform(bars)
    train = features.loc[features.index <= bars.index[start - 1 - s.horizon]]
    from sklearn.linear_model import LogisticRegression

    labels = (returns.loc[train.index] > 0).to_numpy()
    # Strong L2 (C = 0.01): 51 noisy, correlated features on a few hundred to a few thousand bars.
    logistic = LogisticRegression(C=0.01, max_iter=2000).fit(train.to_numpy(), labels)
    logistic_prob = logistic.predict_proba(features.loc[test_index].to_numpy())[:, 1]
    return {
        "flat": (np.full(n, 0.5), np.zeros(n), np.zeros(n)),
        "buy_and_hold": (np.full(n, up_rate), np.ones(n), np.zeros(n)),
        "previous_direction": (
            np.where(previous_up, persistence, 1 - persistence),
            np.where(previous_up, 1.0, -1.0),
            previous,
        ),
        "logistic": (logistic_prob, _positions(logistic_prob), logistic_prob - 0.5),
    }  # fmt: skip


def _neural(
    config: TengriConfig,
    name: str,
    bars: pd.DataFrame,
    span: tuple[int, int],
    test_index: pd.DatetimeIndex,
    s: EvaluationSettings,
    budget: Pacer | None = None,
) -> Forecast:
    start, stop = span
    base = PredictorSettings.from_config(config, name)
    quantum = name == "qlstm"
    heads = 4 if s.hidden_size % 4 == 0 else 1
    settings = PredictorSettings(
        model=base.model,
        variant=name,
        epochs=s.qlstm_epochs if quantum else s.epochs,
        learning_rate=base.learning_rate,
        patience=s.patience,
        horizon=s.horizon,
        torch_threads=base.torch_threads,
    ).with_model(hidden_size=s.hidden_size, num_heads=heads, seed=s.seed)
    begin = max(0, start - s.qlstm_bars) if quantum and s.qlstm_bars else 0
    predictor = LSTMTradingPredictor(settings=settings).fit(bars.iloc[begin:start], budget=budget)
    predictions = predictor.predict(bars.iloc[begin:stop], budget=budget).loc[test_index]
    prob = predictions["prob_up"].to_numpy()
    return prob, _positions(prob), predictions["predicted_return"].to_numpy()


def _positions(prob_up: np.ndarray) -> np.ndarray:
    actions = [action_for(float(p)) for p in prob_up]
    return np.array([{"buy": 1.0, "sell": -1.0}.get(action, 0.0) for action in actions])


def _brier_per_bar(prob_up: np.ndarray, realised: pd.Series) -> np.ndarray:
    return np.asarray((prob_up - (realised.to_numpy() > 0)) ** 2, dtype=np.float64)


def _metrics(
    name: str,
    prob_up: np.ndarray,
    position: np.ndarray,
    score: np.ndarray,
    realised: np.ndarray,
    test_index: pd.DatetimeIndex,
    s: EvaluationSettings,
) -> dict[str, Any]:
    up = (realised > 0).astype(np.float64)
    taken = position != 0  # accuracy counts the bars with a direction; a hold states none
    accuracy = accuracy_interval((position[taken] > 0) == (up[taken] > 0))
    net = strategy_returns(position, realised, s.commission)
    return {
        "model": name,
        "test_start": test_index[0].isoformat(),
        "test_end": test_index[-1].isoformat(),
        "bars": len(test_index),
        "coverage": float(taken.mean()),
        "accuracy": accuracy[0],
        "accuracy_low": accuracy[1],
        "accuracy_high": accuracy[2],
        "brier": brier_score(prob_up, up),
        "ece": expected_calibration_error(prob_up, up),
        "ic": information_coefficient(score, realised),
        "sharpe": sharpe_ratio(net, periods_per_year(test_index)),
        "total_return": float(np.prod(1.0 + net) - 1.0),
        "max_drawdown": max_drawdown(net),
    }


def _summary(
    rows: list[dict[str, Any]], losses: dict[str, list[np.ndarray]], s: EvaluationSettings
) -> list[dict[str, Any]]:
    frame = pd.DataFrame(rows)
    summary = []
    for name, group in frame.groupby("model", sort=False):
        statistic, p_value = _pooled_test(str(name), "logistic", losses, s.horizon)
        chance_statistic, chance_p = _pooled_test(str(name), "flat", losses, s.horizon)
        weights = group["bars"].to_numpy(dtype=np.float64)
        taken = weights * group["coverage"].to_numpy(dtype=np.float64)
        accuracy = group["accuracy"].to_numpy(dtype=np.float64)
        summary.append(
            {
                "model": name,
                "bars": int(weights.sum()),
                "coverage": float(taken.sum() / weights.sum()),
                "accuracy": float(np.nansum(accuracy * taken) / taken.sum()) if taken.sum() else math.nan,
                **{
                    column: float(np.average(group[column], weights=weights))
                    for column in ("brier", "ece", "ic", "sharpe")
                },
                "total_return": float(np.prod(1.0 + group["total_return"].to_numpy()) - 1.0),
                "max_drawdown": float(group["max_drawdown"].min()),
                "dm_stat": statistic,
                "dm_p": p_value,
                "edge_over_logistic": _verdict(statistic, p_value),
                "dm_flat_p": chance_p,
                "edge_over_chance": _verdict(chance_statistic, chance_p),
            }
        )
    return summary


def _pooled_test(
    name: str, reference: str, losses: dict[str, list[np.ndarray]], horizon: int
) -> tuple[float, float]:
    """Diebold–Mariano of ``name`` against ``reference`` on the Brier loss pooled over folds."""
    if name == reference:
        return math.nan, math.nan
    return diebold_mariano(np.concatenate(losses[name]), np.concatenate(losses[reference]), horizon)


def _verdict(statistic: float, p_value: float) -> str:
    if math.isnan(p_value):
        return "—"
    if p_value >= 0.05:
        return "not distinguishable"
    return "better" if statistic < 0 else "worse"
