"""EnhancedLSTM: projection → LSTM → optional LIF → optional cached attention → return and direction heads.

Data flow for bars ``x`` of shape ``(B, T, F)`` (``DESIGN.md``, section Predictor)::

    z = W_in x (+ e_k, the timeframe embedding, with K timeframes)      (N, T, D), N = B·K
    h = LSTM(z)                                                          (N, T, D)
    h ← m, the LIF membrane potential of h       if use_biological_activation
    h ← windowed attention with memory slots     if use_advanced_attention (last row only)
        (scores from a quantum kernel instead     if use_quantum_attention; no compiled step)
    h ← h + quantum memory read of h             if use_quantum_memory (no compiled step)
    g = Σ_k softmax(α)_k h_{·,k,T}                with K timeframes, else h_{·,T}
    (r̂, ℓ) = W_head g                           next-bar return, logit of P(up)

Multi-timeframe input runs as one batched call: the K sequences are stacked along the batch
dimension, so there is no thread pool to hang (the seed's failure mode).

Streaming: ``init_state(B)`` then ``step(x_t, state)`` per bar. The LSTM state and the LIF
membrane carry the whole history; the attention cache keeps the last ``seq_len`` positions.
A step is a few dozen small operations, so what it costs is their count, not their arithmetic
(nor, at a few microseconds each, ``nn.Module`` attribute look-ups). It runs on a
:class:`_StreamingPlan` of plain tensors: the input projection folded into the first LSTM
layer's input weights (``W_ih (W_in x + b_in) + b_ih = (W_ih W_in) x + (W_ih b_in + b_ih)``),
the memory slots broadcast to the batch, and the other weights by reference. While no gradient
is recorded the plan is kept until a weight changes version (an optimiser step,
``load_state_dict``) or the module is converted (``to``, ``double``); with gradients it is
rebuilt each step, in the graph. Without gradients, in evaluation mode, on the CPU in float32 or
float64, the kept plan also holds the weights as NumPy arrays and the whole step is one
Numba-compiled call (:mod:`tengri.models.compiled_step`; ~25 PyTorch calls cost ~10× more);
otherwise the step runs the PyTorch operations, which also serve autograd and other devices.
Both read and write the same state, so a stream may switch between them. Run it under
``torch.inference_mode()`` (or ``torch.no_grad()``).
``forward`` computes exactly that (attention over a sliding window of ``seq_len`` bars, the
new one included), so streaming
``N`` bars from a fresh state equals ``forward`` on those ``N`` bars for any ``N``; for
``N ≤ seq_len`` the window is the whole sequence.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tengri.errors import ModelError
from tengri.models.attention import AttentionStepWeights, KeyValueCache, WindowedMemoryAttention, attend_step
from tengri.models.config import EnhancedLSTMConfig, ModelOutput
from tengri.models.lif import LeakyIntegrateAndFire
from tengri.models.quantum_attention import QuantumKernelAttention
from tengri.models.quantum_memory import QuantumMemory

if TYPE_CHECKING:
    from tengri.models.compiled_step import CompiledStepWeights

__all__ = ["EnhancedLSTM", "EnhancedLSTMState"]


@dataclass(frozen=True)
class EnhancedLSTMState:
    """Streaming state of an :class:`EnhancedLSTM` for ``N = B·K`` sequences.

    Attributes
    ----------
    hidden, cell
        LSTM state, each ``(num_layers, N, D)``.
    membrane
        LIF membrane ``(N, D)``, or None without the LIF layer.
    cache
        Attention keys and values of the last ``≤ seq_len − 1`` bars, or None without attention.
    """

    hidden: Tensor
    cell: Tensor
    membrane: Tensor | None
    cache: KeyValueCache | None


_version = operator.attrgetter("_version")  # a tensor's in-place update count


class _StreamingPlan(NamedTuple):
    """What a streaming step reads, as plain tensors (see the module notes)."""

    key: tuple[int, ...]  # batch rows and the versions of the model's weights
    input_weight: Tensor  # W_ih W_in (4D, F)
    input_bias: Tensor  # W_ih (b_in + e_k) + b_ih, (4D,) or (N, 4D)
    layers: tuple[tuple[Tensor, Tensor, Tensor, Tensor], ...]  # (W_ih, W_hh, b_ih, b_hh) per layer
    lif: LeakyIntegrateAndFire | None
    attention: AttentionStepWeights | None
    head_weight: Tensor
    head_bias: Tensor
    timeframe_weights: Tensor | None  # softmax(α) with K timeframes
    compiled: CompiledStepWeights | None = None  # NumPy copies for the compiled step, if it applies


class EnhancedLSTM(nn.Module):
    """The classical Tengri model; build it with :func:`~tengri.models.create_enhanced_lstm`.

    Parameters
    ----------
    config
        Model configuration; ``use_quantum`` is ignored here.

    Notes
    -----
    Input: ``(B, T, F)``, or with ``use_multi_timeframe`` a ``(B, K, T, F)`` tensor or a mapping
    ``{timeframe: (B, T, F)}`` over ``config.timeframes`` (K of them, in that order), each
    branch holding the last ``T`` bars of its timeframe ending at the same instant.
    """

    def __init__(self, config: EnhancedLSTMConfig) -> None:
        super().__init__()
        self.config = config
        dim = config.hidden_size
        self.timeframes = len(config.timeframes) if config.use_multi_timeframe else 1
        self.input_projection = nn.Linear(config.input_size, dim)
        self.lstm = nn.LSTM(
            dim,
            dim,
            num_layers=config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.lif = (
            LeakyIntegrateAndFire(config.lif_beta, config.lif_threshold)
            if config.use_biological_activation
            else None
        )
        self.attention: WindowedMemoryAttention | QuantumKernelAttention | None = None
        if config.use_quantum_attention:
            self.attention = QuantumKernelAttention(
                dim,
                config.num_heads,
                config.memory_slots,
                config.seq_len,
                config.dropout,
                n_qubits=config.n_qubits,
                n_layers=config.n_qlayers,
                shots=config.quantum_attention_shots,
                seed=config.seed,
            )
        elif config.use_advanced_attention:
            self.attention = WindowedMemoryAttention(
                dim, config.num_heads, config.memory_slots, config.seq_len, config.dropout
            )
        self.quantum_memory = (
            QuantumMemory(
                dim,
                config.memory_slots,
                n_qubits=config.n_qubits,
                n_layers=config.n_qlayers,
                noise=config.quantum_memory_noise,
                noise_strength=config.quantum_memory_noise_strength,
                code=config.quantum_memory_code,
            )
            if config.use_quantum_memory
            else None
        )
        if self.timeframes > 1:
            self.timeframe_embedding = nn.Parameter(torch.zeros(self.timeframes, dim))
            self.timeframe_logits = nn.Parameter(torch.zeros(self.timeframes))
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(dim, 2)
        self._plan: _StreamingPlan | None = None  # see `_streaming_plan`
        self._plan_source_refs: list[Tensor] = []
        self._state_arrays: dict[int, tuple[Any, ...]] = {}  # see `_compiled_step`

    # -- input handling -------------------------------------------------------------------------

    def _stack(self, x: Tensor | Mapping[int, Tensor], bar_dims: int) -> Tensor:
        """Return ``(N, *bar)`` from the documented input; ``bar_dims``: 2 for sequences, 1 for bars."""
        if isinstance(x, Mapping):
            missing = [k for k in self.config.timeframes if k not in x]
            if not self.config.use_multi_timeframe or missing:
                raise ModelError(
                    f"a mapping input needs use_multi_timeframe and keys {self.config.timeframes}"
                )
            x = torch.stack([x[k] for k in self.config.timeframes], dim=1)
        expected = bar_dims + (2 if self.timeframes > 1 else 1)
        if x.dim() != expected or x.shape[-1] != self.config.input_size:
            shape = "(B, K, " if self.timeframes > 1 else "(B, "
            shape += "T, F)" if bar_dims == 2 else "F)"
            raise ModelError(
                f"expected input of shape {shape} with F = {self.config.input_size}, got {tuple(x.shape)}"
            )
        if self.timeframes > 1:
            if x.shape[1] != self.timeframes:
                raise ModelError(f"expected {self.timeframes} timeframes on dimension 1, got {x.shape[1]}")
            return x.reshape(-1, *x.shape[2:])
        return x

    def _embed(self, x: Tensor, batch: int) -> Tensor:
        z: Tensor = self.input_projection(x)
        if self.timeframes > 1:
            embedding = self.timeframe_embedding.repeat(batch, 1)  # row b·K + k holds e_k
            z = z + (embedding[:, None] if z.dim() == 3 else embedding)
        return z

    def _heads(self, last: Tensor) -> ModelOutput:
        """Fuse timeframes and apply the heads to the last-bar features ``(N, D)``."""
        if self.timeframes > 1:
            weights = torch.softmax(self.timeframe_logits, dim=0)
            last = (last.view(-1, self.timeframes, last.shape[-1]) * weights[:, None]).sum(dim=1)
        features = self.dropout(last) if self.training else last
        predicted_return, prob_up_logit = F.linear(features, self.head.weight, self.head.bias).unbind(1)
        return ModelOutput(predicted_return, prob_up_logit, last)

    # -- full pass ------------------------------------------------------------------------------

    def forward(self, x: Tensor | Mapping[int, Tensor]) -> ModelOutput:
        """Predict for the last bar of each sequence (see the class notes for the input format)."""
        stacked = self._stack(x, bar_dims=2)
        z = self._embed(stacked, stacked.shape[0] // self.timeframes)
        h, _ = self.lstm(z)
        if self.lif is not None:
            h = self.lif(h)
        last = self.attention(h, last_only=True)[:, 0] if self.attention is not None else h[:, -1]
        if self.quantum_memory is not None:
            last = self.quantum_memory(last)
        return self._heads(last)

    # -- streaming ------------------------------------------------------------------------------

    def _lstm_weight(self, name: str, layer: int) -> Tensor:
        """Return ``nn.LSTM``'s parameter ``{name}_l{layer}`` (e.g. ``weight_ih``, 0)."""
        weight: Tensor = getattr(self.lstm, f"{name}_l{layer}")
        return weight

    def _apply(self, fn: Any, recurse: bool = True) -> EnhancedLSTM:
        """Convert the module (``to``, ``double``, …); drop the streaming plan of the old weights."""
        self._plan = None
        self._state_arrays.clear()
        converted: EnhancedLSTM = super()._apply(fn, recurse)  # type: ignore[no-untyped-call]
        return converted

    def _plan_sources(self) -> list[Tensor]:
        """The weights the streaming plan reads: the first four it folds, the compiled step copies all."""
        first = [
            self.input_projection.weight,
            self.input_projection.bias,
            self._lstm_weight("weight_ih", 0),
            self._lstm_weight("bias_ih", 0),
        ]
        return first + [p for p in self.parameters() if all(p is not w for w in first)]

    def _streaming_plan(self, rows: int) -> _StreamingPlan:
        """Return the plan of a step over ``rows`` sequences, reusing the last one while it is valid."""
        plan = self._plan
        if not torch.is_grad_enabled() and plan is not None and plan.key[0] == rows:
            try:
                if (rows, *map(_version, self._plan_source_refs)) == plan.key:
                    return plan
            except RuntimeError:  # weights created under inference mode have no version counter
                pass
        sources = self._plan_sources()
        weight_ih, bias_ih = sources[2], sources[3]
        bias_in: Tensor = self.input_projection.bias
        if self.timeframes > 1:
            bias_in = bias_in + self.timeframe_embedding.repeat(rows // self.timeframes, 1)
        layers = tuple(
            tuple(self._lstm_weight(name, layer) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            for layer in range(self.config.num_layers)
        )
        plan = _StreamingPlan(
            (rows,),
            weight_ih @ self.input_projection.weight,
            F.linear(bias_in, weight_ih, bias_ih),
            layers,  # type: ignore[arg-type]
            self.lif,
            self.attention.step_weights(rows)
            if isinstance(self.attention, WindowedMemoryAttention)
            else None,
            self.head.weight,
            self.head.bias,
            torch.softmax(self.timeframe_logits, dim=0) if self.timeframes > 1 else None,
        )
        if not torch.is_grad_enabled():
            try:
                key = (rows, *map(_version, sources))
            except RuntimeError:  # weights created under inference mode: no caching
                self._plan = None
            else:
                plan = plan._replace(key=key, compiled=self._compiled_weights(plan, rows))
                self._plan, self._plan_source_refs = plan, sources
        return plan

    def _compiled_weights(self, plan: _StreamingPlan, rows: int) -> CompiledStepWeights | None:
        """Return the plan's weights for the compiled step, or None off the CPU or float32/64."""
        reference = plan.input_weight
        if reference.device.type != "cpu" or reference.dtype not in (torch.float32, torch.float64):
            return None
        if isinstance(self.attention, QuantumKernelAttention) or self.quantum_memory is not None:
            return None  # the compiled step has no quantum circuits
        from tengri.models.compiled_step import CompiledStepWeights  # imports Numba: first use only

        def array(tensor: Tensor) -> np.ndarray[Any, Any]:
            return tensor.detach().contiguous().numpy()

        dtype = reference.dtype
        scalar = np.float32 if dtype == torch.float32 else np.float64
        dim = self.config.hidden_size
        layers = plan.layers
        joined = [torch.cat([reference, layers[0][1]], dim=1)]  # [W_ih W_in, W_hh]
        joined += [torch.cat([weight_ih, weight_hh], dim=1) for weight_ih, weight_hh, _, _ in layers[1:]]
        bias = [plan.input_bias + layers[0][3]]
        bias += [bias_ih + bias_hh for _, _, bias_ih, bias_hh in layers[1:]]
        lif, attention = self.lif, self.attention
        if attention is not None:
            attention_arrays = (
                array(attention.qkv.weight.T),
                array(attention.qkv.bias),
                array(attention.out.weight.T),
                array(attention.out.bias),
                array(attention.memory_keys),
                array(attention.memory_values),
            )
        else:
            no_memory = np.zeros((1, 0, 1), dtype=scalar)
            attention_arrays = (
                np.zeros((dim, 0), dtype=scalar),
                np.zeros(0, dtype=scalar),
                np.zeros((0, dim), dtype=scalar),
                np.zeros(dim, dtype=scalar),
                no_memory,
                no_memory,
            )
        timeframe_weights = plan.timeframe_weights
        return CompiledStepWeights(
            array(joined[0].T),
            array(
                torch.stack([w.T for w in joined[1:]])
                if len(joined) > 1
                else torch.zeros(0, 2 * dim, 4 * dim, dtype=dtype)
            ),
            array(torch.stack([b.expand(rows, -1) for b in bias])),
            lif is not None,
            scalar(lif.beta if lif is not None else 0.0),
            scalar(lif.threshold if lif is not None else 0.0),
            *attention_arrays,
            attention.window if attention is not None else 0,
            array(timeframe_weights) if timeframe_weights is not None else np.ones(1, dtype=scalar),
            array(plan.head_weight),
            array(plan.head_bias),
        )

    def init_state(self, batch: int) -> EnhancedLSTMState:
        """Return the resting state for ``batch`` streams (each with K timeframes if configured)."""
        reference = self.head.weight
        n = batch * self.timeframes
        zeros = torch.zeros(self.config.num_layers, n, self.config.hidden_size, dtype=reference.dtype)
        zeros = zeros.to(reference.device)
        membrane = zeros[0].clone() if self.lif is not None else None
        cache = (
            self.attention.empty_cache(n, reference.dtype, reference.device)
            if self.attention is not None
            else None
        )
        return EnhancedLSTMState(zeros, zeros.clone(), membrane, cache)

    def step(
        self, x_t: Tensor | Mapping[int, Tensor], state: EnhancedLSTMState
    ) -> tuple[ModelOutput, EnhancedLSTMState]:
        """Advance every stream by one bar ``x_t`` ``(B, F)`` (or ``(B, K, F)``) and predict the next.

        One LSTM step per layer with ``torch.lstm_cell``: calling ``nn.LSTM`` on one bar pays the
        oneDNN RNN set-up (≈ 4× the cell itself on our machines); the cell computes the same
        equations with the same weights. Dropout between layers is not applied: streaming is
        inference (the attention and head dropout do apply in training mode, as in ``forward``).
        """
        x = self._stack(x_t, bar_dims=1)
        plan = self._streaming_plan(x.shape[0])
        if plan.compiled is not None and not self.training:
            compiled = self._compiled_step(plan, plan.compiled, x, state)
            if compiled is not None:
                return compiled
        hidden, cell = state.hidden, state.cell
        h, c = torch.lstm_cell(
            x, (hidden[0], cell[0]), plan.input_weight, plan.layers[0][1], plan.input_bias, plan.layers[0][3]
        )
        if len(plan.layers) == 1:
            hidden, cell = h[None], c[None]
        else:
            hiddens, cells = [h], [c]
            for layer, (weight_ih, weight_hh, bias_ih, bias_hh) in enumerate(plan.layers[1:], start=1):
                h, c = torch.lstm_cell(
                    h, (hidden[layer], cell[layer]), weight_ih, weight_hh, bias_ih, bias_hh
                )
                hiddens.append(h)
                cells.append(c)
            hidden, cell = torch.stack(hiddens), torch.stack(cells)
        membrane = state.membrane
        if plan.lif is not None:
            if membrane is None:
                raise ModelError("the state has no membrane: build it with this model's init_state")
            membrane = plan.lif.step(h, membrane)
            h = membrane
        cache = state.cache
        if plan.attention is not None:
            if cache is None:
                raise ModelError("the state has no attention cache: build it with this model's init_state")
            h, cache = attend_step(h, cache, plan.attention, self.training)
        elif isinstance(self.attention, QuantumKernelAttention):
            if cache is None:
                raise ModelError("the state has no attention cache: build it with this model's init_state")
            h, cache = self.attention.step(h, cache)
        if self.quantum_memory is not None:
            h = self.quantum_memory(h)
        if plan.timeframe_weights is not None:
            h = (h.view(-1, self.timeframes, h.shape[-1]) * plan.timeframe_weights[:, None]).sum(dim=1)
        features = F.dropout(h, self.config.dropout, training=True) if self.training else h
        predicted_return, prob_up_logit = F.linear(features, plan.head_weight, plan.head_bias).unbind(1)
        return ModelOutput(predicted_return, prob_up_logit, h), EnhancedLSTMState(
            hidden, cell, membrane, cache
        )

    def _compiled_step(
        self, plan: _StreamingPlan, weights: CompiledStepWeights, x: Tensor, state: EnhancedLSTMState
    ) -> tuple[ModelOutput, EnhancedLSTMState] | None:
        """Run :meth:`step` as one compiled call; None if an input does not suit it (the caller falls back).

        Tensors and arrays share memory both ways (``numpy()``, ``from_numpy``), so the arrays
        of the state last passed in or returned are kept with it and the next step skips the
        conversions (~1.5 µs a tensor): a frozen state always holds the same tensors. A state
        whose arrays had to be copied (a non-contiguous cache of the PyTorch step) is not kept.
        """
        arrays = self._state_arrays.get(id(state))
        if arrays is None or arrays[0] is not state:
            arrays = self._to_arrays(plan, state)
            if arrays is None:
                return None
        try:
            bar = np.ascontiguousarray(x.numpy())
        except (RuntimeError, TypeError):  # a tensor that requires grad, or off the CPU
            return None
        if bar.dtype != weights.input_weight.dtype:
            return None
        _, hidden, cell, membrane, keys, values = arrays
        out = weights.step(bar, hidden, cell, membrane, keys, values)
        new_membrane = torch.from_numpy(out.membrane) if plan.lif is not None else None
        if plan.lif is not None:
            # object.__setattr__: what nn.Module.__setattr__ ends in for a tensor attribute, minus
            # its checks (microseconds, a tenth of the step)
            object.__setattr__(plan.lif, "last_membrane", new_membrane)
        cache = (
            (torch.from_numpy(out.keys), torch.from_numpy(out.values)) if plan.attention is not None else None
        )
        new_state = EnhancedLSTMState(
            torch.from_numpy(out.hidden), torch.from_numpy(out.cell), new_membrane, cache
        )
        memo = self._state_arrays  # updated in place: assigning a module attribute costs microseconds
        memo.clear()
        memo[id(state)] = arrays
        memo[id(new_state)] = (new_state, out.hidden, out.cell, out.membrane, out.keys, out.values)
        output = ModelOutput(
            torch.from_numpy(out.predicted_return),
            torch.from_numpy(out.prob_up_logit),
            torch.from_numpy(out.features),
        )
        return output, new_state

    def _to_arrays(self, plan: _StreamingPlan, state: EnhancedLSTMState) -> tuple[Any, ...] | None:
        """Return ``(state, hidden, cell, membrane, keys, values)`` for the compiled step, or None.

        None if the state lacks a part of the model (the PyTorch step names the error), has a
        tensor that requires grad or is off the CPU, or is not of the weights' dtype. The first
        item is None instead of the state if an array is a copy (it must not be kept).
        """
        if (plan.lif is not None and state.membrane is None) or (
            plan.attention is not None and state.cache is None
        ):
            return None
        tensors = [state.hidden, state.cell]
        tensors += [state.membrane] if state.membrane is not None else []
        tensors += list(state.cache) if state.cache is not None else []
        try:
            views = [t.numpy() for t in tensors]
        except (RuntimeError, TypeError):
            return None
        arrays = [np.ascontiguousarray(view) for view in views]
        copied = any(a is not view for a, view in zip(arrays, views, strict=True))
        if state.membrane is None:
            arrays.insert(2, arrays[0][0])
        if state.cache is None:
            arrays += [np.zeros((arrays[0].shape[1], 1, 0, 1), dtype=arrays[0].dtype)] * 2
        if plan.compiled is None or any(a.dtype != plan.compiled.input_weight.dtype for a in arrays):
            return None
        return (None if copied else state, *arrays)
