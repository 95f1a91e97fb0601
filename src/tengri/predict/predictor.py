"""LSTMTradingPredictor: OHLCV bars in, calibrated next-bar predictions and trading signals out.

What a prediction at bar t is: the model streamed from its resting state over the scaled features
of every complete bar of the given series up to t (see :mod:`tengri.predict._training`). So
:meth:`~LSTMTradingPredictor.predict` on a series and :meth:`~LSTMTradingPredictor.update` fed
the same bars one by one give the same numbers (to float32 rounding of the features; the tests
allow 1e-5), a prediction never changes when later bars arrive, and it depends on where the series
starts (as the EMA-seeded features do).

Signals (buy, sell or hold by the calibrated confidence) follow :mod:`tengri.predict._signals`;
saved predictors, :mod:`tengri.predict._persistence`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Final, Self

import numpy as np
import pandas as pd
import torch

from tengri.data import OHLCV_COLUMNS
from tengri.errors import DataValidationError, InvalidInputError, ModelError
from tengri.features import FeaturePipeline, next_return
from tengri.models import QLSTM, EnhancedLSTM, EnhancedLSTMConfig, create_enhanced_lstm, torch_threads
from tengri.predict._persistence import data_fingerprint, read_predictor, write_predictor
from tengri.predict._settings import PredictorSettings
from tengri.predict._signals import action_for, signals_from
from tengri.predict._streaming import StreamingFeatures
from tengri.predict._training import Pacer, TrainingHistory, progress_reporter, stream, train_model
from tengri.predict.calibration import PlattCalibrator, expected_calibration_error
from tengri.predict.metrics import brier_score

__all__ = ["PREDICTION_COLUMNS", "LSTMTradingPredictor"]

log = logging.getLogger(__name__)

PREDICTION_COLUMNS: Final = ("predicted_return", "prob_up", "confidence", "prob_up_raw", "in_sample")


class LSTMTradingPredictor:
    """Engineer features, train an enhanced (or quantum) LSTM, predict and emit signals.

    Parameters
    ----------
    config
        Tengri's configuration (``config.model`` and ``config.seed``); the defaults when omitted.
    model
        A model name of :data:`tengri.predict.VARIANTS` (``"lstm"``, ``"lstm+lif"``,
        ``"lstm+attention"``, ``"enhanced"``, ``"qlstm"``); ``config.model.kind`` when omitted.
    settings
        Explicit settings, overriding ``config`` and ``model`` (for tests and evaluation).
    """

    def __init__(
        self,
        config: Any | None = None,
        *,
        model: str | None = None,
        settings: PredictorSettings | None = None,
    ) -> None:
        if settings is None:
            from tengri.config import TengriConfig

            settings = PredictorSettings.from_config(config or TengriConfig(), model)
        self.settings = settings
        self.pipeline: FeaturePipeline | None = None
        self.network: EnhancedLSTM | QLSTM | None = None
        self.calibrator = PlattCalibrator()
        self.return_scale = 1.0
        self.fit_end: pd.Timestamp | None = None
        self.fingerprint = ""
        self.metrics: dict[str, float] = {}
        self.history = TrainingHistory()
        self._center = np.zeros(0)
        self._scale = np.ones(0)
        self._features: StreamingFeatures | None = None
        self._state: Any = None
        self._last: pd.Timestamp | None = None
        self.device = torch.device("cpu")
        """Where :meth:`fit` places the network (:func:`tengri.models.select_device` chooses it)."""

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` or :meth:`load` has set the model."""
        return self.network is not None

    # -- fitting --------------------------------------------------------------------------------

    def fit(self, ohlcv: pd.DataFrame, *, budget: Pacer | None = None) -> Self:
        """Train on every bar of ``ohlcv``: the last ``validation_fraction`` validates, after a gap.

        Rows, by time: warm-up | training | gap of ``horizon`` bars | validation | last
        ``horizon`` bars (no label). The scaler is fitted on the training rows, early stopping
        and the Platt calibration use the validation rows. Seeded by ``settings.model.seed``.
        ``budget`` (the thermal manager's compute budget) is given a natural point after every
        optimiser step and every window of inference; pausing there changes no result. The
        predictor is changed only once the fit completes: a fit stopped by a refused burst
        leaves the previous one in place.

        Raises
        ------
        InvalidInputError
            If there are too few bars for the warm-up, three training windows and a validation
            window.
        """
        settings, window = self.settings, self.settings.model.seq_len
        pipeline = FeaturePipeline(settings.higher_factors)
        warm, horizon = pipeline.warmup_bars, settings.horizon
        if not isinstance(ohlcv, pd.DataFrame):  # the pipeline validates the bars themselves
            raise DataValidationError(f"LSTMTradingPredictor.fit: expected bars, got {type(ohlcv).__name__}")
        labelled = len(ohlcv) - warm - horizon
        n_validation = max(window, int(labelled * settings.validation_fraction))
        train_stop = labelled - n_validation - horizon
        if train_stop < 3 * window:
            raise InvalidInputError(
                f"LSTMTradingPredictor.fit: {len(ohlcv)} bars are too few; need about "
                f"{warm + 4 * window + 2 * horizon + math.ceil(3 * window * settings.validation_fraction)} "
                f"(a {warm}-bar feature warm-up, 3 training windows and a validation window of {window})"
            )
        pipeline.fit(ohlcv, train_end=ohlcv.index[warm + train_stop - 1])
        rows = self._by_timeframe(np.array(pipeline.transform(ohlcv).to_numpy(), dtype=np.float32))
        returns = next_return(ohlcv, horizon).to_numpy()[warm:]
        return_scale = float(np.std(returns[:train_stop])) or 1.0
        labels = np.nan_to_num(returns)
        up = (labels > 0).astype(np.float32)
        scaled = (labels / return_scale).astype(np.float32)
        validation = (train_stop + horizon, labelled)
        with self._torch_context(seeded=True):
            network = create_enhanced_lstm(self._network_config(len(pipeline.feature_names))).to(self.device)
            with progress_reporter(settings.epochs, f"fit {settings.variant}") as progress:
                history = train_model(
                    network,
                    rows,
                    up,
                    scaled,
                    train_stop=train_stop,
                    validation=validation,
                    epochs=settings.epochs,
                    learning_rate=settings.learning_rate,
                    patience=settings.patience,
                    segments=settings.segments,
                    window=window,
                    progress=progress,
                    pacer=budget,
                )
            logits, _, state = stream(network, torch.from_numpy(rows), pacer=budget, every=window)
        held_out = slice(*validation)
        raw = logits.double().numpy()[held_out]
        self.calibrator = PlattCalibrator.fit(raw, up[held_out])
        self.return_scale = return_scale
        self._install(pipeline, network)
        self.fit_end = ohlcv.index[-1]
        self.fingerprint = data_fingerprint(ohlcv)
        self.history = history
        self.metrics = _validation_metrics(history, raw, self.calibrator, up[held_out])
        self._features = StreamingFeatures.from_bars(ohlcv, settings.higher_factors)
        self._state, self._last = state, ohlcv.index[-1]
        return self

    # -- predicting -----------------------------------------------------------------------------

    def predict(
        self, ohlcv: pd.DataFrame, seq_len: int | None = None, *, budget: Pacer | None = None
    ) -> pd.DataFrame:
        """Predict the next bar for every complete bar of ``ohlcv``.

        An unfitted predictor first fits on the leading ``train_fraction`` of ``ohlcv`` and logs a
        warning: its predictions on those bars are in-sample (column ``in_sample``).

        Parameters
        ----------
        ohlcv
            Validated bars; the stream starts at the first bar.
        seq_len
            The attention window; must equal the model's ``seq_len`` (the seed passes 60).
        budget
            The thermal manager's compute budget, for the fit of an unfitted predictor and the
            stream (see :meth:`fit`).

        Returns
        -------
        pandas.DataFrame
            Indexed by timestamp from the first complete feature row: ``predicted_return``
            (log return), ``prob_up`` (calibrated), ``confidence``, ``prob_up_raw`` (uncalibrated),
            ``in_sample`` (the bar was part of the fitted data).
        """
        if seq_len is not None and seq_len != self.settings.model.seq_len:
            raise InvalidInputError(
                f"predict: seq_len={seq_len} differs from the model's window "
                f"{self.settings.model.seq_len}; set model.seq_len in the configuration before fitting"
            )
        if self.network is None:
            cut = int(len(ohlcv) * self.settings.train_fraction)
            log.warning(
                "predict: the predictor is not fitted; fitting on the first %d of %d bars (up to %s). "
                "Predictions on those bars are in-sample (column in_sample).",
                cut,
                len(ohlcv),
                ohlcv.index[cut - 1] if cut > 0 else "nothing",
            )
            self.fit(ohlcv.iloc[:cut], budget=budget)
        network, pipeline = self._fitted()
        rows = pipeline.transform(ohlcv)
        with self._torch_context():
            window = self.settings.model.seq_len
            logits, returns, state = stream(
                network,
                torch.tensor(self._by_timeframe(rows.to_numpy())),
                pacer=budget,
                every=window,
            )
        raw = logits.double().numpy()
        frame = self._frame(rows.index, raw, returns.double().numpy())
        self._features = StreamingFeatures.from_bars(ohlcv, self.settings.higher_factors)
        self._state, self._last = state, ohlcv.index[-1]
        return frame

    def update(self, bar: Mapping[str, Any] | pd.Series) -> dict[str, Any] | None:
        """Append one bar to the stream and predict for it.

        The stream continues the series last passed to :meth:`predict` or :meth:`fit`, or, after
        :meth:`load`, starts with this bar. Equal to the last row of :meth:`predict` on the
        extended series.

        Parameters
        ----------
        bar
            ``timestamp`` (or a Series' name) and ``Open, High, Low, Close, Volume`` (any case).

        Returns
        -------
        dict or None
            ``timestamp``, the prediction columns and ``action``; ``None`` during the feature
            warm-up.
        """
        network, pipeline = self._fitted()
        stamp, values = _parse_bar(bar)
        if self._last is not None and stamp <= self._last:
            raise InvalidInputError(f"update: bar {stamp.isoformat()} is not after {self._last.isoformat()}")
        if self._features is None:
            self._features, self._state = StreamingFeatures(self.settings.higher_factors), None
        raw_row = self._features.append(values)
        self._last = stamp
        if np.isnan(raw_row).any():
            return None
        scaled = (raw_row - self._center) / self._scale
        if pipeline.clip is not None:
            scaled = np.clip(scaled, -pipeline.clip, pipeline.clip)
        # One model step, as in stream(), without its per-call set-up (the model is already in
        # evaluation mode); then _frame's arithmetic on one row, without building a DataFrame.
        with self._torch_context(), torch.no_grad():
            state: Any = network.init_state(1) if self._state is None else self._state
            row = self._by_timeframe(scaled.astype(np.float32)[None])
            device = next(network.parameters()).device
            output, self._state = network.step(torch.from_numpy(row).to(device), state)
        logit = np.float64(output.prob_up_logit.cpu().numpy()[0])
        returns = output.predicted_return.cpu().numpy()
        prob = float(self.calibrator(logit))
        return {
            "timestamp": stamp,
            "predicted_return": float(np.float64(returns[0]) * self.return_scale),
            "prob_up": prob,
            "confidence": max(prob, 1.0 - prob),
            "prob_up_raw": float(1.0 / (1.0 + np.exp(-logit))),
            "in_sample": self.fit_end is not None and stamp <= self.fit_end,
            "action": action_for(prob),
        }

    def generate_signals(
        self, predictions: pd.DataFrame, threshold: float | None = None
    ) -> list[dict[str, Any]]:
        """Turn predictions into one signal per bar.

        Parameters
        ----------
        predictions
            Indexed by timestamp, with the columns ``prob_up``, ``confidence`` and
            ``predicted_return`` (as :meth:`predict` returns).
        threshold
            Confidence a buy or a sell must exceed (default
            :data:`~tengri.predict.DEFAULT_THRESHOLD`).

        Returns
        -------
        list of dict
            ``timestamp``, ``action`` (buy / sell / hold, see :func:`action_for`), ``confidence``,
            ``predicted_return`` and ``prob_up``, in time order. The action follows the calibrated
            probability of an up move (``prob_up``), not the sign of ``predicted_return``: the two
            come from separate heads, and only the probability is calibrated on held-out data, so
            a ``sell`` may stand beside a small positive predicted return.
        """
        return signals_from(predictions, threshold)

    # -- persistence ----------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Save to the directory ``path`` (safetensors weights plus ``manifest.json``); return it."""
        network, pipeline = self._fitted()
        manifest = {
            "settings": self.settings.to_dict(),
            "input_size": len(pipeline.feature_names),
            "feature_names": pipeline.feature_names,
            "pipeline": pipeline.to_dict(),
            "calibration": self.calibrator.to_dict(),
            "return_scale": self.return_scale,
            "fit_end": None if self.fit_end is None else self.fit_end.isoformat(),
            "data_fingerprint": self.fingerprint,
            "metrics": self.metrics,
            "quantum_device": getattr(network, "quantum_device", None),
        }
        weights = {name: tensor.cpu() for name, tensor in network.state_dict().items()}
        return write_predictor(Path(path), manifest, weights)

    @classmethod
    def load(cls, path: str | Path) -> LSTMTradingPredictor:
        """Load a predictor saved by :meth:`save`; pickles are refused with a :class:`ModelError`."""
        manifest, weights = read_predictor(Path(path))
        try:
            settings = PredictorSettings.from_dict(manifest["settings"])
            predictor = cls(settings=settings)
            pipeline = FeaturePipeline.from_dict(manifest["pipeline"])
            network = create_enhanced_lstm(predictor._network_config(int(manifest["input_size"])))
            network.load_state_dict(weights, strict=True)
            predictor.calibrator = PlattCalibrator.from_dict(manifest["calibration"])
            predictor.return_scale = float(manifest["return_scale"])
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise ModelError(f"{path}: the saved predictor does not fit this version ({error})") from error
        predictor._install(pipeline, network.eval())
        fit_end = manifest.get("fit_end")
        predictor.fit_end = None if fit_end is None else pd.Timestamp(fit_end)
        predictor.fingerprint = str(manifest.get("data_fingerprint", ""))
        predictor.metrics = dict(manifest.get("metrics", {}))
        return predictor

    # -- internals ------------------------------------------------------------------------------

    def _network_config(self, n_features: int) -> EnhancedLSTMConfig:
        """The network's configuration for ``n_features`` feature columns.

        With ``use_multi_timeframe`` the columns are the same features on the base bars and on
        each of ``higher_factors`` (the pipeline's order): one branch of ``n_features / K`` inputs
        per timeframe ``(1, *higher_factors)``.
        """
        model = self.settings.model
        if not model.use_multi_timeframe:
            return replace(model, input_size=n_features)
        timeframes = (1, *self.settings.higher_factors)
        return replace(model, input_size=n_features // len(timeframes), timeframes=timeframes)

    def _by_timeframe(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``(N, F)`` as the network takes them: ``(N, K, F/K)`` with several timeframes."""
        if not self.settings.model.use_multi_timeframe:
            return rows
        k = 1 + len(self.settings.higher_factors)
        return rows.reshape(rows.shape[0], k, rows.shape[1] // k)

    def _install(self, pipeline: FeaturePipeline, network: EnhancedLSTM | QLSTM) -> None:
        state = pipeline.to_dict()
        self.pipeline, self.network = pipeline, network
        self._center = np.asarray(state["center"], dtype=np.float64)
        self._scale = np.asarray(state["scale"], dtype=np.float64)
        self._features, self._state, self._last = None, None, None

    def _fitted(self) -> tuple[EnhancedLSTM | QLSTM, FeaturePipeline]:
        if self.network is None or self.pipeline is None:
            raise ModelError("the predictor is not fitted: call fit (or load) first")
        return self.network, self.pipeline

    def _frame(self, index: pd.DatetimeIndex, logits: np.ndarray, returns: np.ndarray) -> pd.DataFrame:
        prob = self.calibrator(logits)
        in_sample = np.zeros(len(index), dtype=bool) if self.fit_end is None else index <= self.fit_end
        frame = pd.DataFrame(
            {
                "predicted_return": returns * self.return_scale,
                "prob_up": prob,
                "confidence": np.maximum(prob, 1.0 - prob),
                "prob_up_raw": 1.0 / (1.0 + np.exp(-logits)),
                "in_sample": in_sample,
            },
            index=index,
        )
        frame.index.name = "timestamp"
        return frame

    @contextmanager
    def _torch_context(self, *, seeded: bool = False) -> Iterator[None]:
        """Run torch single-threaded (``torch_threads``), and seeded when ``seeded``.

        The seed is set inside a forked random state, so the caller's is untouched. Every kernel
        the models use on the CPU (``lstm_cell``, linear layers, attention) is deterministic at a
        fixed thread count, which the tests check (two fits, identical predictions);
        ``torch.use_deterministic_algorithms`` would add nothing on the CPU but a 6-second import
        of ``torch._inductor``.
        """
        with torch_threads(self.settings.torch_threads):
            if not seeded:
                yield
                return
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.settings.model.seed)
                yield


def _parse_bar(bar: Mapping[str, Any] | pd.Series) -> tuple[pd.Timestamp, np.ndarray]:
    fields = {str(key).lower(): value for key, value in dict(bar).items()}
    moment = fields.get("timestamp", bar.name if isinstance(bar, pd.Series) else None)
    if moment is None:
        raise InvalidInputError("update: the bar has no timestamp")
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    try:
        values = np.array([float(fields[name.lower()]) for name in OHLCV_COLUMNS])
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInputError(
            f"update: the bar needs numeric {', '.join(OHLCV_COLUMNS)} ({error})"
        ) from error
    if not np.isfinite(values).all() or (values[:4] <= 0).any() or values[4] < 0:
        raise InvalidInputError(f"update: invalid bar at {stamp.isoformat()}: {values.tolist()}")
    return stamp, values


def _validation_metrics(
    history: TrainingHistory, logits: np.ndarray, calibrator: PlattCalibrator, up: np.ndarray
) -> dict[str, float]:
    raw = 1.0 / (1.0 + np.exp(-logits))
    calibrated = calibrator(logits)
    return {
        "validation_loss": float(history.best_validation_loss),
        "best_epoch": float(history.best_epoch + 1),
        "epochs_run": float(len(history.validation_loss)),
        "validation_bars": float(len(up)),
        "validation_accuracy": float(np.mean((calibrated > 0.5) == (up > 0.5))),
        "validation_brier_raw": brier_score(raw, up),
        "validation_brier": brier_score(calibrated, up),
        "validation_ece_raw": expected_calibration_error(raw, up),
        "validation_ece": expected_calibration_error(calibrated, up),
    }
