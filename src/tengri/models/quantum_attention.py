"""Quantum-kernel attention: scores are fidelities of query and key states; cached like the classical layer.

The classical layer (:mod:`tengri.models.attention`) scores a key by ``q·k/√d``. Here each head
maps a position to ``n`` angles and encodes them as an ``n``-qubit state by a parameterised
circuit with data re-uploading (Pérez-Salinas et al., "Data re-uploading for a universal
quantum classifier", Quantum 4, 226, 2020), with the QLSTM's gates
(:mod:`tengri.models.quantum_circuit`)::

    ψ(x) = S(x) · U(w_h) · S(x) · H^{⊗n} |0⟩,      S(x) = ⊗ᵢ RZ(arctan xᵢ²) RY(arctan xᵢ)

``U(w_h)`` is the QLSTM's variational block (CNOT rings, then ``Rot`` on every qubit, per layer),
one per head. Without the second ``S(x)`` the fidelity would not depend on ``U`` at all
(``⟨ψ(q)|U†U|ψ(k)⟩``). The score of key ``k`` for query ``q`` is the fidelity kernel
(Havlíček et al., Nature 567, 209, 2019)::

    F(q, k) = |⟨ψ(q)|ψ(k)⟩|² ∈ [0, 1],      a_t = softmax(s_h · F(q_t, K_t)) V_t,   y_t = z_t + W_o a_t

with a learnable scale ``s_h = exp(log_scale_h)`` (a fidelity lies in [0, 1], too narrow a range
for softmax to pick a key). The memory slots' keys are angles, encoded the same way; the window,
memory and residual are those of the classical layer. On a quantum computer ``F`` is the
probability of measuring ``|0…0⟩`` after ``ψ(k)`` and the inverse of ``ψ(q)``'s circuit; that
circuit, on a PennyLane device, is the reference (``backend="pennylane"``). The ``"torch"``
backend simulates the states exactly as batched complex vectors (``2ⁿ`` amplitudes per head and
position) and takes the overlaps as one matrix product.

Streaming caches the last ``W − 1`` key *states* and values, so a new bar costs one query
state, one key state and one row of overlaps, and equals the full pass.

Shots. A device estimates ``F`` from measurements. With ``shots > 0`` every score is the
swap-test estimate (Buhrman et al., PRL 87, 167902, 2001): the ancilla reads 0 with probability
``(1 + F)/2``, so from ``c ~ Binomial(shots, (1 + F)/2)`` zeros, ``F̂ = 2c/shots − 1`` (unbiased,
standard deviation ``√((1 − F²)/shots)``, and it can fall below 0). The gradient is that of the
exact ``F`` (straight-through: sampling has none). Draws come from a generator seeded by
``seed``, so a run is repeatable, but streaming no longer equals the full pass: they draw
different samples. :func:`pennylane_swap_test` is the circuit, the reference for ``(1 + F)/2``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import Tensor, nn

from tengri.errors import ModelError
from tengri.models.attention import KeyValueCache
from tengri.models.quantum_circuit import (
    circuit_unitaries,
    encode_state,
    encoding_gates,
    entangler_permutation,
)

__all__ = ["QuantumKernelAttention", "kernel_states", "pennylane_kernel", "pennylane_swap_test"]


def kernel_states(angles: Tensor, unitaries: Tensor) -> Tensor:
    """Return ``ψ(x) = S(x) U S(x) H^{⊗n}|0⟩`` for angles ``(N, H, T, n)`` and unitaries ``(H, D, D)``.

    Returns
    -------
    Tensor
        Complex ``(N, H, T, D)``, in the unitaries' dtype.
    """
    first = encode_state(angles).to(unitaries.dtype)  # S(x) H|0⟩
    evolved = first @ unitaries[None].transpose(-1, -2)  # rows: (U ψ)ᵀ = ψᵀ Uᵀ, per head
    return (encoding_gates(angles).to(unitaries.dtype) @ evolved[..., None])[..., 0]


def pennylane_kernel(n_qubits: int, n_layers: int, device_name: str = "default.qubit") -> Any:
    """Return the fidelity circuit as a QNode ``kernel(q, k, weights) -> F`` over a batch of pairs.

    ``q`` and ``k`` are ``(P, n)`` angles, ``weights`` ``(n_layers, n, 3)``; the circuit prepares
    ``ψ(k)``, applies the inverse of ``ψ(q)``'s preparation and returns ``P(|0…0⟩)`` ``(P,)``.
    """
    import pennylane as qml

    device = qml.device(device_name, wires=n_qubits)
    pairs = [(i, (i + 1) % n_qubits) for i in range(n_qubits)]
    pairs += [(i, (i + 2) % n_qubits) for i in range(n_qubits) if (i + 2) % n_qubits != i]

    def upload(x: Tensor) -> None:
        for wire in range(n_qubits):
            qml.RY(torch.arctan(x[..., wire]), wires=wire)
            qml.RZ(torch.arctan(x[..., wire] ** 2), wires=wire)

    def feature_map(x: Tensor, weights: Tensor) -> None:
        for wire in range(n_qubits):
            qml.Hadamard(wires=wire)
        upload(x)
        for layer in range(n_layers):
            for control, target in pairs:
                qml.CNOT(wires=[control, target])
            for wire in range(n_qubits):
                qml.Rot(weights[layer, wire, 0], weights[layer, wire, 1], weights[layer, wire, 2], wires=wire)
        upload(x)

    @qml.qnode(device, interface="torch", diff_method="backprop")  # type: ignore[untyped-decorator]
    def kernel(q: Tensor, k: Tensor, weights: Tensor) -> Any:
        feature_map(k, weights)
        qml.adjoint(feature_map)(q, weights)
        return qml.probs(wires=range(n_qubits))

    def fidelity(q: Tensor, k: Tensor, weights: Tensor) -> Tensor:
        probabilities: Tensor = kernel(q, k, weights)
        return probabilities[..., 0]

    return fidelity


def pennylane_swap_test(n_qubits: int, n_layers: int) -> Any:
    """Return the swap test as a QNode ``test(q, k, weights) -> P(ancilla = 0)`` ``(P,)``, default.qubit.

    Wire 0 is the ancilla, ``ψ(q)`` is prepared on wires ``1 … n`` and ``ψ(k)`` on ``n+1 … 2n``:
    ``H``, controlled swaps, ``H``; ``P(0) = (1 + |⟨ψ(q)|ψ(k)⟩|²)/2``.
    """
    import pennylane as qml

    device = qml.device("default.qubit", wires=2 * n_qubits + 1)
    pairs = [(i, (i + 1) % n_qubits) for i in range(n_qubits)]
    pairs += [(i, (i + 2) % n_qubits) for i in range(n_qubits) if (i + 2) % n_qubits != i]

    def feature_map(x: Tensor, weights: Tensor, offset: int) -> None:
        def upload() -> None:
            for wire in range(n_qubits):
                qml.RY(torch.arctan(x[..., wire]), wires=offset + wire)
                qml.RZ(torch.arctan(x[..., wire] ** 2), wires=offset + wire)

        for wire in range(n_qubits):
            qml.Hadamard(wires=offset + wire)
        upload()
        for layer in range(n_layers):
            for control, target in pairs:
                qml.CNOT(wires=[offset + control, offset + target])
            for wire in range(n_qubits):
                w = weights[layer, wire]
                qml.Rot(w[0], w[1], w[2], wires=offset + wire)
        upload()

    @qml.qnode(device, interface="torch", diff_method="backprop")  # type: ignore[untyped-decorator]
    def test(q: Tensor, k: Tensor, weights: Tensor) -> Any:
        feature_map(q, weights, 1)
        feature_map(k, weights, 1 + n_qubits)
        qml.Hadamard(wires=0)
        for wire in range(n_qubits):
            qml.CSWAP(wires=[0, 1 + wire, 1 + n_qubits + wire])
        qml.Hadamard(wires=0)
        return qml.probs(wires=0)

    def ancilla_zero(q: Tensor, k: Tensor, weights: Tensor) -> Tensor:
        probabilities: Tensor = test(q, k, weights)
        return probabilities[..., 0]

    return ancilla_zero


class QuantumKernelAttention(nn.Module):
    """Windowed causal attention with memory slots whose scores are quantum-kernel fidelities.

    Parameters
    ----------
    dim, num_heads, memory_slots, window, dropout
        As for :class:`~tengri.models.attention.WindowedMemoryAttention`.
    n_qubits, n_layers
        Qubits of each head's states and variational layers of its circuit.
    backend
        ``"torch"``: exact batched state vectors; ``"pennylane"``: the fidelity circuit on
        ``default.qubit``, a reference for tests (full pass only, no streaming).
    shots, seed
        Swap-test shots per score (0: exact fidelities) and the seed of their draws.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        memory_slots: int,
        window: int,
        dropout: float = 0.0,
        *,
        n_qubits: int = 4,
        n_layers: int = 1,
        backend: Literal["torch", "pennylane"] = "torch",
        shots: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if shots < 0:
            raise ModelError(f"quantum attention shots must be ≥ 0, got {shots}")
        self.shots = shots
        self._generator = torch.Generator().manual_seed(seed)
        if num_heads < 1 or dim % num_heads:
            raise ModelError(f"hidden_size {dim} must be a positive multiple of num_heads {num_heads}")
        if memory_slots < 0 or window < 1:
            raise ModelError(f"memory_slots must be ≥ 0 and seq_len ≥ 1, got {memory_slots}, {window}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.window = window
        self.n_qubits = n_qubits
        self.backend = backend
        self.query_key = nn.Linear(dim, 2 * num_heads * n_qubits)
        self.value = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.memory_keys = nn.Parameter(torch.randn(num_heads, memory_slots, n_qubits))
        self.memory_values = nn.Parameter(
            torch.randn(num_heads, memory_slots, self.head_dim) / math.sqrt(self.head_dim)
        )
        self.circuit_weights = nn.Parameter(torch.rand(num_heads, n_layers, n_qubits, 3) * (2 * math.pi))
        # s = 4: a fidelity of 1 against 0 weighs e⁴ ≈ 55 times more, about what q·k/√d gives at start
        self.log_scale = nn.Parameter(torch.full((num_heads,), math.log(4.0)))
        self.permutation: Tensor
        self.register_buffer("permutation", entangler_permutation(n_qubits), persistent=False)
        self._kernel: Any = pennylane_kernel(n_qubits, n_layers) if backend == "pennylane" else None

    # -- pieces ---------------------------------------------------------------------------------

    def _unitaries(self, dtype: torch.dtype) -> Tensor:
        complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        return circuit_unitaries(self.circuit_weights.to(dtype), self.permutation).to(complex_dtype)

    def _project(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Return query and key angles ``(N, H, T, n)`` and values ``(N, H, T, d)`` of ``z`` ``(N, T, D)``."""
        n, t, _ = z.shape
        angles = self.query_key(z).view(n, t, 2, self.num_heads, self.n_qubits).permute(2, 0, 3, 1, 4)
        values = self.value(z).view(n, t, self.num_heads, self.head_dim).transpose(1, 2)
        return angles[0], angles[1], values

    def _memory_states(self, batch: int, unitaries: Tensor) -> Tensor:
        return kernel_states(self.memory_keys.to(unitaries.real.dtype)[None], unitaries).expand(
            batch, -1, -1, -1
        )

    def _estimate(self, fidelity: Tensor) -> Tensor:
        """Return the swap-test estimate of ``fidelity`` under ``shots`` (itself when 0), exact gradient."""
        if not self.shots:
            return fidelity
        exact = fidelity.detach().clamp(0.0, 1.0)
        probability = ((1 + exact) / 2).to("cpu", torch.float64)
        zeros = torch.binomial(
            torch.full_like(probability, float(self.shots)), probability, generator=self._generator
        )
        estimate = (2 * zeros / self.shots - 1).to(fidelity.device, fidelity.dtype)
        return fidelity + (estimate - exact)

    def _attend(self, scores: Tensor, values: Tensor, mask: Tensor | None) -> Tensor:
        """Return ``softmax(s_h · F) V`` ``(N, H, Tq, d)`` from fidelities ``(N, H, Tq, S)``."""
        scores = self._estimate(scores)
        logits = scores * torch.exp(self.log_scale).to(scores.dtype)[:, None, None]
        if mask is not None:
            logits = logits.masked_fill(~mask, -math.inf)
        return torch.softmax(logits, dim=-1) @ values

    def _merge(self, z: Tensor, attended: Tensor) -> Tensor:
        n, _, t, _ = attended.shape
        out: Tensor = self.dropout(self.out(attended.transpose(1, 2).reshape(n, t, -1)))
        return z + out

    def _reference_fidelity(self, queries: Tensor, keys: Tensor) -> Tensor:
        """``F`` ``(N, H, Tq, S)`` from angles, one batched PennyLane call per head."""
        n, heads, tq, _ = queries.shape
        s = keys.shape[2]
        per_head = []
        for h in range(heads):
            q = queries[:, h, :, None].expand(n, tq, s, self.n_qubits).reshape(-1, self.n_qubits)
            k = keys[:, h, None].expand(n, tq, s, self.n_qubits).reshape(-1, self.n_qubits)
            per_head.append(
                self._kernel(q, k, self.circuit_weights[h].to(q.dtype)).to(q.dtype).view(n, tq, s)
            )
        return torch.stack(per_head, dim=1)

    # -- public interface -----------------------------------------------------------------------

    def forward(self, z: Tensor, last_only: bool = True) -> Tensor:
        """Attend over a whole sequence ``(N, T, D)``; ``(N, 1, D)`` if ``last_only`` else ``(N, T, D)``."""
        queries, keys, values = self._project(z)
        n, steps = z.shape[0], z.shape[1]
        memory_v = self.memory_values.to(values.dtype).expand(n, -1, -1, -1)
        if last_only:
            queries, keys, values = (
                queries[:, :, -1:],
                keys[:, :, -self.window :],
                values[:, :, -self.window :],
            )
            mask = None
        else:
            query_pos = torch.arange(steps, device=z.device)[:, None]
            key_pos = torch.arange(steps, device=z.device)[None, :]
            visible = (key_pos <= query_pos) & (key_pos > query_pos - self.window)
            memory = torch.ones(steps, self.memory_keys.shape[1], dtype=torch.bool, device=z.device)
            mask = torch.cat([memory, visible], dim=1)
        values = torch.cat([memory_v, values], dim=2)
        if self._kernel is not None:
            memory_k = self.memory_keys.to(keys.dtype).expand(n, -1, -1, -1)
            fidelity = self._reference_fidelity(queries, torch.cat([memory_k, keys], dim=2))
        else:
            unitaries = self._unitaries(z.dtype)
            key_states = torch.cat([self._memory_states(n, unitaries), kernel_states(keys, unitaries)], dim=2)
            overlaps = kernel_states(queries, unitaries).conj() @ key_states.transpose(-1, -2)
            fidelity = overlaps.real.square() + overlaps.imag.square()
        attended = self._attend(fidelity, values, mask)
        return self._merge(z[:, -1:] if last_only else z, attended)

    def empty_cache(self, batch: int, dtype: torch.dtype, device: torch.device) -> KeyValueCache:
        """Return a cache with no positions: key states ``(N, H, 0, 2ⁿ)`` (complex) and values."""
        complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        states = torch.zeros(batch, self.num_heads, 0, 2**self.n_qubits, dtype=complex_dtype, device=device)
        values = torch.zeros(batch, self.num_heads, 0, self.head_dim, dtype=dtype, device=device)
        return states, values

    def step(self, z_t: Tensor, cache: KeyValueCache) -> tuple[Tensor, KeyValueCache]:
        """Attend from one new position ``z_t`` ``(N, D)``; return ``(y_t (N, D), the next cache)``."""
        if self._kernel is not None:
            raise ModelError("the pennylane backend of quantum attention is a reference: it does not stream")
        query, key, value = self._project(z_t[:, None])
        n = z_t.shape[0]
        unitaries = self._unitaries(z_t.dtype)
        key_states = torch.cat([cache[0], kernel_states(key, unitaries)], dim=2)
        values = torch.cat([cache[1], value], dim=2)
        memory_v = self.memory_values.to(values.dtype).expand(n, -1, -1, -1)
        overlaps = kernel_states(query, unitaries).conj() @ torch.cat(
            [self._memory_states(n, unitaries), key_states], dim=2
        ).transpose(-1, -2)
        fidelity = overlaps.real.square() + overlaps.imag.square()
        attended = self._attend(fidelity, torch.cat([memory_v, values], dim=2), None)
        start = max(0, key_states.shape[2] - (self.window - 1))
        return self._merge(z_t[:, None], attended)[:, 0], (key_states[:, :, start:], values[:, :, start:])
