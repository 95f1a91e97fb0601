"""The configuration of every Tengri model, and the typed output that every model returns.

``EnhancedLSTMConfig`` keeps the field names of the seed's "Working Configuration"
(``seeds/000_2f05fd04d58c6c5d.txt``) and takes that example's values as defaults, so that the
example runs unchanged; the fields the seed does not name are Tengri's own, with defaults
explained below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from tengri.errors import ModelError
from tengri.models.quantum_devices import DEFAULT_QUANTUM_DEVICES

__all__ = ["EnhancedLSTMConfig", "ModelOutput"]


class ModelOutput(NamedTuple):
    """What a model predicts for the last bar of its input.

    Attributes
    ----------
    predicted_return
        Next-bar return ``(B,)``, in the units of the training target.
    prob_up_logit
        Logit of the probability of an up move ``(B,)``; train it with
        ``binary_cross_entropy_with_logits``.
    hidden
        The features the heads read ``(B, D)``, for inspection and for downstream models.
    """

    predicted_return: Tensor
    prob_up_logit: Tensor
    hidden: Tensor | None

    @property
    def prob_up(self) -> Tensor:
        """Probability of an up move, ``σ(prob_up_logit)``."""
        return torch.sigmoid(self.prob_up_logit)


@dataclass(frozen=True)
class EnhancedLSTMConfig:
    """Configuration of :class:`~tengri.models.EnhancedLSTM` and :class:`~tengri.models.QLSTM`.

    Parameters
    ----------
    input_size
        Features per bar (seed: 50, "OHLCV + indicators").
    hidden_size
        LSTM and attention width (seed: 64). Ignored by the QLSTM, whose width is ``n_qubits``.
    use_biological_activation
        Add the leaky integrate-and-fire layer (seed: True).
    use_multi_timeframe
        Expect one sequence per entry of ``timeframes``, as a ``(B, K, T, F)`` tensor or a
        mapping ``{timeframe: (B, T, F)}`` (seed's working value: False).
    use_advanced_attention
        Add windowed causal attention with memory slots and a key/value cache (seed: True).
    use_quantum
        Build the QLSTM instead (seed: False). The QLSTM has no LIF or attention layer, so it
        ignores ``use_biological_activation`` and ``use_advanced_attention``.
    num_layers
        Stacked LSTM layers (1: the plain variant stays cheap).
    dropout
        Dropout between LSTM layers and before the heads while training (0.1).
    num_heads
        Attention heads; must divide ``hidden_size`` (4, heads of width 16 at the seed's size).
    memory_slots
        Learnable long-term memory entries every attention query sees (8).
    lif_beta, lif_threshold
        Membrane decay ``β`` and threshold ``θ`` of the LIF layer (0.9 and 1.0, snnTorch's
        tutorial values: a time constant of about 10 bars).
    timeframes
        Bar multiples of the base bar, one branch each, when ``use_multi_timeframe`` (1, 4, 16).
    seed
        Seeds the weight initialisation; the same seed gives the same weights (0).
    seq_len
        Attention window and streaming cache length in bars (60, the seed's ``predict`` window).
    n_qubits, n_qlayers
        Qubits and variational layers of each QLSTM circuit (4 and 1, as in Chen et al.).
    quantum_backend
        ``"torch"``: exact batched state vector in PyTorch; ``"pennylane"``: PennyLane QNodes.
    use_quantum_attention
        Score the attention layer's keys with a quantum kernel, the fidelity of query and key
        states (:mod:`tengri.models.quantum_attention`; ``n_qubits`` qubits and ``n_qlayers``
        layers per head) instead of ``q·k/√d``; implies the attention layer (False).
    quantum_attention_shots
        Score each key by a swap-test estimate from this many shots instead of the exact
        fidelity; 0: exact (0).
    use_quantum_memory
        Add a quantum memory read before the heads: ``memory_slots`` learned ``n_qubits``-qubit
        states read by fidelity with the hidden state's encoding
        (:mod:`tengri.models.quantum_memory`) (False).
    quantum_memory_noise, quantum_memory_noise_strength, quantum_memory_code
        Storage noise of the quantum memory's slots (``"none"``, ``"bit_flip"``,
        ``"phase_flip"``, ``"depolarizing"``, ``"amplitude_damping"``), its strength ``p`` in
        [0, 1], and whether a three-qubit repetition code protects each stored qubit
        ("none", 0.0, False).
    quantum_device
        For ``quantum_backend="pennylane"``: a PennyLane device name (``default.qubit``,
        ``lightning.qubit``, ``lightning.kokkos``, …) or a list tried in order, in which
        ``"tengri.fused"`` names the fused simulator (default:
        :data:`~tengri.models.quantum_devices.DEFAULT_QUANTUM_DEVICES`, GPU → CPU → default →
        fused). A device that is missing or fails to start is skipped and logged; the model's
        ``quantum_device`` attribute says which one runs.
    """

    input_size: int = 50
    hidden_size: int = 64
    use_biological_activation: bool = True
    use_multi_timeframe: bool = False
    use_advanced_attention: bool = True
    use_quantum: bool = False
    num_layers: int = 1
    dropout: float = 0.1
    num_heads: int = 4
    memory_slots: int = 8
    lif_beta: float = 0.9
    lif_threshold: float = 1.0
    timeframes: tuple[int, ...] = field(default=(1, 4, 16))
    seed: int = 0
    seq_len: int = 60
    n_qubits: int = 4
    n_qlayers: int = 1
    quantum_backend: Literal["torch", "pennylane"] = "torch"
    use_quantum_attention: bool = False
    quantum_attention_shots: int = 0
    use_quantum_memory: bool = False
    quantum_memory_noise: Literal["none", "bit_flip", "phase_flip", "depolarizing", "amplitude_damping"] = (
        "none"
    )
    quantum_memory_noise_strength: float = 0.0
    quantum_memory_code: bool = False
    quantum_device: str | tuple[str, ...] = DEFAULT_QUANTUM_DEVICES

    def __post_init__(self) -> None:
        """Reject values no model can be built from; the message names the field."""
        positive = {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "seq_len": self.seq_len,
            "n_qlayers": self.n_qlayers,
        }
        for name, value in positive.items():
            if value < 1:
                raise ModelError(f"{name} must be a positive integer, got {value}")
        if self.hidden_size % self.num_heads:
            raise ModelError(
                f"hidden_size {self.hidden_size} must be a multiple of num_heads {self.num_heads}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ModelError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.memory_slots < 0:
            raise ModelError(f"memory_slots must be ≥ 0, got {self.memory_slots}")
        if not 0.0 <= self.lif_beta <= 1.0:
            raise ModelError(f"lif_beta must lie in [0, 1], got {self.lif_beta}")
        if self.lif_threshold <= 0.0:
            raise ModelError(f"lif_threshold must be positive, got {self.lif_threshold}")
        if self.use_multi_timeframe and (
            not self.timeframes or len(set(self.timeframes)) != len(self.timeframes)
        ):
            raise ModelError(f"timeframes must be distinct and non-empty, got {self.timeframes}")
        if self.n_qubits < 2:
            raise ModelError(f"n_qubits must be at least 2, got {self.n_qubits}")
        if self.quantum_backend not in ("torch", "pennylane"):
            raise ModelError(f"quantum_backend must be 'torch' or 'pennylane', got {self.quantum_backend!r}")
        if self.quantum_attention_shots < 0:
            raise ModelError(f"quantum_attention_shots must be ≥ 0, got {self.quantum_attention_shots}")
        if self.use_quantum_memory and self.memory_slots < 1:
            raise ModelError("use_quantum_memory needs memory_slots ≥ 1")
        if not 0.0 <= self.quantum_memory_noise_strength <= 1.0:
            raise ModelError(
                f"quantum_memory_noise_strength must lie in [0, 1], got {self.quantum_memory_noise_strength}"
            )
        if not isinstance(self.quantum_device, str):  # a list from JSON or TOML: keep it hashable
            object.__setattr__(self, "quantum_device", tuple(self.quantum_device))
            if not self.quantum_device:
                raise ModelError("quantum_device: the device list is empty")
        if self.use_quantum and self.use_multi_timeframe:
            raise ModelError("the QLSTM takes one timeframe: use_multi_timeframe needs use_quantum=False")
