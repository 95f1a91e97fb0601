"""PredictorSignalSource: the predictor as a signal source of the engine, one bar per tick.

Services may import both the engine and the predictor; the predictor itself knows nothing of the
engine. Each tick is turned into a bar and fed to :meth:`LSTMTradingPredictor.update`; a signal is
emitted when the action changes (buy → +1, sell → −1, hold → 0), carrying the calibrated
confidence, and recorded in :attr:`PredictorSignalSource.records` so that a replay can compare
stated confidence with outcomes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import pandas as pd

from tengri.engine.signals import Signal, Tick
from tengri.errors import BurstRefusedError, ConfigError
from tengri.predict import DEFAULT_THRESHOLD, LSTMTradingPredictor, PredictorSettings, action_for

if TYPE_CHECKING:
    import torch

    from tengri.config import TengriConfig
    from tengri.engine import ComputeBudget, EndedBurst, ThermalZoneManager
    from tengri.engine.thermal import RefusalPolicy
    from tengri.predict import Pacer

__all__ = ["DIRECTIONS", "PredictorSignalSource", "choose_device", "fit_model_source", "governed"]

log = logging.getLogger(__name__)

DIRECTIONS: Final = {"buy": 1, "sell": -1, "hold": 0}


class PredictorSignalSource:
    """Turn ticks into model signals.

    Parameters
    ----------
    predictor
        A fitted predictor (its stream continues from the series it last saw).
    strategy_id
        The strategy the signals belong to.
    threshold
        Confidence a buy or sell must exceed (:func:`tengri.predict.action_for`).
    thermal
        The thermal manager whose zone sets how often the model is asked, with how many torch
        threads, and whether a quantum model may run (:mod:`tengri.engine.thermal.governance`);
        ``None`` asks on every bar.
    max_threads
        The torch threads of the coolest zone (``model.torch_threads``).
    policy, on_burst_end
        A quantum model streams inside bursts of ``thermal``: what a refusal does (``wait`` live,
        ``skip`` in a replay: the bars wait for the next ask) and who records each burst.
    """

    def __init__(
        self,
        predictor: LSTMTradingPredictor,
        *,
        strategy_id: str = "MODEL",
        threshold: float | None = None,
        thermal: ThermalZoneManager | None = None,
        max_threads: int = 1,
        policy: RefusalPolicy = "wait",
        on_burst_end: Callable[[EndedBurst, str], None] | None = None,
    ) -> None:
        self.predictor = predictor
        self.strategy_id = strategy_id
        self.threshold = threshold
        self.thermal = thermal
        self.max_threads = max_threads
        self.asks = 0
        """How many times the model was asked for a signal."""
        self._waiting: list[dict[str, Any]] = []  # bars streamed at the next ask
        self.policy: RefusalPolicy = policy
        self.on_burst_end = on_burst_end
        self._budget: ComputeBudget | None = None
        self.name = f"model:{predictor.settings.variant}"
        self.records: list[dict[str, Any]] = []
        """One entry per emitted signal: ``timestamp``, ``direction``, ``stated_confidence``."""
        self.offset = 0
        """Frame position of the tick with ``index`` 0 (a replay's first streamed bar)."""
        self._action = "hold"
        self.predictions = 0
        """Predictions made (bars the model was asked about)."""
        self.strongest = 0.0
        """The largest calibrated max(P(up), 1 − P(up)) of any prediction: how near a buy or sell came."""

    def silence_notes(self) -> list[str]:
        """Say why the model emitted no buy or sell, if it emitted none (empty otherwise)."""
        if any(record["direction"] != 0 for record in self.records):
            return []
        if self.predictions == 0:
            return ["the model made no prediction: the stream was shorter than its sequence length"]
        threshold = DEFAULT_THRESHOLD if self.threshold is None else self.threshold
        why = (
            "its calibration set every probability of an up move to 0.5 (on the held-out bars the "
            "model's output told nothing about the outcome), so no prediction reached the entry threshold"
            if self.strongest <= 0.5 + 1e-9
            else f"no calibrated probability reached the entry threshold (the strongest was "
            f"{self.strongest:.3f}, a signal needs more than {threshold:.3f}); its calibration found "
            "no edge it could state"
        )
        return [f"the model emitted no buy or sell in {self.predictions:,} predictions: {why}"]

    def warm(self, tick: Tick) -> None:
        """Replay a tick already processed before a resume: same state and records, no signal."""
        self.on_tick(tick)

    def signal_rows(self, frame: pd.DataFrame) -> Iterator[dict[str, Any]]:
        """Yield the journal's ``signals`` rows: ``bar, timestamp, direction, stated_confidence, hit``.

        ``hit`` says whether the next bar's close moved in the signal's direction (``None`` for a
        flat signal or when no next bar exists), the horizon the model predicts.
        """
        closes = frame["Close"].to_numpy(dtype=np.float64)
        for record in self.records:
            bar = int(record["bar"])
            direction = int(record["direction"])
            hit = None
            if direction != 0 and bar + 1 < len(closes):
                hit = bool(direction * (closes[bar + 1] - closes[bar]) > 0)
            yield {
                "bar": bar,
                "timestamp": record["timestamp"].isoformat().replace("+00:00", "Z"),
                "direction": direction,
                "stated_confidence": record["stated_confidence"],
                "hit": hit,
            }

    def on_tick(self, tick: Tick) -> Sequence[Signal]:
        """Feed the tick's bar to the predictor; return a signal when the action changes."""
        price = tick.price
        bar = {
            "timestamp": pd.Timestamp(tick.timestamp, unit="s", tz="UTC"),
            "Open": tick.open if tick.open is not None else price,
            "High": tick.high if tick.high is not None else price,
            "Low": tick.low if tick.low is not None else price,
            "Close": price,
            "Volume": tick.volume if tick.volume is not None else 0.0,
        }
        self._waiting.append(bar)
        if not self._asked_now(tick):
            return ()
        prediction = self._stream_waiting()
        if prediction is None:
            return ()
        self.predictions += 1
        self.strongest = max(self.strongest, prediction["prob_up"], 1.0 - prediction["prob_up"])
        action = action_for(prediction["prob_up"], self.threshold)
        if action == self._action:
            return ()
        self._action = action
        direction = DIRECTIONS[action]
        confidence = float(prediction["confidence"])
        self.records.append(
            {
                "bar": tick.index + self.offset,
                "timestamp": prediction["timestamp"],
                "direction": direction,
                "stated_confidence": confidence,
            }
        )
        info = {
            "prob_up": prediction["prob_up"],
            "predicted_return": prediction["predicted_return"],
            "in_sample": prediction["in_sample"],
        }
        return (Signal(self.strategy_id, direction, confidence=confidence, source="model", info=info),)

    def _stream_waiting(self) -> dict[str, Any] | None:
        """Stream the waiting bars through the model; return the last bar's prediction.

        A quantum model streams inside a thermal burst, held across ticks and paused at each bar
        when spent: a refused burst leaves the bars not yet streamed waiting for the next ask.
        """
        prediction: dict[str, Any] | None = None
        budget = self._quantum_budget()
        if budget is False:
            return None
        while self._waiting:
            if budget is not None:
                try:
                    budget.pause_point()
                except BurstRefusedError as refusal:
                    log.info("quantum inference waits for a burst: %s", refusal)
                    self._budget = None
                    return None
            prediction = self.predictor.update(self._waiting.pop(0))
        self.asks += 1
        return prediction

    def _quantum_budget(self) -> ComputeBudget | Literal[False] | None:
        """The burst a quantum model streams in (``None``: no burst needed; ``False``: refused)."""
        if self.thermal is None or not self.predictor.settings.model.use_quantum:
            return None
        if self._budget is None:
            budget = self.thermal.compute(
                "quantum inference", policy=self.policy, on_burst_end=self.on_burst_end
            )
            try:
                budget.__enter__()
            except BurstRefusedError as refusal:
                log.info("quantum inference waits for a burst: %s", refusal)
                return False
            self._budget = budget
        return self._budget

    def close(self) -> None:
        """End the burst quantum inference holds, if any (the end of a run or of the engine)."""
        budget, self._budget = self._budget, None
        if budget is not None:
            budget.__exit__(None, None, None)

    def _asked_now(self, tick: Tick) -> bool:
        """Whether the zone lets the model be asked on this tick (and with how many threads)."""
        if self.thermal is None:
            return True
        settings = self.thermal.compute_settings(
            max_threads=self.max_threads, max_segments=self.predictor.settings.segments
        )
        quantum = self.predictor.settings.model.use_quantum
        every = settings.model_every if settings.qlstm_allowed or not quantum else 0
        if every == 0 or tick.index % every:
            return False
        if self.predictor.settings.torch_threads != settings.torch_threads:
            self.predictor.settings = replace(self.predictor.settings, torch_threads=settings.torch_threads)
        return True


def choose_device(config: TengriConfig, thermal: ThermalZoneManager | None) -> torch.device:
    """The device a fit (and the stream after it) runs on: ``model.device`` within the zone's say.

    ``auto`` takes CUDA where present and the zone allows the GPU (its allocation at least
    ``thermal.gpu_min_allocation``, no call to reduce GPU load), ``cpu`` never, ``cuda`` as
    ``auto`` but refuses to start without a GPU. The thermal manager has the last word: a hot
    zone puts the work on the CPU whatever the setting.

    Raises
    ------
    ConfigError
        If ``model.device`` is ``cuda`` and CUDA is not available.
    """
    import torch

    from tengri.models import select_device

    wanted = config.model.device
    if wanted == "cuda" and not torch.cuda.is_available():
        raise ConfigError("model.device is 'cuda' but no CUDA device is available (use auto or cpu)")
    zone_allows = True
    if thermal is not None:
        zone_allows = thermal.compute_settings(max_threads=config.model.torch_threads).device == "cuda"
    return select_device(allow_cuda=wanted != "cpu" and zone_allows)


def governed(
    settings: PredictorSettings, thermal: ThermalZoneManager, *, max_threads: int, max_segments: int
) -> PredictorSettings:
    """Return ``settings`` with the torch threads and training batch the zone allows for a fit.

    ``max_threads`` and ``max_segments`` are the configured values, which the coolest zones use.
    """
    allowed = thermal.compute_settings(max_threads=max_threads, max_segments=max_segments)
    return replace(settings, torch_threads=allowed.torch_threads, segments=allowed.segments)


def fit_model_source(
    config: TengriConfig,
    frame: pd.DataFrame,
    model: str,
    run_dir: Path,
    *,
    budget: Pacer | None = None,
    thermal: ThermalZoneManager | None = None,
    on_burst_end: Callable[[EndedBurst, str], None] | None = None,
) -> tuple[PredictorSignalSource, int]:
    """Fit a predictor on a replay's first ``model.train_fraction`` of bars; return it as a source.

    The predictor is saved to ``<run_dir>/model`` and reused when its data fingerprint matches
    (a resumed run); its stream then continues from the last fitted bar, so the replay streams
    ``frame`` from the returned offset on.

    Parameters
    ----------
    config
        Tengri's configuration.
    frame
        The replay's validated bars.
    model
        A model name (``enhanced``, ``lstm``, ``qlstm``, or any of :data:`tengri.predict.VARIANTS`).
    run_dir
        The run's folder.
    budget
        The thermal manager's compute budget the fit (or the reload's priming) runs in.
    thermal
        The thermal manager whose zone sets the fit's torch threads and batch, and the source's
        cadence (:mod:`tengri.engine.thermal.governance`); a quantum source streams in its
        bursts under the replay's ``skip`` policy, each recorded by ``on_burst_end``.

    Returns
    -------
    tuple
        The signal source and the offset: the number of leading bars used for fitting.
    """
    offset = int(len(frame) * config.model.train_fraction)
    fitted = frame.iloc[:offset]
    directory = run_dir / "model"
    predictor: LSTMTradingPredictor | None = None
    if (directory / "manifest.json").is_file():
        from tengri.predict._persistence import data_fingerprint

        saved = LSTMTradingPredictor.load(directory)
        if saved.fingerprint == data_fingerprint(fitted) and saved.settings.variant == model:
            predictor = saved
            predictor.predict(fitted, budget=budget)  # primes the stream with the fitted bars
    if predictor is None:
        log.info("fitting the %s predictor on the first %d of %d bars", model, offset, len(frame))
        predictor = LSTMTradingPredictor(config, model=model)
        predictor.device = choose_device(config, thermal)
        if thermal is not None:
            base = predictor.settings
            predictor.settings = governed(
                base, thermal, max_threads=base.torch_threads, max_segments=base.segments
            )
        predictor.fit(fitted, budget=budget)
        predictor.save(directory)
    source = PredictorSignalSource(
        predictor,
        thermal=thermal,
        max_threads=config.model.torch_threads,
        policy="skip",
        on_burst_end=on_burst_end,
    )
    source.offset = offset
    return source, offset
