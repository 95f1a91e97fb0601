"""A seeded training run lowers the loss on a sine-plus-noise series, for every model variant."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tengri.models import SMALL_TENSOR_THREADS, EnhancedLSTMConfig, create_enhanced_lstm, torch_threads

STEPS = 200
SEQ = 16

VARIANTS = {
    "plain": {"use_biological_activation": False, "use_advanced_attention": False},
    "lif": {"use_biological_activation": True, "use_advanced_attention": False},
    "attention": {"use_biological_activation": False, "use_advanced_attention": True},
    "full": {},
    "multi_timeframe": {"use_multi_timeframe": True, "timeframes": (1, 2)},
    "qlstm": {"use_quantum": True},
    "quantum_attention": {"use_quantum_attention": True, "n_qubits": 3},
    "quantum_memory": {"use_quantum_memory": True, "n_qubits": 3},
}
SLOW = {"qlstm"}  # about 10 s on a shared 2-core machine


def _windows(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows of (level, change) of ``sin(2πt/25) + 0.1·ε`` and the next change as the target."""
    t = torch.arange(1200, dtype=torch.float32)
    series = torch.sin(2 * torch.pi * t / 25) + 0.1 * torch.randn(1200, generator=generator)
    change = torch.diff(series, prepend=series[:1])
    features = torch.stack([series, change * 3], dim=-1)
    starts = torch.arange(0, 1200 - SEQ - 1)
    x = torch.stack([features[s : s + SEQ] for s in starts.tolist()])
    y = change[starts + SEQ] * 3
    return x, y


def _loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, multi: bool) -> torch.Tensor:
    inputs = torch.stack([x, x], dim=1) if multi else x  # the test series has one timeframe
    out = model(inputs)
    return F.mse_loss(out.predicted_return, y) + F.binary_cross_entropy_with_logits(
        out.prob_up_logit, (y > 0).float()
    )


@pytest.mark.parametrize(
    "variant", [pytest.param(v, marks=pytest.mark.slow) if v in SLOW else v for v in VARIANTS]
)
def test_training_lowers_the_loss(variant: str) -> None:
    with torch_threads(SMALL_TENSOR_THREADS):
        _train(variant)


def _train(variant: str) -> None:
    generator = torch.Generator().manual_seed(0)
    x, y = _windows(generator)
    config = EnhancedLSTMConfig(
        input_size=2,
        hidden_size=16,
        num_heads=2,
        memory_slots=4,
        seq_len=SEQ,
        dropout=0.0,
        seed=1,
        **VARIANTS[variant],
    )  # type: ignore[arg-type]
    model = create_enhanced_lstm(config)
    multi = config.use_multi_timeframe
    held_out = torch.arange(0, len(y), 7)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    with torch.no_grad():
        before = _loss(model, x[held_out], y[held_out], multi).item()
    for _ in range(STEPS):
        batch = torch.randint(0, len(y), (32,), generator=generator)
        optimizer.zero_grad()
        _loss(model, x[batch], y[batch], multi).backward()
        optimizer.step()
    with torch.no_grad():
        after = _loss(model, x[held_out], y[held_out], multi).item()
    assert after < 0.7 * before, (before, after)
