"""Build a Tengri model from an ``EnhancedLSTMConfig``: deterministic weights, chosen device."""

from __future__ import annotations

import torch

from tengri.models.config import EnhancedLSTMConfig
from tengri.models.enhanced import EnhancedLSTM
from tengri.models.qlstm import QLSTM

__all__ = ["create_enhanced_lstm"]


def create_enhanced_lstm(
    config: EnhancedLSTMConfig | None = None, *, device: torch.device | str | None = None
) -> EnhancedLSTM | QLSTM:
    """Return an :class:`EnhancedLSTM`, or a :class:`QLSTM` when ``config.use_quantum``.

    Weights are drawn under ``config.seed`` from a forked random state, so the same seed gives
    the same weights and the caller's global random state is left untouched.

    Parameters
    ----------
    config
        Model configuration; the seed's working configuration when omitted.
    device
        Where to place the model, e.g. ``select_device(allow_cuda=...)``; the CPU when omitted.
    """
    config = config or EnhancedLSTMConfig()
    model: EnhancedLSTM | QLSTM
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.use_quantum:
            model = QLSTM(
                config.input_size,
                n_qubits=config.n_qubits,
                n_layers=config.n_qlayers,
                backend=config.quantum_backend,
                device_name=config.quantum_device,
            )
        else:
            model = EnhancedLSTM(config)
    return model.to(device) if device is not None else model
