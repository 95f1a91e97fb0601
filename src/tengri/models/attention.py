"""Causal multi-head attention over a sliding window plus learnable memory slots, with a key/value cache.

For position ``t`` of a sequence ``z`` (``N × T × D``), heads ``h = 1 … H`` of width ``d = D/H``::

    q_t, k_t, v_t = split(W_qkv z_t + b)
    K_t = [M_k ; k_{t−W+1} … k_t],   V_t = [M_v ; v_{t−W+1} … v_t]      (M: memory slots, W: window)
    a_t = softmax(q_t K_tᵀ / √d) V_t                                    (per head; Vaswani et al. 2017)
    y_t = z_t + W_o a_t                                                 (residual)

The ``M`` memory slots are learnable key/value pairs that every position sees: the long-term
memory; the window of the last ``W`` bars is the short-term memory. No positional encoding is
needed because the recurrent layer below already encodes order, which also makes the window a
set: streaming keeps the last ``W − 1`` keys and values (the cache), so a new bar costs one
projection and one attention row, and equals the full pass over the same bars. A step reads its
weights from :class:`AttentionStepWeights`, plain tensors the caller may keep between steps
(attribute access on an ``nn.Module`` costs microseconds, a step's budget is a few dozen), with
the memory slots already broadcast to the batch and contiguous, which halves the cost of the
concatenation that appends the new position.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tengri.errors import ModelError

__all__ = ["AttentionStepWeights", "KeyValueCache", "WindowedMemoryAttention", "attend_step"]

KeyValueCache = tuple[Tensor, Tensor]
"""Keys and values of the last ``≤ W − 1`` positions, each ``(N, H, S, d)``."""


class WindowedMemoryAttention(nn.Module):
    """Causal sliding-window multi-head attention with ``memory_slots`` always-visible entries.

    Parameters
    ----------
    dim
        Model width ``D``; must be divisible by ``num_heads``.
    num_heads
        Number of heads ``H``.
    memory_slots
        Number of learnable long-term memory entries ``M ≥ 0``.
    window
        Number of most recent positions each query sees, itself included (``W ≥ 1``).
    dropout
        Dropout on the attention output while training.
    """

    def __init__(
        self, dim: int, num_heads: int, memory_slots: int, window: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if num_heads < 1 or dim % num_heads:
            raise ModelError(f"hidden_size {dim} must be a positive multiple of num_heads {num_heads}")
        if memory_slots < 0 or window < 1:
            raise ModelError(f"memory_slots must be ≥ 0 and seq_len ≥ 1, got {memory_slots}, {window}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.window = window
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        scale = 1.0 / math.sqrt(self.head_dim)
        self.memory_keys = nn.Parameter(torch.randn(num_heads, memory_slots, self.head_dim) * scale)
        self.memory_values = nn.Parameter(torch.randn(num_heads, memory_slots, self.head_dim) * scale)

    def _project(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Split ``W_qkv z`` of ``(N, T, D)`` into queries, keys, values of ``(N, H, T, d)``."""
        n, t, _ = z.shape
        qkv = self.qkv(z).view(n, t, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]

    def _with_memory(self, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        n = keys.shape[0]
        memory_k = self.memory_keys.to(keys.dtype).expand(n, -1, -1, -1)
        memory_v = self.memory_values.to(values.dtype).expand(n, -1, -1, -1)
        return torch.cat([memory_k, keys], dim=2), torch.cat([memory_v, values], dim=2)

    def _merge(self, z: Tensor, attended: Tensor) -> Tensor:
        n, _, t, _ = attended.shape
        merged = attended.transpose(1, 2).reshape(n, t, -1)
        out: Tensor = self.dropout(self.out(merged))
        return z + out

    def forward(self, z: Tensor, last_only: bool = True) -> Tensor:
        """Attend over a whole sequence.

        Parameters
        ----------
        z
            Sequence ``(N, T, D)``.
        last_only
            Compute only the last position's row (what a next-bar prediction needs); else every row.

        Returns
        -------
        Tensor
            ``(N, 1, D)`` if ``last_only`` else ``(N, T, D)``.
        """
        queries, keys, values = self._project(z)
        steps = z.shape[1]
        if last_only:
            keys, values = self._with_memory(keys[:, :, -self.window :], values[:, :, -self.window :])
            attended = F.scaled_dot_product_attention(queries[:, :, -1:], keys, values)
            return self._merge(z[:, -1:], attended)
        keys, values = self._with_memory(keys, values)
        query_pos = torch.arange(steps, device=z.device)[:, None]
        key_pos = torch.arange(steps, device=z.device)[None, :]
        visible = (key_pos <= query_pos) & (key_pos > query_pos - self.window)
        memory = torch.ones(steps, self.memory_keys.shape[1], dtype=torch.bool, device=z.device)
        mask = torch.cat([memory, visible], dim=1)
        attended = F.scaled_dot_product_attention(queries, keys, values, attn_mask=mask)
        return self._merge(z, attended)

    def empty_cache(self, batch: int, dtype: torch.dtype, device: torch.device) -> KeyValueCache:
        """Return a cache holding no positions yet, for a batch of ``batch`` streams."""
        empty = torch.zeros(batch, self.num_heads, 0, self.head_dim, dtype=dtype, device=device)
        return empty, empty.clone()

    def step_weights(self, batch: int) -> AttentionStepWeights:
        """Return what :func:`attend_step` needs for ``batch`` streams (in the graph if recording)."""
        keys, values = (
            m.expand(batch, -1, -1, -1).contiguous() for m in (self.memory_keys, self.memory_values)
        )
        return AttentionStepWeights(
            self.qkv.weight,
            self.qkv.bias,
            self.out.weight,
            self.out.bias,
            keys,
            values,
            self.num_heads,
            self.head_dim,
            self.window,
            self.dropout.p,
        )

    def step(self, z_t: Tensor, cache: KeyValueCache) -> tuple[Tensor, KeyValueCache]:
        """Attend from one new position ``z_t`` ``(N, D)``; return ``(y_t (N, D), the next cache)``."""
        return attend_step(z_t, cache, self.step_weights(z_t.shape[0]), self.training)


class AttentionStepWeights(NamedTuple):
    """The weights of one attention step as plain tensors; memory ``(N, H, M, d)`` each, contiguous."""

    qkv_weight: Tensor
    qkv_bias: Tensor
    out_weight: Tensor
    out_bias: Tensor
    memory_keys: Tensor
    memory_values: Tensor
    num_heads: int
    head_dim: int
    window: int
    dropout: float


def attend_step(
    z_t: Tensor, cache: KeyValueCache, weights: AttentionStepWeights, training: bool = False
) -> tuple[Tensor, KeyValueCache]:
    """Attend from one new position ``z_t`` ``(N, D)``; return ``(y_t (N, D), the next cache)``.

    The cache holds the ``W − 1`` most recent earlier positions: with the new one they make the
    window, and a single concatenation with the memory slots serves both this step and, sliced
    (a view), the next cache. Dropout applies to the output when ``training``.
    """
    n = z_t.shape[0]
    # One position: (N, 3D) → (N, 3, H, 1, d) without the permute of the sequence path.
    qkv = F.linear(z_t, weights.qkv_weight, weights.qkv_bias)
    query, key, value = qkv.view(n, 3, weights.num_heads, 1, weights.head_dim).unbind(1)
    keys = torch.cat([weights.memory_keys, cache[0], key], dim=2)
    values = torch.cat([weights.memory_values, cache[1], value], dim=2)
    attended = F.scaled_dot_product_attention(query, keys, values).view(n, -1)  # (N, H, 1, d) → (N, D)
    out = F.linear(attended, weights.out_weight, weights.out_bias)
    if training:
        out = F.dropout(out, weights.dropout, training=True)
    start = max(weights.memory_keys.shape[2], keys.shape[2] - (weights.window - 1))
    return z_t + out, (keys[:, :, start:], values[:, :, start:])
