"""Tune use case: particle-swarm search of the predictor's hyperparameters in a shared Optuna study.

Objective: the predictor's best walk-forward validation loss (``fit`` holds out the last part of
the training bars after a gap, and early-stops on it), fitted on the leading ``train_fraction``
of the data so that the rest stays unseen for evaluation. The study lives in ``storage``
(default ``sqlite:///<data_dir>/optuna.db``); several ``tengri tune`` processes with the same
storage and study name share the work, because the swarm's state is read from the study's trials
(:class:`~tengri.predict.pso.ParticleSwarmSampler`). A trial that raises is recorded as FAIL and
the study goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from tengri.data import OHLCVSource, load_ohlcv
from tengri.engine.store.connection import database_url
from tengri.predict import LSTMTradingPredictor, PredictorSettings
from tengri.services.compute import CommandCompute, command_compute

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from tengri.config import TengriConfig
    from tengri.engine import ThermalZoneManager

__all__ = ["SWARM_SIZE", "run_study", "suggest_settings", "tune"]

log = logging.getLogger(__name__)

SWARM_SIZE: Final = 8
"""Particles of the swarm; the first 8 trials are random."""


def tune(
    config: TengriConfig,
    data: OHLCVSource,
    *,
    trials: int,
    storage: str | None = None,
    study: str = "tengri",
    thermal: ThermalZoneManager | None = None,
) -> dict[str, Any]:
    """Run ``trials`` more trials of the study ``study`` on ``data``, each inside thermal bursts.

    Parameters
    ----------
    config
        Tengri's configuration: the base model settings, seed, data directory.
    data
        A data source for :func:`tengri.data.load_ohlcv`.
    trials
        Trials this call runs (other workers may add more to the same study).
    storage
        An Optuna storage URL; ``sqlite:///<data_dir>/optuna.db`` by default.
    study
        The study's name; created if absent, else continued.
    thermal
        The thermal manager granting bursts (default: one over the configured store and sensors).

    Returns
    -------
    dict
        ``study``, ``storage``, ``best_value`` and ``best_params`` (``None`` without a complete
        trial), ``complete``, ``failed`` and ``total`` trial counts, and ``bursts`` (one row per
        burst this call used: ``start``, ``end``, ``seconds``, ``label``).
    """
    import optuna

    from tengri.predict.pso import ParticleSwarmSampler

    if storage is None:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{(config.data_dir / 'optuna.db').resolve()}"
    else:
        # A plain postgresql:// means the installed psycopg (3), whichever SQLAlchemy is installed.
        storage = database_url(storage).render_as_string(hide_password=False)
    bars = load_ohlcv(data)
    bars = bars.iloc[: int(len(bars) * config.model.train_fraction)]
    base = PredictorSettings.from_config(config)
    sampler = ParticleSwarmSampler(SWARM_SIZE, seed=config.seed)
    backend = optuna.storages.RDBStorage(storage)
    try:
        handle = optuna.create_study(
            study_name=study, storage=backend, sampler=sampler, direction="minimize", load_if_exists=True
        )
        with command_compute(config, thermal) as compute:
            run_study(handle, _objective(base, bars, compute), trials)
        return {**_summary(handle, storage), "bursts": compute.bursts}
    finally:
        backend.remove_session()  # the session holds a connection out of the pool
        backend.engine.dispose()  # close the pool's connections now, not when collected


def suggest_settings(trial: optuna.Trial, base: PredictorSettings) -> PredictorSettings:
    """Return ``base`` with the searched hyperparameters drawn from ``trial``.

    Space: hidden size {16, 32, 64}, LSTM layers 1–2, dropout 0–0.3, learning rate 1e-4–1e-2
    (log), LIF on/off, attention on/off.
    """
    hidden = trial.suggest_categorical("hidden_size", [16, 32, 64])
    changes = {
        "hidden_size": hidden,
        "num_layers": trial.suggest_int("num_layers", 1, 2),
        "dropout": trial.suggest_float("dropout", 0.0, 0.3),
        "use_biological_activation": trial.suggest_categorical("use_biological_activation", [False, True]),
        "use_advanced_attention": trial.suggest_categorical("use_advanced_attention", [False, True]),
        "use_quantum": False,
        "num_heads": 4,
    }
    learning_rate = trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True)
    return replace(base.with_model(**changes), learning_rate=learning_rate, variant="tuned")


def run_study(study: optuna.Study, objective: Callable[[optuna.Trial], float], trials: int) -> None:
    """Optimise ``trials`` trials; an exception in one is recorded as FAIL, never fatal."""
    study.optimize(objective, n_trials=trials, catch=(Exception,), gc_after_trial=False)


def _objective(
    base: PredictorSettings, bars: pd.DataFrame, compute: CommandCompute
) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        settings = suggest_settings(trial, base)
        with compute.budget(f"trial {trial.number}") as budget:
            predictor = LSTMTradingPredictor(settings=settings).fit(bars, budget=budget)
        for key, value in predictor.metrics.items():
            trial.set_user_attr(key, value)
        return float(predictor.metrics["validation_loss"])

    return objective


def _summary(study: optuna.Study, storage: str) -> dict[str, Any]:
    from optuna.trial import TrialState

    states = [trial.state for trial in study.get_trials(deepcopy=False)]
    complete = states.count(TrialState.COMPLETE)
    return {
        "study": study.study_name,
        "storage": storage,
        "best_value": study.best_value if complete else None,
        "best_params": dict(study.best_params) if complete else None,
        "complete": complete,
        "failed": states.count(TrialState.FAIL),
        "total": len(states),
    }
