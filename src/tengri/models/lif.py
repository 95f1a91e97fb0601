"""A leaky integrate-and-fire layer on snnTorch's ``Leaky``, with a fast exact path for whole sequences.

Recurrence of ``snntorch.Leaky(beta, threshold, reset_mechanism="subtract")`` (snnTorch 1.0,
``reset_delay=True``), for input current ``u_t`` and membrane ``m_{t−1}`` (``m_{−1} = 0``)::

    r_t = H(m_{t−1} − θ)                 reset, detached from the graph
    m_t = β·m_{t−1} + u_t − r_t·θ        membrane potential
    s_t = H(m_t − θ)                     spike; its gradient is the fast-sigmoid surrogate

Stepping ``Leaky`` over a 50-bar window costs 50 × ~6 small PyTorch calls, more than the LSTM
itself, and a NumPy loop over the steps still pays ~4 calls per bar. Because the reset is
detached, ``m`` is *linear* in ``u`` for the gradient: ``m_t = Σ_{s≤t} β^{t−s} (u_s − θ·r_s)``.
The sequence path therefore finds the resets in one Numba-compiled loop over every neuron and
step (same float operations in the same order as snnTorch, so bit-identical values; no fast-math,
so no fused multiply-add), and returns ``m`` through an autograd function whose backward pass is
that linear filter, ``∂L/∂u_s = Σ_{t≥s} β^{t−s} ∂L/∂m_t``. Spikes come from ``Leaky.fire`` (the
surrogate); they are for inspection and are computed on demand, off the prediction path.
``tests/models/test_lif.py`` checks values and gradients against stepping ``Leaky``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import snntorch
import torch
from snntorch import surrogate
from torch import Tensor, nn

from tengri.errors import ModelError

__all__ = ["LeakyIntegrateAndFire"]


def _membrane_loop(current: Any, beta: Any, threshold: Any, out: Any) -> None:  # pragma: no cover
    """Fill ``out`` ``(N, T, H)`` with the subtract-reset membrane of ``current`` (compiled by Numba).

    ``beta`` and ``threshold`` come as scalars of the arrays' dtype, so float32 input is computed
    in float32 like snnTorch: ``m = m·β + u``, then ``m − θ`` where ``m_{t−1} > θ``.
    """
    batch, steps, width = current.shape
    for n in range(batch):
        for j in range(width):
            out[n, 0, j] = current[n, 0, j]  # β·0 + u − 0·θ
        for t in range(1, steps):
            for j in range(width):
                previous = out[n, t - 1, j]
                membrane = previous * beta + current[n, t, j]
                if previous > threshold:
                    membrane -= threshold
                out[n, t, j] = membrane


@functools.cache
def _compiled_membrane_loop() -> Callable[[Any, Any, Any, Any], None]:
    """Compile :func:`_membrane_loop` on first use: importing Numba costs ~0.5 s, off the start-up path."""
    import numba

    # cache=True keeps the machine code next to this file (or in the user's cache directory), so
    # a new process loads it instead of compiling again (~1 s per dtype).
    compiled: Callable[[Any, Any, Any, Any], None] = numba.njit(cache=True, nogil=True)(_membrane_loop)
    return compiled


def _membrane_values(current: Tensor, beta: float, threshold: float) -> Tensor:
    """Return the membrane ``(N, T, H)`` of a resting subtract-reset LIF layer driven by ``current``.

    Values only: no autograd graph (see :class:`LeakyIntegrateAndFire` for the differentiable call).
    """
    values = current.detach().cpu().contiguous()
    out = torch.empty_like(values)
    if values.numel():
        array = values.numpy()
        dtype = array.dtype.type
        _compiled_membrane_loop()(array, dtype(beta), dtype(threshold), out.numpy())
    return out.to(current.device)


class _LeakyMembrane(torch.autograd.Function):
    """Membrane potential of a subtract-reset LIF neuron over a sequence (time on dimension 1)."""

    @staticmethod
    def forward(current: Tensor, beta: float, threshold: float) -> Tensor:
        return _membrane_values(current, beta, threshold)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        ctx.beta = inputs[1]

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Tensor) -> tuple[Tensor, None, None]:
        (grad,) = grad_outputs
        steps = grad.shape[1]
        index = torch.arange(steps, device=grad.device)
        lag = index[None, :] - index[:, None]  # lag[s, t] = t − s
        # filter[s, t] = β^{t−s} for t ≥ s: ∂L/∂u_s = Σ_t filter[s, t] ∂L/∂m_t
        filter_ = torch.where(lag >= 0, ctx.beta ** lag.clamp(min=0).to(grad.dtype), 0.0)
        flat = grad.reshape(grad.shape[0], steps, -1)
        return (filter_ @ flat).reshape(grad.shape), None, None


class LeakyIntegrateAndFire(nn.Module):
    """Leaky integrate-and-fire layer: the membrane potential carries the signal, spikes are for inspection.

    Parameters
    ----------
    beta
        Membrane decay per step, ``0 ≤ β ≤ 1``.
    threshold
        Firing threshold ``θ > 0``.

    Attributes
    ----------
    neuron
        The ``snntorch.Leaky`` neuron (fast-sigmoid surrogate, subtract reset).
    last_membrane
        Membrane potential of the most recent call, detached, for inspection (and
        ``last_spikes``, its spikes).
    """

    def __init__(self, beta: float, threshold: float) -> None:
        super().__init__()
        if not 0.0 <= beta <= 1.0:
            raise ModelError(f"lif_beta must lie in [0, 1], got {beta}")
        if threshold <= 0.0:
            raise ModelError(f"lif_threshold must be positive, got {threshold}")
        self.beta = float(beta)
        self.threshold = float(threshold)
        self.neuron = snntorch.Leaky(
            beta=beta,
            threshold=threshold,
            spike_grad=surrogate.fast_sigmoid(),
            init_hidden=False,
            reset_mechanism="subtract",
        )
        self.last_membrane: Tensor | None = None

    def forward(self, current: Tensor) -> Tensor:
        """Run a whole sequence from a resting membrane.

        Parameters
        ----------
        current
            Input current ``(N, T, H)``.

        Returns
        -------
        Tensor
            Membrane potential ``(N, T, H)``; :meth:`spikes` turns it into spikes.
        """
        if torch.is_grad_enabled() and current.requires_grad:
            membrane: Tensor = _LeakyMembrane.apply(current, self.beta, self.threshold)  # type: ignore[no-untyped-call]
        else:  # inference: skip the autograd function's bookkeeping
            membrane = _membrane_values(current, self.beta, self.threshold)
        self.last_membrane = membrane.detach()
        return membrane

    def step(self, current: Tensor, membrane: Tensor) -> Tensor:
        """Advance one bar: ``(u_t (N, H), m_{t−1} (N, H)) → m_t``, the same recurrence as ``Leaky``.

        Written out rather than calling ``Leaky.forward``, which also computes the spike and its
        surrogate (about 20 small operations against 5); ``test_lif.py`` checks the two agree.
        """
        base = self.beta * membrane + current
        membrane = torch.where(membrane > self.threshold, base - self.threshold, base)
        self.last_membrane = membrane.detach() if membrane.requires_grad else membrane
        return membrane

    def spikes(self, membrane: Tensor) -> Tensor:
        """Return ``s = H(m − θ)`` with snnTorch's fast-sigmoid surrogate gradient (``Leaky.fire``)."""
        spikes: Tensor = self.neuron.fire(membrane)
        return spikes

    @property
    def last_spikes(self) -> Tensor | None:
        """Spikes of the most recent call, detached, for inspection (computed on demand)."""
        if self.last_membrane is None:
            return None
        return self.spikes(self.last_membrane).detach()
