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
``forward`` computes exactly that (attention over a sliding window of ``seq_len`` bars, the
new one included), so streaming
``N`` bars from a fresh state equals ``forward`` on those ``N`` bars for any ``N``; for
``N ≤ seq_len`` the window is the whole sequence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from tengri.errors import ModelError
from tengri.models.attention import KeyValueCache, WindowedMemoryAttention
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
        predicted_return, prob_up_logit = self.head(self.dropout(last)).unbind(1)
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

    def _lstm_step(self, z: Tensor, hidden: Tensor, cell: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One LSTM step per layer with ``torch.lstm_cell``.

        Calling ``nn.LSTM`` on one bar pays the oneDNN RNN set-up (≈ 4× the cell itself on our
        machines); the cell computes the same equations with the same weights. Dropout between
        layers is not applied: streaming is inference.
        """
        hiddens, cells = [], []
        for layer in range(self.config.num_layers):
            h, c = torch.lstm_cell(
                z,
                (hidden[layer], cell[layer]),
                getattr(self.lstm, f"weight_ih_l{layer}"),
                getattr(self.lstm, f"weight_hh_l{layer}"),
                getattr(self.lstm, f"bias_ih_l{layer}"),
                getattr(self.lstm, f"bias_hh_l{layer}"),
            )
            hiddens.append(h)
            cells.append(c)
            z = h
        return z, torch.stack(hiddens), torch.stack(cells)

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
        """Advance every stream by one bar ``x_t`` ``(B, F)`` (or ``(B, K, F)``) and predict the next."""
        stacked = self._stack(x_t, bar_dims=1)
        z = self._embed(stacked, stacked.shape[0] // self.timeframes)
        h, hidden, cell = self._lstm_step(z, state.hidden, state.cell)
        membrane = state.membrane
        if self.lif is not None:
            if membrane is None:
                raise ModelError("the state has no membrane: build it with this model's init_state")
            membrane = self.lif.step(h, membrane)
            h = membrane
        cache = state.cache
        if self.attention is not None:
            if cache is None:
                raise ModelError("the state has no attention cache: build it with this model's init_state")
            h, cache = self.attention.step(h, cache)
        return self._heads(h), EnhancedLSTMState(hidden, cell, membrane, cache)
