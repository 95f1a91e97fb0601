"""ParticleSwarmSampler: better than random search on a shifted sphere, seeded, and shareable."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tengri.errors import InvalidInputError
from tengri.predict.pso import ParticleSwarmSampler
from tengri.services.tune import run_study

CENTRE = (1.5, -2.0, 0.5, 3.0)


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def shifted_sphere(trial: optuna.Trial) -> float:
    """``Σ (x_i − c_i)²`` on [−5, 5]⁴, minimum 0 at ``CENTRE``."""
    return sum((trial.suggest_float(f"x{i}", -5.0, 5.0) - c) ** 2 for i, c in enumerate(CENTRE))


def _best(sampler: optuna.samplers.BaseSampler, trials: int = 80) -> float:
    study = optuna.create_study(sampler=sampler)
    study.optimize(shifted_sphere, n_trials=trials)
    return float(study.best_value)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_swarm_beats_random_search_on_a_shifted_sphere(seed: int) -> None:
    swarm = _best(ParticleSwarmSampler(6, seed=seed))
    random = _best(optuna.samplers.RandomSampler(seed=seed))
    assert swarm < random


def test_the_same_seed_gives_the_same_trials() -> None:
    first = optuna.create_study(sampler=ParticleSwarmSampler(5, seed=3))
    second = optuna.create_study(sampler=ParticleSwarmSampler(5, seed=3))
    first.optimize(shifted_sphere, n_trials=20)
    second.optimize(shifted_sphere, n_trials=20)
    assert [t.params for t in first.trials] == [t.params for t in second.trials]


def test_two_workers_sharing_a_storage_continue_one_swarm(tmp_path: Path) -> None:
    """The swarm's state is the study's trials: two handles taking turns equal one handle."""
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    alone = optuna.create_study(sampler=ParticleSwarmSampler(4, seed=5))
    alone.optimize(shifted_sphere, n_trials=16)
    workers = [
        optuna.create_study(study_name="shared", storage=storage, sampler=ParticleSwarmSampler(4, seed=5),
                            load_if_exists=True)
        for _ in range(2)
    ]  # fmt: skip
    for turn in range(4):
        workers[turn % 2].optimize(shifted_sphere, n_trials=4)
    shared = optuna.load_study(study_name="shared", storage=storage)
    assert [t.params for t in shared.trials] == [t.params for t in alone.trials]


def test_integer_log_and_categorical_parameters_stay_in_their_domains() -> None:
    def objective(trial: optuna.Trial) -> float:
        width = trial.suggest_int("width", 8, 64, step=8)
        rate = trial.suggest_float("rate", 1e-4, 1e-1, log=True)
        kind = trial.suggest_categorical("kind", ["a", "b", "c"])
        assert width % 8 == 0
        assert 8 <= width <= 64
        assert 1e-4 <= rate <= 1e-1
        return abs(width - 40) + abs(rate - 1e-2) * 100 + {"a": 1.0, "b": 0.0, "c": 2.0}[kind]

    study = optuna.create_study(sampler=ParticleSwarmSampler(6, seed=0))
    study.optimize(objective, n_trials=60)
    assert study.best_params["kind"] == "b"
    assert study.best_value < 3.0


def test_a_failing_trial_is_recorded_as_fail_and_the_study_continues() -> None:
    def objective(trial: optuna.Trial) -> float:
        value = shifted_sphere(trial)
        if trial.number == 1:
            raise RuntimeError("this trial breaks")
        return value

    study = optuna.create_study(sampler=ParticleSwarmSampler(3, seed=0))
    run_study(study, objective, trials=6)
    states = [trial.state for trial in study.trials]
    assert states[1] == TrialState.FAIL
    assert states.count(TrialState.COMPLETE) == 5


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="swarm_size"):
        ParticleSwarmSampler(1)
    with pytest.raises(InvalidInputError, match="weights"):
        ParticleSwarmSampler(inertia=-1.0)
