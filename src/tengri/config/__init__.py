"""The one configuration object of Tengri: defaults from the seeds, a TOML file, ``TENGRI_*`` variables.

Precedence, highest first: keyword arguments to :meth:`TengriConfig.load`, ``TENGRI_*``
environment variables (nested keys joined with ``__``, e.g. ``TENGRI_ENGINE__PROFIT_WINDOW_SIZE``),
the TOML file given with ``--config``, then the defaults. Every section is frozen and rejects
unknown keys; a bad value raises :class:`tengri.errors.ConfigError` naming the key.

The sections and their defaults are in :mod:`tengri.config._sections`; :class:`TengriConfig`,
which gathers, loads and writes them, is in :mod:`tengri.config._settings`.
"""

from tengri.config._sections import (
    AgentConfig,
    ApiConfig,
    EngineConfig,
    ModelConfig,
    ProfitConfig,
    ReportConfig,
    RiskConfig,
    StoreConfig,
    ThermalConfig,
    ThermalZoneSpec,
    TradingConfig,
    TriggerConfig,
)
from tengri.config._settings import TengriConfig, describe_validation_error

__all__ = [
    "AgentConfig",
    "ApiConfig",
    "EngineConfig",
    "ModelConfig",
    "ProfitConfig",
    "ReportConfig",
    "RiskConfig",
    "StoreConfig",
    "TengriConfig",
    "ThermalConfig",
    "ThermalZoneSpec",
    "TradingConfig",
    "TriggerConfig",
    "describe_validation_error",
]
