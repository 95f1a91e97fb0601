"""Streaming one bar at a time equals the full forward pass over the same bars (1e-5 in float32)."""

from __future__ import annotations

import pytest
import torch

from tengri.models import EnhancedLSTM, EnhancedLSTMConfig, create_enhanced_lstm

WINDOW = 12
VARIANTS = {
    "plain": {"use_biological_activation": False, "use_advanced_attention": False},
    "lif": {"use_biological_activation": True, "use_advanced_attention": False},
    "attention": {"use_biological_activation": False, "use_advanced_attention": True},
    "full": {},
    "two_layers": {"num_layers": 2},
    "multi_timeframe": {"use_multi_timeframe": True, "timeframes": (1, 5)},
    "no_memory_slots": {"memory_slots": 0},
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("bars", [WINDOW, 3 * WINDOW + 1])
def test_streaming_equals_forward(variant: str, bars: int) -> None:
    """Streaming ``bars`` from a fresh state equals ``forward`` on those bars.

    With ``bars == seq_len`` this is the full window; with more, the LSTM and LIF states carry
    the whole history while attention sees the last ``seq_len`` bars, in both paths.
    """
    config = EnhancedLSTMConfig(
        input_size=6, hidden_size=16, num_heads=4, seq_len=WINDOW, lif_threshold=0.3, **VARIANTS[variant]
    )  # type: ignore[arg-type]
    model = create_enhanced_lstm(config).eval()
    assert isinstance(model, EnhancedLSTM)
    shape = (3, 2, bars, 6) if config.use_multi_timeframe else (3, bars, 6)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(bars)) * 2
    with torch.no_grad():
        full = model(x)
        state = model.init_state(3)
        for t in range(bars):
            out, state = model.step(x[..., t, :], state)
    torch.testing.assert_close(out.predicted_return, full.predicted_return, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.prob_up_logit, full.prob_up_logit, atol=1e-5, rtol=0)
    if state.cache is not None:
        assert state.cache[0].shape[2] == min(bars, WINDOW - 1)
    if model.lif is not None:
        assert model.lif.last_spikes is not None


def test_streaming_follows_weight_updates_and_records_gradients() -> None:
    """The streaming plan (folded input weights, broadcast memory) lives only as long as its weights.

    An in-place update (what an optimiser step or ``load_state_dict`` does) and a dtype
    conversion must reach the next step, and a step with gradients enabled must reach the input
    projection.
    """
    config = EnhancedLSTMConfig(input_size=6, hidden_size=16, num_heads=4, seq_len=WINDOW, dropout=0.0)
    model = create_enhanced_lstm(config).eval()
    assert isinstance(model, EnhancedLSTM)
    x = torch.randn(2, 5, 6, generator=torch.Generator().manual_seed(0))

    def streamed() -> torch.Tensor:
        state = model.init_state(2)
        for t in range(5):
            out, state = model.step(x[:, t], state)
        return out.predicted_return

    with torch.inference_mode():
        before = streamed()
    with torch.no_grad():
        model.input_projection.weight.mul_(1.5)
        model.attention.memory_keys.add_(0.5)  # type: ignore[union-attr]
        changed, full = streamed(), model(x).predicted_return
    assert not torch.allclose(changed, before)
    torch.testing.assert_close(changed, full, atol=1e-5, rtol=0)

    streamed().sum().backward()
    assert model.input_projection.weight.grad is not None
    assert model.input_projection.weight.grad.abs().sum() > 0

    model.double()  # a conversion must not leave the step on the float32 weights
    x = x.double()
    with torch.inference_mode():
        torch.testing.assert_close(streamed(), model(x).predicted_return, atol=1e-10, rtol=0)
