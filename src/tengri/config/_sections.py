"""The sections of Tengri's configuration: frozen models that reject unknown keys, with the seeds' defaults.

The ``engine`` section holds the seed's "Default Configuration" dictionary under the seed's own
names; the ``thermal`` section the seed's thermal thresholds; the ``model`` section the LSTM seed's
"Working Configuration". :class:`tengri.config.TengriConfig` gathers them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = [
    "AgentConfig",
    "ApiConfig",
    "EngineConfig",
    "ModelConfig",
    "ProfitConfig",
    "ReportConfig",
    "RiskConfig",
    "StoreConfig",
    "ThermalConfig",
    "ThermalZoneSpec",
    "TradingConfig",
    "TriggerConfig",
]


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
    max_wait_seconds: float = Field(
        900.0,
        ge=0,
        description="Longest train, tune or evaluate waits for a refused burst before giving up.",
    )
    gpu_min_allocation: float = Field(
        0.3, ge=0, le=1, description="GPU inference only at this allocation or more."
    )
    ambient_celsius: float = Field(35.0, description="Ambient temperature of the estimating thermal model.")
    model_time_constant: float = Field(60.0, gt=0, description="Seconds; first-order thermal model.")
    model_celsius_per_load: float = Field(
        40.0,
        ge=0,
        description=(
            "Steady-state rise at full load: 35 + 40 = 75 °C, warm (an estimate never stops work on"
            " load alone); 45 or more makes sustained full load reach hot."
        ),
    )
    sensor_files: tuple[str, ...] = Field(
        (),
        description="Files each holding one temperature (millidegrees or °C); set, they replace the sensors.",
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
    share_evidence: bool = Field(
        True,
        description=(
            "Whether a strategy's outcomes on one symbol count as evidence on every symbol it trades; "
            "false keys the agent's evidence (and the strategy id) by symbol: <strategy>@<symbol>."
        ),
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
    stop_loss: float | None = Field(
        None, gt=0, lt=1, description="Stop this fraction from the entry, hit inside a bar; None disables."
    )
    take_profit: float | None = Field(
        None, gt=0, description="Target this fraction from the entry, hit inside a bar; None disables."
    )
    min_confidence: float = Field(0.5, ge=0, le=1, description="Agent confidence an entry needs.")
    explore_outcomes: int = Field(
        10, ge=0, description="Outcomes a strategy needs before the confidence gate applies (exploration)."
    )
    trade_patterns: bool = Field(True, description="Take entries from pattern triggers.")
    sizing: Literal["fixed_fraction", "volatility", "kelly"] = Field(
        "fixed_fraction",
        description=(
            "How an entry without its own size is sized: an equal share of position_fraction, the size "
            "whose one-ATR move costs volatility_target of equity, or a capped Kelly fraction of C_final."
        ),
    )
    volatility_target: float = Field(
        0.01, gt=0, le=1, description="Sizing 'volatility': share of equity a one-ATR move may cost."
    )
    atr_period: int = Field(14, ge=1, le=1000, description="Sizing 'volatility': bars of Wilder's ATR.")
    kelly_cap: float = Field(
        0.25, gt=0, le=1, description="Sizing 'kelly': the largest Kelly fraction 2·C_final − 1 used."
    )
    leverage: float = Field(
        1.0, ge=1, le=100, description="Positions may be worth this multiple of the sizing equity."
    )
    maintenance_margin: float = Field(
        0.0,
        ge=0,
        lt=1,
        description=(
            "Equity below this fraction of the open positions' value is a margin call (everything "
            "closes, trading stops); at 0 the call comes at equity <= 0."
        ),
    )
    max_notional: float | None = Field(
        None,
        gt=0,
        le=1e11,
        description=(
            "Largest value of one position, at entry and at exit (a move beyond it closes at the cap); "
            "default 100 × cash, at most 1e11."
        ),
    )

    @property
    def notional_cap(self) -> float:
        """``max_notional``, or 100 times the initial cash (at most 1e11) when it is not set."""
        return self.max_notional if self.max_notional is not None else min(100.0 * self.cash, 1e11)


class RiskConfig(_Section):
    """Risk limits of the account (see :mod:`tengri.engine.risk`); each is off when unset."""

    max_drawdown_pct: float | None = Field(
        None,
        gt=0,
        le=100,
        description="Kill switch: equity this % below its peak closes all, no more entries.",
    )
    max_daily_loss_pct: float | None = Field(
        None,
        gt=0,
        le=100,
        description="Equity this % below the last UTC day's end: no entries until the next.",
    )
    max_gross_exposure: float | None = Field(
        None, gt=0, description="Open positions' value at most this multiple of equity (entries are cut)."
    )
    max_position_fraction: float | None = Field(
        None,
        gt=0,
        description="One symbol's positions worth at most this fraction of equity (entries are cut).",
    )


class ReportConfig(_Section):
    """How a run's statistics are defined (see :func:`tengri.report.compute_statistics`)."""

    stats_convention: Literal["tengri", "backtesting.py"] = Field(
        "tengri",
        description=(
            "Tengri's per-bar Sharpe and Sortino, profit factor in currency, buy-and-hold from bar 0; "
            "or backtesting.py's compute_stats (daily geometric returns, returns-based profit factor)."
        ),
    )


class ModelConfig(_Section):
    """The LSTM seed's "Working Configuration", plus training settings."""

    kind: Literal["enhanced", "lstm", "qlstm", "none"] = "enhanced"
    input_size: int = Field(50, ge=1)
    hidden_size: int = Field(64, ge=1)
    use_biological_activation: bool = True
    use_multi_timeframe: bool = False
    use_advanced_attention: bool = True
    use_quantum: bool = False
    use_quantum_attention: bool = Field(False, description="Attention scores from a quantum fidelity kernel.")
    quantum_attention_shots: int = Field(0, ge=0, description="Swap-test shots per score; 0: exact fidelity.")
    use_quantum_memory: bool = Field(
        False, description="Memory slots as learned quantum states, read by fidelity."
    )
    quantum_memory_noise: Literal["none", "bit_flip", "phase_flip", "depolarizing", "amplitude_damping"] = (
        Field(
            "none",
            description="Storage noise of the quantum memory's slots (PennyLane default.mixed channels).",
        )
    )
    quantum_memory_noise_strength: float = Field(
        0.0, ge=0, le=1, description="Its strength p per stored qubit."
    )
    quantum_memory_code: bool = Field(
        False, description="Protect each stored qubit with a 3-qubit repetition code."
    )
    num_layers: int = Field(1, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    num_heads: int = Field(4, ge=1)
    memory_slots: int = Field(8, ge=0)
    n_qubits: int = Field(4, ge=1, le=12)
    n_qlayers: int = Field(1, ge=1)
    quantum_backend: Literal["torch", "pennylane"] = Field(
        "torch", description="QLSTM circuits: torch runs Tengri's fused simulator, pennylane the device list."
    )
    quantum_device: list[str] = Field(
        ["lightning.gpu", "lightning.kokkos", "lightning.qubit", "default.qubit", "tengri.fused"],
        min_length=1,
        description="Devices tried in order by the pennylane backend; tengri.fused: the fused simulator.",
    )
    seq_len: int = Field(60, ge=2)
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    patience: int = Field(5, ge=1)
    train_fraction: float = Field(0.5, gt=0, lt=1, description="Share of a replay used to fit the predictor.")
    retrain_every: int = Field(0, ge=0, description="Bars between retrains in a replay; 0 never retrains.")
    torch_threads: int = Field(1, ge=1, description="Intra-op threads; 1 suits small recurrent steps.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto",
        description="auto: CUDA where present and the thermal zone allows it, else CPU; cuda needs a GPU.",
    )


class StoreConfig(_Section):
    """Memory map (DESIGN.md, Memory map)."""

    url: str | None = Field(None, description="SQLAlchemy URL; default SQLite file under the data directory.")
    memory_limit_mb: float = Field(100.0, gt=0)
    backup_keep: int = Field(5, ge=1)
    backup_interval_hours: float = Field(
        6.0, gt=0, description="Hours between automatic backups of a running engine's SQLite store."
    )
    retention_days: float = Field(30.0, gt=0, description="Closed-execution detail kept at least this long.")
    synchronous: Literal["full", "normal"] = Field(
        "full",
        description="SQLite fsync per commit (full), or per WAL checkpoint (normal: kill -9 safe only).",
    )
    replay_synchronous: Literal["full", "normal"] = Field(
        "normal", description="The same for a replay's own store: a replay can be run again from its data."
    )
    replay_commit: Literal["checkpoint", "tick"] = Field(
        "checkpoint",
        description=(
            "A replay commits its store with each checkpoint (a kill loses the ticks since the last "
            "one, which --resume re-processes) or after every tick, as live processing does."
        ),
    )


class ApiConfig(_Section):
    """REST gateway and ``tengri serve``."""

    host: str = "127.0.0.1"
    port: int = Field(5000, ge=1, le=65535)
    threads: int = Field(8, ge=1, le=256)
    token: SecretStr | None = Field(
        None,
        description="Bearer token (environment: TENGRI_API_TOKEN); never logged or shown.",
    )
    protect_reads: bool | None = Field(
        None,
        description=(
            "Require the token on every route but /health (which then shows only its status); "
            "default: true whenever a token is set."
        ),
    )
    allowed_hosts: tuple[str, ...] = Field(
        (),
        description=(
            "Host header names accepted besides the loopback names and the bind address; "
            '"*" accepts any (behind a reverse proxy that checks it).'
        ),
    )
    allowed_origins: tuple[str, ...] = Field(
        (),
        description="Origins (scheme://host:port) whose cross-site writes are accepted (same-origin always).",
    )
    max_content_length: int = Field(
        64 * 1024, ge=1024, le=64 * 1024 * 1024, description="Largest request body, bytes (refused unread)."
    )
    connection_limit: int = Field(
        500, ge=10, le=4000, description="Open connections at once; further ones wait in the listen backlog."
    )
    request_timeout: int = Field(
        10, ge=1, le=600, description="Seconds a request's headers and body may take to arrive."
    )
    idle_timeout: int = Field(
        30, ge=1, le=3600, description="Seconds a keep-alive connection may stay idle between requests."
    )
    max_clock_skew_seconds: float = Field(
        300.0, ge=0, le=86_400, description="How far ahead of the server clock a live timestamp may be."
    )
    max_agents: int = Field(
        1000, ge=1, le=1_000_000, description="Agents the gateway holds; creating more answers 409."
    )
    auth_failures_per_minute: int = Field(
        10, ge=1, le=10_000, description="Wrong tokens per client address per minute before 429."
    )

    @model_validator(mode="after")
    def _reads_need_a_token(self) -> ApiConfig:
        if self.protect_reads and self.token is None:
            raise ValueError("protect_reads needs a token (api.token or TENGRI_API_TOKEN)")
        return self
