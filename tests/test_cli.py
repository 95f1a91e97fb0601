"""The command line: complete help, one-line errors, honest not-implemented commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tengri.cli import EXIT_ERROR, main

COMMANDS = [
    "run",
    "train",
    "evaluate",
    "tune",
    "backtest",
    "live",
    "serve",
    "status",
    "runs",
    "data",
    "check-lookahead",
    "reset-time",
]


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
    assert "features (higher timeframes 4x, 8x): ok" in capsys.readouterr().out


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


TENGRI = Path(sys.executable).parent / "tengri"


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--bogus"],
        ["nonsense"],
        ["train", "a", "b"],  # one DATA only (run and backtest take several: a portfolio)
        ["run", "--model"],
        ["serve", "--prt", "1"],
        ["data", "repair", "sample:goog_d1"],
    ],
    ids=" ".join,
)
def test_a_usage_mistake_prints_usage_and_one_error_line(args: list[str]) -> None:
    result = subprocess.run([str(TENGRI), *args], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Usage: tengri")
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1
    assert result.stderr.endswith("\n")


def test_version() -> None:
    result = subprocess.run([str(TENGRI), "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert result.stdout.startswith("tengri ")
    assert result.stdout.split()[1][0].isdigit()


def test_evaluate_without_data_shows_usage_and_runs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate"]) == 2
    captured = capsys.readouterr()
    assert "Usage: tengri evaluate [OPTIONS]" in captured.err
    assert "DATA" in captured.err
    assert not (tmp_path / "data").exists()  # no evaluation wrote anything


def _with_duplicates(tmp_path: Path, rows: int = 400) -> Path:
    from tengri.data import load_ohlcv

    frame = load_ohlcv("sample:goog_d1").iloc[:rows]
    doubled = frame.iloc[[0, 1, 2, 2, *range(3, rows)]]  # row 3 twice
    path = tmp_path / "dup.csv"
    doubled.iloc[[0, 2, 1, *range(3, len(doubled))]].to_csv(path, index_label="Date")  # rows 2, 3 swapped
    return path


def test_duplicates_are_refused_with_the_option_that_repairs_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backtest", str(_with_duplicates(tmp_path))]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "duplicate timestamp" in err
    assert "--repair keeps the first" in err


def test_backtest_and_run_take_repair(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _with_duplicates(tmp_path)
    assert main(["backtest", str(path), "--repair"]) == 0
    err = capsys.readouterr().err
    assert f"repaired {path}: 1 duplicates dropped, 2 rows reordered" in err
    assert main(["run", str(path), "--model", "none", "--repair"]) == 0
    assert "1 duplicates dropped" in capsys.readouterr().err


def test_backtest_without_a_report_writes_the_run_files_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _with_duplicates(tmp_path)
    assert main(["backtest", str(path), "--repair", "--no-report"]) == 0
    (run_dir,) = (tmp_path / "data" / "runs").iterdir()
    assert f"report: {run_dir}" in capsys.readouterr().out
    assert (run_dir / "summary.json").is_file()
    assert (run_dir / "trades.csv").is_file()
    assert not (run_dir / "report.html").exists()
    assert main(["backtest", str(path), "--repair"]) == 0  # the same run again, with its report
    assert (run_dir / "report.html").is_file()


def test_data_repair_writes_a_file_that_reads_as_the_repaired_bars(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tengri.data import load_ohlcv, read_ohlcv

    path = _with_duplicates(tmp_path)
    out = tmp_path / "fixed.csv"
    assert main(["data", "repair", str(path), str(out)]) == 0
    assert "written:" in capsys.readouterr().out
    fixed = read_ohlcv(out)
    assert fixed.repairs == {}
    expected = load_ohlcv(path, repair=True)
    assert fixed.frame.index.equals(expected.index)
    assert (fixed.frame.to_numpy() == expected.to_numpy()).all()


def test_status_and_runs_show_the_run_a_replay_made(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "sample:goog_d1"]) == 0
    summary = capsys.readouterr()
    assert main(["runs", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert len(runs) == 1
    run_id = runs[0]["run_id"]
    assert run_id in summary.out
    assert runs[0]["num_trades"] > 0
    # The live store is empty: status shows the newest run's store and says so.
    assert main(["status", "--json"]) == 0
    captured = capsys.readouterr()
    newest = json.loads(captured.out)
    assert "showing the newest run" in captured.err
    assert newest["run"] == run_id
    assert newest["executions"]["completed"] == runs[0]["num_trades"]
    assert main(["status", "--run", run_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["executions"] == newest["executions"]
    assert main(["status", "--run", "no-such-run"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert run_id in err
    assert len(err.strip().splitlines()) == 1


def test_resume_with_nothing_saved_starts_the_run_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backtest", "sample:goog_d1", "--resume"]) == 0
    err = capsys.readouterr().err
    assert "note: nothing to resume" in err
    assert "started anew" in err
    assert err.endswith("\n")
