"""EnhancedLSTM: projection → LSTM → optional LIF → optional cached attention → return and direction heads.

Data flow for bars ``x`` of shape ``(B, T, F)`` (``DESIGN.md``, section Predictor)::

    z = W_in x (+ e_k, the timeframe embedding, with K timeframes)      (N, T, D), N = B·K
    h = LSTM(z)                                                          (N, T, D)
    h ← m, the LIF membrane potential of h       if use_biological_activation
    h ← windowed attention with memory slots     if use_advanced_attention (last row only)
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
is recorded the plan is kept until a weight it derives from changes version (an optimiser step,
``load_state_dict``) or the module is converted (``to``, ``double``); with gradients it is
rebuilt each step, in the graph. Run it under ``torch.inference_mode()`` and
``torch_threads(SMALL_TENSOR_THREADS)``.
``forward`` computes exactly that (attention over a sliding window of ``seq_len`` bars, the
new one included), so streaming
``N`` bars from a fresh state equals ``forward`` on those ``N`` bars for any ``N``; for
``N ≤ seq_len`` the window is the whole sequence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tengri.errors import ModelError
from tengri.models.attention import AttentionStepWeights, KeyValueCache, WindowedMemoryAttention, attend_step
from tengri.models.config import EnhancedLSTMConfig, ModelOutput
from tengri.models.lif import LeakyIntegrateAndFire

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


class _StreamingPlan(NamedTuple):
    """What a streaming step reads, as plain tensors (see the module notes)."""

    key: tuple[int, ...]  # batch rows and the versions of the weights below are derived from
    input_weight: Tensor  # W_ih W_in (4D, F)
    input_bias: Tensor  # W_ih (b_in + e_k) + b_ih, (4D,) or (N, 4D)
    layers: tuple[tuple[Tensor, Tensor, Tensor, Tensor], ...]  # (W_ih, W_hh, b_ih, b_hh) per layer
    lif: LeakyIntegrateAndFire | None
    attention: AttentionStepWeights | None
    head_weight: Tensor
    head_bias: Tensor
    timeframe_weights: Tensor | None  # softmax(α) with K timeframes


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
        self.attention = (
            WindowedMemoryAttention(
                dim, config.num_heads, config.memory_slots, config.seq_len, config.dropout
            )
            if config.use_advanced_attention
            else None
        )
        if self.timeframes > 1:
            self.timeframe_embedding = nn.Parameter(torch.zeros(self.timeframes, dim))
            self.timeframe_logits = nn.Parameter(torch.zeros(self.timeframes))
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(dim, 2)
        self._plan: _StreamingPlan | None = None  # see `_streaming_plan`
        self._plan_source_refs: list[Tensor] = []

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
        return self._heads(last)

    # -- streaming ------------------------------------------------------------------------------

    def _lstm_weight(self, name: str, layer: int) -> Tensor:
        """Return ``nn.LSTM``'s parameter ``{name}_l{layer}`` (e.g. ``weight_ih``, 0)."""
        weight: Tensor = getattr(self.lstm, f"{name}_l{layer}")
        return weight

    def _apply(self, fn: Any, recurse: bool = True) -> EnhancedLSTM:
        """Convert the module (``to``, ``double``, …); drop the streaming plan of the old weights."""
        self._plan = None
        converted: EnhancedLSTM = super()._apply(fn, recurse)  # type: ignore[no-untyped-call]
        return converted

    def _plan_sources(self) -> list[Tensor]:
        """The weights the streaming plan derives tensors from (the rest it holds by reference)."""
        sources: list[Tensor] = [
            self.input_projection.weight,
            self.input_projection.bias,
            self._lstm_weight("weight_ih", 0),
            self._lstm_weight("bias_ih", 0),
        ]
        if self.timeframes > 1:
            sources += [self.timeframe_embedding, self.timeframe_logits]
        if self.attention is not None:
            sources += [self.attention.memory_keys, self.attention.memory_values]
        return sources

    def _streaming_plan(self, rows: int) -> _StreamingPlan:
        """Return the plan of a step over ``rows`` sequences, reusing the last one while it is valid."""
        plan = self._plan
        if not torch.is_grad_enabled() and plan is not None and plan.key[0] == rows:
            try:
                sources = self._plan_source_refs
                if all(w._version == v for w, v in zip(sources, plan.key[1:], strict=True)):
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
            self.attention.step_weights(rows) if self.attention is not None else None,
            self.head.weight,
            self.head.bias,
            torch.softmax(self.timeframe_logits, dim=0) if self.timeframes > 1 else None,
        )
        if not torch.is_grad_enabled():
            try:
                plan = plan._replace(key=(rows, *(w._version for w in sources)))
                self._plan, self._plan_source_refs = plan, sources
            except RuntimeError:  # weights created under inference mode: no caching
                self._plan = None
        return plan

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
        if plan.timeframe_weights is not None:
            h = (h.view(-1, self.timeframes, h.shape[-1]) * plan.timeframe_weights[:, None]).sum(dim=1)
        features = F.dropout(h, self.config.dropout, training=True) if self.training else h
        predicted_return, prob_up_logit = F.linear(features, plan.head_weight, plan.head_bias).unbind(1)
        return ModelOutput(predicted_return, prob_up_logit, h), EnhancedLSTMState(
            hidden, cell, membrane, cache
        )
