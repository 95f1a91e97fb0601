"""report.html renders in headless Chromium without console errors (Debian package ``chromium``)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tengri.report import SECTION_IDS, build_report

MakeRun = Callable[..., Path]  # the make_run fixture of conftest.py

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="needs headless Chromium: apt-get install -y chromium (the CI installs it in .ci/run)",
    ),
]

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--hide-scrollbars",
)

# Page errors only: console messages logged at error level ("ERROR:CONSOLE" / "CONSOLE(…)" with
# an "Uncaught" exception) and failed loads of the page's own resources. Chromium's own noise
# (dbus, GPU, crashpad, fontconfig, ERROR:… from its C++ sources) is not the page's fault.
_PAGE_ERROR = re.compile(r"ERROR:CONSOLE|Uncaught|net::ERR_|Not allowed to load local resource")


def _chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", *arguments],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _page_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if _PAGE_ERROR.search(line)]


def test_report_renders_without_console_errors(make_run: MakeRun, tmp_path: Path) -> None:
    report = build_report(make_run())
    result = _chromium("--dump-dom", report.as_uri(), profile=tmp_path / "profile-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    assert _page_errors(result.stderr) == []
    for section_id in SECTION_IDS:
        assert f'id="{section_id}"' in result.stdout


def test_detector_sees_a_console_error(tmp_path: Path) -> None:
    # The check above is only worth something if it catches a page that does fail.
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>")
    result = _chromium("--dump-dom", broken.as_uri(), profile=tmp_path / "profile-broken")
    assert any("Uncaught" in line for line in _page_errors(result.stderr)), result.stderr[-2000:]


def test_report_screenshot(make_run: MakeRun, tmp_path: Path) -> None:
    report = build_report(make_run())
    screenshot = tmp_path / "report.png"
    result = _chromium(
        "--window-size=1200,5200",
        f"--screenshot={screenshot}",
        report.as_uri(),
        profile=tmp_path / "profile-png",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert _page_errors(result.stderr) == []
    assert screenshot.stat().st_size > 50_000  # a rendered page, not a blank one
