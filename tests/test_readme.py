"""The README's examples run: every Python block, the configuration block, the quick CLI lines."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tengri.config import TengriConfig

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
BASH_LINES = [
    line.split("#")[0].strip()
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL)
    for line in block.splitlines()
]
# Commands a test elsewhere covers in full (they take minutes, or serve until stopped).
COVERED_ELSEWHERE = {
    "tengri run": "tests/services/test_replay.py and CI's make run",
    "tengri serve": "tests/api/test_serve_cli.py",
    "tengri reset-time": "tests/api/test_served_hardening.py (it needs a running server)",
    "tengri train": "tests/predict",
    "tengri evaluate": "tests/predict",
    "tengri tune": "tests/predict",
    "tengri store restore": "tests/test_cli_upkeep.py (it needs a backup's name)",
    "tengri live": "tests/live (it follows a feed until stopped)",
}


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENGRI_")}
    env["TENGRI_DATA_DIR"] = str(tmp_path / "data")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_python_block_runs(index: int, tmp_path: Path) -> None:
    code = PYTHON_BLOCKS[index]
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip(), "every example prints something"


def test_there_are_examples() -> None:
    assert len(PYTHON_BLOCKS) >= 5


def test_configuration_block_is_what_tengri_config_prints() -> None:
    block = re.search(r"`tengri config --bare` prints it.*?```toml\n(.*?)```", README, flags=re.DOTALL)
    assert block is not None
    assert block.group(1) == TengriConfig.load(data_dir="data").to_toml(with_descriptions=False)


def _quick_cli_lines() -> list[str]:
    lines = []
    for line in BASH_LINES:
        if not line.startswith(("tengri ", "python -m tengri")):
            continue
        if any(line.startswith(prefix) for prefix in COVERED_ELSEWHERE):
            continue
        lines.append(line)
    return lines


def _tengri(args: list[str], tmp_path: Path) -> str:
    tengri = Path(sys.executable).parent / "tengri"
    result = subprocess.run(
        [str(tengri), *args], check=True, cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True
    )
    return result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("line", _quick_cli_lines())
def test_cli_line_runs(line: str, tmp_path: Path) -> None:
    argv = shlex.split(line)
    if argv[0] == "python":
        argv[0] = sys.executable
    if "dup.csv" in argv:  # the README's file with a duplicate timestamp
        (tmp_path / "dup.csv").write_text(
            "Date,Open,High,Low,Close\n2024-01-01,1,2,0.5,1.5\n2024-01-02,1,2,0.5,1.5\n2024-01-02,1,2,0.5,1.6\n"
        )
    if "RUN_ID" in argv:  # a run made the way the README makes one
        _tengri(["backtest", "sample:goog_d1"], tmp_path)
        (run,) = json.loads(_tengri(["runs", "--json"], tmp_path))
        argv[argv.index("RUN_ID")] = run["run_id"]
    result = subprocess.run(
        argv, check=False, cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
