"""The profit trajectory coprocessor: a cubic fit of recent cumulative profit and its zone.

DESIGN.md, Profit trajectory. ``update(profit)`` takes the *cumulative* profit (P&L to date) at a
time and adds it to a window of the last ``profit_window_size`` points. A least-squares cubic
``P(τ)`` is fitted with time rescaled to τ ∈ [−1, 0] (τ = 0 at the newest point, −1 at the oldest),
maintained incrementally by :class:`~tengri.engine.profit_fit.IncrementalCubicFit`. Then:

- ``slope = P'(0)``, profit units per window span;
- ``V_profit = 1/(1 + e^(−P'(0)/s))``, s the window's profit standard deviation (``V = 0.5``
  when s = 0: a flat window has no momentum);
- ``volatility`` = residual standard deviation (n − 4 degrees of freedom) over s (n − 1);
- zone: ``unknown`` under ``min_points``; ``volatile`` when volatility exceeds
  ``volatility_threshold``; else ``surging`` when V > ``surging_above``, ``drawdown`` when
  V < ``drawdown_below``, else ``stable``.

With a store, every accepted point is appended to the ``profit_points`` table before the state
changes, and the newest window is reloaded on start.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from math import isfinite
from typing import Any

from tengri.config import EngineConfig, ProfitConfig, TengriConfig, ThermalConfig
from tengri.engine.clock import Clock, SystemClock
from tengri.engine.profit_fit import CubicFit, IncrementalCubicFit
from tengri.engine.store import MemoryMap
from tengri.engine.thermal.zones import drift_coefficient, logistic
from tengri.errors import InvalidInputError, OutOfOrderError

__all__ = ["MAX_ABS_PROFIT", "MAX_ABS_TIME", "ProfitTrajectoryCoprocessor", "ProfitVector", "ZoneState"]

#: The cubic fit keeps power sums up to t⁶ and t³·P: beyond these magnitudes they lose all
#: precision or overflow, so such inputs are refused rather than turned into a NaN vector.
MAX_ABS_TIME = 1e11  # seconds from the epoch: about the year 5100
MAX_ABS_PROFIT = 1e15


class ZoneState(Enum):
    """The profit zone; ``.value`` is the seed's lower-case word."""

    SURGING = "surging"
    STABLE = "stable"
    DRAWDOWN = "drawdown"
    VOLATILE = "volatile"
    UNKNOWN = "unknown"


# Enum members looked up once: a class attribute access on an Enum costs as much as a float division.
_SURGING, _STABLE, _DRAWDOWN, _VOLATILE, _UNKNOWN = (
    ZoneState.SURGING,
    ZoneState.STABLE,
    ZoneState.DRAWDOWN,
    ZoneState.VOLATILE,
    ZoneState.UNKNOWN,
)


@dataclass(frozen=True)
class ProfitVector:
    """The coprocessor's reading after an update (see the module docstring for each field)."""

    zone_state: ZoneState
    vector_strength: float
    slope: float
    coefficients: tuple[float, float, float, float]
    volatility: float
    n_points: int
    timestamp: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (``zone_state`` as its string value)."""
        data = asdict(self)
        data["zone_state"] = self.zone_state.value
        data["coefficients"] = list(self.coefficients)
        return data


def _as_seconds(timestamp: float | dt.datetime) -> float:
    if isinstance(timestamp, dt.datetime):
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=dt.UTC)  # naive times are UTC, as everywhere in Tengri
        return timestamp.timestamp()
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        raise InvalidInputError(f"timestamp must be seconds since the epoch or a datetime, got {timestamp!r}")
    return float(timestamp)


class ProfitTrajectoryCoprocessor:
    """Track cumulative profit and classify its momentum; thread-safe.

    Parameters
    ----------
    config
        Settings: ``engine.profit_window_size``, the ``profit`` section, and the ``thermal``
        section for :meth:`drift_coefficient`. Default: the built-in defaults (no environment read).
    store
        Where the window persists (``profit_points`` table). ``None`` keeps it in memory only.
    clock
        Time of an update given no timestamp (default :class:`SystemClock`).
    window_size
        Overrides ``engine.profit_window_size``.
    stream
        Name of this coprocessor's series in the store.
    """

    def __init__(
        self,
        config: TengriConfig | None = None,
        *,
        store: MemoryMap | None = None,
        clock: Clock | None = None,
        window_size: int | None = None,
        stream: str = "profit",
    ) -> None:
        self.settings: ProfitConfig = config.profit if config is not None else ProfitConfig()
        self.thermal_settings: ThermalConfig = config.thermal if config is not None else ThermalConfig()
        engine = config.engine if config is not None else EngineConfig()
        self.window_size = window_size if window_size is not None else engine.profit_window_size
        if self.window_size < 4:
            raise InvalidInputError(f"window_size must be at least 4, got {self.window_size}")
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.stream = stream
        self._lock = threading.RLock()
        self._fit = IncrementalCubicFit(self.window_size, self.settings.rebase_interval)
        if store is not None:
            self._fit.load(store.profit_points(stream, limit=self.window_size))
        self._last = self._vector(self._fit.solve(), self._timestamp())

    # -- reading ------------------------------------------------------------------------------

    @property
    def last_vector(self) -> ProfitVector:
        """The vector of the current window (after the last update or restore)."""
        return self._last  # replaced whole by each update: one read needs no lock

    @property
    def n_points(self) -> int:
        """Points in the window."""
        with self._lock:
            return self._fit.n

    @property
    def average_profit(self) -> float:
        """P_avg: the mean of the window's profit values (0 when empty)."""
        with self._lock:
            return self._fit.mean

    @property
    def newest_time(self) -> float | None:
        """The time of the window's newest point (None when empty)."""
        return self._fit.newest_time

    def window(self) -> list[tuple[float, float]]:
        """Return the window's (time, profit) points, oldest first."""
        with self._lock:
            times, values = self._fit.points()
        return [(float(t), float(v)) for t, v in zip(times, values, strict=True)]

    def drift_coefficient(self, temperature: float) -> float:
        """Return D_thermal at ``temperature`` °C with this window's P_avg (DESIGN.md, Thermal zones)."""
        if not math.isfinite(temperature):
            raise InvalidInputError(f"temperature must be finite, got {temperature!r}")
        return drift_coefficient(temperature, self.average_profit, self.thermal_settings)

    def status(self) -> dict[str, Any]:
        """Return a JSON-ready summary of the current state."""
        with self._lock:
            vector = self._last
            return {
                **vector.to_dict(),
                "window_size": self.window_size,
                "average_profit": self._fit.mean,
                "stream": self.stream,
                "persistent": self.store is not None,
            }

    # -- writing ------------------------------------------------------------------------------

    def reload(self, points: Sequence[tuple[float, float]]) -> ProfitVector:
        """Replace the window with ``points`` ``(time, value)``, oldest first, writing nothing.

        Crash recovery rewinds the window to a checkpoint, and adopts points already stored.
        """
        with self._lock:
            self._fit.load(list(points)[-self.window_size :])
            self._last = self._vector(self._fit.solve(), self._timestamp())
            return self._last

    def update(
        self, profit: float, timestamp: float | dt.datetime | None = None, *, persist: bool = True
    ) -> ProfitVector:
        """Add the cumulative profit at ``timestamp`` (default: the clock's now) and return the vector.

        Timestamps must strictly increase. A clock reading equal to the last point's time (two calls
        within the clock's resolution) is moved to the next representable instant; an explicit
        timestamp at or before it is rejected.

        Raises
        ------
        InvalidInputError
            If ``profit`` or ``timestamp`` is NaN or infinite, or the timestamp does not increase.
            The state is unchanged.
        StoreError
            If the point could not be persisted. The state is unchanged.

        ``persist=False`` adds a point that is already stored (crash recovery re-processing it).
        """
        # The common case (a float profit at a float time) takes the shortest path through here.
        if profit.__class__ is not float and (
            isinstance(profit, bool) or not isinstance(profit, int | float)
        ):
            raise InvalidInputError(f"profit must be a finite number, got {profit!r}")
        if not isfinite(profit) or abs(profit) > MAX_ABS_PROFIT:
            raise InvalidInputError(
                f"profit must be a finite number within ±{MAX_ABS_PROFIT:g}, got {profit!r}"
            )
        with self._lock:
            fit = self._fit
            newest = fit.newest_time
            if timestamp is None:
                t = self.clock.now()
                if t == newest:
                    t = math.nextafter(t, math.inf)
            elif timestamp.__class__ is float:
                t = timestamp
            else:
                t = _as_seconds(timestamp)
            if not isfinite(t) or abs(t) > MAX_ABS_TIME:
                raise InvalidInputError(
                    f"timestamp must be finite and within ±{MAX_ABS_TIME:g} s of the epoch, got {timestamp!r}"
                )
            if newest is not None and t <= newest:
                raise OutOfOrderError(
                    f"timestamps must increase: {t!r} is not after the last point's {newest!r}"
                )
            value = float(profit)
            if self.store is not None and persist:
                self.store.append_profit_point(self.stream, t, value)
            fit.push(t, value)
            self._last = vector = self._vector(fit.solve(), t)
            return vector

    def reset(self) -> None:
        """Empty the window (and its stored points)."""
        with self._lock:
            if self.store is not None:
                self.store.clear_profit_points(self.stream)
            self._fit.load([])
            self._last = self._vector(self._fit.solve(), None)

    # -- internals ----------------------------------------------------------------------------

    def _timestamp(self) -> float | None:
        return self._fit.newest_time

    def _vector(self, fit: CubicFit, timestamp: float | None) -> ProfitVector:
        coefficients, n, _, s, residual_std, _, _ = fit
        slope = coefficients[1]
        if s > 0.0:
            strength = logistic(slope / s)
            volatility = residual_std / s
        else:
            strength, volatility = 0.5, 0.0
        settings = self.settings
        if n < settings.min_points:
            zone = _UNKNOWN
        elif volatility > settings.volatility_threshold:
            zone = _VOLATILE
        elif strength > settings.surging_above:
            zone = _SURGING
        elif strength < settings.drawdown_below:
            zone = _DRAWDOWN
        else:
            zone = _STABLE
        # A frozen dataclass's __init__ sets each field through object.__setattr__; filling the new
        # instance's __dict__ directly gives the same object in a third of the time (every update).
        vector = object.__new__(ProfitVector)
        vector.__dict__.update(
            zone_state=zone,
            vector_strength=strength,
            slope=slope,
            coefficients=coefficients,
            volatility=volatility,
            n_points=n,
            timestamp=timestamp,
        )
        return vector
