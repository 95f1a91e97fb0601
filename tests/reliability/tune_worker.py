"""Worker of the shared-study test: runs trials of one Optuna study as ``tengri tune`` does.

Run as ``python tune_worker.py <storage_url> <study> <trials> <seed>``: the tune service's sampler
(the particle swarm) and loop (:func:`tengri.services.tune.run_study`), with a cheap objective in
place of training a predictor. Prints ``ran <trial number>`` for each trial it ran.
"""

from __future__ import annotations

import sys

import optuna

from tengri.predict.pso import ParticleSwarmSampler
from tengri.services.tune import SWARM_SIZE, run_study


def main(storage: str, study_name: str, trials: int, seed: int) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    backend = optuna.storages.RDBStorage(storage)
    study = optuna.create_study(
        study_name=study_name,
        storage=backend,
        sampler=ParticleSwarmSampler(SWARM_SIZE, seed=seed),
        direction="minimize",
        load_if_exists=True,
    )

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -5.0, 5.0)
        y = trial.suggest_int("y", 1, 4)
        print(f"ran {trial.number}", flush=True)
        return (x - 1.0) ** 2 + y

    run_study(study, objective, trials)
    backend.remove_session()
    backend.engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
