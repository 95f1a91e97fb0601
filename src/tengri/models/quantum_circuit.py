"""The QLSTM's variational circuit: an exact batched state vector in PyTorch, and as a PennyLane QNode.

Circuit (Chen, Yoo & Fang, "Quantum Long Short-Term Memory", ICASSP 2022, Fig. 3, as in the first
author's code), on ``n`` qubits with input ``v ∈ ℝⁿ`` and weights ``w ∈ ℝ^{L×n×3}``::

    H on every qubit
    RY(arctan vᵢ) on qubit i,   RZ(arctan vᵢ²) on qubit i          (encoding)
    for each layer l:
        CNOT(i, i+1 mod n) for i = 0 … n−1                          (ring of distance 1)
        CNOT(i, i+2 mod n) for i = 0 … n−1, skipping i+2 ≡ i        (ring of distance 2)
        Rot(w[l,i,0], w[l,i,1], w[l,i,2]) on qubit i                (Rot(φ,θ,ω) = RZ(ω)·RY(θ)·RZ(φ))
    read out ⟨Zᵢ⟩ for every qubit

Wire 0 is the most significant bit of a basis index, as in PennyLane.

Why a hand-written simulator: the encoding is a product state and the variational part does not
depend on the input, so a circuit is ``⟨Z⟩ = Zᵀ |U·ψ(v)|²`` with ``U = U_L ⋯ U_1`` a fixed
2ⁿ × 2ⁿ unitary per circuit, built once per forward pass. A time step then costs one encoding
and one matrix product for the whole batch and every circuit that shares an input, instead of
one simulator call per circuit and sample. For ``n = 2`` the distance-2 ring would be
``CNOT(i, i)``, which is not a gate; it is skipped (the first author's code assumes ``n ≥ 3``).

The recurrence runs in real arithmetic (:class:`RealEncoding`, :func:`real_unitaries`): a state
is ``[Re ψ ; Im ψ]`` and ``U`` the real ``2·2ⁿ``-square block ``[[Re, Im], [−Im, Re]]`` of ``Uᵀ``.
The product state comes from one matrix product instead of ``n − 1`` Kronecker steps: its
amplitude on basis state ``b`` is ``exp(Σᵢ log mᵢ(bᵢ)) · exp(i Σᵢ (bᵢ − ½) βᵢ)``, both sums linear
in per-qubit terms. Complex autograd costs several real operations per complex one, and the
recurrence's backward pass is most of a training step; the complex functions
(:func:`encode_state`, :func:`expectation_z`) remain the readable definition the tests check
against PennyLane.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor

from tengri.errors import ModelError

__all__ = [
    "RealEncoding",
    "circuit_unitaries",
    "encode_state",
    "encoding_gates",
    "entangler_permutation",
    "expectation_z",
    "pennylane_circuit",
    "real_unitaries",
    "z_signs",
]


def entangler_permutation(n_qubits: int) -> Tensor:
    """Return the basis permutation ``f`` of both CNOT rings: ``|b⟩ ↦ |f(b)⟩``.

    Parameters
    ----------
    n_qubits
        Number of qubits ``n ≥ 2``.

    Returns
    -------
    Tensor
        ``int64`` tensor of length ``2ⁿ``.
    """
    if n_qubits < 2:
        raise ModelError(f"a QLSTM circuit needs at least 2 qubits, got {n_qubits}")
    pairs = [(i, (i + 1) % n_qubits) for i in range(n_qubits)]
    pairs += [(i, (i + 2) % n_qubits) for i in range(n_qubits) if (i + 2) % n_qubits != i]
    basis = torch.arange(2**n_qubits)
    for control, target in pairs:
        control_bit = (basis >> (n_qubits - 1 - control)) & 1
        basis = basis ^ (control_bit << (n_qubits - 1 - target))
    return basis


def z_signs(n_qubits: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """Return ``S`` of shape ``(2ⁿ, n)`` with ``S[b, i] = 1 − 2·bitᵢ(b)``, so that ``⟨Z⟩ = |ψ|² @ S``."""
    basis = torch.arange(2**n_qubits)[:, None]
    bits = (basis >> (n_qubits - 1 - torch.arange(n_qubits))[None, :]) & 1
    return (1 - 2 * bits).to(dtype)


def _kron_last(factors: Tensor) -> Tensor:
    """Kronecker product over dimension −3 of ``(..., n, a, b)`` matrices → ``(..., aⁿ, bⁿ)``."""
    result = factors[..., 0, :, :]
    for i in range(1, factors.shape[-3]):
        factor = factors[..., i, :, :]
        rows = result.shape[-2] * factor.shape[-2]
        cols = result.shape[-1] * factor.shape[-1]
        result = (result[..., :, None, :, None] * factor[..., None, :, None, :]).reshape(
            *result.shape[:-2], rows, cols
        )
    return result


def _signed_polar(magnitude: Tensor, angle: Tensor) -> Tensor:
    """Return ``magnitude · e^{i·angle}`` for a magnitude of either sign.

    ``torch.polar``'s backward pass recovers the magnitude as ``|result|``, which flips the
    gradient's sign where the magnitude is negative (``cos θ/2`` for ``|θ| > π``).
    """
    return torch.complex(magnitude * torch.cos(angle), magnitude * torch.sin(angle))


def circuit_unitaries(weights: Tensor, permutation: Tensor) -> Tensor:
    """Return the variational unitary ``U = U_L ⋯ U_1`` of every circuit.

    ``U_l = (⊗ᵢ Rot(w[l, i])) · P``, with ``P`` the permutation matrix of the CNOT rings, so
    ``U_l[:, b] = K_l[:, f(b)]``.

    Parameters
    ----------
    weights
        Real tensor of shape ``(C, L, n, 3)``: ``C`` circuits, ``L`` layers, angles ``(φ, θ, ω)``.
    permutation
        Output of :func:`entangler_permutation` for ``n`` qubits.

    Returns
    -------
    Tensor
        Complex tensor of shape ``(C, 2ⁿ, 2ⁿ)``.
    """
    phi, theta, omega = weights.unbind(-1)
    cos = torch.cos(theta / 2)
    sin = torch.sin(theta / 2)
    plus = (phi + omega) / 2
    minus = (phi - omega) / 2
    # Rot(φ, θ, ω) = [[e^{−i(φ+ω)/2} cos θ/2, −e^{i(φ−ω)/2} sin θ/2],
    #                 [e^{−i(φ−ω)/2} sin θ/2,  e^{i(φ+ω)/2} cos θ/2]]
    rot = torch.stack(
        [
            _signed_polar(cos, -plus),
            -_signed_polar(sin, minus),
            _signed_polar(sin, -minus),
            _signed_polar(cos, plus),
        ],
        dim=-1,
    ).reshape(*weights.shape[:-1], 2, 2)
    layers = _kron_last(rot)[..., permutation]  # (C, L, D, D), columns gathered by f
    unitary = layers[:, 0]
    for layer in range(1, layers.shape[1]):
        unitary = layers[:, layer] @ unitary
    return unitary


def encode_state(inputs: Tensor) -> Tensor:
    """Return the encoded product state ``⊗ᵢ RZ(arctan vᵢ²) RY(arctan vᵢ) H |0⟩``.

    Per qubit, with ``a = arctan vᵢ`` and ``β = arctan vᵢ²``:
    ``(cos(a/2 + π/4) e^{−iβ/2},  sin(a/2 + π/4) e^{iβ/2})``.

    Parameters
    ----------
    inputs
        Real tensor ``(..., n)``.

    Returns
    -------
    Tensor
        Complex tensor ``(..., 2ⁿ)``.
    """
    half_angle = torch.arctan(inputs) / 2 + math.pi / 4
    half_phase = torch.arctan(inputs * inputs) / 2
    magnitude = torch.stack([torch.cos(half_angle), torch.sin(half_angle)], dim=-1)
    phase = torch.stack([-half_phase, half_phase], dim=-1)
    # a/2 + π/4 ∈ (0, π/2): both magnitudes are positive, so torch.polar's gradient is right.
    qubits = torch.polar(magnitude, phase)[..., None]  # (..., n, 2, 1)
    return _kron_last(qubits)[..., 0]


def encoding_gates(inputs: Tensor) -> Tensor:
    """Return the encoding layer ``⊗ᵢ RZ(arctan vᵢ²) RY(arctan vᵢ)`` as a matrix, for re-uploading.

    ``encode_state(v)`` is this matrix applied to ``H^{⊗n}|0⟩``; a circuit that uploads ``v``
    again after a variational block applies it to a general state.

    Parameters
    ----------
    inputs
        Real tensor ``(..., n)``.

    Returns
    -------
    Tensor
        Complex tensor ``(..., 2ⁿ, 2ⁿ)``.
    """
    half_angle = torch.arctan(inputs) / 2
    half_phase = torch.arctan(inputs * inputs) / 2
    cos, sin = torch.cos(half_angle), torch.sin(half_angle)
    # RZ(β)·RY(a) = [[e^{−iβ/2} cos a/2, −e^{−iβ/2} sin a/2], [e^{iβ/2} sin a/2, e^{iβ/2} cos a/2]]
    gate = torch.stack(
        [
            _signed_polar(cos, -half_phase),
            -_signed_polar(sin, -half_phase),
            _signed_polar(sin, half_phase),
            _signed_polar(cos, half_phase),
        ],
        dim=-1,
    ).reshape(*inputs.shape, 2, 2)
    return _kron_last(gate)


def expectation_z(state: Tensor, signs: Tensor) -> Tensor:
    """Return ``⟨Zᵢ⟩ = Σ_b |ψ_b|² (1 − 2·bitᵢ(b))`` for a complex state ``(..., 2ⁿ)``."""
    probabilities = state.real.square() + state.imag.square()
    return probabilities @ signs


class RealEncoding(NamedTuple):
    """Constants of :meth:`encode`, the encoded state in real form, for ``n`` qubits and ``D = 2ⁿ``.

    Per qubit ``i``, with ``aᵢ = arctan vᵢ``, ``θᵢ = aᵢ/2 + π/4 ∈ (0, π/2)`` and
    ``βᵢ = arctan vᵢ²``, the amplitudes are ``(cos θᵢ e^{−iβᵢ/2}, sin θᵢ e^{iβᵢ/2})``
    (:func:`encode_state`). With ``ℓ = [log cos θᵢ, log sin θᵢ]ᵢ`` and ``β``::

        [log |ψ_b|, φ_b + π/2, φ_b] = [ℓ, β] @ matrix + bias
        ψ = |ψ| · (cos φ + i sin φ) = exp(log |ψ|) · sin([φ + π/2, φ])

    Attributes
    ----------
    matrix
        ``(3n, 3D)``: ``log |ψ_b| = Σᵢ ℓ_{i, bitᵢ(b)}`` and ``φ_b = Σᵢ (bitᵢ(b) − ½) βᵢ``.
    bias
        ``(3D,)``: ``π/2`` on the middle third (``cos φ = sin(φ + π/2)``).
    offsets, halves
        ``(2,)`` each: ``[θ + π/2, θ] = offsets + a·halves`` (``cos θ = sin(θ + π/2)``).
    signs
        ``(2D, n)``: :func:`z_signs` twice, so that ``⟨Z⟩ = [Re ψ ; Im ψ]² @ signs``.
    """

    matrix: Tensor
    bias: Tensor
    offsets: Tensor
    halves: Tensor
    signs: Tensor

    @classmethod
    def build(cls, n_qubits: int, dtype: torch.dtype = torch.float32) -> RealEncoding:
        """Return the constants for ``n_qubits`` qubits."""
        size = 2**n_qubits
        bits = ((torch.arange(size)[None, :] >> (n_qubits - 1 - torch.arange(n_qubits))[:, None]) & 1).to(
            dtype
        )  # (n, D): bits[i, b] = bitᵢ(b)
        matrix = torch.zeros(3 * n_qubits, 3 * size, dtype=dtype)
        matrix[0 : 2 * n_qubits : 2, :size] = 1 - bits  # log cos θᵢ where bitᵢ = 0
        matrix[1 : 2 * n_qubits : 2, :size] = bits  # log sin θᵢ where bitᵢ = 1
        matrix[2 * n_qubits :, size : 2 * size] = bits - 0.5
        matrix[2 * n_qubits :, 2 * size :] = bits - 0.5
        bias = torch.zeros(3 * size, dtype=dtype)
        bias[size : 2 * size] = math.pi / 2
        offsets = torch.tensor([3 * math.pi / 4, math.pi / 4], dtype=dtype)
        halves = torch.full((2,), 0.5, dtype=dtype)
        signs = z_signs(n_qubits, dtype).repeat(2, 1)
        return cls(matrix, bias, offsets, halves, signs)

    def to(self, dtype: torch.dtype, device: torch.device) -> RealEncoding:
        """Return the constants in ``dtype`` on ``device``."""
        return RealEncoding(*(t.to(dtype=dtype, device=device) for t in self))

    def encode(self, inputs: Tensor) -> Tensor:
        """Return ``[Re ψ ; Im ψ]`` ``(B, 2·2ⁿ)`` of the encoded state of real ``inputs`` ``(B, n)``.

        The same state as :func:`encode_state`. The magnitudes are floored at the smallest
        normal number before the logarithm: ``θ`` rounds to 0 or ``π/2`` for ``|v| ≳ 10⁴`` in
        float32, where the floor changes an amplitude below ``10⁻⁷`` and keeps the gradient finite.
        """
        batch, n = inputs.shape
        angles = torch.addcmul(self.offsets, torch.arctan(inputs)[..., None], self.halves)  # (B, n, 2)
        trig = torch.sin(angles).clamp_min(torch.finfo(inputs.dtype).tiny)  # cos θᵢ, sin θᵢ
        terms = torch.cat([torch.log(trig).view(batch, 2 * n), torch.arctan(inputs * inputs)], dim=1)
        polar = torch.addmm(self.bias, terms, self.matrix)  # (B, 3D): log |ψ|, φ + π/2, φ
        size = polar.shape[1] // 3
        # split, not two slices: its backward is one concatenation, not two zero-filled copies
        log_magnitude, phases = polar.split_with_sizes([size, 2 * size], dim=1)
        parts = torch.sin(phases).view(batch, 2, size) * torch.exp(log_magnitude)[:, None]
        return parts.view(batch, 2 * size)

    def expectation_z(self, evolved: Tensor) -> Tensor:
        """Return ``⟨Zᵢ⟩`` ``(..., n)`` of real-form states ``(..., 2·2ⁿ)``."""
        return evolved.square() @ self.signs


def real_unitaries(unitary: Tensor) -> Tensor:
    """Return the real form ``(2D, C·2D)`` of complex unitaries ``(C, D, D)``.

    Block ``c`` is ``[[Re A, Im A], [−Im A, Re A]]`` with ``A = U_cᵀ``, so that for a row state
    ``[Re ψ ; Im ψ]`` the product gives ``[Re U_cψ ; Im U_cψ]`` in columns ``c·2D … (c+1)·2D − 1``.
    """
    transposed = unitary.transpose(1, 2)
    real, imag = transposed.real, transposed.imag
    blocks = torch.cat([torch.cat([real, imag], dim=2), torch.cat([-imag, real], dim=2)], dim=1)
    return blocks.permute(1, 0, 2).reshape(blocks.shape[1], -1)


def _start_device(device_name: str, wires: int) -> Any:
    import pennylane as qml

    try:
        return qml.device(device_name, wires=wires)
    except Exception as error:  # PennyLane raises several unrelated types for unknown devices
        raise ModelError(f"PennyLane device {device_name!r} is not available: {error}") from error


def pennylane_circuit(
    n_qubits: int, n_layers: int, device_name: str = "default.qubit", *, device: Any = None
) -> Any:
    """Return the same circuit as a PennyLane QNode ``qnode(inputs, weights) -> list of ⟨Zᵢ⟩``.

    The gates are written out rather than taken from ``BasicEntanglerLayers`` or
    ``StronglyEntanglingLayers``, whose gate order differs from the paper's. ``inputs`` may carry
    a leading batch dimension (parameter broadcasting).

    Parameters
    ----------
    n_qubits, n_layers
        Circuit size.
    device_name
        Any installed PennyLane device (``default.qubit``, ``lightning.qubit``, ``lightning.kokkos``).
    device
        An already started device of that name (from
        :func:`~tengri.models.quantum_devices.choose_quantum_device`); started here when None.
    """
    import pennylane as qml

    if device is None:
        device = _start_device(device_name, n_qubits)
    pairs = [(i, (i + 1) % n_qubits) for i in range(n_qubits)]
    pairs += [(i, (i + 2) % n_qubits) for i in range(n_qubits) if (i + 2) % n_qubits != i]

    diff_method = "backprop" if device_name == "default.qubit" else "best"

    @qml.qnode(device, interface="torch", diff_method=diff_method)  # type: ignore[untyped-decorator]
    def circuit(inputs: Tensor, weights: Tensor) -> list[Any]:
        for wire in range(n_qubits):
            qml.Hadamard(wires=wire)
        for wire in range(n_qubits):
            qml.RY(torch.arctan(inputs[..., wire]), wires=wire)
        for wire in range(n_qubits):
            qml.RZ(torch.arctan(inputs[..., wire] ** 2), wires=wire)
        for layer in range(n_layers):
            for control, target in pairs:
                qml.CNOT(wires=[control, target])
            for wire in range(n_qubits):
                qml.Rot(weights[layer, wire, 0], weights[layer, wire, 1], weights[layer, wire, 2], wires=wire)
        return [qml.expval(qml.PauliZ(wire)) for wire in range(n_qubits)]

    return circuit
