"""The reliability suite's report: tests add rows, the session writes them into a copy of docs/reliability.md.

Each section of the document between ``<!-- figures:<name> -->`` and ``<!-- /figures:<name> -->``
is replaced by the rows the tests of this run added to it; a section no test of this run touched
keeps the figures it had. A test run writes ``build/reliability.md`` and never edits a tracked
file; ``make reliability-report`` sets ``TENGRI_TEST_RELIABILITY_DOC=docs/reliability.md`` to
refresh the document itself.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from tengri.engine.store.connection import database_url

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
# Read at import, like POSTGRES_URL below.
TARGET = Path(os.environ.get("TENGRI_TEST_RELIABILITY_DOC") or ROOT / "build" / "reliability.md")
# Read at import: the suite's autouse fixture clears TENGRI_* variables before each test.
POSTGRES_URL = os.environ.get("TENGRI_TEST_POSTGRES_URL")
NO_POSTGRES = "TENGRI_TEST_POSTGRES_URL is unset: .ci/run starts a PostgreSQL server and sets it"


class ReliabilityReport:
    """Rows of figures per section of docs/reliability.md."""

    def __init__(self) -> None:
        self.sections: dict[str, tuple[list[str], list[list[str]]]] = {}

    def row(self, section: str, header: list[str], values: list[object]) -> None:
        """Add one table row (the header is the section's, given with every row)."""
        _, rows = self.sections.setdefault(section, (header, []))
        rows.append([str(v).replace("|", "\\|").replace("\n", " ") for v in values])

    def write(self, source: Path, target: Path) -> None:
        """Write ``source`` with this run's sections replaced to ``target``."""
        if not self.sections or not source.is_file():
            return
        text = source.read_text()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        for name, (header, rows) in self.sections.items():
            table = [
                f"_Last run: {stamp}, Python {platform.python_version()} on {platform.machine()}._",
                "",
                "| " + " | ".join(header) + " |",
                "|" + "---|" * len(header),
                *("| " + " | ".join(r) + " |" for r in rows),
            ]
            block = f"<!-- figures:{name} -->\n" + "\n".join(table) + f"\n<!-- /figures:{name} -->"
            pattern = re.compile(
                rf"<!-- figures:{re.escape(name)} -->.*?<!-- /figures:{re.escape(name)} -->", re.S
            )
            if pattern.search(text):
                text = pattern.sub(lambda _m, b=block: b, text)
            else:
                text += f"\n{block}\n"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


@pytest.fixture(scope="session")
def reliability_report() -> Iterator[ReliabilityReport]:
    report = ReliabilityReport()
    yield report
    report.write(DOC, TARGET)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    if POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    # NullPool: each connection is closed when its block ends, none left for the collector.
    admin = sa.create_engine(database_url(POSTGRES_URL), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"tengri_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield database_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
