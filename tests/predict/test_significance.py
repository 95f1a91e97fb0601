"""The Sharpe interval covers the true Sharpe at about its nominal rate; paired differences; Holm."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tengri.predict.metrics import sharpe_ratio
from tengri.predict.significance import bootstrap_interval, holm, paired_difference


def test_sharpe_interval_covers_the_true_value_at_about_the_nominal_rate() -> None:
    # Daily returns with a known Sharpe: mean/std · √252 = 1.5, AR(1) noise (φ = 0.2) so the
    # blocks matter. 120 simulated series; the 95% interval should cover about 114 of them.
    rng = np.random.default_rng(20)
    periods, true_sharpe, phi, n = 252, 1.5, 0.2, 500
    sigma = 0.01
    mu = true_sharpe * sigma / math.sqrt(periods)
    covered = trials = 0
    for trial in range(120):
        shocks = rng.normal(0.0, sigma * math.sqrt(1 - phi**2), n)
        noise = np.empty(n)
        noise[0] = rng.normal(0.0, sigma)
        for t in range(1, n):
            noise[t] = phi * noise[t - 1] + shocks[t]
        low, high = bootstrap_interval(
            mu + noise, lambda r: sharpe_ratio(r, periods), block=10, draws=300, seed=trial
        )
        covered += low <= true_sharpe <= high
        trials += 1
    rate = covered / trials
    print(f"covered {covered} of {trials} ({rate:.1%})")
    assert 0.88 <= rate <= 0.99


def test_paired_difference_finds_a_real_gain_and_not_a_null_one() -> None:
    rng = np.random.default_rng(3)
    base = rng.random(2000) < 0.5
    better = np.where(rng.random(2000) < 0.2, 1.0, base)  # 20% of bars turned into hits
    mean, low, high, p = paired_difference(better, base)
    assert low < mean < high
    assert low > 0
    assert p < 0.001
    _, low, high, p = paired_difference(rng.random(2000) < 0.5, base)
    assert low < 0 < high
    assert p > 0.01


def test_holm_is_a_step_down_adjustment() -> None:
    assert holm([0.01, 0.04, 0.03, math.nan]) == pytest.approx([0.03, 0.06, 0.06, math.nan], nan_ok=True)
