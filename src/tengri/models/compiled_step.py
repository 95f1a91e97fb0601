"""One EnhancedLSTM streaming step as a single Numba-compiled call, for inference on the CPU.

A streaming step of the full variant (``enhanced.py``) is about 25 small PyTorch operations on
tensors of a few hundred numbers; each costs several microseconds of dispatch, nearly all of the
step's time (issue 5 asks for a step under a tenth of recomputing the 60-bar window). PyTorch
cannot fuse them on the CPU without a compiler tool chain at run time (``torch.compile`` needs a
C++ compiler, TorchScript is deprecated), so this module writes the step out once over NumPy
views of the weights and Numba compiles it. The equations are those of the PyTorch step::

    (i, f, g, o) = split([x, h] [W_x; W_h] + b)                    LSTM cell, PyTorch's gate order
    c' = σ(f)·c + σ(i)·tanh(g),   h' = σ(o)·tanh(c')
    m' = β·m + h' − θ·H(m − θ),   h' ← m'                          LIF membrane (lif.py)
    y = h' + W_o softmax(q Kᵀ/√d) V                                attention (attention.py)
    (r̂, ℓ) = W_head Σ_k w_k y_k                                   timeframe fusion, heads

The matrix products go to BLAS (``np.dot``, through SciPy); ``tanh(v)`` is computed as
``2σ(2v) − 1`` (within an ulp of 1; ``expf`` costs a third of ``tanhf``). No ``fastmath``:
sums keep their order.
Results agree with the PyTorch step to float rounding, which ``tests/models/test_compiled_step.py``
checks, with both against ``forward``.

The step writes new arrays and leaves its inputs untouched, like the PyTorch step, so a state
stays valid after it has been stepped (a caller may branch from it). The attention cache has the
PyTorch path's layout: the last ``≤ W − 1`` keys and values, oldest first, so either path
continues a state the other made.

Importing this module imports Numba (~0.5 s): ``enhanced.py`` does so on the first inference step.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np
from numpy.typing import NDArray

__all__ = ["CompiledStepWeights", "StepArrays"]

Array = NDArray[Any]


class StepArrays(NamedTuple):
    """What one compiled step returns: new C-contiguous arrays."""

    hidden: Array  # (L, N, D)
    cell: Array  # (L, N, D)
    membrane: Array  # (N, D); unwritten without the LIF layer
    keys: Array  # (N, H, S', d), S' = min(S + 1, W − 1)
    values: Array
    features: Array  # (B, D), what the heads read
    predicted_return: Array  # (B,)
    prob_up_logit: Array  # (B,)


class CompiledStepWeights(NamedTuple):
    """The weights of one step as C-contiguous arrays of one dtype (float32 or float64).

    ``N`` rows (``B·K``), input width ``F``, width ``D``, ``L`` layers, ``H`` heads of width
    ``d``, ``M`` memory slots, window ``W``. Without the LIF layer ``lif`` is False; without
    attention ``window`` is 0 and the attention arrays are empty.
    """

    input_weight: Array  # (F + D, 4D): [W_ih W_in; W_hh]ᵀ of layer 0 (input projection folded in)
    layer_weight: Array  # (L − 1, 2D, 4D): [W_ih; W_hh]ᵀ of layers 1 …
    gate_bias: Array  # (L, N, 4D): a layer's gate biases, per row (with the timeframe embedding)
    lif: bool
    beta: Any  # NumPy scalars of the dtype, so that the membrane is computed in it (lif.py)
    threshold: Any
    qkv_weight: Array  # (D, 3D): W_qkvᵀ
    qkv_bias: Array  # (3D,)
    out_weight: Array  # (D, D): W_oᵀ
    out_bias: Array  # (D,)
    memory_keys: Array  # (H, M, d)
    memory_values: Array  # (H, M, d)
    window: int
    timeframe_weights: Array  # (K,): softmax(α), or [1.0]
    head_weight: Array  # (2, D)
    head_bias: Array  # (2,)

    def step(
        self, x: Array, hidden: Array, cell: Array, membrane: Array, keys: Array, values: Array
    ) -> StepArrays:
        """Advance every row one bar; inputs C-contiguous of the weights' dtype.

        ``membrane`` is any ``(N, D)`` array without the LIF layer; ``keys`` and ``values`` are
        ``(N, H, 0, d)`` without attention.
        """
        rows, heads, cached, head_dim = keys.shape
        kept = min(cached + 1, self.window - 1) if self.window > 0 else 0
        batch = rows // self.timeframe_weights.shape[0]
        dtype = x.dtype
        out = StepArrays(
            np.empty_like(hidden),
            np.empty_like(cell),
            np.empty_like(membrane),
            np.empty((rows, heads, kept, head_dim), dtype),
            np.empty((rows, heads, kept, head_dim), dtype),
            np.empty((batch, hidden.shape[2]), dtype),
            np.empty(batch, dtype),
            np.empty(batch, dtype),
        )
        if kept > 0:  # the kept earlier positions: NumPy copies blocks ~3× faster than a Numba loop
            dropped = cached + 1 - kept
            out.keys[:, :, : kept - 1] = keys[:, :, dropped:]
            out.values[:, :, : kept - 1] = values[:, :, dropped:]
        # Fields as separate arguments: Numba types a NamedTuple argument ~3× slower per field.
        _step_kernel(x, hidden, cell, membrane, keys, values, *self, *out)
        return out


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _scores(query: Any, keys: Any, scale: Any, out: Any) -> None:  # pragma: no cover - compiled
    """``out[s] = scale · Σ_e query[e] keys[s, e]``, four positions at a time.

    A head's dot product is short (16 terms at the seed's size) and each addition waits on the
    last; four independent sums keep the floating-point unit busy (same order of terms in each).
    """
    positions, width = keys.shape
    s = 0
    while s + 4 <= positions:
        first = second = third = fourth = 0.0
        for e in range(width):
            q = query[e]
            first += q * keys[s, e]
            second += q * keys[s + 1, e]
            third += q * keys[s + 2, e]
            fourth += q * keys[s + 3, e]
        out[s] = first * scale
        out[s + 1] = second * scale
        out[s + 2] = third * scale
        out[s + 3] = fourth * scale
        s += 4
    for rest in range(s, positions):
        total = 0.0
        for e in range(width):
            total += query[e] * keys[rest, e]
        out[rest] = total * scale


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _accumulate(weights: Any, rows: Any, out: Any) -> None:  # pragma: no cover - compiled
    """``out += Σ_s weights[s] rows[s]``, summed in order of ``s``, four rows per pass over ``out``."""
    positions, width = rows.shape
    s = 0
    while s + 4 <= positions:
        p0, p1, p2, p3 = weights[s], weights[s + 1], weights[s + 2], weights[s + 3]
        for e in range(width):
            out[e] = (
                out[e] + p0 * rows[s, e] + p1 * rows[s + 1, e] + p2 * rows[s + 2, e] + p3 * rows[s + 3, e]
            )
        s += 4
    for rest in range(s, positions):
        p = weights[rest]
        for e in range(width):
            out[e] += p * rows[rest, e]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _step_kernel(
    x: Any,
    hidden: Any,
    cell: Any,
    membrane: Any,
    keys: Any,
    values: Any,
    input_weight: Any,
    layer_weight: Any,
    gate_bias: Any,
    lif: Any,
    beta: Any,
    threshold: Any,
    qkv_weight: Any,
    qkv_bias: Any,
    out_weight: Any,
    out_bias: Any,
    memory_keys: Any,
    memory_values: Any,
    window: Any,
    timeframe_weights: Any,
    head_weight: Any,
    head_bias: Any,
    new_hidden: Any,
    new_cell: Any,
    new_membrane: Any,
    new_keys: Any,
    new_values: Any,
    fused: Any,
    predicted_return: Any,
    prob_up_logit: Any,
) -> None:  # pragma: no cover - compiled by Numba; the tests run it compiled
    """Fill the :class:`StepArrays` from one bar ``x`` and the state (see the module notes).

    The arguments after ``values`` are the fields of :class:`CompiledStepWeights`, then those of
    :class:`StepArrays`, in order.
    """
    rows, features = x.shape
    layers, _, width = hidden.shape
    dtype = x.dtype
    z = np.empty((rows, width), dtype)
    gates = np.empty((rows, 4 * width), dtype)
    for layer in range(layers):
        inputs = features if layer == 0 else width
        joined = np.empty((rows, inputs + width), dtype)  # [x, h]: one product for both weights
        for n in range(rows):
            for k in range(inputs):
                joined[n, k] = x[n, k] if layer == 0 else z[n, k]
            for k in range(width):
                joined[n, inputs + k] = hidden[layer, n, k]
        np.dot(joined, input_weight if layer == 0 else layer_weight[layer - 1], gates)
        for n in range(rows):
            for j in range(width):
                bias = gate_bias[layer, n]
                input_gate = 1.0 / (1.0 + math.exp(-(gates[n, j] + bias[j])))
                forget_gate = 1.0 / (1.0 + math.exp(-(gates[n, width + j] + bias[width + j])))
                candidate = gates[n, 2 * width + j] + bias[2 * width + j]
                candidate_tanh = 2.0 / (1.0 + math.exp(-(candidate + candidate))) - 1.0
                new_cell[layer, n, j] = forget_gate * cell[layer, n, j] + input_gate * candidate_tanh
                c = new_cell[layer, n, j]  # rounded to the dtype, as PyTorch keeps it
                output_gate = 1.0 / (1.0 + math.exp(-(gates[n, 3 * width + j] + bias[3 * width + j])))
                new_hidden[layer, n, j] = output_gate * (2.0 / (1.0 + math.exp(-(c + c))) - 1.0)
                z[n, j] = new_hidden[layer, n, j]

    if lif:
        for n in range(rows):
            for j in range(width):
                previous = membrane[n, j]
                m = beta * previous + z[n, j]
                if previous > threshold:
                    m = m - threshold
                new_membrane[n, j] = m
                z[n, j] = m

    if window > 0:
        heads, slots, head_dim = memory_keys.shape
        cached = keys.shape[2]
        kept = new_keys.shape[2]
        scale = 1.0 / math.sqrt(head_dim)
        qkv = np.empty((rows, 3 * width), dtype)
        np.dot(z, qkv_weight, qkv)
        attended = np.zeros((rows, width), dtype)
        scores = np.empty(slots + cached + 1, dtype)
        for n in range(rows):
            for i in range(3 * width):
                qkv[n, i] += qkv_bias[i]
            for hd in range(heads):
                query = qkv[n, hd * head_dim : (hd + 1) * head_dim]
                key = qkv[n, width + hd * head_dim : width + (hd + 1) * head_dim]
                value = qkv[n, 2 * width + hd * head_dim : 2 * width + (hd + 1) * head_dim]
                _scores(query, memory_keys[hd], scale, scores[:slots])
                _scores(query, keys[n, hd], scale, scores[slots : slots + cached])
                _scores(query, key.reshape((1, head_dim)), scale, scores[slots + cached :])
                top = scores.max()
                total = 0.0
                for s in range(slots + cached + 1):
                    scores[s] = math.exp(scores[s] - top)
                    total += scores[s]
                head_out = attended[n, hd * head_dim : (hd + 1) * head_dim]
                _accumulate(scores[:slots], memory_values[hd], head_out)
                _accumulate(scores[slots : slots + cached], values[n, hd], head_out)
                _accumulate(scores[slots + cached :], value.reshape((1, head_dim)), head_out)
                for e in range(head_dim):
                    head_out[e] = head_out[e] / total
                if kept > 0:  # the next cache ends with this position (the step copied the rest)
                    for e in range(head_dim):
                        new_keys[n, hd, kept - 1, e] = key[e]
                        new_values[n, hd, kept - 1, e] = value[e]
        projected = np.empty((rows, width), dtype)
        np.dot(attended, out_weight, projected)
        for n in range(rows):
            for i in range(width):
                z[n, i] = z[n, i] + (projected[n, i] + out_bias[i])

    timeframes = timeframe_weights.shape[0]
    for b in range(fused.shape[0]):
        for j in range(width):
            total_k = z[b * timeframes, j] * timeframe_weights[0]
            for t in range(1, timeframes):
                total_k += z[b * timeframes + t, j] * timeframe_weights[t]
            fused[b, j] = total_k if timeframes > 1 else z[b, j]
        first = 0.0
        second = 0.0
        for j in range(width):
            first += head_weight[0, j] * fused[b, j]
            second += head_weight[1, j] * fused[b, j]
        predicted_return[b] = first + head_bias[0]
        prob_up_logit[b] = second + head_bias[1]
