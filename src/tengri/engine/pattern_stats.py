"""The pattern mapping: count, mean and variance of the next move after each 16-bit code.

See DESIGN.md, Triggers. :class:`PatternTable` keeps Welford's running statistics of every code
in three flat arrays indexed by the code (count, mean, sum of squared deviations ``m2``): one
tick's update is a few array reads and writes, with no object per code, and a checkpoint packs
the codes seen with one vectorised pass instead of a Python loop over thousands of them.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tengri.engine import _kernel

__all__ = ["CODES", "PatternStats", "PatternTable"]

#: The number of 16-bit codes.
CODES = 1 << 16


@dataclass(slots=True)
class PatternStats:
    """Count, mean and variance of the next move after a code (Welford's algorithm)."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, x: float) -> None:
        """Fold in one observation."""
        self.count += 1
        delta = x - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (x - self.mean)

    @property
    def variance(self) -> float:
        """Sample variance (0 under two observations)."""
        return self.m2 / (self.count - 1) if self.count > 1 else 0.0

    @property
    def t_stat(self) -> float:
        """t statistic of the mean against zero (0 when undefined)."""
        return _t_stat(self.count, self.mean, self.m2)

    def to_dict(self) -> dict[str, float]:
        """Return a JSON-ready dict."""
        return {"count": self.count, "mean": self.mean, "variance": self.variance, "m2": self.m2}


def _t_stat(count: float, mean: float, m2: float) -> float:
    if count < 2:
        return 0.0
    variance = m2 / (count - 1)
    if variance <= 0.0:
        return 0.0
    return mean / math.sqrt(variance / count)


class PatternTable(_kernel.PatternTable):
    """Next-move statistics of every 16-bit code (counts are exact in a double up to 2⁵³).

    The statistics live in three flat float64 arrays indexed by code, updated by the compiled
    :class:`tengri.engine._kernel.PatternTable` (``add``, ``get``, ``t_stat``, ``set``, ``items``,
    ``len``); this class adds the packing a checkpoint writes and reads.
    """

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        """Pickle (and ``copy.deepcopy``) as :meth:`to_bytes`: the compiled base has no default."""
        return _table_from_bytes, (self.to_bytes(),)

    def to_bytes(self) -> bytes:
        """The codes seen as little-endian float64 rows (code, count, mean, m2), in code order.

        A checkpoint holds thousands of codes; as JSON numbers they cost tens of milliseconds to
        write, as packed doubles well under one (every count and code is exact in a double).
        """
        if not len(self):
            return b""  # without reading the columns, whose untouched pages a new table never maps
        return self._rows(np.flatnonzero(self.columns()[0]))

    def take_changes(self) -> bytes:
        """The codes changed since the last call, as :meth:`to_bytes` rows (a count of 0: forgotten).

        What a checkpoint writes between two whole tables: a thousand ticks change at most a
        thousand codes, where the whole table of a long run holds all 65,536. Clears the changes.
        """
        changed = self.changed()
        codes = np.flatnonzero(changed)
        changed[codes] = 0
        return self._rows(codes)

    def _rows(self, codes: npt.NDArray[np.intp]) -> bytes:
        counts, means, m2s = self.columns()
        rows = np.empty((codes.size, 4), dtype="<f8")
        rows[:, 0] = codes
        rows[:, 1] = counts[codes]
        rows[:, 2] = means[codes]
        rows[:, 3] = m2s[codes]
        return rows.tobytes()

    def apply(self, data: bytes) -> None:
        """Apply :meth:`take_changes` rows (or :meth:`to_bytes` ones) in place; they count as saved.

        Raises
        ------
        ValueError
            If it is not whole rows, or holds a code outside 16 bits or a negative count; the table
            is then unchanged.
        """
        codes, rows = _unpacked(data, min_count=0)
        self._restore(codes, rows[:, 1], rows[:, 2], rows[:, 3])
        self.changed()[codes] = 0

    def pack(self) -> str:
        """:meth:`to_bytes` in base64, for a JSON snapshot."""
        return base64.b64encode(self.to_bytes()).decode("ascii")

    @classmethod
    def unpack(cls, data: str | dict[str, Any]) -> PatternTable:
        """Read :meth:`pack` output (or the ``{code: [count, mean, m2]}`` form of older checkpoints)."""
        if isinstance(data, dict):
            table = cls()
            for key, (count, mean, m2) in data.items():
                table.set(int(key), PatternStats(int(count), float(mean), float(m2)))
            return table
        return cls.from_bytes(base64.b64decode(data))

    @classmethod
    def from_bytes(cls, data: bytes) -> PatternTable:
        """Read :meth:`to_bytes` output.

        Raises
        ------
        ValueError
            If it is not whole rows, or holds a code outside 16 bits or a count under 1.
        """
        codes, rows = _unpacked(data, min_count=1)
        table = cls()
        table._restore(codes, rows[:, 1], rows[:, 2], rows[:, 3])
        return table


def _unpacked(data: bytes, min_count: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The codes and rows of packed statistics, checked (codes in 16 bits, counts >= ``min_count``)."""
    if len(data) % 32:
        raise ValueError(f"packed pattern statistics are rows of 32 bytes, got {len(data)} bytes")
    rows = np.frombuffer(data, dtype="<f8").reshape(-1, 4)
    codes = rows[:, 0].astype(np.int64)
    if codes.size and (codes.min() < 0 or codes.max() >= CODES or np.any(rows[:, 1] < min_count)):
        raise ValueError(
            f"packed pattern statistics hold a code outside 16 bits or a count under {min_count}"
        )
    return codes, rows


def _table_from_bytes(data: bytes) -> PatternTable:
    """:meth:`PatternTable.from_bytes`, by a module-level name that pickle can find."""
    return PatternTable.from_bytes(data)
