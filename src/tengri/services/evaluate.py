"""Walk-forward evaluation of every model variant against honest baselines, written as a report folder.

Folds (expanding window): the first ``train_fraction`` of the bars is the first training set; the
rest is cut into ``folds`` consecutive test blocks. Fold k fits on every bar before its block and
tests on the block's bars from ``horizon`` bars after its start (the gap), so no label of a
training bar overlaps a test bar. Each neural model fits with its own validation split inside its
training set (early stopping and calibration), then streams over the series up to the block's end.

Models: the ablation ladder ``lstm``, ``lstm+lif``, ``lstm+attention``, ``enhanced`` (both),
``qlstm``; baselines ``flat`` (always flat), ``buy_and_hold``, ``previous_direction`` (the last
bar's direction again), ``logistic`` (logistic regression on the same scaled features).

Seeds: with ``seeds = N`` every neural model is fitted N times per fold, with seeds ``seed …
seed + N − 1`` (the baselines are deterministic); every figure of the summary is a mean ± std over
the seeds, each seed's figures pooled over the folds' test bars.

Per model, seed and fold: coverage (the share of bars with a buy or sell) and directional accuracy
on those bars with a 95% Wilson interval, Brier score, expected calibration error, Spearman
information coefficient, and the net Sharpe ratio, total return and maximum drawdown of trading the
signals (buy +1, sell −1, hold 0) filled at the next bar's open with commission and slippage as
``tengri backtest`` fills them (:mod:`tengri.predict.next_open`); the close-to-close convention
(position at bar t's close, commission only) is kept as the labelled extra ``sharpe_close``. The
Sharpe ratio of the pooled test bars gets a 95% stationary-bootstrap interval (the same resampled
bars for every seed). Each model's per-bar hit score (1 right, 0 wrong, ½ for a hold) averaged
over seeds is compared with plain ``lstm``'s: the paired difference with a Newey–West 95%
interval and p-value, Holm-adjusted across the neural variants. A model whose probability varies
by less than :data:`CONSTANT_STD` on a test block is flagged ``constant`` there (a neural one:
the baselines are constant by design): its zeros are no
result. The training and validation loss of every fit, per epoch, go to ``curves.csv`` (plotted in
``curves.png``). A
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
from tengri.errors import InvalidInputError
from tengri.features import FeaturePipeline, next_return
from tengri.predict import (
    DEFAULT_HIGHER_FACTORS,
    LSTMTradingPredictor,
    PredictorSettings,
    TrainingHistory,
    action_for,
)
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
from tengri.predict.next_open import next_open_returns
from tengri.predict.significance import bootstrap_interval, holm, paired_difference
from tengri.services._evaluation_report import EvaluationResult, write_report
from tengri.services.compute import command_compute

if TYPE_CHECKING:
    from tengri.config import TengriConfig
    from tengri.engine import ThermalZoneManager
    from tengri.predict import Pacer

__all__ = ["CONSTANT_STD", "EvaluationResult", "EvaluationSettings", "evaluate"]

CONSTANT_STD: Final = 1e-4
"""A model whose stated probability varies by less than this (std) on a test block is "constant"."""
REFERENCE: Final = "lstm"
"""The variant every other model's hit score is compared with (the seed's claims are gains over it)."""

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
    seeds: int = 1
    slippage: float = 0.0

    @classmethod
    def from_config(cls, config: TengriConfig, *, quick: bool, seeds: int = 1) -> EvaluationSettings:
        """Quick: 2 folds, 3 epochs, width 16, QLSTM on the 700 bars before each test block.

        Full: 4 folds, the configured width, ``model.epochs`` with early stopping on the
        validation loss (``model.patience``). Both with ``seeds`` seeds from ``config.seed`` and
        the configured commission and slippage.
        """
        if seeds < 1:
            raise InvalidInputError(f"evaluate: seeds must be at least 1, got {seeds}")
        section = config.model
        commission, seed = config.trading.commission, config.seed
        slippage = config.trading.slippage
        if quick:
            return cls(2, 3, 16, 2, 700, 2, commission, 0.5, seed, seeds=seeds, slippage=slippage)
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
            seeds=seeds,
            slippage=slippage,
        )


def evaluate(
    config: TengriConfig,
    data: OHLCVSource,
    *,
    quick: bool,
    seeds: int = 1,
    thermal: ThermalZoneManager | None = None,
    settings: EvaluationSettings | None = None,
) -> EvaluationResult:
    """Evaluate every model on ``data`` walk-forward; write evaluation.md / .csv / .json, curves.

    Each fold's fits and predictions run inside thermal bursts (:mod:`tengri.services.compute`).

    Parameters
    ----------
    config
        Tengri's configuration (seed, commission, slippage, model settings, reports directory).
    data
        A data source for :func:`tengri.data.load_ohlcv` (``"sample:eurusd_h1"``, a path).
    quick
        Small settings that finish in a few minutes on 2 CPU cores (see
        :meth:`EvaluationSettings.from_config`).
    seeds
        Fits per neural model and fold, seeded ``config.seed …``; figures are mean ± std over them.
    thermal
        The thermal manager granting bursts (default: one over the configured store and sensors).
    settings
        Explicit settings instead of ``quick`` and ``seeds`` (``make evidence`` scales them).

    Returns
    -------
    EvaluationResult
        The folder ``<reports_dir>/evaluate-<data>-<quick|full>`` (overwritten by a rerun: the
        same data, config and seeds give the same numbers) and the rows.
    """
    if settings is None:
        settings = EvaluationSettings.from_config(config, quick=quick, seeds=seeds)
    loaded = read_ohlcv(data)
    bars = loaded.frame
    returns = next_return(bars, settings.horizon)
    folds = _folds(len(bars), settings)
    seed_list = [settings.seed + k for k in range(settings.seeds)]
    runs: dict[tuple[str, int], list[_Block]] = {}
    rows: list[dict[str, Any]] = []
    curves: list[dict[str, Any]] = []
    with command_compute(config, thermal) as compute:
        for number, (start, test_start, stop) in enumerate(folds, start=1):
            test_index = bars.index[test_start:stop]
            baselines = _baselines(bars, returns, start, test_index, settings)
            forecasts = {(name, seed): forecast for name, forecast in baselines.items() for seed in seed_list}
            with compute.budget(f"fold {number}") as budget:
                for seed in seed_list:
                    for name in settings.models:
                        budget.pause_point()
                        forecast, history = _neural(
                            config, name, bars, (start, stop), test_index, settings, seed, budget
                        )
                        forecasts[name, seed] = forecast
                        curves += [
                            {"model": name, "seed": seed, "fold": number, "epoch": epoch + 1,
                             "train_loss": train, "validation_loss": valid,
                             "best": epoch == history.best_epoch}
                            for epoch, (train, valid) in enumerate(
                                zip(history.train_loss, history.validation_loss, strict=True)
                            )
                        ]  # fmt: skip
            for (name, seed), forecast in forecasts.items():
                block = _block(forecast, bars, returns, test_start, stop, settings)
                runs.setdefault((name, seed), []).append(block)
                rows.append({"model": name, "seed": seed, "fold": number, **_metrics(name, block, settings)})
    summary, comparisons = _summary(runs, seed_list, settings, periods_per_year(bars.index))
    result = write_report(
        config, loaded.source, quick, settings, folds, bars, rows, summary, comparisons, curves
    )
    return replace(result, bursts=compute.bursts)


Forecast = tuple[np.ndarray, np.ndarray, np.ndarray]  # prob_up, position, score (for the IC)


@dataclass(frozen=True)
class _Block:
    """One model's forecasts on one test block, and what trading them returned."""

    index: pd.DatetimeIndex
    prob_up: np.ndarray
    position: np.ndarray
    score: np.ndarray
    realised: np.ndarray  # the next bar's log return
    net: np.ndarray  # next-open fills, commission and slippage
    net_close: np.ndarray  # the close convention, commission only

    @property
    def hits(self) -> np.ndarray:
        """1 where the stated direction happened, 0 where not, ½ for a hold."""
        right = (self.position > 0) == (self.realised > 0)
        return np.where(self.position == 0, 0.5, right.astype(np.float64))

    @property
    def brier_loss(self) -> np.ndarray:
        return np.asarray((self.prob_up - (self.realised > 0)) ** 2, dtype=np.float64)


def _block(
    forecast: Forecast, bars: pd.DataFrame, returns: pd.Series, start: int, stop: int, s: EvaluationSettings
) -> _Block:
    prob_up, position, score = forecast
    realised = returns.iloc[start:stop].to_numpy()
    opens = bars["Open"].to_numpy()[start : stop + 1]
    filled = next_open_returns(position, opens, commission=s.commission, slippage=s.slippage)
    close = strategy_returns(position, realised, s.commission)
    return _Block(bars.index[start:stop], prob_up, position, score, realised, filled.returns, close)


def _join(blocks: list[_Block]) -> _Block:
    if len(blocks) == 1:
        return blocks[0]
    return _Block(
        pd.DatetimeIndex(np.concatenate([b.index.to_numpy() for b in blocks])),
        *(np.concatenate([getattr(b, name) for b in blocks]) for name in _ARRAYS),
    )


_ARRAYS: Final = ("prob_up", "position", "score", "realised", "net", "net_close")


def _folds(n_bars: int, settings: EvaluationSettings) -> list[tuple[int, int, int]]:
    """Return ``(first test-block bar, first test bar after the gap, end)`` per fold."""
    first = int(n_bars * settings.train_fraction)
    end = n_bars - settings.horizon  # the last bars have no label
    edges = np.linspace(first, end, settings.folds + 1).round().astype(int)
    return [(int(a), int(a) + settings.horizon, int(b)) for a, b in itertools.pairwise(edges)]


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
    seed: int,
    budget: Pacer | None = None,
) -> tuple[Forecast, TrainingHistory]:
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
    ).with_model(hidden_size=s.hidden_size, num_heads=heads, seed=seed)
    begin = max(0, start - s.qlstm_bars) if quantum and s.qlstm_bars else 0
    predictor = LSTMTradingPredictor(settings=settings).fit(bars.iloc[begin:start], budget=budget)
    predictions = predictor.predict(bars.iloc[begin:stop], budget=budget).loc[test_index]
    prob = predictions["prob_up"].to_numpy()
    return (prob, _positions(prob), predictions["predicted_return"].to_numpy()), predictor.history


def _positions(prob_up: np.ndarray) -> np.ndarray:
    actions = [action_for(float(p)) for p in prob_up]
    return np.array([{"buy": 1.0, "sell": -1.0}.get(action, 0.0) for action in actions])


def _constant(block: _Block) -> bool:
    return bool(np.std(block.prob_up) < CONSTANT_STD)


def _metrics(name: str, block: _Block, s: EvaluationSettings, periods: float | None = None) -> dict[str, Any]:
    """The figures of one model on some test bars (one block, or a seed's blocks pooled).

    Only a neural model can be flagged constant: a baseline states a constant probability by design.
    """
    up = (block.realised > 0).astype(np.float64)
    taken = block.position != 0  # accuracy counts the bars with a direction; a hold states none
    accuracy = accuracy_interval((block.position[taken] > 0) == (up[taken] > 0))
    per_year = periods_per_year(block.index) if periods is None else periods
    return {
        "test_start": block.index[0].isoformat(),
        "test_end": block.index[-1].isoformat(),
        "bars": len(block.index),
        "output_std": float(np.std(block.prob_up)),
        "constant": name in NEURAL and _constant(block),
        "coverage": float(taken.mean()),
        "accuracy": accuracy[0],
        "accuracy_low": accuracy[1],
        "accuracy_high": accuracy[2],
        "hit_score": float(block.hits.mean()),
        "brier": brier_score(block.prob_up, up),
        "ece": expected_calibration_error(block.prob_up, up),
        "ic": information_coefficient(block.score, block.realised),
        "sharpe": sharpe_ratio(block.net, per_year),
        "total_return": float(np.prod(1.0 + block.net) - 1.0),
        "max_drawdown": max_drawdown(block.net),
        "sharpe_close": sharpe_ratio(block.net_close, per_year),
    }


SUMMARY_METRICS: Final = (
    "coverage", "accuracy", "hit_score", "brier", "ece", "ic", "sharpe", "total_return", "max_drawdown",
    "sharpe_close",
)  # fmt: skip


def _summary(
    runs: dict[tuple[str, int], list[_Block]], seeds: list[int], s: EvaluationSettings, periods: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per model: each metric's mean and std over seeds (each seed pooled over folds), the Sharpe
    interval, the constant flag, Diebold–Mariano tests; and the paired comparisons with ``lstm``."""
    names = list(dict.fromkeys(name for name, _ in runs))
    pooled = {key: _join(blocks) for key, blocks in runs.items()}
    mean_loss = {name: np.mean([pooled[name, seed].brier_loss for seed in seeds], axis=0) for name in names}
    mean_hits = {name: np.mean([pooled[name, seed].hits for seed in seeds], axis=0) for name in names}
    summary = []
    for name in names:
        per_seed = [_metrics(name, pooled[name, seed], s, periods) for seed in seeds]
        constant_blocks = sum(name in NEURAL and _constant(b) for seed in seeds for b in runs[name, seed])
        row: dict[str, Any] = {"model": name, "bars": per_seed[0]["bars"], "seeds": len(seeds)}
        for metric in SUMMARY_METRICS:
            values = np.array([m[metric] for m in per_seed], dtype=np.float64)
            finite = values[np.isfinite(values)]
            row[metric] = float(finite.mean()) if finite.size else math.nan
            row[f"{metric}_std"] = float(finite.std(ddof=1)) if finite.size > 1 else math.nan
        returns = np.array([pooled[name, seed].net for seed in seeds])
        row["sharpe_low"], row["sharpe_high"] = bootstrap_interval(
            returns,
            lambda r: float(np.nanmean([sharpe_ratio(seed_returns, periods) for seed_returns in r])),
            seed=s.seed,
        )
        row["constant_blocks"] = constant_blocks
        row["blocks"] = len(seeds) * len(runs[name, seeds[0]])
        row["flag"] = _flag(constant_blocks, row["blocks"])
        statistic, p_value = _test(mean_loss, name, "logistic", s.horizon)
        chance_statistic, chance_p = _test(mean_loss, name, "flat", s.horizon)
        row.update(
            dm_stat=statistic,
            dm_p=p_value,
            edge_over_logistic=_verdict(statistic, p_value),
            dm_flat_p=chance_p,
            edge_over_chance=_verdict(chance_statistic, chance_p),
        )
        summary.append(row)
    comparisons = _comparisons(mean_hits, names)
    return summary, comparisons


def _comparisons(hits: dict[str, np.ndarray], names: list[str]) -> list[dict[str, Any]]:
    """Each model's hit score against plain ``lstm``'s, paired by bar; Holm across the neural variants."""
    if REFERENCE not in hits:
        return []
    rows: list[dict[str, Any]] = []
    for name in names:
        if name == REFERENCE:
            continue
        mean, low, high, p_value = paired_difference(hits[name], hits[REFERENCE])
        rows.append({"model": name, "difference": mean, "low": low, "high": high, "p": p_value})
    family = [i for i, row in enumerate(rows) if row["model"] in NEURAL]
    adjusted = holm([rows[i]["p"] for i in family])
    for row in rows:
        row["p_holm"] = math.nan
    for i, value in zip(family, adjusted, strict=True):
        rows[i]["p_holm"] = value
    return rows


def _flag(constant: int, blocks: int) -> str:
    if constant == 0:
        return ""
    return "constant" if constant == blocks else f"constant in {constant} of {blocks} fits"


def _test(losses: dict[str, np.ndarray], name: str, reference: str, horizon: int) -> tuple[float, float]:
    """Diebold–Mariano of ``name`` against ``reference`` on the per-bar Brier loss (mean over seeds)."""
    if name == reference or reference not in losses:
        return math.nan, math.nan
    return diebold_mariano(losses[name], losses[reference], horizon)


def _verdict(statistic: float, p_value: float) -> str:
    if math.isnan(p_value):
        return "—"
    if p_value >= 0.05:
        return "not distinguishable"
    return "better" if statistic < 0 else "worse"
