"""The predictor's settings: model variants by name and the training knobs, from ``TengriConfig.model``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

from tengri.errors import ConfigError
from tengri.models import EnhancedLSTMConfig

if TYPE_CHECKING:
    from tengri.config import TengriConfig

__all__ = ["DEFAULT_HIGHER_FACTORS", "VARIANTS", "PredictorSettings"]

DEFAULT_HIGHER_FACTORS: Final = (4, 8)
"""Higher timeframes of the predictor's features: a warm-up of 271 bars (34·8 − 1).

``tengri.features``' default (4, 24) needs 815 bars of warm-up, over a third of the 2,148 daily
GOOG bars; 4× and 8× keep a second and third timeframe (H4 and H8 for hourly bars, about a week
and two for daily bars) at a third of that cost.
"""

VARIANTS: Final[dict[str, dict[str, bool]]] = {
    "lstm": {"use_biological_activation": False, "use_advanced_attention": False, "use_quantum": False},
    "lstm+lif": {"use_biological_activation": True, "use_advanced_attention": False, "use_quantum": False},
    "lstm+attention": {
        "use_biological_activation": False,
        "use_advanced_attention": True,
        "use_quantum": False,
    },
    "enhanced": {"use_biological_activation": True, "use_advanced_attention": True, "use_quantum": False},
    "qlstm": {"use_biological_activation": False, "use_advanced_attention": False, "use_quantum": True},
    "enhanced+qattention": {
        "use_biological_activation": True,
        "use_advanced_attention": True,
        "use_quantum": False,
        "use_quantum_attention": True,
    },
    "enhanced+qmemory": {
        "use_biological_activation": True,
        "use_advanced_attention": True,
        "use_quantum": False,
        "use_quantum_memory": True,
    },
}
"""Model names the predictor accepts: the ablation ladder from a plain LSTM to the enhanced model."""


@dataclass(frozen=True)
class PredictorSettings:
    """Everything :class:`~tengri.predict.LSTMTradingPredictor` needs besides the data.

    Attributes
    ----------
    model
        Network settings; ``input_size`` is replaced by the feature count at fit time.
    variant
        The model's name (a key of :data:`VARIANTS`, or ``"config"`` for the config's own flags).
    epochs, learning_rate, patience
        Training: at most ``epochs`` passes, Adam, stop after ``patience`` epochs without a
        better validation loss (the best weights are kept).
    segments
        Contiguous training segments streamed side by side (the batch of truncated
        back-propagation through time).
    validation_fraction
        Share of the labelled bars, at the end, held out for early stopping and calibration.
    horizon
        Label horizon in bars; the gap between training and validation bars equals it.
    higher_factors
        Feature timeframes (see :data:`DEFAULT_HIGHER_FACTORS`).
    train_fraction
        Share of a series :meth:`~tengri.predict.LSTMTradingPredictor.predict` fits on when the
        predictor was not fitted.
    torch_threads
        Intra-op threads while training and predicting.
    """

    model: EnhancedLSTMConfig = field(default_factory=EnhancedLSTMConfig)
    variant: str = "enhanced"
    epochs: int = 30
    learning_rate: float = 1e-3
    patience: int = 5
    segments: int = 8
    validation_fraction: float = 0.2
    horizon: int = 1
    higher_factors: tuple[int, ...] = DEFAULT_HIGHER_FACTORS
    train_fraction: float = 0.5
    torch_threads: int = 1

    @classmethod
    def from_config(cls, config: TengriConfig, model: str | None = None) -> PredictorSettings:
        """Build the settings from ``config.model`` and ``config.seed``; ``model`` names a variant.

        Raises
        ------
        ConfigError
            If the model name is unknown or ``config.model.kind`` is ``"none"``.
        """
        section = config.model
        name = model if model is not None else _variant_of_kind(section.kind)
        if name == "config":
            flags = {
                "use_biological_activation": section.use_biological_activation,
                "use_advanced_attention": section.use_advanced_attention,
                "use_quantum": section.use_quantum,
                "use_quantum_attention": section.use_quantum_attention,
                "use_quantum_memory": section.use_quantum_memory,
            }
        elif name in VARIANTS:
            flags = VARIANTS[name]
        else:
            raise ConfigError(f"model: unknown model {name!r}; choose one of {', '.join(VARIANTS)}")
        hidden = section.hidden_size
        heads = section.num_heads if hidden % section.num_heads == 0 else 1
        network = EnhancedLSTMConfig(
            input_size=section.input_size,
            hidden_size=hidden,
            # The QLSTM takes one timeframe; every other model honours the setting.
            use_multi_timeframe=section.use_multi_timeframe and not flags["use_quantum"],
            num_layers=section.num_layers,
            dropout=section.dropout,
            num_heads=heads,
            memory_slots=section.memory_slots,
            seed=config.seed,
            seq_len=section.seq_len,
            n_qubits=section.n_qubits,
            n_qlayers=section.n_qlayers,
            quantum_backend=section.quantum_backend,
            quantum_device=tuple(section.quantum_device),
            use_biological_activation=flags["use_biological_activation"],
            use_advanced_attention=flags["use_advanced_attention"],
            use_quantum=flags["use_quantum"],
            use_quantum_attention=flags.get("use_quantum_attention", False),
            use_quantum_memory=flags.get("use_quantum_memory", False),
            quantum_attention_shots=section.quantum_attention_shots,
            quantum_memory_noise=section.quantum_memory_noise,
            quantum_memory_noise_strength=section.quantum_memory_noise_strength,
            quantum_memory_code=section.quantum_memory_code,
        )
        return cls(
            model=network,
            variant=name,
            epochs=section.epochs,
            learning_rate=section.learning_rate,
            patience=section.patience,
            train_fraction=section.train_fraction,
            torch_threads=section.torch_threads,
        )

    def with_model(self, **changes: Any) -> PredictorSettings:
        """Return a copy whose network settings carry ``changes``."""
        return replace(self, model=replace(self.model, **changes))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable form."""
        state = asdict(self)
        state["model"]["timeframes"] = list(self.model.timeframes)
        state["higher_factors"] = list(self.higher_factors)
        return state

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> PredictorSettings:
        """Rebuild from :meth:`to_dict`'s output."""
        values = dict(state)
        model = dict(values.pop("model"))
        model["timeframes"] = tuple(model["timeframes"])
        values["higher_factors"] = tuple(values["higher_factors"])
        return cls(model=EnhancedLSTMConfig(**model), **values)


def _variant_of_kind(kind: str) -> str:
    if kind == "none":
        raise ConfigError("model.kind is 'none': no predictor is configured")
    return {"enhanced": "config", "lstm": "lstm", "qlstm": "qlstm"}.get(kind, "config")
