"""Upkeep of the stores: back up, list backups, restore one by name, check integrity.

The main store is ``store.url`` (default ``<data_dir>/tengri.db``) with backups in
``<data_dir>/backups``; a replay's run keeps its own store, ``<data_dir>/runs/<run_id>/store.db``,
with backups in the run's ``backups`` folder (``run=<run_id>``). Backups are written by
:meth:`~tengri.engine.MemoryMap.backup` (SQLite's online backup, rotated to ``store.backup_keep``);
a running engine also backs up every ``store.backup_interval_hours``, on a clean shutdown and
at the end of a run. A damaged SQLite store is restored from its newest good backup whenever it
is opened, without a hand step.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tengri.engine import MemoryMap
from tengri.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from tengri.config import TengriConfig

__all__ = ["backup_store", "check_store", "list_store_backups", "open_store", "restore_store"]

MAIN = "main"


def _run_dir(config: TengriConfig, run: str) -> Path:
    if not run or "/" in run or "\\" in run or run.startswith("."):
        raise InvalidInputError(
            f"--run takes a run id (a folder under {config.data_dir / 'runs'}), got {run!r}"
        )
    path = config.data_dir / "runs" / run
    if not (path / "store.db").is_file():
        raise NotFoundError(f"no run {run!r} with a store under {config.data_dir / 'runs'}")
    return path


def open_store(config: TengriConfig, run: str | None = None) -> MemoryMap:
    """Open the main store, or the store of the run ``run`` (restoring either if damaged)."""
    if run is None:
        return MemoryMap.from_config(config)
    path = _run_dir(config, run)
    return MemoryMap(
        f"sqlite:///{(path / 'store.db').as_posix()}",
        backups_dir=path / "backups",
        backup_keep=config.store.backup_keep,
        memory_limit_mb=config.store.memory_limit_mb,
    )


def backup_store(config: TengriConfig, run: str | None = None) -> Path:
    """Back up the main store (or a run's) now; return the backup."""
    with open_store(config, run) as store:
        return store.backup()


def _describe(store: str, path: Path) -> dict[str, Any]:
    stat = path.stat()
    return {
        "store": store,
        "name": path.name,
        "bytes": stat.st_size,
        "modified": dt.datetime.fromtimestamp(stat.st_mtime, tz=dt.UTC).isoformat(timespec="seconds"),
    }


def list_store_backups(config: TengriConfig) -> list[dict[str, Any]]:
    """Every backup: the main store's, then each run's (``store`` is ``main`` or the run id)."""
    from tengri.engine.store.maintenance import list_backups

    rows = [_describe(MAIN, path) for path in list_backups(config.backups_dir)]
    runs = config.data_dir / "runs"
    if runs.is_dir():
        for run_dir in sorted(p for p in runs.iterdir() if p.is_dir()):
            rows += [_describe(run_dir.name, path) for path in list_backups(run_dir / "backups")]
    return rows


def restore_store(config: TengriConfig, name: str, run: str | None = None) -> dict[str, Any]:
    """Restore the backup ``name`` into the main store (or a run's); the current content is backed up first.

    Raises
    ------
    NotFoundError
        If no backup of that store has that name.
    """
    if Path(name).name != name:
        raise InvalidInputError(
            f"restore takes a backup's name as `tengri store list` shows it, got {name!r}"
        )
    with open_store(config, run) as store:
        path = store.backups_dir / name
        if not path.is_file():
            raise NotFoundError(f"no backup {name!r} in {store.backups_dir}")
        before = store.restore(path)
        return {"restored": name, "previous_content_saved_as": None if before is None else before.name}


def check_store(config: TengriConfig, run: str | None = None) -> dict[str, Any]:
    """Check the store's integrity; say whether opening it restored a backup."""
    with open_store(config, run) as store:
        report = store.integrity_check()
        return {
            "store": MAIN if run is None else run,
            "ok": report.ok,
            "problems": list(report.problems),
            "schema_version": report.schema_version,
            "restored_from": None if store.restored_from is None else store.restored_from.name,
            "backups": len(store.backups()),
        }
