"""QLSTM: an LSTM whose gates are variational quantum circuits (Chen, Yoo & Fang, ICASSP 2022).

Cell, as in the paper (Eq. 5a–5f) and the first author's code, with ``n`` qubits and six circuits
``VQC₁ … VQC₆`` (see :mod:`tengri.models.quantum_circuit`)::

    v_t = A [x_t ; h_{t−1}] + a          classical map fitting v to n qubits
    f_t = σ(VQC₁(v_t))    i_t = σ(VQC₂(v_t))    C̃_t = tanh(VQC₃(v_t))    o_t = σ(VQC₄(v_t))
    c_t = f_t ⊙ c_{t−1} + i_t ⊙ C̃_t
    h_t = VQC₅(o_t ⊙ tanh c_t)            y_t = VQC₆(o_t ⊙ tanh c_t)
    (r̂, ℓ) = W_head y_T                   next-bar return, logit of P(up)

``backend="torch"`` simulates the circuits exactly: the four gate circuits share ``v_t`` and the
two output circuits share ``o_t ⊙ tanh c_t``, so a step is two batched evaluations (the second
needs the first's result), each one encoding and one matrix product for the whole batch, in
real arithmetic (:class:`~tengri.models.quantum_circuit.RealEncoding`); the unitaries are built
once per pass.
``backend="pennylane"`` runs the same circuits as PennyLane QNodes on any installed device; it is
the reference in the tests and is far slower. Streaming is the recurrence itself, one bar per step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor, nn

from tengri.errors import ModelError
from tengri.models.config import ModelOutput
from tengri.models.quantum_circuit import (
    RealEncoding,
    circuit_unitaries,
    entangler_permutation,
    pennylane_circuit,
    real_unitaries,
)
from tengri.models.quantum_devices import FUSED, DeviceChoice, choose_quantum_device

__all__ = ["QLSTM", "QLSTMState"]

QLSTMState = tuple[Tensor, Tensor]
"""``(h, c)``, each ``(B, n_qubits)``."""

_GATE_CIRCUITS = 4


class _Prepared(NamedTuple):
    """What one pass of the ``"torch"`` backend builds once: real unitaries and constants in its dtype."""

    gates: Tensor  # (2D, 4·2D): VQC₁ … VQC₄
    readout: Tensor  # (2D, 2·2D): VQC₅, VQC₆
    encoding: RealEncoding
    hidden_map: Tensor  # A_hᵀ (n, n): v_t = A_x x_t + a + h_{t−1} A_hᵀ


class QLSTM(nn.Module):
    """Quantum LSTM with the same interface as :class:`~tengri.models.EnhancedLSTM`.

    Parameters
    ----------
    input_size
        Features per bar ``F``.
    n_qubits
        Qubits per circuit ``n ≥ 2``; also the width of ``h`` and ``c``.
    n_layers
        Variational layers per circuit.
    backend
        ``"torch"`` (exact batched state vector) or ``"pennylane"``.
    device_name
        For the ``"pennylane"`` backend: a PennyLane device, or a list tried in order
        (:func:`~tengri.models.quantum_devices.choose_quantum_device`); when the list falls
        through to :data:`~tengri.models.quantum_devices.FUSED`, the model runs the fused simulator.

    Attributes
    ----------
    quantum_device
        The device the circuits run on: a PennyLane name, or ``"tengri.fused"``.
    skipped_devices
        ``(name, reason)`` of the devices tried before it.
    """

    def __init__(
        self,
        input_size: int,
        n_qubits: int = 4,
        n_layers: int = 1,
        backend: Literal["torch", "pennylane"] = "torch",
        device_name: str | Sequence[str] = "default.qubit",
    ) -> None:
        super().__init__()
        if backend not in ("torch", "pennylane"):
            raise ModelError(f"backend must be 'torch' or 'pennylane', got {backend!r}")
        self.input_size = input_size
        self.n_qubits = n_qubits
        self.n_layers = n_layers
        choice = (
            choose_quantum_device(device_name, n_qubits)
            if backend == "pennylane"
            else DeviceChoice(FUSED, None, ())
        )
        self.quantum_device = choice.name
        self.skipped_devices = choice.skipped
        self.backend: Literal["torch", "pennylane"] = "torch" if choice.device is None else "pennylane"
        self.input_map = nn.Linear(input_size + n_qubits, n_qubits)
        # PennyLane's TorchLayer initialisation: angles uniform in [0, 2π).
        self.circuit_weights = nn.Parameter(torch.rand(6, n_layers, n_qubits, 3) * (2 * math.pi))
        self.head = nn.Linear(n_qubits, 2)
        self.permutation: Tensor
        self.register_buffer("permutation", entangler_permutation(n_qubits), persistent=False)
        self._encoding = RealEncoding.build(n_qubits, torch.float64)
        self._qnode: Any = (
            pennylane_circuit(n_qubits, n_layers, choice.name, device=choice.device)
            if choice.device is not None
            else None
        )

    # -- circuits -------------------------------------------------------------------------------

    def _circuits(self, inputs: Tensor, first: int, count: int, prepared: _Prepared | None) -> Tensor:
        """Evaluate circuits ``first … first+count−1`` on the shared input ``(B, n)`` → ``(count, B, n)``."""
        if prepared is None:
            weights = self.circuit_weights.to(inputs.dtype)
            results = [
                torch.stack(list(self._qnode(inputs, weights[c])), dim=-1)
                for c in range(first, first + count)
            ]
            return torch.stack(results).to(inputs.dtype)
        unitaries = prepared.gates if first == 0 else prepared.readout
        evolved = prepared.encoding.encode(inputs) @ unitaries  # (B, count·2D)
        expectation = prepared.encoding.expectation_z(evolved.view(inputs.shape[0], count, -1))
        return expectation.transpose(0, 1)  # a view: callers unbind it (one backward op, not count)

    def _prepare(self, dtype: torch.dtype) -> _Prepared | None:
        if self.backend == "pennylane":
            return None
        complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        unitary = circuit_unitaries(self.circuit_weights, self.permutation).to(complex_dtype)
        device = self.circuit_weights.device
        return _Prepared(
            real_unitaries(unitary[:_GATE_CIRCUITS]),
            real_unitaries(unitary[_GATE_CIRCUITS:]),
            self._encoding.to(dtype, device),
            self.input_map.weight[:, self.input_size :].t().to(dtype),
        )

    def _cell(
        self, projected_x: Tensor, state: QLSTMState, prepared: _Prepared | None
    ) -> tuple[Tensor, QLSTMState]:
        """One recurrence step; ``projected_x = A_x x_t + a`` (the input part of ``v_t``)."""
        h, c = state
        if prepared is None:
            v = projected_x + nn.functional.linear(h, self.input_map.weight[:, self.input_size :])
        else:
            v = torch.addmm(projected_x, h, prepared.hidden_map)
        gates = self._circuits(v, 0, _GATE_CIRCUITS, prepared)
        forget, input_, _, output = torch.sigmoid(gates).unbind(0)
        c = forget * c + input_ * torch.tanh(gates[2])
        h, y = self._circuits(output * torch.tanh(c), _GATE_CIRCUITS, 2, prepared).unbind(0)
        return y, (h, c)

    def _project_input(self, x: Tensor) -> Tensor:
        return nn.functional.linear(x, self.input_map.weight[:, : self.input_size], self.input_map.bias)

    def _check(self, x: Tensor, dims: int) -> None:
        if x.dim() != dims or x.shape[-1] != self.input_size:
            shape = "(B, T, F)" if dims == 3 else "(B, F)"
            raise ModelError(
                f"expected input of shape {shape} with F = {self.input_size}, got {tuple(x.shape)}"
            )

    # -- public interface -----------------------------------------------------------------------

    def forward(self, x: Tensor) -> ModelOutput:
        """Run the recurrence over ``x`` ``(B, T, F)`` from a resting state; predict for the last bar."""
        self._check(x, 3)
        prepared = self._prepare(x.dtype)
        projected = self._project_input(x)
        state = self.init_state(x.shape[0])
        state = (state[0].to(x.dtype), state[1].to(x.dtype))
        y = state[0]
        for projected_t in projected.unbind(1):
            y, state = self._cell(projected_t, state, prepared)
        out = self.head(y)
        return ModelOutput(out[:, 0], out[:, 1], y)

    def init_state(self, batch: int) -> QLSTMState:
        """Return ``(h, c) = (0, 0)`` for ``batch`` streams."""
        zeros = torch.zeros(
            batch, self.n_qubits, dtype=self.head.weight.dtype, device=self.head.weight.device
        )
        return zeros, zeros.clone()

    def step(self, x_t: Tensor, state: QLSTMState) -> tuple[ModelOutput, QLSTMState]:
        """Advance every stream by one bar ``x_t`` ``(B, F)`` and predict the next."""
        self._check(x_t, 2)
        y, state = self._cell(self._project_input(x_t), state, self._prepare(x_t.dtype))
        out = self.head(y)
        return ModelOutput(out[:, 0], out[:, 1], y), state
