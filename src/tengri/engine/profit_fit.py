"""An incrementally maintained least-squares cubic over a sliding window of (time, value) points.

Hand-written because no library keeps a sliding polynomial fit in O(1) per point. It keeps the
power sums ``Σt^k`` (k ≤ 6), ``Σt^k·y`` (k ≤ 3) and ``Σy²`` in a fixed internal origin (the oldest
point at the last re-base), adds a point's terms as it enters and subtracts them as it leaves, and
re-computes every sum exactly from the window every ``rebase_interval`` pushes so that rounding
drift stays bounded. Solving converts the sums to the well-conditioned basis ``u = (t − c)/h``
(c the window's mid-time, h its half-span, so u ∈ [−1, 1]) by a Taylor shift, solves the
4×4 normal equations there and maps the coefficients to ``τ = (t − t_newest)/(t_newest − t_oldest)``
∈ [−1, 0] through ``u = 1 + 2τ``. The result agrees with ``numpy.polyfit(τ, y, 3)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tengri.engine import _kernel

__all__ = ["CubicFit", "IncrementalCubicFit"]


class CubicFit(NamedTuple):
    """One solved fit: coefficients of P(τ), constant first, and the window's statistics.

    A named tuple rather than a dataclass: it is built on every update, and this is cheaper.
    """

    coefficients: tuple[float, float, float, float]
    n: int
    mean: float
    std: float
    residual_std: float
    t_oldest: float
    t_newest: float


def _solve(matrix: list[list[float]], rhs: list[float]) -> list[float]:
    """Solve a small dense system by Gaussian elimination with partial pivoting (no NumPy overhead)."""
    n = len(rhs)
    a = [[*row, rhs[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        p = a[col][col]
        for r in range(col + 1, n):
            f = a[r][col] / p
            if f:
                row_r, row_c = a[r], a[col]
                for c in range(col, n + 1):
                    row_r[c] -= f * row_c[c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        s = a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))
        x[r] = s / a[r][r]
    return x


class IncrementalCubicFit(_kernel.CubicCore):
    """A sliding window of at most ``capacity`` points with its cubic fit; not thread-safe.

    :meth:`push` and :meth:`solve` run once per profit update: they are compiled
    (:class:`tengri.engine._kernel.CubicCore`), the sums in C fields, the algebra unrolled, the
    arithmetic, operation by operation, that of the plain formulas in the module docstring (and
    of the Python they replaced, ``tengri.engine._kernel_reference.IncrementalCubicFit``, which
    the tests hold them to, bit for bit). Here is the rest: loading, the exact re-base, the
    points, and the fits that :meth:`solve` hands back to Python (fewer than four points; the
    least-squares fallback of a numerically singular window).

    Parameters
    ----------
    capacity
        Window size N: pushing point N+1 drops the oldest.
    rebase_interval
        Pushes between exact re-computations of the power sums.
    """

    def __init__(self, capacity: int, rebase_interval: int = 1_000) -> None:
        if capacity < 1 or rebase_interval < 1:
            raise ValueError("capacity and rebase_interval must be at least 1")
        self.capacity = capacity
        self.rebase_interval = rebase_interval
        self._set_buffers(np.zeros(capacity), np.zeros(capacity))  # the ring buffer of points
        self._head = 0  # index of the oldest point
        self.n = 0
        self._t0 = 0.0
        self._y0 = 0.0
        self._t_new = 0.0  # time of the newest point (meaningless when empty)
        # Σt'^k (k ≤ 6), Σt'^k·y' (k ≤ 3), Σy'², with t' = t − t0 and y' = y − y0.
        self._sums = (0.0,) * 12
        self._since_rebase = 0

    @property
    def newest(self) -> tuple[float, float] | None:
        """The newest (t, y), or ``None`` when empty."""
        if self.n == 0:
            return None
        i = (self._head + self.n - 1) % self.capacity
        return float(self._t_array[i]), float(self._y_array[i])

    @property
    def newest_time(self) -> float | None:
        """The newest point's time, or ``None`` when empty."""
        return self._t_new if self.n else None

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the window's times and values, oldest first, as new arrays."""
        head, n = self._head, self.n
        if head + n <= self.capacity:
            return self._t_array[head : head + n].copy(), self._y_array[head : head + n].copy()
        tail = head + n - self.capacity
        return (
            np.concatenate((self._t_array[head:], self._t_array[:tail])),
            np.concatenate((self._y_array[head:], self._y_array[:tail])),
        )

    def load(self, points: list[tuple[float, float]]) -> None:
        """Replace the window by the newest ``capacity`` of ``points`` (oldest first)."""
        kept = points[-self.capacity :]
        self._head = 0
        self.n = len(kept)
        for i, (t, y) in enumerate(kept):
            self._t_array[i] = float(t)
            self._y_array[i] = float(y)
        if kept:
            self._t_new = float(self._t_array[self.n - 1])
        self.rebase()

    def rebase(self) -> None:
        """Move the origin to the oldest point and recompute every sum exactly from the window."""
        self._since_rebase = 0
        if self.n == 0:
            self._sums = (0.0,) * 12
            return
        t, y = self.points()
        self._t0, self._y0 = float(t[0]), float(y[0])
        p1 = t - self._t0
        yp = y - self._y0
        # The powers as push forms them; NumPy's sums are pairwise, so at least as exact as push's.
        p2 = p1 * p1
        p3 = p2 * p1
        self._sums = (
            float(self.n),
            float(p1.sum()),
            float(p2.sum()),
            float(p3.sum()),
            float((p2 * p2).sum()),
            float((p3 * p2).sum()),
            float((p3 * p3).sum()),
            float(yp.sum()),
            float(p1 @ yp),
            float(p2 @ yp),
            float(p3 @ yp),
            float(yp @ yp),
        )

    def _lstsq_u(self, centre: float, h: float) -> tuple[float, float, float, float]:
        t, y = self.points()
        design = np.vander((t - centre) / h, 4, increasing=True)
        a0, a1, a2, a3 = np.linalg.lstsq(design, y - self._y0, rcond=None)[0]
        return float(a0), float(a1), float(a2), float(a3)

    def _solve_small(
        self, n: int, u: tuple[float, ...], u_y: tuple[float, float, float, float]
    ) -> tuple[float, float, float, float]:
        """The coefficients of the fit of ``n`` < 4 points (a lower degree), zeros above it."""
        gram = [[u[i + j] for j in range(n)] for i in range(n)]
        a0, a1, a2, a3 = (*_solve(gram, list(u_y[:n])), 0.0, 0.0)[:4]
        return a0, a1, a2, a3
