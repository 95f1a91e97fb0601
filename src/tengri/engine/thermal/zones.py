"""Thermal zones and the drift coefficient: pure functions of a temperature (DESIGN.md, Thermal zones).

The hottest device sets the zone: the first zone of ``ThermalConfig.zones`` whose ``below_celsius``
the temperature is under (cool < 60 °C, normal < 70, warm < 80, hot < 90, else critical; a
temperature exactly on a bound belongs to the hotter zone). The two hottest zones of the
configuration (hot and critical by default) are the *throttling* zones: bursts are refused there
and the GPU load should be reduced.

``D_thermal = 1/(1 + e^(−((T − T₀) − α·P_avg)/κ))`` with T₀ = 70 °C, α = 0.5, κ = 1 by default:
each unit of average profit buys α degrees of headroom.
"""

from __future__ import annotations

import math

from tengri.config import ThermalConfig, ThermalZoneSpec

__all__ = ["THROTTLING_ZONE_COUNT", "classify", "drift_coefficient", "is_throttling", "logistic"]

#: How many of the hottest configured zones refuse bursts and call for less GPU load.
THROTTLING_ZONE_COUNT = 2


def logistic(x: float) -> float:
    """Return ``1/(1 + e^(−x))`` without overflow for any finite or infinite ``x``."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def classify(celsius: float, zones: tuple[ThermalZoneSpec, ...]) -> ThermalZoneSpec:
    """Return the zone of a temperature: the first whose ``below_celsius`` it is under."""
    for zone in zones:
        if zone.below_celsius is None or celsius < zone.below_celsius:
            return zone
    return zones[-1]


def is_throttling(zone: ThermalZoneSpec, zones: tuple[ThermalZoneSpec, ...]) -> bool:
    """Whether ``zone`` is one of the :data:`THROTTLING_ZONE_COUNT` hottest zones."""
    names = [z.name for z in zones[-THROTTLING_ZONE_COUNT:]]
    return zone.name in names


def drift_coefficient(celsius: float, profit_average: float, config: ThermalConfig) -> float:
    """Return D_thermal for a temperature and the profit window's mean.

    ``D = logistic(((T − T₀) − α·P_avg)/κ)`` with ``T₀ = config.nominal_temperature``,
    ``α = config.profit_heat_bias`` and ``κ = config.drift_scale`` (DESIGN.md, Thermal zones).
    """
    excess = (celsius - config.nominal_temperature) - config.profit_heat_bias * profit_average
    return logistic(excess / config.drift_scale)
