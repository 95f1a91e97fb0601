"""Quantum memory: learned slot states read by fidelity, with storage noise and a repetition code.

Each of ``M`` slots is a learned ``n``-qubit state, prepared by the QLSTM's variational block
(:mod:`tengri.models.quantum_circuit`) from ``H^{⊗n}|0⟩``::

    φ_m = U(θ_m) H^{⊗n} |0⟩,      ρ_m = Λ^{⊗n}(φ_m φ_m†)          (Λ: storage channel per qubit)
    ψ(h) = encode_state(W_r h + b_r)                                (the QLSTM's angle encoding)
    r_m = ⟨ψ(h)|ρ_m|ψ(h)⟩ ∈ [0, 1]                                  (fidelity; |⟨ψ|φ_m⟩|² without noise)
    h ← h + Σ_m softmax(s · r)_m v_m                                (v_m: learned values, s = e^{log_scale})

The read is stateless, so a streaming step equals the full pass at the last bar.

"Error correction potential" (the LSTM seed) is made measurable: ``Λ`` is one of PennyLane's
``default.mixed`` channels (``BitFlip``, ``PhaseFlip``, ``DepolarizingChannel``,
``AmplitudeDamping``) with strength ``p``, applied once per stored qubit, optionally inside the
three-qubit repetition (bit-flip) code: encode with ``CNOT(q, a₁) CNOT(q, a₂)``, noise on all
three, decode with the same CNOTs and a Toffoli ``(a₁, a₂ → q)`` (Nielsen & Chuang §10.1.1).
Noise on different qubits is independent and the code acts qubit by qubit, so the logical
channel is one single-qubit channel ``Λ_code``; it is computed once, exactly, by simulating the
three-qubit density matrix, and applied to every stored qubit. The code corrects any single
bit flip: ``BitFlip(p)`` becomes a logical bit flip of ``3p² − 2p³``. It does nothing for phase
errors, which it multiplies: a ``Z`` on any of the three qubits is a logical ``Z``, so
``PhaseFlip(p)`` becomes ``3p(1 − p)² + p³``. ``backend="pennylane"`` runs the whole storage
and read on ``default.mixed`` on ``3n`` wires: the reference in the tests.
"""

from __future__ import annotations

import math
from typing import Any, Final, Literal

import torch
from torch import Tensor, nn

from tengri.errors import ModelError
from tengri.models.quantum_circuit import circuit_unitaries, encode_state, entangler_permutation

__all__ = ["NOISE_CHANNELS", "QuantumMemory", "logical_channel", "pennylane_memory_read", "slot_states"]

NoiseName = Literal["none", "bit_flip", "phase_flip", "depolarizing", "amplitude_damping"]
NOISE_CHANNELS: Final = ("none", "bit_flip", "phase_flip", "depolarizing", "amplitude_damping")


def _kraus(noise: str, p: float) -> list[Tensor]:
    """Kraus operators of PennyLane's channel of that name (``qml.BitFlip`` …) at strength ``p``."""
    c = torch.complex128
    eye = torch.eye(2, dtype=c)
    x = torch.tensor([[0, 1], [1, 0]], dtype=c)
    y = torch.tensor([[0, -1j], [1j, 0]], dtype=c)
    z = torch.tensor([[1, 0], [0, -1]], dtype=c)
    if noise == "none":
        return [eye]
    if noise == "bit_flip":
        return [math.sqrt(1 - p) * eye, math.sqrt(p) * x]
    if noise == "phase_flip":
        return [math.sqrt(1 - p) * eye, math.sqrt(p) * z]
    if noise == "depolarizing":
        return [math.sqrt(1 - p) * eye] + [math.sqrt(p / 3) * pauli for pauli in (x, y, z)]
    if noise == "amplitude_damping":
        return [
            torch.tensor([[1, 0], [0, math.sqrt(1 - p)]], dtype=c),
            torch.tensor([[0, math.sqrt(p)], [0, 0]], dtype=c),
        ]
    raise ModelError(f"quantum memory noise must be one of {', '.join(NOISE_CHANNELS)}, got {noise!r}")


def _on_qubit(rho: Tensor, superoperator: Tensor, qubit: int, n: int) -> Tensor:
    """Apply a single-qubit superoperator ``(2, 2, 2, 2)`` (out row, out col, in row, in col) to ``qubit``."""
    shape = rho.shape
    tensor = rho.reshape(*shape[:-2], *([2] * (2 * n)))
    lead = len(shape) - 2
    tensor = torch.movedim(tensor, (lead + qubit, lead + n + qubit), (-2, -1))
    tensor = torch.einsum("abij,...ij->...ab", superoperator.to(tensor.dtype), tensor)
    tensor = torch.movedim(tensor, (-2, -1), (lead + qubit, lead + n + qubit))
    return tensor.reshape(shape)


def logical_channel(noise: str, p: float, *, code: bool) -> Tensor:
    """Return the storage channel of one qubit as a superoperator ``(2, 2, 2, 2)``, complex128.

    Without ``code``: the channel itself. With ``code``: encode into three qubits, the channel on
    each, decode with majority vote (see the module notes), trace out the two ancillas.
    """
    if not 0.0 <= p <= 1.0:
        raise ModelError(f"quantum memory noise strength must lie in [0, 1], got {p}")
    kraus = _kraus(noise, p)
    single = sum(torch.einsum("ai,bj->abij", k, k.conj()) for k in kraus)
    assert isinstance(single, Tensor)
    if not code:
        return single
    # Basis |q a₁ a₂⟩ with q the most significant bit; encode = CNOT(q,a₁) CNOT(q,a₂): |q00⟩ → |qqq⟩.
    basis = torch.arange(8)
    q, a1, a2 = basis >> 2 & 1, basis >> 1 & 1, basis & 1
    encode = torch.zeros(8, 8, dtype=torch.complex128)
    encode[(q << 2) | ((a1 ^ q) << 1) | (a2 ^ q), basis] = 1
    # decode: the same CNOTs, then Toffoli(a₁, a₂ → q) flips q when both syndromes are 1
    flip_q = (a1 & a2).bool()
    toffoli = torch.zeros(8, 8, dtype=torch.complex128)
    toffoli[torch.where(flip_q, basis ^ 4, basis), basis] = 1
    decode = toffoli @ encode  # the CNOTs are their own inverse
    result = torch.zeros(2, 2, 2, 2, dtype=torch.complex128)
    for i in range(2):
        for j in range(2):
            rho = torch.zeros(8, 8, dtype=torch.complex128)
            rho[i << 2, j << 2] = 1
            rho = encode @ rho @ encode.T
            for qubit in range(3):
                rho = _on_qubit(rho, single, qubit, 3)
            rho = decode @ rho @ decode.T
            result[:, :, i, j] = rho.reshape(2, 4, 2, 4).diagonal(dim1=1, dim2=3).sum(-1)
    return result


def slot_states(weights: Tensor, permutation: Tensor) -> Tensor:
    """Return ``φ_m = U(θ_m) H^{⊗n}|0⟩`` ``(M, 2ⁿ)`` complex for weights ``(M, L, n, 3)``."""
    n = weights.shape[-2]
    unitaries = circuit_unitaries(weights, permutation)
    plus = torch.full((2**n,), 2 ** (-n / 2), dtype=unitaries.dtype, device=unitaries.device)
    return unitaries @ plus


def pennylane_memory_read(n_qubits: int, n_layers: int, noise: str, p: float, *, code: bool) -> Any:
    """Return ``read(angles (B, n), weights (L, n, 3)) -> r (B,)`` on PennyLane ``default.mixed``.

    Prepares the slot on wires ``0 … n−1`` (ancillas ``n + 2i``, ``n + 2i + 1`` for qubit ``i``
    under the code), stores it through the noise, then applies the inverse of ``ψ(h)``'s encoding
    and returns ``P(|0…0⟩) = ⟨ψ(h)|ρ|ψ(h)⟩``.
    """
    import pennylane as qml

    channel = {
        "bit_flip": qml.BitFlip,
        "phase_flip": qml.PhaseFlip,
        "depolarizing": qml.DepolarizingChannel,
        "amplitude_damping": qml.AmplitudeDamping,
    }.get(noise)
    wires = 3 * n_qubits if code else n_qubits
    device = qml.device("default.mixed", wires=wires)
    pairs = [(i, (i + 1) % n_qubits) for i in range(n_qubits)]
    pairs += [(i, (i + 2) % n_qubits) for i in range(n_qubits) if (i + 2) % n_qubits != i]

    def encode(angles: Tensor) -> None:
        for wire in range(n_qubits):
            qml.Hadamard(wires=wire)
            qml.RY(torch.arctan(angles[..., wire]), wires=wire)
            qml.RZ(torch.arctan(angles[..., wire] ** 2), wires=wire)

    @qml.qnode(device, interface="torch", diff_method="backprop")  # type: ignore[untyped-decorator]
    def read(angles: Tensor, weights: Tensor) -> Any:
        for wire in range(n_qubits):
            qml.Hadamard(wires=wire)
        for layer in range(n_layers):
            for control, target in pairs:
                qml.CNOT(wires=[control, target])
            for wire in range(n_qubits):
                qml.Rot(weights[layer, wire, 0], weights[layer, wire, 1], weights[layer, wire, 2], wires=wire)
        ancillas = [(n_qubits + 2 * i, n_qubits + 2 * i + 1) for i in range(n_qubits)]
        if code:
            for wire, (a1, a2) in enumerate(ancillas):
                qml.CNOT(wires=[wire, a1])
                qml.CNOT(wires=[wire, a2])
        if channel is not None:
            for wire in range(wires):
                channel(p, wires=wire)
        if code:
            for wire, (a1, a2) in enumerate(ancillas):
                qml.CNOT(wires=[wire, a1])
                qml.CNOT(wires=[wire, a2])
                qml.Toffoli(wires=[a1, a2, wire])
        qml.adjoint(encode)(angles)
        return qml.probs(wires=range(n_qubits))

    def fidelity(angles: Tensor, weights: Tensor) -> Tensor:
        probabilities: Tensor = read(angles, weights)
        return probabilities[..., 0]

    return fidelity


class QuantumMemory(nn.Module):
    """Memory slots as learned quantum states, read by fidelity with the hidden state's encoding.

    Parameters
    ----------
    dim
        Width ``D`` of the hidden state.
    slots
        Number of slots ``M ≥ 1``.
    n_qubits, n_layers
        Qubits of each slot and variational layers of its preparation.
    noise, noise_strength, code
        Storage channel, its strength ``p``, and whether the repetition code protects each qubit.
    backend
        ``"torch"`` (exact density matrices ``2ⁿ × 2ⁿ``) or ``"pennylane"`` (``default.mixed``; a
        reference for tests, one circuit call per slot).
    """

    def __init__(
        self,
        dim: int,
        slots: int,
        *,
        n_qubits: int = 4,
        n_layers: int = 1,
        noise: NoiseName = "none",
        noise_strength: float = 0.0,
        code: bool = False,
        backend: Literal["torch", "pennylane"] = "torch",
    ) -> None:
        super().__init__()
        if slots < 1:
            raise ModelError(f"quantum memory needs at least one slot (memory_slots), got {slots}")
        self.n_qubits = n_qubits
        self.noisy = noise != "none" and noise_strength > 0
        self.read_map = nn.Linear(dim, n_qubits)
        self.slot_weights = nn.Parameter(torch.rand(slots, n_layers, n_qubits, 3) * (2 * math.pi))
        self.values = nn.Parameter(torch.randn(slots, dim) / math.sqrt(dim))
        self.log_scale = nn.Parameter(torch.tensor(math.log(4.0)))
        self.permutation: Tensor
        self.register_buffer("permutation", entangler_permutation(n_qubits), persistent=False)
        self.channel: Tensor
        self.register_buffer("channel", logical_channel(noise, noise_strength, code=code), persistent=False)
        self._reference: Any = (
            pennylane_memory_read(n_qubits, n_layers, noise, noise_strength, code=code)
            if backend == "pennylane"
            else None
        )

    def stored_states(self, dtype: torch.dtype = torch.float64) -> Tensor:
        """Return the slots' density matrices after storage ``(M, 2ⁿ, 2ⁿ)``."""
        complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        phi = slot_states(self.slot_weights.to(dtype), self.permutation).to(complex_dtype)
        rho = phi[:, :, None] * phi[:, None, :].conj()
        if self.noisy:
            for qubit in range(self.n_qubits):
                rho = _on_qubit(rho, self.channel, qubit, self.n_qubits)
        return rho

    def read(self, h: Tensor) -> Tensor:
        """Return ``r`` ``(B, M)``: the fidelity of every stored slot with ``ψ(h)`` for ``h`` ``(B, D)``."""
        angles = self.read_map(h)
        if self._reference is not None:
            weights = self.slot_weights.to(h.dtype)
            return torch.stack([self._reference(angles, w).to(h.dtype) for w in weights], dim=1)
        psi = encode_state(angles)
        complex_dtype = torch.complex128 if h.dtype == torch.float64 else torch.complex64
        psi = psi.to(complex_dtype)
        if not self.noisy:
            phi = slot_states(self.slot_weights.to(h.dtype), self.permutation).to(complex_dtype)
            overlap = psi.conj() @ phi.T
            return overlap.real.square() + overlap.imag.square()
        rho = self.stored_states(h.dtype)
        return torch.einsum("bi,mij,bj->bm", psi.conj(), rho, psi).real

    def forward(self, h: Tensor) -> Tensor:
        """Return ``h + Σ_m softmax(s·r)_m v_m`` for ``h`` ``(B, D)``."""
        weights = torch.softmax(self.read(h) * torch.exp(self.log_scale).to(h.dtype), dim=-1)
        return h + weights @ self.values.to(h.dtype)
