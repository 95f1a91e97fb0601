"""The command line's upkeep: log levels, the store commands, a run's thermal governance as seen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tengri.cli import main

SMALL_MODEL = "epochs = 1\nhidden_size = 8\nnum_heads = 2\nmemory_slots = 2\nseq_len = 16\npatience = 1\n"


def _config(tmp_path: Path, celsius: float, **model: int) -> Path:
    sensor = tmp_path / "temp"
    sensor.write_text(f"{celsius}\n")
    extra = "".join(f"{key} = {value}\n" for key, value in model.items())
    path = tmp_path / "tengri.toml"
    path.write_text(
        f'data_dir = "{(tmp_path / "data").as_posix()}"\n\n[model]\n{SMALL_MODEL}{extra}\n'
        f'[thermal]\nsensor_files = ["{sensor.as_posix()}"]\n'
    )
    return path


def _summary(tmp_path: Path) -> dict[str, object]:
    (summary,) = (tmp_path / "data" / "runs").glob("*/summary.json")
    return dict(json.loads(summary.read_text()))


def test_debug_run_at_40_degrees_logs_bursts_and_zone_and_leaves_a_backup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(_config(tmp_path, 40.0, torch_threads=2))
    assert main(["--log-level", "DEBUG", "run", "sample:goog_d1", "--model", "lstm", "-c", config]) == 0
    err = capsys.readouterr().err
    assert "burst granted for training" in err
    assert "thermal zone unknown -> cool" in err
    assert "compute settings for zone cool: 2 torch threads" in err
    assert "end of run backup of the store" in err
    compute = _summary(tmp_path)["compute"]
    assert isinstance(compute, dict)
    assert (compute["bursts_refused"], compute["torch_threads_max"]) == (0, 2)
    # Cool; the run's losses may push D_thermal past 0.5 (a unit of average profit is α degrees of
    # headroom, a loss costs as much), one row down: every 2nd bar. Never the hot rows.
    assert compute["model_every_max"] in (1, 2)
    assert compute["bursts_granted"] >= 1
    assert main(["store", "list", "-c", config]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 1
    store, name = listed[0].split()[:2]
    assert store.startswith("goog-d1-lstm-")  # the run's id
    assert name.startswith("tengri-2013")  # named by the run's clock: its last bar's time


def test_run_at_95_degrees_refuses_bursts_and_says_so_in_summary_report_and_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(_config(tmp_path, 95.0, torch_threads=2))
    assert main(["--log-level", "INFO", "run", "sample:goog_d1", "--model", "qlstm", "-c", config]) == 0
    err = capsys.readouterr().err
    assert "warning: the QLSTM (--model qlstm) is experimental" in err
    assert "burst refused for training (zone)" in err
    assert "compute settings for zone critical: 1 torch threads" in err
    assert "model every 8 bars" in err
    compute = _summary(tmp_path)["compute"]
    assert isinstance(compute, dict)
    assert (compute["bursts_granted"], compute["zone_max"]) == (0, "critical")
    assert (compute["torch_threads_max"], compute["model_every_max"]) == (1, 8)
    assert compute["bursts_refused"] >= 1
    (report,) = (tmp_path / "data" / "runs").glob("*/report.html")
    page = report.read_text()
    for said in ("0 bursts granted", "hottest zone critical", "at most 1 torch threads"):
        assert said in page
    assert "No model in this run" in page
    assert "the QLSTM is experimental" in page


def test_store_backup_list_check_and_restore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(_config(tmp_path, 40.0))
    assert main(["store", "list", "-c", config]) == 0
    assert capsys.readouterr().out.strip() == "no backups"
    assert main(["store", "backup", "-c", config]) == 0
    name = Path(capsys.readouterr().out.split("backup: ")[1].strip()).name
    assert main(["store", "list", "-c", config]) == 0
    assert capsys.readouterr().out.startswith(f"main  {name}  ")
    assert main(["store", "check", "-c", config]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["store", "restore", name, "-c", config]) == 0
    assert json.loads(capsys.readouterr().out)["restored"] == name
    assert main(["store", "restore", "nope.db", "-c", config]) == 2
    assert "no backup 'nope.db'" in capsys.readouterr().err


def test_tengri_log_level_from_the_environment_and_an_unknown_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = str(_config(tmp_path, 40.0))
    monkeypatch.setenv("TENGRI_LOG_LEVEL", "INFO")
    assert main(["store", "backup", "-c", config]) == 0
    assert "store backed up to" in capsys.readouterr().err
    monkeypatch.setenv("TENGRI_LOG_LEVEL", "ERROR")
    assert main(["store", "backup", "-c", config]) == 0
    assert "store backed up to" not in capsys.readouterr().err
    assert main(["--log-level", "LOUD", "store", "list", "-c", config]) == 2
    assert "--log-level must be one of" in capsys.readouterr().err


def test_the_api_token_never_reaches_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    config = str(_config(tmp_path, 40.0))
    monkeypatch.setenv("TENGRI_API_TOKEN", "s3cret-token-value")
    assert main(["--log-level", "DEBUG", "store", "list", "-c", config]) == 0
    logging.getLogger("tengri.test").warning("header was Bearer %s", "s3cret-token-value")
    err = capsys.readouterr().err
    assert "s3cret-token-value" not in err
    assert "header was Bearer ***" in err
