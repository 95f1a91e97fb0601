"""EnhancedLSTM: the seed's working configuration, variants, multi-timeframe, determinism, errors, devices."""

from __future__ import annotations

import threading

import pytest
import torch

from tengri.errors import ModelError
from tengri.models import (
    QLSTM,
    EnhancedLSTM,
    EnhancedLSTMConfig,
    ModelOutput,
    create_enhanced_lstm,
    select_device,
    torch_threads,
)


@pytest.mark.parametrize("use_quantum", [False, True])
def test_seed_working_configuration_runs_as_written(use_quantum: bool) -> None:
    config = EnhancedLSTMConfig(
        input_size=50,  # Features (OHLCV + indicators)
        hidden_size=64,  # Hidden layer size
        use_biological_activation=True,  # Enhanced neuron dynamics
        use_multi_timeframe=False,  # IMPORTANT: Set False to avoid hanging
        use_advanced_attention=True,  # Cached attention mechanism
        use_quantum=use_quantum,  # Start with classical, enable later
    )
    model = create_enhanced_lstm(config)
    assert isinstance(model, QLSTM if use_quantum else EnhancedLSTM)
    out = model(torch.randn(4, 50, 50))
    assert isinstance(out, ModelOutput)
    assert out.predicted_return.shape == out.prob_up.shape == (4,)
    assert bool(((out.prob_up > 0) & (out.prob_up < 1)).all())


def test_defaults_are_the_seed_working_configuration() -> None:
    config = EnhancedLSTMConfig()
    assert (config.input_size, config.hidden_size) == (50, 64)
    assert config.use_biological_activation
    assert config.use_advanced_attention
    assert not config.use_multi_timeframe
    assert not config.use_quantum


@pytest.mark.parametrize(("lif", "attention"), [(False, False), (True, False), (False, True), (True, True)])
def test_variants_have_only_their_layers(lif: bool, attention: bool) -> None:
    config = EnhancedLSTMConfig(
        input_size=5,
        hidden_size=8,
        num_heads=2,
        use_biological_activation=lif,
        use_advanced_attention=attention,
    )
    model = create_enhanced_lstm(config)
    assert isinstance(model, EnhancedLSTM)
    assert (model.lif is not None, model.attention is not None) == (lif, attention)
    assert model(torch.randn(2, 7, 5)).hidden is not None


def test_same_seed_same_weights_and_global_rng_untouched() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = create_enhanced_lstm(EnhancedLSTMConfig(seed=5)).state_dict()
    second = create_enhanced_lstm(EnhancedLSTMConfig(seed=5)).state_dict()
    other = create_enhanced_lstm(EnhancedLSTMConfig(seed=6)).state_dict()
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_lif_spikes_and_membrane_are_exposed() -> None:
    model = create_enhanced_lstm(EnhancedLSTMConfig(input_size=5, hidden_size=8, num_heads=2))
    assert isinstance(model, EnhancedLSTM)
    assert model.lif is not None
    model(torch.randn(2, 7, 5))
    assert model.lif.last_membrane is not None
    assert model.lif.last_spikes is not None
    assert model.lif.last_spikes.shape == (2, 7, 8)


def _multi_config() -> EnhancedLSTMConfig:
    return EnhancedLSTMConfig(
        input_size=5, hidden_size=8, num_heads=2, use_multi_timeframe=True, timeframes=(1, 4, 16), dropout=0.0
    )


@pytest.mark.timeout(30)
def test_multi_timeframe_is_one_batched_call_and_cannot_hang() -> None:
    model = create_enhanced_lstm(_multi_config()).eval()
    threads = threading.active_count()
    x = torch.randn(3, 3, 11, 5)
    with torch.no_grad():
        stacked = model(x)
        mapping = model({1: x[:, 0], 4: x[:, 1], 16: x[:, 2]})
        alone = model(x[1:2])
    assert threading.active_count() == threads
    torch.testing.assert_close(stacked.predicted_return, mapping.predicted_return)
    # each sample's timeframes are fused with each other only
    torch.testing.assert_close(stacked.predicted_return[1:2], alone.predicted_return, atol=1e-6, rtol=0)


def test_attention_rows_are_causal_and_windowed() -> None:
    model = create_enhanced_lstm(
        EnhancedLSTMConfig(input_size=5, hidden_size=8, num_heads=2, seq_len=4, dropout=0.0)
    )
    assert isinstance(model, EnhancedLSTM)
    assert model.attention is not None
    z = torch.randn(2, 9, 8)
    with torch.no_grad():
        rows = model.attention(z, last_only=False)
        for t in range(9):
            torch.testing.assert_close(rows[:, t], model.attention(z[:, : t + 1], last_only=True)[:, 0])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"hidden_size": 10, "num_heads": 4}, "num_heads"),
        ({"dropout": 1.0}, "dropout"),
        ({"lif_beta": 1.5}, "lif_beta"),
        ({"n_qubits": 1}, "n_qubits"),
        ({"use_quantum": True, "use_multi_timeframe": True}, "use_multi_timeframe"),
        ({"use_multi_timeframe": True, "timeframes": (1, 1)}, "timeframes"),
    ],
)
def test_invalid_configuration_is_a_model_error(config: dict[str, object], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        EnhancedLSTMConfig(**config)  # type: ignore[arg-type]


def test_wrong_input_shape_is_a_model_error() -> None:
    model = create_enhanced_lstm(EnhancedLSTMConfig(input_size=5, hidden_size=8, num_heads=2))
    with pytest.raises(ModelError, match=r"\(B, T, F\)"):
        model(torch.randn(2, 7, 6))
    multi = create_enhanced_lstm(_multi_config())
    with pytest.raises(ModelError, match="timeframes"):
        multi(torch.randn(2, 2, 7, 5))


def test_device_selection_follows_the_thermal_decision() -> None:
    assert select_device(allow_cuda=False) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device(allow_cuda=True).type == expected


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_and_cpu_agree() -> None:  # pragma: no cover - no GPU on the CI machines
    config = EnhancedLSTMConfig(dropout=0.0)
    x = torch.randn(4, 50, 50)
    cpu = create_enhanced_lstm(config).eval()
    gpu = create_enhanced_lstm(config, device=select_device(allow_cuda=True)).eval()
    with torch.no_grad():
        torch.testing.assert_close(
            cpu(x).predicted_return, gpu(x.cuda()).predicted_return.cpu(), atol=1e-4, rtol=0
        )


def test_torch_threads_restores_the_setting() -> None:
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
