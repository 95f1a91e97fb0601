"""TengriConfig: the sections together, read from arguments, ``TENGRI_*`` variables and a TOML file.

Also the way back: :meth:`TengriConfig.to_toml` writes the configuration as a file ``--config``
reads, and :func:`describe_validation_error` turns a pydantic error into a :class:`ConfigError`
message that names the bad key. Precedence is stated in :mod:`tengri.config`.
"""

from __future__ import annotations

import contextvars
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

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
    TradingConfig,
    TriggerConfig,
)
from tengri.errors import ConfigError

__all__ = ["TengriConfig", "describe_validation_error"]

_TOML_PATH: contextvars.ContextVar[Path | None] = contextvars.ContextVar("tengri_toml_path", default=None)
# Set while with_overrides validates a copy: its values are the data it was given, and nothing else.
_DATA_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("tengri_data_only", default=False)


class _TokenAlias(PydanticBaseSettingsSource):
    """``TENGRI_API_TOKEN``, the documented name of the API token, under ``TENGRI_API__TOKEN``."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        token = os.environ.get("TENGRI_API_TOKEN")
        return {"api": {"token": token}} if token else {}


class TengriConfig(BaseSettings):
    """All of Tengri's settings; see :mod:`tengri.config` for precedence."""

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
    risk: RiskConfig = RiskConfig()
    report: ReportConfig = ReportConfig()
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
        """Order the sources: arguments, environment, TOML file (no dotenv, no secrets dir).

        A copy (:meth:`with_overrides`) takes its values from its data alone: what the environment
        and the file set is in that data already.
        """
        if _DATA_ONLY.get():
            return (init_settings,)
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
        set; the rest stay defaults, so ``model_fields_set`` still tells the two apart. The
        environment and the file are not read again: the copy is this configuration's values and
        the overrides, whatever the environment says now.
        """
        data = self.model_dump(exclude_unset=True)
        for key, value in sections.items():
            if isinstance(value, Mapping):
                data[key] = {**data.get(key, {}), **value}
            else:
                data[key] = value
        token = _DATA_ONLY.set(True)
        try:
            return TengriConfig.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc)) from None
        finally:
            _DATA_ONLY.reset(token)

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
