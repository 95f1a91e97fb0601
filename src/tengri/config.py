"""The one configuration object of Tengri: defaults from the seeds, a TOML file, ``TENGRI_*`` variables.

Precedence, highest first: keyword arguments to :meth:`TengriConfig.load`, ``TENGRI_*``
environment variables (nested keys joined with ``__``, e.g. ``TENGRI_ENGINE__PROFIT_WINDOW_SIZE``),
the TOML file given with ``--config``, then the defaults below. Every section is frozen and rejects
unknown keys; a bad value raises :class:`tengri.errors.ConfigError` naming the key.

The ``engine`` section holds the seed's "Default Configuration" dictionary under the seed's own
names; the ``thermal`` section the seed's thermal thresholds; the ``model`` section the LSTM seed's
"Working Configuration".
"""

from __future__ import annotations

import contextvars
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tengri.errors import ConfigError

__all__ = [
    "AgentConfig",
    "ApiConfig",
    "EngineConfig",
    "ModelConfig",
    "ProfitConfig",
    "StoreConfig",
    "TengriConfig",
    "ThermalConfig",
    "ThermalZoneSpec",
    "TradingConfig",
    "TriggerConfig",
]

_TOML_PATH: contextvars.ContextVar[Path | None] = contextvars.ContextVar("tengri_toml_path", default=None)


class _Section(BaseModel):
    """A frozen configuration section that rejects unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class EngineConfig(_Section):
    """The engine seed's "Default Configuration" dictionary, with the seed's names and values."""

    profit_window_size: int = Field(10_000, gt=3, le=10_000_000, description="Points in the profit window.")
    thermal_monitoring_interval: float = Field(30.0, gt=0, description="Seconds between thermal reads.")
    system_monitoring_interval: float = Field(60.0, gt=0, description="Seconds between statistics logs.")
    memory_cleanup_interval: float = Field(3600.0, gt=0, description="Seconds between store cleanups.")
    default_agent_id: str = Field("main_agent", min_length=1, max_length=128)
    auto_register_triggers: bool = True
    enable_thermal_management: bool = True
    enable_profit_tracking: bool = True
    tick_processing_timeout: float = Field(
        5.0, gt=0, description="Seconds a tick may take before health degrades."
    )
    strategy_execution_timeout: float = Field(
        30.0, gt=0, description="Seconds a live execution may stay open before it closes as expired."
    )
    defensive_margin: float = Field(
        0.1, ge=0, le=1, description="Extra confidence an entry needs in a drawdown or volatile profit zone."
    )
    checkpoint_interval: int = Field(
        1_000, ge=1, description="Ticks between checkpoints of the engine's learnt state."
    )
    symbols: tuple[str, ...] = Field(
        (), description="Symbols the orchestrator accepts; empty accepts any symbol name."
    )


class ProfitConfig(_Section):
    """Profit trajectory coprocessor (DESIGN.md, Profit trajectory)."""

    min_points: int = Field(10, ge=4, description="Points below which the zone is 'unknown'.")
    volatility_threshold: float = Field(
        1.0, gt=0, description="Residual std over profit std above which the zone is 'volatile'."
    )
    surging_above: float = Field(0.6, gt=0.5, lt=1)
    drawdown_below: float = Field(0.4, gt=0, lt=0.5)
    rebase_interval: int = Field(1_000, ge=1, description="Updates between exact re-bases of the power sums.")


class ThermalZoneSpec(_Section):
    """One thermal zone: its name, the temperature it starts being exceeded at, its GPU allocation."""

    name: str
    below_celsius: float | None = Field(None, description="Upper bound of the zone; None for the last zone.")
    gpu_allocation: float = Field(ge=0, le=1)


_DEFAULT_ZONES: tuple[ThermalZoneSpec, ...] = (
    ThermalZoneSpec(name="cool", below_celsius=60.0, gpu_allocation=0.7),
    ThermalZoneSpec(name="normal", below_celsius=70.0, gpu_allocation=0.6),
    ThermalZoneSpec(name="warm", below_celsius=80.0, gpu_allocation=0.4),
    ThermalZoneSpec(name="hot", below_celsius=90.0, gpu_allocation=0.2),
    ThermalZoneSpec(name="critical", below_celsius=None, gpu_allocation=0.1),
)


class ThermalConfig(_Section):
    """Thermal zone manager (DESIGN.md, Thermal zones); the zones are the seed's thresholds."""

    zones: tuple[ThermalZoneSpec, ...] = _DEFAULT_ZONES
    nominal_temperature: float = Field(70.0, description="T0 of D_thermal, degrees Celsius.")
    profit_heat_bias: float = Field(
        0.5, ge=0, description="alpha of D_thermal: degrees of headroom per unit profit."
    )
    drift_scale: float = Field(1.0, gt=0, description="kappa of D_thermal, degrees Celsius.")
    daily_budget_fraction: float = Field(0.10, gt=0, le=1, description="Share of 24 h available for bursts.")
    max_burst_seconds: float = Field(300.0, gt=0)
    cooldown_factor: float = Field(2.0, ge=0, description="Cooldown is this times the burst's length.")
    gpu_min_allocation: float = Field(
        0.3, ge=0, le=1, description="GPU inference only at this allocation or more."
    )
    ambient_celsius: float = Field(35.0, description="Ambient temperature of the estimating thermal model.")
    model_time_constant: float = Field(60.0, gt=0, description="Seconds; first-order thermal model.")
    model_celsius_per_load: float = Field(
        40.0,
        ge=0,
        description="Steady-state rise at full load (35 + 40 = 75 °C, warm: bursts still allowed).",
    )

    @model_validator(mode="after")
    def _zones_ascend(self) -> ThermalConfig:
        bounds = [z.below_celsius for z in self.zones]
        if not bounds or bounds[-1] is not None or any(b is None for b in bounds[:-1]):
            raise ValueError("zones: every zone but the last needs below_celsius; the last has none")
        finite = [b for b in bounds[:-1] if b is not None]
        if finite != sorted(finite) or len(set(finite)) != len(finite):
            raise ValueError("zones: below_celsius must strictly increase")
        return self


class TriggerConfig(_Section):
    """Hash trigger engine (DESIGN.md, Pattern hash and Triggers)."""

    ewma_span: int = Field(20, ge=2, description="Span of the EWMA volatility that quantises returns.")
    auto_register_min_count: int = Field(30, ge=2)
    auto_register_mask: int = Field(0x00FF, ge=1, le=0xFFFF, description="Mask of auto-registered triggers.")
    auto_register_t_stat: float = Field(2.0, gt=0)
    dormant_threshold: float = Field(0.35, ge=0, le=1)
    dormant_min_samples: int = Field(10, ge=1)
    dormant_ticks: int = Field(500, ge=1)
    collapse_min_samples: int = Field(30, ge=1)


class AgentConfig(_Section):
    """Memory agent confidence (DESIGN.md, Memory agent)."""

    min_context_samples: int = Field(5, ge=0, description="Back off to all contexts below this count.")
    similarity_k: float = Field(10.0, gt=0, description="k of w_pattern = n / (n + k).")
    decay_tau: float = Field(7 * 86_400.0, gt=0, description="tau of the decay, seconds.")
    context_fields: tuple[Literal["thermal_state", "profit_zone"], ...] = Field(
        ("thermal_state", "profit_zone"),
        description="Context parts that split C_base; a replay drops thermal_state for determinism.",
    )


class TradingConfig(_Section):
    """Paper trading: sizing, costs, fills and exits (see :mod:`tengri.engine.desk`)."""

    cash: float = Field(10_000.0, gt=0)
    commission: float = Field(0.0002, ge=0, lt=0.1, description="Fraction of traded value per fill.")
    slippage: float = Field(0.0001, ge=0, lt=0.1, description="Fraction of price lost per fill.")
    position_fraction: float = Field(1.0, gt=0, le=1, description="Share of equity all positions may use.")
    max_open_executions: int = Field(
        4, ge=1, le=1000, description="Open executions at once; each gets an equal share of the equity."
    )
    whole_units: bool = Field(False, description="Size positions in whole units (shares).")
    fill_policy: Literal["next_tick", "this_tick"] = Field(
        "next_tick", description="Fill decisions at the next tick's open, or at once at this tick's price."
    )
    holding_bars: int | None = Field(
        24, ge=1, description="Ticks an execution is held; None holds until exit."
    )
    stop_loss: float | None = Field(None, gt=0, lt=1, description="Fractional stop; None disables.")
    take_profit: float | None = Field(None, gt=0, description="Fractional target; None disables.")
    min_confidence: float = Field(0.5, ge=0, le=1, description="Agent confidence an entry needs.")
    explore_outcomes: int = Field(
        10, ge=0, description="Outcomes a strategy needs before the confidence gate applies (exploration)."
    )
    trade_patterns: bool = Field(True, description="Take entries from pattern triggers.")


class ModelConfig(_Section):
    """The LSTM seed's "Working Configuration", plus training settings."""

    kind: Literal["enhanced", "lstm", "qlstm", "none"] = "enhanced"
    input_size: int = Field(50, ge=1)
    hidden_size: int = Field(64, ge=1)
    use_biological_activation: bool = True
    use_multi_timeframe: bool = False
    use_advanced_attention: bool = True
    use_quantum: bool = False
    num_layers: int = Field(1, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    num_heads: int = Field(4, ge=1)
    memory_slots: int = Field(8, ge=0)
    n_qubits: int = Field(4, ge=1, le=12)
    n_qlayers: int = Field(1, ge=1)
    seq_len: int = Field(60, ge=2)
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    patience: int = Field(5, ge=1)
    train_fraction: float = Field(0.5, gt=0, lt=1, description="Share of a replay used to fit the predictor.")
    retrain_every: int = Field(0, ge=0, description="Bars between retrains in a replay; 0 never retrains.")
    torch_threads: int = Field(1, ge=1, description="Intra-op threads; 1 suits small recurrent steps.")


class StoreConfig(_Section):
    """Memory map (DESIGN.md, Memory map)."""

    url: str | None = Field(None, description="SQLAlchemy URL; default SQLite file under the data directory.")
    memory_limit_mb: float = Field(100.0, gt=0)
    backup_keep: int = Field(5, ge=1)
    retention_days: float = Field(30.0, gt=0, description="Closed-execution detail kept at least this long.")
    synchronous: Literal["full", "normal"] = Field(
        "full",
        description="SQLite fsync per commit (full), or per WAL checkpoint (normal: kill -9 safe only).",
    )
    replay_synchronous: Literal["full", "normal"] = Field(
        "normal", description="The same for a replay's own store: a replay can be run again from its data."
    )


class ApiConfig(_Section):
    """REST gateway and ``tengri serve``."""

    host: str = "127.0.0.1"
    port: int = Field(5000, ge=1, le=65535)
    threads: int = Field(8, ge=1, le=256)
    token: SecretStr | None = Field(
        None,
        description="Bearer token for mutating endpoints (also TENGRI_API_TOKEN); never logged or shown.",
    )
    max_content_length: int = Field(64 * 1024, ge=1024)


class _TokenAlias(PydanticBaseSettingsSource):
    """``TENGRI_API_TOKEN``, the documented name of the API token, under ``TENGRI_API__TOKEN``."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        token = os.environ.get("TENGRI_API_TOKEN")
        return {"api": {"token": token}} if token else {}


class TengriConfig(BaseSettings):
    """All of Tengri's settings; see the module docstring for precedence."""

    model_config = SettingsConfigDict(
        env_prefix="TENGRI_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
        validate_default=True,
        case_sensitive=False,
    )

    data_dir: Path = Field(Path("data"), description="Store, backups, models and reports live under here.")
    seed: int = Field(42, ge=0, description="Seed of every random source.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    engine: EngineConfig = EngineConfig()
    profit: ProfitConfig = ProfitConfig()
    thermal: ThermalConfig = ThermalConfig()
    triggers: TriggerConfig = TriggerConfig()
    agent: AgentConfig = AgentConfig()
    trading: TradingConfig = TradingConfig()
    model: ModelConfig = ModelConfig()
    store: StoreConfig = StoreConfig()
    api: ApiConfig = ApiConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the sources: arguments, environment, TOML file (no dotenv, no secrets dir)."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, _TokenAlias(settings_cls)]
        toml_path = _TOML_PATH.get()
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides: Any) -> TengriConfig:
        """Build the configuration from a TOML file, the environment and ``overrides``.

        Raises
        ------
        ConfigError
            If the file is missing or not TOML, or any value is invalid; the message names the key.
        """
        path = Path(config_file) if config_file is not None else None
        if path is not None:
            if not path.is_file():
                raise ConfigError(f"config file not found: {path}")
            try:
                with path.open("rb") as fh:
                    tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        token = _TOML_PATH.set(path)
        try:
            return cls(**overrides)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, source=path)) from None
        finally:
            _TOML_PATH.reset(token)

    def with_overrides(self, **sections: Mapping[str, Any] | Any) -> TengriConfig:
        """Return a copy with whole sections or top-level values replaced and re-validated.

        Only values set explicitly (arguments, file, environment, overrides) are carried over as
        set; the rest stay defaults, so ``model_fields_set`` still tells the two apart.
        """
        data = self.model_dump(exclude_unset=True)
        for key, value in sections.items():
            if isinstance(value, Mapping):
                data[key] = {**data.get(key, {}), **value}
            else:
                data[key] = value
        try:
            return TengriConfig.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc)) from None

    def to_toml(self, *, with_descriptions: bool = True) -> str:
        """Render the configuration as a TOML file ``--config`` accepts; secrets are left out.

        Keys whose value is ``None`` are written as comments (TOML has no null).
        """
        lines: list[str] = []
        top = self.model_dump(mode="json", exclude={"api": {"token"}})
        sections = {k: v for k, v in top.items() if isinstance(v, dict)}
        for key, value in top.items():
            if key not in sections:
                lines.append(_toml_line(key, value, _describe(type(self), key) if with_descriptions else ""))
        for name, values in sections.items():
            model = type(getattr(self, name))
            lines.append(f"\n[{name}]")
            tables = {k: v for k, v in values.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
            for key, value in values.items():
                if key not in tables:
                    lines.append(_toml_line(key, value, _describe(model, key) if with_descriptions else ""))
            for key, rows in tables.items():
                for row in rows:
                    lines.append(f"\n[[{name}.{key}]]")
                    lines.extend(_toml_line(k, v, "") for k, v in row.items())
        return "\n".join(lines).lstrip() + "\n"

    @property
    def store_url(self) -> str:
        """The SQLAlchemy URL of the memory map."""
        if self.store.url:
            return self.store.url
        return f"sqlite:///{(self.data_dir / 'tengri.db').as_posix()}"

    @property
    def backups_dir(self) -> Path:
        """Where online backups of the store go."""
        return self.data_dir / "backups"

    @property
    def models_dir(self) -> Path:
        """Where saved predictors go."""
        return self.data_dir / "models"

    @property
    def reports_dir(self) -> Path:
        """Where run reports go."""
        return self.data_dir / "reports"


def _describe(model: type[BaseModel], key: str) -> str:
    field = model.model_fields.get(key)
    return field.description or "" if field is not None else ""


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def _toml_line(key: str, value: Any, description: str) -> str:
    comment = f"  # {description}" if description else ""
    if value is None:
        return f"# {key} ={comment or '  # unset'}"
    return f"{key} = {_toml_value(value)}{comment}"


def describe_validation_error(exc: ValidationError, source: Path | None = None) -> str:
    """Turn a pydantic error into one line per bad key: ``key: problem (got value)``."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "<root>"
        got = err.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{key}: {err['msg']}{shown}")
    where = f" in {source}" if source is not None else ""
    return f"invalid configuration{where}: " + "; ".join(lines)
