"""An incrementally maintained least-squares cubic over a sliding window of (time, value) points.

Hand-written because no library keeps a sliding polynomial fit in O(1) per point. It keeps the
power sums ``Σt^k`` (k ≤ 6), ``Σt^k·y`` (k ≤ 3) and ``Σy²`` in a fixed internal origin (the oldest
point at the last re-base), adds a point's terms as it enters and subtracts them as it leaves, and
re-computes every sum exactly from the window every ``rebase_interval`` pushes so that rounding
drift stays bounded. Solving converts the sums to the well-conditioned basis ``u = (t − c)/h``
(c the window's mid-time, h its half-span, so u ∈ [−1, 1]) by the binomial theorem, solves the
4×4 normal equations there and maps the coefficients to ``τ = (t − t_newest)/(t_newest − t_oldest)``
∈ [−1, 0] through ``u = 1 + 2τ``. The result agrees with ``numpy.polyfit(τ, y, 3)``.
"""

from __future__ import annotations

from math import sqrt
from typing import NamedTuple

import numpy as np

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


def _centred_moments(
    s: list[float], ty: list[float], m: float, inv_h: float
) -> tuple[list[float], list[float]]:
    """Return Σu^k (k ≤ 6) and Σu^k·y (k ≤ 3) for u = (t' + m)·inv_h, from the sums in t' (unrolled)."""
    m2 = m * m
    m3 = m2 * m
    m4 = m2 * m2
    m5 = m4 * m
    m6 = m3 * m3
    s0, s1, s2, s3, s4, s5, s6 = s
    g = inv_h
    g2 = g * g
    g3 = g2 * g
    g4 = g2 * g2
    u = [
        s0,
        (s1 + m * s0) * g,
        (s2 + 2 * m * s1 + m2 * s0) * g2,
        (s3 + 3 * m * s2 + 3 * m2 * s1 + m3 * s0) * g3,
        (s4 + 4 * m * s3 + 6 * m2 * s2 + 4 * m3 * s1 + m4 * s0) * g4,
        (s5 + 5 * m * s4 + 10 * m2 * s3 + 10 * m3 * s2 + 5 * m4 * s1 + m5 * s0) * g4 * g,
        (s6 + 6 * m * s5 + 15 * m2 * s4 + 20 * m3 * s3 + 15 * m4 * s2 + 6 * m5 * s1 + m6 * s0) * g3 * g3,
    ]
    y0, y1, y2, y3 = ty
    u_y = [
        y0,
        (y1 + m * y0) * g,
        (y2 + 2 * m * y1 + m2 * y0) * g2,
        (y3 + 3 * m * y2 + 3 * m2 * y1 + m3 * y0) * g3,
    ]
    return u, u_y


def _solve_hankel4(u: list[float], r: list[float]) -> list[float]:
    """Solve the 4×4 normal equations ``G a = r``, ``G[i][j] = u[i+j]``, by an unrolled Cholesky."""
    l00 = sqrt(u[0])
    l10 = u[1] / l00
    l20 = u[2] / l00
    l30 = u[3] / l00
    l11 = sqrt(u[2] - l10 * l10)
    l21 = (u[3] - l20 * l10) / l11
    l31 = (u[4] - l30 * l10) / l11
    l22 = sqrt(u[4] - l20 * l20 - l21 * l21)
    l32 = (u[5] - l30 * l20 - l31 * l21) / l22
    l33 = sqrt(u[6] - l30 * l30 - l31 * l31 - l32 * l32)
    z0 = r[0] / l00
    z1 = (r[1] - l10 * z0) / l11
    z2 = (r[2] - l20 * z0 - l21 * z1) / l22
    z3 = (r[3] - l30 * z0 - l31 * z1 - l32 * z2) / l33
    a3 = z3 / l33
    a2 = (z2 - l32 * a3) / l22
    a1 = (z1 - l21 * a2 - l31 * a3) / l11
    a0 = (z0 - l10 * a1 - l20 * a2 - l30 * a3) / l00
    return [a0, a1, a2, a3]


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


class IncrementalCubicFit:
    """A sliding window of at most ``capacity`` points with its cubic fit; not thread-safe.

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
        self._t: list[float] = [0.0] * capacity
        self._y: list[float] = [0.0] * capacity
        self._head = 0  # index of the oldest point
        self.n = 0
        self._t0 = 0.0
        self._y0 = 0.0
        self._s = [0.0] * 7  # Σ t'^k, t' = t − t0
        self._ty = [0.0] * 4  # Σ t'^k · y', y' = y − y0
        self._yy = 0.0  # Σ y'²
        self._since_rebase = 0

    @property
    def newest(self) -> tuple[float, float] | None:
        """The newest (t, y), or ``None`` when empty."""
        if self.n == 0:
            return None
        i = (self._head + self.n - 1) % self.capacity
        return self._t[i], self._y[i]

    @property
    def mean(self) -> float:
        """Mean of the window's values (0 when empty)."""
        return self._y0 + self._ty[0] / self.n if self.n else 0.0

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the window's times and values, oldest first, as new arrays."""
        idx = (self._head + np.arange(self.n)) % self.capacity
        return np.asarray(self._t, dtype=float)[idx], np.asarray(self._y, dtype=float)[idx]

    def _accumulate(self, t: float, y: float, sign: float) -> None:
        p1 = t - self._t0
        yp = y - self._y0
        p2 = p1 * p1
        p3 = p2 * p1
        s = self._s
        s[0] += sign
        s[1] += sign * p1
        s[2] += sign * p2
        s[3] += sign * p3
        s[4] += sign * p2 * p2
        s[5] += sign * p3 * p2
        s[6] += sign * p3 * p3
        ty = self._ty
        ty[0] += sign * yp
        ty[1] += sign * p1 * yp
        ty[2] += sign * p2 * yp
        ty[3] += sign * p3 * yp
        self._yy += sign * yp * yp

    def push(self, t: float, y: float) -> None:
        """Add the newest point (the caller guarantees t increases), dropping the oldest if full."""
        if self.n == self.capacity:
            self._accumulate(self._t[self._head], self._y[self._head], -1.0)
            self._t[self._head] = t
            self._y[self._head] = y
            self._head = (self._head + 1) % self.capacity
        else:
            i = (self._head + self.n) % self.capacity
            self._t[i] = t
            self._y[i] = y
            self.n += 1
            if self.n == 1:
                self._t0, self._y0 = t, y
        self._accumulate(t, y, 1.0)
        self._since_rebase += 1
        if self._since_rebase >= self.rebase_interval:
            self.rebase()

    def load(self, points: list[tuple[float, float]]) -> None:
        """Replace the window by the newest ``capacity`` of ``points`` (oldest first)."""
        kept = points[-self.capacity :]
        self._head = 0
        self.n = len(kept)
        for i, (t, y) in enumerate(kept):
            self._t[i] = float(t)
            self._y[i] = float(y)
        self.rebase()

    def rebase(self) -> None:
        """Move the origin to the oldest point and recompute every sum exactly from the window."""
        self._since_rebase = 0
        if self.n == 0:
            self._s = [0.0] * 7
            self._ty = [0.0] * 4
            self._yy = 0.0
            return
        t, y = self.points()
        self._t0, self._y0 = float(t[0]), float(y[0])
        tp = t - self._t0
        yp = y - self._y0
        powers = np.vander(tp, 7, increasing=True)
        self._s = [float(v) for v in powers.sum(axis=0)]
        self._ty = [float(v) for v in powers[:, :4].T @ yp]
        self._yy = float(yp @ yp)

    def _lstsq_u(self, centre: float, h: float) -> list[float]:
        t, y = self.points()
        design = np.vander((t - centre) / h, 4, increasing=True)
        solution = np.linalg.lstsq(design, y - self._y0, rcond=None)[0]
        return [float(v) for v in solution]

    def solve(self) -> CubicFit:
        """Return the least-squares cubic of the window in τ (lower degree below 4 points)."""
        n = self.n
        if n == 0:
            return CubicFit((0.0, 0.0, 0.0, 0.0), 0, 0.0, 0.0, 0.0, 0.0, 0.0)
        t_old = self._t[self._head]
        t_new, _ = self.newest or (0.0, 0.0)
        mean_p = self._ty[0] / n
        var = max(self._yy - self._ty[0] * mean_p, 0.0) / (n - 1) if n > 1 else 0.0
        h = (t_new - t_old) / 2.0
        if n == 1 or h <= 0.0:
            return CubicFit((self.mean, 0.0, 0.0, 0.0), n, self.mean, var**0.5, 0.0, t_old, t_new)
        c = (t_old + t_new) / 2.0 - self._t0
        u, u_y = _centred_moments(self._s, self._ty, -c, 1.0 / h)
        if n >= 4:
            size = 4
            try:
                a = _solve_hankel4(u, u_y)
            except (ValueError, ZeroDivisionError):
                # Numerically singular (times clustered far below the span): least squares directly.
                a = self._lstsq_u(c + self._t0, h)
        else:
            size = n
            gram = [[u[i + j] for j in range(size)] for i in range(size)]
            a = _solve(gram, u_y[:size]) + [0.0] * (4 - size)
        rss = max(self._yy - (a[0] * u_y[0] + a[1] * u_y[1] + a[2] * u_y[2] + a[3] * u_y[3]), 0.0)
        dof = n - size
        residual_std = (rss / dof) ** 0.5 if dof > 0 else 0.0
        # P(u) = Σ a_k u^k with u = 1 + 2τ  ⇒  b_j = 2^j Σ_k a_k C(k, j).
        a0, a1, a2, a3 = a
        b0 = a0 + a1 + a2 + a3 + self._y0
        b1 = 2.0 * (a1 + 2.0 * a2 + 3.0 * a3)
        b2 = 4.0 * (a2 + 3.0 * a3)
        b3 = 8.0 * a3
        return CubicFit((b0, b1, b2, b3), n, self.mean, var**0.5, residual_std, t_old, t_new)
