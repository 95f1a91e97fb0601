"""The LIF layer follows snnTorch's Leaky: a hand-computed case; values and gradients against Leaky."""

from __future__ import annotations

import snntorch
import torch
from snntorch import surrogate

from tengri.models import LeakyIntegrateAndFire


def test_hand_computed_spikes_and_membrane() -> None:
    # β = 0.5, θ = 1; m_t = β m_{t−1} + u_t − θ·H(m_{t−1} − θ), s_t = H(m_t − θ):
    # m = 0.6; 0.3+0.8 = 1.1 (spike); 0.55+0.9−1 = 0.45; 0.225+0 = 0.225; 0.1125+2 = 2.1125 (spike)
    lif = LeakyIntegrateAndFire(beta=0.5, threshold=1.0).double()
    current = torch.tensor([0.6, 0.8, 0.9, 0.0, 2.0], dtype=torch.float64).view(1, 5, 1)
    membrane = lif(current)
    expected = torch.tensor([0.6, 1.1, 0.45, 0.225, 2.1125], dtype=torch.float64).view(1, 5, 1)
    torch.testing.assert_close(membrane, expected, atol=1e-12, rtol=0)
    assert lif.last_spikes is not None
    assert lif.last_spikes.flatten().tolist() == [0.0, 1.0, 0.0, 0.0, 1.0]


def _step_leaky(current: torch.Tensor, beta: float, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    neuron = snntorch.Leaky(
        beta=beta,
        threshold=threshold,
        spike_grad=surrogate.fast_sigmoid(),
        init_hidden=False,
        reset_mechanism="subtract",
    )
    membrane = torch.zeros_like(current[:, 0])
    spikes, membranes = [], []
    for t in range(current.shape[1]):
        spike, membrane = neuron(current[:, t], membrane)
        spikes.append(spike)
        membranes.append(membrane)
    return torch.stack(spikes, dim=1), torch.stack(membranes, dim=1)


def test_sequence_path_equals_stepping_leaky_values_and_gradients() -> None:
    generator = torch.Generator().manual_seed(0)
    current = torch.randn(3, 40, 8, generator=generator) * 0.8 + 0.3
    weights = torch.randn(2, 3, 40, 8, generator=generator)
    lif = LeakyIntegrateAndFire(beta=0.9, threshold=1.0)

    ours_in = current.clone().requires_grad_(True)
    membrane = lif(ours_in)
    spikes = lif.spikes(membrane)
    ((membrane * weights[0]).sum() + (spikes * weights[1]).sum()).backward()

    ref_in = current.clone().requires_grad_(True)
    ref_spikes, ref_membrane = _step_leaky(ref_in, 0.9, 1.0)
    ((ref_membrane * weights[0]).sum() + (ref_spikes * weights[1]).sum()).backward()

    assert ref_spikes.sum() > 10  # the input makes the neurons fire, so resets are exercised
    # Same float operations in the same order: the forward values are bit-identical.
    assert torch.equal(membrane, ref_membrane)
    assert torch.equal(spikes, ref_spikes)
    # The backward pass sums the same terms in another order: float32 rounding only.
    assert ours_in.grad is not None
    assert ref_in.grad is not None
    torch.testing.assert_close(ours_in.grad, ref_in.grad, atol=1e-5, rtol=1e-5)


def test_step_path_equals_leaky() -> None:
    generator = torch.Generator().manual_seed(1)
    current = torch.randn(4, 30, 6, generator=generator) + 0.5
    lif = LeakyIntegrateAndFire(beta=0.8, threshold=0.7)
    membrane = torch.zeros(4, 6)
    steps = []
    for t in range(30):
        membrane = lif.step(current[:, t], membrane)
        steps.append(membrane)
    _, ref_membrane = _step_leaky(current, 0.8, 0.7)
    assert torch.equal(torch.stack(steps, dim=1), ref_membrane)
