"""Quantum device fallback: the first device that starts is chosen, the others are logged with why."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import torch

from tengri.config import TengriConfig
from tengri.errors import ModelError
from tengri.models import QLSTM, EnhancedLSTMConfig, create_enhanced_lstm, quantum_devices
from tengri.models.quantum_devices import DEFAULT_QUANTUM_DEVICES, FUSED, choose_quantum_device
from tengri.predict import PredictorSettings


@pytest.fixture(autouse=True)
def _fresh_log(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each skip is logged once per process; start every test with none logged.
    monkeypatch.setattr(quantum_devices, "_logged", set())


def test_missing_devices_are_skipped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tengri.models.quantum_devices")
    choice = choose_quantum_device(["no.such.device", "lightning.kokkos", "default.qubit", FUSED], 2)
    assert choice.name == "default.qubit"
    assert choice.device is not None
    assert [name for name, _ in choice.skipped] == ["no.such.device", "lightning.kokkos"]
    assert "does not exist" in choice.skipped[1][1]  # lightning.kokkos is not installed here
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 2
    assert logged[1].startswith("quantum device lightning.kokkos skipped: DeviceError")
    choose_quantum_device(["no.such.device", "default.qubit"], 2)
    assert len(caplog.records) == 2  # once per process, not once per model


def test_a_device_that_raises_at_start_falls_through(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tengri.models.quantum_devices")

    def open_device(name: str, wires: int) -> Any:
        if name == "lightning.gpu":
            raise RuntimeError("CUDA driver version is insufficient")
        return f"{name}:{wires}"

    choice = choose_quantum_device(["lightning.gpu", "lightning.qubit"], 3, open_device=open_device)
    assert choice == (
        "lightning.qubit",
        "lightning.qubit:3",
        (("lightning.gpu", "RuntimeError: CUDA driver version is insufficient"),),
    )
    assert "CUDA driver version is insufficient" in caplog.text


def test_the_list_ends_in_the_fused_simulator_and_an_exhausted_list_raises() -> None:
    assert choose_quantum_device(["no.such.device", FUSED], 2).name == FUSED
    with pytest.raises(ModelError, match=r"no\.such\.device \(DeviceError"):
        choose_quantum_device(["no.such.device"], 2)
    with pytest.raises(ModelError, match="empty"):
        EnhancedLSTMConfig(quantum_device=())


def test_qlstm_reports_the_device_it_runs_on() -> None:
    def build(devices: tuple[str, ...]) -> QLSTM:
        config = EnhancedLSTMConfig(
            input_size=3,
            use_quantum=True,
            n_qubits=2,
            quantum_backend="pennylane",
            quantum_device=devices,
            seed=1,
        )
        model = create_enhanced_lstm(config)
        assert isinstance(model, QLSTM)
        return model

    x = torch.randn(2, 3, 3, generator=torch.Generator().manual_seed(0))
    on_pennylane = build(("lightning.gpu", "lightning.kokkos", "default.qubit"))
    assert on_pennylane.quantum_device == "default.qubit"
    assert on_pennylane.backend == "pennylane"
    assert [name for name, _ in on_pennylane.skipped_devices] == ["lightning.gpu", "lightning.kokkos"]
    fused = build(("lightning.gpu", "lightning.kokkos", FUSED))
    assert (fused.quantum_device, fused.backend) == (FUSED, "torch")
    with torch.no_grad():  # same weights, same circuit: the device changes nothing but speed
        torch.testing.assert_close(
            fused(x).predicted_return, on_pennylane(x).predicted_return, atol=1e-5, rtol=0
        )
    default = create_enhanced_lstm(EnhancedLSTMConfig(input_size=3, use_quantum=True, n_qubits=2))
    assert isinstance(default, QLSTM)
    assert default.quantum_device == FUSED  # quantum_backend="torch": the fused simulator, no list


def test_the_config_carries_the_device_list_to_the_predictor() -> None:
    assert TengriConfig().model.quantum_device == list(DEFAULT_QUANTUM_DEVICES)
    config = TengriConfig.model_validate(
        {"model": {"quantum_backend": "pennylane", "quantum_device": ["lightning.kokkos", "default.qubit"]}}
    )
    settings = PredictorSettings.from_config(config, "qlstm")
    assert settings.model.quantum_device == ("lightning.kokkos", "default.qubit")
    assert PredictorSettings.from_dict(settings.to_dict()) == settings
    model = create_enhanced_lstm(settings.with_model(input_size=3, n_qubits=2).model)
    assert isinstance(model, QLSTM)
    assert model.quantum_device == "default.qubit"
