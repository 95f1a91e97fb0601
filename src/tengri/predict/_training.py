"""Training and streaming inference of a Tengri model over one series of scaled feature rows.

Predictions are a stream (``DESIGN.md``, Predictor): the model starts from its resting state at
the first complete feature row and takes one ``step`` per bar, so batch prediction and live
``update`` are the same computation. Training matches it: the training rows are cut into
``segments`` contiguous parts streamed side by side from a resting state, with truncated
back-propagation through time every ``seq_len`` bars (the state is carried on, detached).
The loss skips each segment's first ``seq_len`` bars, where the state has not warmed up yet.

Loss per bar: binary cross-entropy of the up-move logit plus the squared error of the predicted
return in units of the training returns' standard deviation (both about 1 at chance level).
"""

from __future__ import annotations

import copy
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor

from tengri.models import QLSTM, EnhancedLSTM

__all__ = ["Pacer", "TrainingHistory", "detach_state", "stream", "train_model"]

Model = EnhancedLSTM | QLSTM

_CLIP_NORM = 1.0
# Validation restarts the stream this many windows before its first bar: enough for the LSTM
# state to forget its resting start, far cheaper than replaying the whole training series per epoch.
_VALIDATION_CONTEXT_WINDOWS = 4


class Pacer(Protocol):
    """What heavy work calls at its natural points: the thermal manager's compute budget.

    :meth:`pause_point` returns at once, or, when the running burst is spent, after the next burst
    is granted; the work's state is untouched meanwhile, so a paused fit ends with the same
    weights as an unbroken one. It raises :class:`~tengri.errors.BurstRefusedError` when the
    work must stop.
    """

    def pause_point(self) -> None:
        """Pause here if the burst is spent; return when the work may go on."""
        ...


@dataclass
class TrainingHistory:
    """Per-epoch losses and where early stopping ended."""

    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False

    @property
    def best_validation_loss(self) -> float:
        """The lowest validation loss (the kept weights')."""
        return self.validation_loss[self.best_epoch] if self.validation_loss else math.nan


def detach_state(state: Any) -> Any:
    """Return the state with every tensor detached (dataclass, tuple or tensor)."""
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple):
        return tuple(detach_state(item) for item in state)
    if state is None:
        return None
    return type(state)(*(detach_state(getattr(state, name)) for name in state.__dataclass_fields__))


def stream(
    model: Model, rows: Tensor, state: Any = None, *, pacer: Pacer | None = None, every: int = 64
) -> tuple[Tensor, Tensor, Any]:
    """Run one stream over ``rows`` ``(T, F)`` without gradients; return logits, returns, state.

    The model is put in evaluation mode; it runs on its device, the logits and returns come back
    on the CPU. ``state`` continues an earlier stream; ``None`` starts
    from rest. ``pacer`` is given a natural point every ``every`` rows.
    """
    model.eval()
    device = next(model.parameters()).device
    rows = rows.to(device)
    if state is None:
        state = model.init_state(1)
    logits = torch.empty(rows.shape[0], dtype=rows.dtype, device=device)
    returns = torch.empty(rows.shape[0], dtype=rows.dtype, device=device)
    with torch.no_grad():
        for t in range(rows.shape[0]):
            if pacer is not None and t and t % every == 0:
                pacer.pause_point()
            output, state = model.step(rows[t : t + 1], state)
            logits[t] = output.prob_up_logit[0]
            returns[t] = output.predicted_return[0]
    return logits.cpu(), returns.cpu(), state


def _loss(logits: Tensor, returns: Tensor, up: Tensor, target: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(logits, up) + F.mse_loss(returns, target)


def train_model(
    model: Model,
    rows: NDArray[np.float32],
    up: NDArray[np.float32],
    scaled_return: NDArray[np.float32],
    *,
    train_stop: int,
    validation: tuple[int, int],
    epochs: int,
    learning_rate: float,
    patience: int,
    segments: int,
    window: int,
    progress: Callable[[int, float, float], None] | None = None,
    pacer: Pacer | None = None,
) -> TrainingHistory:
    """Train ``model`` in place on rows ``[0, train_stop)``, early-stopping on the validation rows.

    Parameters
    ----------
    model
        A fresh model; on return it holds the weights of the best validation epoch.
    rows
        Scaled features ``(N, F)`` of a series, from its first complete row.
    up, scaled_return
        Targets per row: 1.0 for an up move, and the next return over the training std.
    train_stop
        Rows before it are training rows (each with its label inside the training part).
    validation
        ``(start, stop)`` rows for the validation loss; ``start ≥ train_stop + horizon``.
    epochs, learning_rate, patience
        See :class:`~tengri.predict.PredictorSettings`.
    segments
        Streams trained side by side.
    window
        Truncation length of back-propagation through time (and each segment's warm-up).
    progress
        Called after each epoch with ``(epoch, train loss, validation loss)``.
    pacer
        Given a natural point after every window of every segment (one optimiser step) and
        before each epoch's validation; it may pause the work between bursts.
    """
    device = next(model.parameters()).device  # the model's device (the CPU unless placed)
    x = torch.from_numpy(np.ascontiguousarray(rows)).to(device)
    y_up = torch.from_numpy(np.ascontiguousarray(up)).to(device)
    y_ret = torch.from_numpy(np.ascontiguousarray(scaled_return)).to(device)
    count = max(1, min(segments, train_stop // (3 * window)))
    length = train_stop // count
    # (segment, time) index of every training bar streamed: segment b covers rows [b·L, (b+1)·L).
    index = (torch.arange(count)[:, None] * length + torch.arange(length)[None, :]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = TrainingHistory()
    best: dict[str, Tensor] = copy.deepcopy(model.state_dict())
    stale = 0
    for epoch in range(epochs):
        model.train()
        state: Any = model.init_state(count)
        total, weight = 0.0, 0
        for start in range(0, length, window):
            if pacer is not None and (epoch or start):
                pacer.pause_point()
            columns = index[:, start : start + window]
            logits, returns = [], []
            with torch.set_grad_enabled(start > 0):
                for t in range(columns.shape[1]):
                    output, state = model.step(x[columns[:, t]], state)
                    logits.append(output.prob_up_logit)
                    returns.append(output.predicted_return)
            state = detach_state(state)
            if start == 0:  # the warm-up window: the state is still near rest, no loss
                continue
            chosen = columns
            loss = _loss(torch.stack(logits, 1), torch.stack(returns, 1), y_up[chosen], y_ret[chosen])
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(model.parameters(), _CLIP_NORM)
            optimizer.step()
            total += float(loss.detach()) * chosen.numel()
            weight += chosen.numel()
        if pacer is not None:
            pacer.pause_point()
        validation_loss = _validation_loss(model, x, y_up, y_ret, validation, window, pacer)
        history.train_loss.append(total / max(weight, 1))
        history.validation_loss.append(validation_loss)
        if progress is not None:
            progress(epoch, history.train_loss[-1], validation_loss)
        if validation_loss < history.best_validation_loss or epoch == 0:
            history.best_epoch = epoch
            best = copy.deepcopy(model.state_dict())
            stale = 0
        else:
            stale += 1
            if stale >= patience:
                history.stopped_early = True
                break
    model.load_state_dict(best)
    model.eval()
    return history


def _validation_loss(
    model: Model,
    x: Tensor,
    y_up: Tensor,
    y_ret: Tensor,
    validation: tuple[int, int],
    window: int,
    pacer: Pacer | None = None,
) -> float:
    start, stop = validation
    begin = max(0, start - _VALIDATION_CONTEXT_WINDOWS * window)
    logits, returns, _ = stream(model, x[begin:stop], pacer=pacer, every=window)
    offset = start - begin
    up, target = y_up[start:stop].cpu(), y_ret[start:stop].cpu()
    return float(_loss(logits[offset:], returns[offset:], up, target))


@contextmanager
def progress_reporter(total: int, description: str) -> Iterator[Callable[[int, float, float], None] | None]:
    """Yield an epoch callback drawing a rich progress bar on a terminal's stderr, else ``None``."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("epoch {task.completed}/{task.total}"),
        TextColumn("{task.fields[losses]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total, losses="")

        def report(epoch: int, train_loss: float, validation_loss: float) -> None:
            losses = f"loss {train_loss:.4f} val {validation_loss:.4f}"
            bar.update(task, completed=epoch + 1, losses=losses)

        yield report
