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
needs the first's result), each one encoding and one matrix product for the whole batch.
``backend="pennylane"`` runs the same circuits as PennyLane QNodes on any installed device; it is
the reference in the tests and is far slower. Streaming is the recurrence itself, one bar per step.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import Tensor, nn

from tengri.errors import ModelError
from tengri.models.config import ModelOutput
from tengri.models.quantum_circuit import (
    circuit_unitaries,
    encode_state,
    entangler_permutation,
    expectation_z,
    pennylane_circuit,
    z_signs,
)

__all__ = ["QLSTM", "QLSTMState"]

QLSTMState = tuple[Tensor, Tensor]
"""``(h, c)``, each ``(B, n_qubits)``."""

_GATE_CIRCUITS = 4


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
        PennyLane device for the ``"pennylane"`` backend.
    """

    def __init__(
        self,
        input_size: int,
        n_qubits: int = 4,
        n_layers: int = 1,
        backend: Literal["torch", "pennylane"] = "torch",
        device_name: str = "default.qubit",
    ) -> None:
        super().__init__()
        if backend not in ("torch", "pennylane"):
            raise ModelError(f"backend must be 'torch' or 'pennylane', got {backend!r}")
        self.input_size = input_size
        self.n_qubits = n_qubits
        self.n_layers = n_layers
        self.backend = backend
        self.input_map = nn.Linear(input_size + n_qubits, n_qubits)
        # PennyLane's TorchLayer initialisation: angles uniform in [0, 2π).
        self.circuit_weights = nn.Parameter(torch.rand(6, n_layers, n_qubits, 3) * (2 * math.pi))
        self.head = nn.Linear(n_qubits, 2)
        self.permutation: Tensor
        self.signs: Tensor
        self.register_buffer("permutation", entangler_permutation(n_qubits), persistent=False)
        self.register_buffer("signs", z_signs(n_qubits), persistent=False)
        self._qnode: Any = (
            pennylane_circuit(n_qubits, n_layers, device_name) if backend == "pennylane" else None
        )

    # -- circuits -------------------------------------------------------------------------------

    def _unitaries(self) -> Tensor:
        """Return the transposed unitaries ``(2ⁿ, 6·2ⁿ)``: ``ψ @ result`` applies all six circuits."""
        unitary = circuit_unitaries(self.circuit_weights, self.permutation)  # (6, D, D)
        return unitary.transpose(1, 2).permute(1, 0, 2).reshape(unitary.shape[-1], -1)

    def _circuits(self, inputs: Tensor, first: int, count: int, unitaries: Tensor | None) -> Tensor:
        """Evaluate circuits ``first … first+count−1`` on the shared input ``(B, n)`` → ``(count, B, n)``."""
        if unitaries is None:
            weights = self.circuit_weights.to(inputs.dtype)
            results = [
                torch.stack(list(self._qnode(inputs, weights[c])), dim=-1)
                for c in range(first, first + count)
            ]
            return torch.stack(results).to(inputs.dtype)
        size = unitaries.shape[0]
        state = encode_state(inputs)  # (B, D)
        evolved = state @ unitaries[:, first * size : (first + count) * size]
        evolved = evolved.view(inputs.shape[0], count, size).transpose(0, 1)
        return expectation_z(evolved, self.signs.to(inputs.dtype))

    def _prepare(self, dtype: torch.dtype) -> Tensor | None:
        if self.backend == "pennylane":
            return None
        complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        return self._unitaries().to(complex_dtype)

    def _cell(
        self, projected_x: Tensor, state: QLSTMState, unitaries: Tensor | None
    ) -> tuple[Tensor, QLSTMState]:
        """One recurrence step; ``projected_x = A_x x_t + a`` (the input part of ``v_t``)."""
        h, c = state
        v = projected_x + nn.functional.linear(h, self.input_map.weight[:, self.input_size :])
        gates = self._circuits(v, 0, _GATE_CIRCUITS, unitaries)
        forget, input_, candidate, output = (
            torch.sigmoid(gates[0]),
            torch.sigmoid(gates[1]),
            torch.tanh(gates[2]),
            torch.sigmoid(gates[3]),
        )
        c = forget * c + input_ * candidate
        readout = self._circuits(output * torch.tanh(c), _GATE_CIRCUITS, 2, unitaries)
        return readout[1], (readout[0], c)

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
        unitaries = self._prepare(x.dtype)
        projected = self._project_input(x)
        state = self.init_state(x.shape[0])
        state = (state[0].to(x.dtype), state[1].to(x.dtype))
        y = state[0]
        for t in range(x.shape[1]):
            y, state = self._cell(projected[:, t], state, unitaries)
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
