"""TengriConfig: seed defaults, TOML file, TENGRI_* variables, clear errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tengri.config import TengriConfig
from tengri.errors import ConfigError


def test_defaults_are_the_seeds() -> None:
    config = TengriConfig.load()
    engine = config.engine
    # The engine seed's "Default Configuration" dictionary.
    assert engine.profit_window_size == 10_000
    assert engine.thermal_monitoring_interval == 30.0
    assert engine.system_monitoring_interval == 60.0
    assert engine.default_agent_id == "main_agent"
    assert engine.auto_register_triggers is True
    assert engine.enable_thermal_management is True
    assert engine.enable_profit_tracking is True
    assert engine.tick_processing_timeout == 5.0
    assert engine.strategy_execution_timeout == 30.0
    # The seed's thermal thresholds and allocations.
    zones = [(z.name, z.below_celsius, z.gpu_allocation) for z in config.thermal.zones]
    assert zones == [
        ("cool", 60.0, 0.7),
        ("normal", 70.0, 0.6),
        ("warm", 80.0, 0.4),
        ("hot", 90.0, 0.2),
        ("critical", None, 0.1),
    ]
    assert config.thermal.daily_budget_fraction == 0.10
    assert config.thermal.max_burst_seconds == 300.0
    assert config.thermal.cooldown_factor == 2.0
    assert config.store.memory_limit_mb == 100.0
    # The LSTM seed's working configuration.
    model = config.model
    assert (model.input_size, model.hidden_size) == (50, 64)
    assert model.use_biological_activation is True
    assert model.use_multi_timeframe is False
    assert model.use_advanced_attention is True
    assert model.use_quantum is False


def test_toml_file_then_environment_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "tengri.toml"
    path.write_text("seed = 7\n[engine]\nprofit_window_size = 700\ntick_processing_timeout = 2.5\n")
    monkeypatch.setenv("TENGRI_ENGINE__PROFIT_WINDOW_SIZE", "500")
    config = TengriConfig.load(path)
    assert config.seed == 7
    assert config.engine.tick_processing_timeout == 2.5
    assert config.engine.profit_window_size == 500  # the environment beats the file


def test_data_dir_locates_store_backups_models_reports(tmp_path: Path) -> None:
    config = TengriConfig.load(data_dir=tmp_path / "d")
    assert config.store_url == f"sqlite:///{(tmp_path / 'd' / 'tengri.db').as_posix()}"
    assert config.backups_dir == tmp_path / "d" / "backups"
    assert config.models_dir == tmp_path / "d" / "models"
    assert config.reports_dir == tmp_path / "d" / "reports"


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[engine]\nprofit_window_size = -5\n", "engine.profit_window_size"),
        ("[engine]\nbogus = 1\n", "engine.bogus"),
        ("[thermal]\ndaily_budget_fraction = 2.0\n", "thermal.daily_budget_fraction"),
        ("[api]\nport = 'eighty'\n", "api.port"),
        ("seed = -1\n", "seed"),
    ],
)
def test_bad_value_names_the_key(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        TengriConfig.load(path)


def test_bad_environment_value_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENGRI_TRADING__COMMISSION", "-1")
    with pytest.raises(ConfigError, match=r"trading\.commission"):
        TengriConfig.load()


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        TengriConfig.load(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[engine\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        TengriConfig.load(broken)


def test_token_is_secret_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENGRI_API__TOKEN", "hunter2-secret")
    config = TengriConfig.load()
    assert config.api.token is not None
    assert config.api.token.get_secret_value() == "hunter2-secret"
    assert "hunter2-secret" not in repr(config)
    assert "hunter2-secret" not in str(config.model_dump())


def test_frozen_and_overrides_revalidate() -> None:
    config = TengriConfig.load()
    with pytest.raises(Exception, match="frozen"):
        config.engine.profit_window_size = 5  # type: ignore[misc]
    changed = config.with_overrides(trading={"commission": 0.002})
    assert changed.trading.commission == 0.002
    assert changed.trading.cash == config.trading.cash
    with pytest.raises(ConfigError, match=r"trading\.commission"):
        config.with_overrides(trading={"commission": -0.5})


def test_zones_must_ascend(tmp_path: Path) -> None:
    path = tmp_path / "zones.toml"
    path.write_text(
        "[[thermal.zones]]\nname='a'\nbelow_celsius=70\ngpu_allocation=0.5\n"
        "[[thermal.zones]]\nname='b'\nbelow_celsius=60\ngpu_allocation=0.4\n"
        "[[thermal.zones]]\nname='c'\ngpu_allocation=0.1\nbelow_celsius=nan\n"
    )
    with pytest.raises(ConfigError, match="thermal"):
        TengriConfig.load(path)


def test_toml_round_trip_and_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENGRI_API_TOKEN", "s3cr3t-token")
    config = TengriConfig.load(seed=9)
    text = config.to_toml()
    assert "s3cr3t-token" not in text
    path = tmp_path / "round.toml"
    path.write_text(text)
    assert TengriConfig.load(path) == config  # the token comes back from the environment


def test_tengri_api_token_alias_is_below_the_nested_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENGRI_API_TOKEN", "alias")
    assert TengriConfig.load().api.token is not None
    assert TengriConfig.load().api.token.get_secret_value() == "alias"  # type: ignore[union-attr]
    monkeypatch.setenv("TENGRI_API__TOKEN", "nested")
    assert TengriConfig.load().api.token.get_secret_value() == "nested"  # type: ignore[union-attr]


def test_a_copy_with_overrides_is_its_values_not_the_environment_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """with_overrides keeps what the environment set at load and does not read it again."""
    monkeypatch.setenv("TENGRI_ENGINE__DEFENSIVE_MARGIN", "0.3")
    loaded = TengriConfig.load()
    monkeypatch.setenv("TENGRI_ENGINE__DEFENSIVE_MARGIN", "0.4")
    monkeypatch.setenv("TENGRI_TRADING__COMMISSION", "0.01")
    copy = loaded.with_overrides(trading={"cash": 5_000.0})
    assert copy.engine.defensive_margin == 0.3
    assert copy.trading.commission == loaded.trading.commission
    assert copy.trading.cash == 5_000.0
    assert "commission" not in copy.trading.model_fields_set
    assert TengriConfig.load().engine.defensive_margin == 0.4  # a new load reads it
