"""Quantum device fallback: try PennyLane devices in order, skip the ones that are missing or fail.

The LSTM seed promises "automatic GPU → CPU → default selection". Here that is a list tried in
order (:data:`DEFAULT_QUANTUM_DEVICES`): each entry is a PennyLane device name, or
:data:`FUSED`, Tengri's own state-vector simulator (:mod:`tengri.models.quantum_circuit`), which
needs no plugin and always starts. A device that is not installed (``lightning.kokkos`` without
its wheel) or raises while starting is skipped; the reason is logged once per process and kept
in :attr:`DeviceChoice.skipped`, and the name chosen is what models report as their device.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple

from tengri.errors import ModelError

__all__ = ["DEFAULT_QUANTUM_DEVICES", "FUSED", "DeviceChoice", "choose_quantum_device"]

FUSED: Final = "tengri.fused"
"""The name of Tengri's fused state-vector simulator in a device list."""

DEFAULT_QUANTUM_DEVICES: Final = (
    "lightning.gpu",
    "lightning.kokkos",
    "lightning.qubit",
    "default.qubit",
    FUSED,
)
"""GPU, then the compiled CPU simulators, then PennyLane's Python simulator, then Tengri's."""

_log = logging.getLogger(__name__)
_logged: set[tuple[str, str]] = set()  # (device, reason) already logged in this process


class DeviceChoice(NamedTuple):
    """The outcome of :func:`choose_quantum_device`.

    Attributes
    ----------
    name
        The device chosen (a PennyLane name or :data:`FUSED`).
    device
        The started PennyLane device, or None for :data:`FUSED`.
    skipped
        ``(name, reason)`` of every earlier entry that could not be used, in order.
    """

    name: str
    device: Any
    skipped: tuple[tuple[str, str], ...]


def _open_pennylane(name: str, wires: int) -> Any:
    import pennylane as qml

    return qml.device(name, wires=wires)


def choose_quantum_device(
    candidates: str | Sequence[str],
    wires: int,
    *,
    open_device: Callable[[str, int], Any] = _open_pennylane,
) -> DeviceChoice:
    """Return the first device of ``candidates`` that starts with ``wires`` wires.

    Parameters
    ----------
    candidates
        One name or a list tried in order; :data:`FUSED` always starts.
    wires
        Number of wires to start each device with.
    open_device
        Starts a PennyLane device by name (``qml.device``); tests pass one that fails on purpose.

    Raises
    ------
    ModelError
        If the list is empty or no entry starts; the message lists every reason.
    """
    names = (candidates,) if isinstance(candidates, str) else tuple(candidates)
    if not names:
        raise ModelError("quantum_device: the device list is empty")
    skipped: list[tuple[str, str]] = []
    for name in names:
        if name == FUSED:
            return DeviceChoice(name, None, tuple(skipped))
        try:
            device = open_device(name, wires)
        except Exception as error:  # PennyLane raises several unrelated types for a device it cannot start
            reason = f"{type(error).__name__}: {error}"
            skipped.append((name, reason))
            if (name, reason) not in _logged:
                _logged.add((name, reason))
                _log.info("quantum device %s skipped: %s", name, reason)
            continue
        return DeviceChoice(name, device, tuple(skipped))
    reasons = "; ".join(f"{name} ({reason})" for name, reason in skipped)
    raise ModelError(f"no quantum device of {list(names)} is available: {reasons}")
