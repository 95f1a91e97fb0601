"""Two tune workers share one Optuna study in the store's database: the requested trials, none twice."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

WORKER = Path(__file__).with_name("tune_worker.py")
TRIALS = 12


@pytest.mark.slow
def test_two_workers_complete_the_study_without_running_a_trial_twice(
    url: str, reliability_report: Any
) -> None:
    # Create the study first: two workers creating one at the same instant is Optuna's own race.
    storage = optuna.storages.RDBStorage(url, engine_kwargs={"poolclass": NullPool})
    optuna.create_study(study_name="shared", storage=storage, direction="minimize")
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), url, "shared", str(TRIALS), str(seed)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    ran: Counter[int] = Counter()
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0
        ran.update(int(line.split()[1]) for line in out.splitlines() if line.startswith("ran "))
    study = optuna.load_study(study_name="shared", storage=storage)
    storage.remove_session()
    storage.engine.dispose()
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 2 * TRIALS == len(study.trials)
    assert sorted(ran) == sorted(t.number for t in study.trials)
    assert all(n == 1 for n in ran.values())  # no trial number was run by both workers
    backend = sa.make_url(url).get_backend_name()
    reliability_report.row(
        "tune",
        ["storage", "workers", "trials requested", "trials complete", "run twice"],
        [backend, 2, 2 * TRIALS, len(complete), 0],
    )
    print(
        f"\nshared study on {backend}: 2 workers, {len(complete)} of {2 * TRIALS} trials complete, none twice"
    )
