"""Plain ``postgresql://`` URLs work as the README shows them, for the store and for a tune study."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from tengri.cli import main
from tengri.engine.store.connection import database_url

pytestmark = pytest.mark.postgres

# Read at import: the suite's autouse fixture clears TENGRI_* variables before each test.
POSTGRES_URL = os.environ.get("TENGRI_TEST_POSTGRES_URL")


@pytest.fixture
def plain_url() -> Iterator[str]:
    """A fresh database on CI's server, as a driverless ``postgresql://`` URL."""
    if POSTGRES_URL is None:
        pytest.skip("TENGRI_TEST_POSTGRES_URL is unset: .ci/run starts a PostgreSQL server and sets it")
    # NullPool: each connection is closed when its block ends, none left for the collector.
    admin = sa.create_engine(database_url(POSTGRES_URL), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"tengri_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = sa.make_url(POSTGRES_URL).set(drivername="postgresql", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_url_names_psycopg_when_it_names_no_driver() -> None:
    assert database_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert database_url("postgresql+psycopg2://u@h/db").drivername == "postgresql+psycopg2"
    assert database_url("sqlite:///x.db").drivername == "sqlite"


def test_status_on_a_plain_postgresql_store_url(
    plain_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert plain_url.startswith("postgresql://")
    monkeypatch.setenv("TENGRI_STORE__URL", plain_url)
    assert main(["status", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["integrity"] is True
    assert payload["store"].startswith("postgresql+psycopg://")


@pytest.mark.slow
def test_tune_with_a_plain_postgresql_storage(
    plain_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "small.toml"
    config.write_text("[model]\nepochs = 1\nhidden_size = 8\nseq_len = 10\npatience = 1\n")
    data = tmp_path / "bars.csv"
    from tengri.data import load_ohlcv

    load_ohlcv("sample:goog_d1").iloc[:800].to_csv(data, index_label="Date")
    args = ["tune", str(data), "--trials", "2", "--storage", plain_url, "--study", "readme"]
    args += ["--config", str(config)]
    assert main(args) == 0, capsys.readouterr().err
    first = json.loads(capsys.readouterr().out)
    assert first["complete"] == 2
    # A second worker on the same URL continues the same study.
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 4
    assert os.environ.get("TENGRI_STORE__URL") is None
