"""The command line: complete help, one-line errors, honest not-implemented commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tengri.cli import EXIT_ERROR, main

COMMANDS = ["run", "train", "evaluate", "tune", "backtest", "serve", "status", "data", "check-lookahead"]


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage:" in out
    assert len(out.splitlines()) > 3


def test_python_dash_m_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tengri", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "data" in result.stdout


def test_check_lookahead_on_features(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-lookahead", "sample:goog_d1", "--cuts", "5"]) == 0
    assert "features: ok" in capsys.readouterr().out


def test_bad_config_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[trading]\ncommission = -1\n")
    assert main(["train", "--config", str(path)]) == EXIT_ERROR
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: invalid configuration")
    assert "trading.commission" in err
    assert len(err.splitlines()) == 1


def test_data_info_on_a_sample_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", "sample:goog_d1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == 2148


def test_data_samples_lists_both(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "samples"]) == 0
    out = capsys.readouterr().out.split()
    assert {"sample:eurusd_h1", "sample:goog_d1"} <= set(out)


def test_bad_data_is_one_line_with_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-01,10,11,9,10.5,100\n"
        "2024-01-02,10,9,11,10.5,100\n"  # High below Low on data row 2
    )
    assert main(["data", "info", str(path)]) == EXIT_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "row 2" in err


def test_status_reads_the_store(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["integrity"] is True
    assert payload["open_executions"] == []


def test_run_rejects_unknown_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--model", "gpt"]) == EXIT_ERROR
    assert "--model" in capsys.readouterr().err


def test_console_script_exit_status(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "tengri"
    result = subprocess.run(
        [str(exe), "data", "info", str(tmp_path / "missing.csv")], capture_output=True, text=True, check=False
    )
    assert result.returncode == EXIT_ERROR
    assert result.stderr.startswith("error:")
    assert "Traceback" not in result.stderr


def test_config_prints_a_loadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config"]) == 0
    text = capsys.readouterr().out
    assert "[engine]" in text
    assert "profit_window_size = 10000" in text
    path = tmp_path / "printed.toml"
    path.write_text(text)
    assert main(["config", "--config", str(path), "--bare"]) == 0
    assert "#  Points" not in capsys.readouterr().out
