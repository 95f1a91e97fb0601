"""Write a run's ``summary.json``: the statistics as strict JSON, keys sorted, no NaN."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["json_safe", "write_summary"]


def json_safe(value: Any) -> Any:
    """Return ``value`` with NaN and infinities replaced by ``None`` and NumPy scalars made plain.

    Mappings and sequences are converted recursively; timestamps and other objects that JSON
    does not know become their ``isoformat()`` or ``str()``.
    """
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if hasattr(value, "item") and not hasattr(value, "isoformat"):  # a NumPy scalar
        return json_safe(value.item())
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def write_summary(run_dir: Path, statistics: Mapping[str, Any]) -> Path:
    """Write ``statistics`` to ``run_dir/summary.json`` and return the path.

    The file is strict JSON (``allow_nan=False``) with sorted keys and a final newline, so the
    same statistics always give the same bytes.
    """
    path = Path(run_dir) / "summary.json"
    text = json.dumps(json_safe(statistics), sort_keys=True, indent=2, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path
