"""ParticleSwarmSampler: particle-swarm optimisation (Kennedy & Eberhart 1995) as an Optuna sampler.

Why hand-written: Optuna ships no swarm sampler, and the seed asks for particle-swarm search.

The swarm lives in the study, not in the sampler. Trial number ``n`` belongs to particle
``n mod swarm_size``; a particle's position is its latest complete trial, its velocity the step
between its last two complete trials, its personal best its best complete trial, and the global
best the study's best. Every random draw comes from a generator seeded by ``(seed, n)``. So any
number of processes sharing one storage cooperate (each reads the others' trials), and the same
trials in the same storage give the same next proposal whoever asks. A failed or running trial
simply does not count yet.

Update, per coordinate in the unit cube (Shi & Eberhart 1998)::

    v ← w·v + c₁·r₁·(p_best − x) + c₂·r₂·(g_best − x),   |v| ≤ v_max
    x ← clip(x + v, 0, 1)

Parameters are mapped to [0, 1]: floats linearly (or on a log scale), integers linearly then
rounded to their step, categoricals by the index of their choice (``⌊u·k⌋``, so a particle drifts
between neighbouring choices).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from tengri.errors import InvalidInputError

__all__ = ["ParticleSwarmSampler"]


class ParticleSwarmSampler(BaseSampler):
    """Particle-swarm sampler whose state is derived from the study's trials.

    Parameters
    ----------
    swarm_size
        Number of particles (≥ 2). The first ``swarm_size`` trials are uniform random.
    inertia
        ``w``, the share of the last step kept (0.7298, Clerc & Kennedy 2002's constriction).
    cognitive
        ``c₁``, the pull towards the particle's own best (1.49618, idem).
    social
        ``c₂``, the pull towards the swarm's best (1.49618, idem).
    max_velocity
        Largest step per coordinate in the unit cube (0.5).
    seed
        Seeds every draw (with the trial number).
    """

    def __init__(
        self,
        swarm_size: int = 10,
        *,
        inertia: float = 0.7298,
        cognitive: float = 1.49618,
        social: float = 1.49618,
        max_velocity: float = 0.5,
        seed: int = 0,
    ) -> None:
        if swarm_size < 2:
            raise InvalidInputError(f"ParticleSwarmSampler: swarm_size must be ≥ 2, got {swarm_size}")
        if min(inertia, cognitive, social) < 0 or max_velocity <= 0:
            raise InvalidInputError("ParticleSwarmSampler: weights must be ≥ 0 and max_velocity > 0")
        self.swarm_size = swarm_size
        self.inertia, self.cognitive, self.social = inertia, cognitive, social
        self.max_velocity = max_velocity
        self.seed = seed
        self._search_space = IntersectionSearchSpace()
        self._fallback = RandomSampler(seed=seed)

    def reseed_rng(self) -> None:
        """Keep the seed: draws depend on ``(seed, trial number)`` only."""

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        """Return the parameters every complete trial has, except single-valued ones."""
        space = self._search_space.calculate(study)
        return {name: dist for name, dist in space.items() if not dist.single()}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        """Propose the particle's next position for ``trial`` (see the module docstring)."""
        if not search_space:
            return {}
        names = sorted(search_space)
        rng = np.random.default_rng([self.seed, trial.number])
        complete = [
            past
            for past in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if past.number < trial.number and all(name in past.params for name in names)
        ]
        particle = trial.number % self.swarm_size
        own = sorted((past for past in complete if past.number % self.swarm_size == particle), key=_number)
        if not own:
            return {name: _decode(search_space[name], rng.uniform()) for name in names}
        minimise = study.direction == StudyDirection.MINIMIZE
        best_of = min if minimise else max
        personal = best_of(own, key=_value)
        swarm = best_of(complete, key=_value)
        position = _encode_all(own[-1], names, search_space)
        velocity = (
            position - _encode_all(own[-2], names, search_space) if len(own) > 1 else np.zeros(len(names))
        )
        r1, r2 = rng.uniform(size=len(names)), rng.uniform(size=len(names))
        velocity = (
            self.inertia * velocity
            + self.cognitive * r1 * (_encode_all(personal, names, search_space) - position)
            + self.social * r2 * (_encode_all(swarm, names, search_space) - position)
        )
        velocity = np.clip(velocity, -self.max_velocity, self.max_velocity)
        moved = np.clip(position + velocity, 0.0, 1.0)
        return {name: _decode(search_space[name], float(u)) for name, u in zip(names, moved, strict=True)}

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        """Sample a parameter outside the relative space (first trials, new parameters) at random."""
        return self._fallback.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        """Seed the random fallback by ``(seed, trial number)`` so that it is reproducible too."""
        self._fallback = RandomSampler(
            seed=int(np.random.default_rng([self.seed, trial.number]).integers(2**31))
        )


def _number(trial: FrozenTrial) -> int:
    return int(trial.number)


def _value(trial: FrozenTrial) -> float:
    value = trial.value  # a complete single-objective trial always has one
    return math.nan if value is None else float(value)


def _encode_all(trial: FrozenTrial, names: Sequence[str], space: dict[str, BaseDistribution]) -> np.ndarray:
    return np.array([_encode(space[name], trial.params[name]) for name in names])


def _encode(distribution: BaseDistribution, value: Any) -> float:
    """Map a parameter value into [0, 1]."""
    if isinstance(distribution, CategoricalDistribution):
        k = len(distribution.choices)
        return (distribution.to_internal_repr(value) + 0.5) / k
    if isinstance(distribution, FloatDistribution | IntDistribution):
        low, high, x = float(distribution.low), float(distribution.high), float(value)
        if distribution.log:
            low, high, x = math.log(low), math.log(high), math.log(x)
        return 0.0 if high == low else (x - low) / (high - low)
    raise InvalidInputError(f"ParticleSwarmSampler: unsupported distribution {distribution!r}")


def _decode(distribution: BaseDistribution, u: float) -> Any:
    """Map ``u`` in [0, 1] to a value of the distribution (rounded to its step or choice)."""
    if isinstance(distribution, CategoricalDistribution):
        k = len(distribution.choices)
        return distribution.choices[min(int(u * k), k - 1)]
    if isinstance(distribution, FloatDistribution | IntDistribution):
        low, high = float(distribution.low), float(distribution.high)
        if distribution.log:
            value = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
        else:
            value = low + u * (high - low)
        step = distribution.step
        if step is not None:
            value = low + round((value - low) / step) * step
        value = min(max(value, low), high)
        return round(value) if isinstance(distribution, IntDistribution) else float(value)
    raise InvalidInputError(f"ParticleSwarmSampler: unsupported distribution {distribution!r}")
