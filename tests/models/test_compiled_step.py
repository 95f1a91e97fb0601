"""The compiled streaming step equals the PyTorch step and ``forward`` (1e-5 in float32, 1e-10 in float64).

Without gradients, in evaluation mode on the CPU, ``EnhancedLSTM.step`` runs one Numba-compiled
call; with gradients enabled it runs the PyTorch operations. The two differ only in float
rounding (summation order, ``tanh`` through ``exp``), far below the tolerances.
"""

from __future__ import annotations

import pytest
import torch

from tengri.models import (
    EnhancedLSTM,
    EnhancedLSTMConfig,
    EnhancedLSTMState,
    ModelOutput,
    create_enhanced_lstm,
)

WINDOW = 12
VARIANTS = {
    "plain": {"use_biological_activation": False, "use_advanced_attention": False},
    "lif": {"use_biological_activation": True, "use_advanced_attention": False},
    "attention": {"use_biological_activation": False, "use_advanced_attention": True},
    "full": {},
    "two_layers": {"num_layers": 2},
    "multi_timeframe": {"use_multi_timeframe": True, "timeframes": (1, 5)},
    "no_memory_slots": {"memory_slots": 0},
    "window_one": {"seq_len": 1},
}


def _model(variant: str, dtype: torch.dtype = torch.float32) -> EnhancedLSTM:
    settings = {"input_size": 6, "hidden_size": 16, "num_heads": 4, "seq_len": WINDOW, "lif_threshold": 0.3}
    settings.update(VARIANTS[variant])
    model = create_enhanced_lstm(EnhancedLSTMConfig(**settings)).eval().to(dtype)  # type: ignore[arg-type]
    assert isinstance(model, EnhancedLSTM)
    return model


def _bars(model: EnhancedLSTM, count: int, seed: int = 0) -> torch.Tensor:
    shape = (3, 2, count, 6) if model.config.use_multi_timeframe else (3, count, 6)
    bars = torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * 2
    return bars.to(model.head.weight.dtype)


def _stream(
    model: EnhancedLSTM, bars: torch.Tensor, state: EnhancedLSTMState | None = None
) -> tuple[ModelOutput, EnhancedLSTMState]:
    """Step through ``bars``: compiled without gradients, PyTorch with them (detached)."""
    state = model.init_state(3) if state is None else state
    out = None
    for t in range(bars.shape[-2]):
        out, state = model.step(bars[..., t, :], state)
    assert out is not None
    if torch.is_grad_enabled():
        out = ModelOutput(*(tensor.detach() for tensor in out))  # type: ignore[union-attr]
    return out, state


def _assert_close(actual: ModelOutput, expected: ModelOutput, atol: float) -> None:
    torch.testing.assert_close(actual.predicted_return, expected.predicted_return, atol=atol, rtol=0)
    torch.testing.assert_close(actual.prob_up_logit, expected.prob_up_logit, atol=atol, rtol=0)
    assert actual.hidden is not None
    assert expected.hidden is not None
    torch.testing.assert_close(actual.hidden, expected.hidden, atol=atol, rtol=0)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(("dtype", "atol"), [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_compiled_step_equals_torch_step_and_forward(variant: str, dtype: torch.dtype, atol: float) -> None:
    """Over ``3·seq_len + 1`` bars, so that the cache has slid past its first positions many times."""
    model = _model(variant, dtype)
    bars = _bars(model, 3 * WINDOW + 1)
    with torch.no_grad():
        compiled, compiled_state = _stream(model, bars)
        assert model._plan is not None
        assert model._plan.compiled is not None  # the compiled step ran
        full = model(bars)
    with torch.enable_grad():
        reference, reference_state = _stream(model, bars)
    _assert_close(compiled, full, atol)
    _assert_close(compiled, reference, atol)
    torch.testing.assert_close(compiled_state.hidden, reference_state.hidden.detach(), atol=atol, rtol=0)
    if compiled_state.cache is not None:
        assert reference_state.cache is not None
        assert compiled_state.cache[0].shape == reference_state.cache[0].shape
        assert compiled_state.cache[0].shape[2] == min(3 * WINDOW + 1, model.config.seq_len - 1)
        torch.testing.assert_close(
            compiled_state.cache[1], reference_state.cache[1].detach(), atol=atol, rtol=0
        )


@pytest.mark.parametrize("variant", ["full", "multi_timeframe", "two_layers"])
def test_a_stream_may_switch_between_the_paths(variant: str) -> None:
    """Both paths read and write the same state: PyTorch, compiled, PyTorch again equals ``forward``."""
    model = _model(variant)
    bars = _bars(model, 2 * WINDOW + 5, seed=1)
    cuts = (7, WINDOW + 9)
    with torch.enable_grad():
        _, state = _stream(model, bars[..., : cuts[0], :])
    state = EnhancedLSTMState(
        state.hidden.detach(),
        state.cell.detach(),
        None if state.membrane is None else state.membrane.detach(),
        None if state.cache is None else (state.cache[0].detach(), state.cache[1].detach()),
    )
    with torch.no_grad():
        _, state = _stream(model, bars[..., cuts[0] : cuts[1], :], state)
    with torch.enable_grad():
        out, _ = _stream(model, bars[..., cuts[1] :, :], state)
    with torch.no_grad():
        _assert_close(out, model(bars), 1e-5)


def test_a_state_stays_valid_after_a_step() -> None:
    """The step returns new tensors: stepping the same state twice gives the same prediction."""
    model = _model("full")
    bars = _bars(model, WINDOW + 3)
    with torch.inference_mode():
        _, state = _stream(model, bars[..., :-1, :])
        saved = [state.hidden.clone(), state.cache[0].clone()]  # type: ignore[index]
        first, _ = model.step(bars[..., -1, :], state)
        second, _ = model.step(bars[..., -1, :], state)
        other, _ = model.step(bars[..., 0, :], state)
        again, _ = model.step(bars[..., -1, :], state)
    assert torch.equal(first.predicted_return, second.predicted_return)
    assert torch.equal(first.predicted_return, again.predicted_return)
    assert not torch.equal(first.predicted_return, other.predicted_return)
    assert torch.equal(state.hidden, saved[0])
    assert torch.equal(state.cache[0], saved[1])  # type: ignore[index]


def test_compiled_step_follows_every_weight_update() -> None:
    """The compiled step copies all weights, so an in-place update of any of them refreshes the plan."""
    model = _model("full")
    bars = _bars(model, WINDOW + 4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    loss = model(bars).predicted_return.square().sum()
    loss.backward()  # type: ignore[no-untyped-call]
    model.eval()
    with torch.no_grad():
        before, _ = _stream(model, bars)
    optimizer.step()  # every parameter changes in place
    with torch.no_grad():
        after, _ = _stream(model, bars)
        _assert_close(after, model(bars), 1e-5)
    assert not torch.allclose(after.predicted_return, before.predicted_return)
    for parameter in (model.head.bias, model.attention.out.weight, model.lstm.weight_hh_l0):  # type: ignore[union-attr]
        with torch.no_grad():
            parameter.mul_(1.25)
            out, _ = _stream(model, bars)
            _assert_close(out, model(bars), 1e-5)


def test_compiled_step_keeps_the_lif_layer_inspectable() -> None:
    model = _model("full")
    with torch.inference_mode():
        _stream(model, _bars(model, 4))
    assert model.lif is not None
    assert model.lif.last_membrane is not None
    assert model.lif.last_membrane.shape == (3, 16)
    assert model.lif.last_spikes is not None


def test_training_mode_and_gradients_take_the_torch_path() -> None:
    """Dropout (training) and autograd need the PyTorch operations; the step still reaches the weights."""
    model = _model("full").train()
    bars = _bars(model, 5)
    state = model.init_state(3)
    for t in range(5):
        out, state = model.step(bars[:, t], state)
    assert model._plan is None or model._plan.compiled is None
    out.predicted_return.sum().backward()  # type: ignore[no-untyped-call]
    assert model.input_projection.weight.grad is not None
