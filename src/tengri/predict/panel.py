"""One model pooled across instruments: cross-sectional features per date, trained on all instruments at once.

Features: each instrument's raw predictor features (:class:`~tengri.features.FeaturePipeline`'s
``compute``, higher timeframes :data:`~tengri.predict.DEFAULT_HIGHER_FACTORS`), normalised across
the instruments of each date (value minus the date's mean, over the date's standard deviation:
qlib's ``CSZScoreNorm``), then clipped to ±3. Label: the next bar's log return minus the date's
mean over instruments (the cross-sectional excess return), in units of its training standard
deviation; ``up`` is whether it is positive.

Training streams every instrument side by side (the batch is the instruments, aligned by date)
through a Tengri model's ``step``, with truncated back-propagation every ``seq_len`` dates, the
predictor's loss (binary cross-entropy of the up logit plus the squared error of the scaled
return), Adam, gradient clipping, and early stopping on the validation dates' loss (the best
epoch's weights are kept). The score of an instrument on a date is its up logit.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from tengri.errors import InvalidInputError
from tengri.features import FeaturePipeline
from tengri.models import create_enhanced_lstm, torch_threads
from tengri.predict._settings import DEFAULT_HIGHER_FACTORS, PredictorSettings
from tengri.predict._training import TrainingHistory, detach_state

__all__ = ["PanelData", "fit_panel_model", "panel_data"]

_CLIP = 3.0


@dataclass(frozen=True)
class PanelData:
    """Dates × instruments × features, the cross-sectional label, and the raw next returns."""

    dates: pd.DatetimeIndex
    instruments: tuple[str, ...]
    features: np.ndarray  # (dates, instruments, features), float32
    excess: np.ndarray  # (dates, instruments): next log return minus the date's mean
    realised: np.ndarray  # (dates, instruments): next log return


def panel_data(
    bars: dict[str, pd.DataFrame], higher_factors: tuple[int, ...] = DEFAULT_HIGHER_FACTORS
) -> PanelData:
    """Align the instruments on their common dates and build cross-sectional features and labels.

    Raises
    ------
    InvalidInputError
        If fewer than 3 instruments are given, or they share too few dates.
    """
    if len(bars) < 3:
        raise InvalidInputError(f"panel_data: need at least 3 instruments, got {len(bars)}")
    common = None
    for frame in bars.values():
        common = frame.index if common is None else common.intersection(frame.index)
    assert common is not None
    pipeline = FeaturePipeline(higher_factors)
    if len(common) < pipeline.warmup_bars + 200:
        raise InvalidInputError(f"panel_data: the instruments share only {len(common)} dates")
    names = tuple(bars)
    raw = [pipeline.compute(bars[name].loc[common]) for name in names]
    closes = np.stack([np.log(bars[name].loc[common, "Close"].to_numpy()) for name in names], axis=1)
    realised = np.vstack([np.diff(closes, axis=0), np.full((1, len(names)), np.nan)])
    cube = np.stack([frame.to_numpy(dtype=np.float64) for frame in raw], axis=1)  # (T, S, F)
    keep = np.isfinite(cube).all(axis=(1, 2)) & np.isfinite(realised).all(axis=1)
    cube, realised, dates = cube[keep], realised[keep], common[keep]
    centred = cube - cube.mean(axis=1, keepdims=True)
    spread = cube.std(axis=1, keepdims=True)
    scaled = np.clip(np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 0), -_CLIP, _CLIP)
    excess = realised - realised.mean(axis=1, keepdims=True)
    return PanelData(pd.DatetimeIndex(dates), names, scaled.astype(np.float32), excess, realised)


def fit_panel_model(
    data: PanelData,
    settings: PredictorSettings,
    *,
    train_stop: int,
    validation: tuple[int, int],
) -> tuple[np.ndarray, TrainingHistory]:
    """Train one model on dates ``[0, train_stop)`` of every instrument; return scores for all dates.

    Early stopping uses dates ``validation = (start, stop)`` (``start > train_stop``); the scores
    ``(dates, instruments)`` are the up logits of one stream over every date, from rest.
    """
    window = settings.model.seq_len
    if train_stop < 3 * window or not train_stop < validation[0] < validation[1] <= len(data.dates):
        raise InvalidInputError("fit_panel_model: need 3 training windows and validation dates after them")
    n_features = data.features.shape[2]
    config = replace(settings.model, input_size=n_features, use_multi_timeframe=False)
    scale = float(np.std(data.excess[:train_stop])) or 1.0
    x = torch.from_numpy(np.ascontiguousarray(data.features))
    target = torch.from_numpy((data.excess / scale).astype(np.float32))
    up = (target > 0).to(torch.float32)
    history = TrainingHistory()
    with torch_threads(settings.torch_threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.model.seed)
        model = create_enhanced_lstm(config)
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
        best: dict[str, Any] = copy.deepcopy(model.state_dict())
        stale = 0
        for epoch in range(settings.epochs):
            model.train()
            state: Any = model.init_state(x.shape[1])
            total, count = 0.0, 0
            for start in range(0, train_stop, window):
                stop = min(start + window, train_stop)
                with torch.set_grad_enabled(start > 0):
                    logits, returns, state = _run(model, x[start:stop], state)
                state = detach_state(state)
                if start == 0:
                    continue
                loss = _loss(logits, returns, up[start:stop], target[start:stop])
                optimizer.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                total, count = total + float(loss.detach()) * (stop - start), count + stop - start
            logits, returns = _stream(model, x[: validation[1]])
            a, b = validation
            validation_loss = float(_loss(logits[a:b], returns[a:b], up[a:b], target[a:b]))
            history.train_loss.append(total / max(count, 1))
            history.validation_loss.append(validation_loss)
            if epoch == 0 or validation_loss < history.best_validation_loss:
                history.best_epoch, best, stale = epoch, copy.deepcopy(model.state_dict()), 0
            else:
                stale += 1
                if stale >= settings.patience:
                    history.stopped_early = True
                    break
        model.load_state_dict(best)
        scores, _ = _stream(model, x)
    return scores.numpy().astype(np.float64), history


def _run(model: Any, rows: Tensor, state: Any) -> tuple[Tensor, Tensor, Any]:
    logits, returns = [], []
    for t in range(rows.shape[0]):
        output, state = model.step(rows[t], state)
        logits.append(output.prob_up_logit)
        returns.append(output.predicted_return)
    return torch.stack(logits), torch.stack(returns), state


def _stream(model: Any, rows: Tensor) -> tuple[Tensor, Tensor]:
    model.eval()
    with torch.no_grad():
        logits, returns, _ = _run(model, rows, model.init_state(rows.shape[1]))
    return logits, returns


def _loss(logits: Tensor, returns: Tensor, up: Tensor, target: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(logits, up) + F.mse_loss(returns, target)
