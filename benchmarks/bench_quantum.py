"""Benchmark quantum attention and memory against classical attention and PennyLane, in one run (issue 21).

Run: ``.venv/bin/python benchmarks/bench_quantum.py [--rounds N] [--quick]``

- the attention layer alone, last-row forward, batch 4 × 50 bars, width 64, 4 heads, 8 memory
  slots: classical ``q·k/√d`` (the reference), quantum kernel (4 qubits, 1 layer) in the fused
  simulator, and the same quantum kernel as PennyLane ``default.qubit`` circuits;
- one streaming step of the full model with classical against quantum attention (60-bar cache);
- the quantum memory read (8 slots, 4 qubits) without noise, with noise, and on PennyLane
  ``default.mixed``;
- the stored-state fidelity of 16 random 3-qubit slots under each noise channel at ``p = 0.1``,
  without and with the three-qubit repetition code (exact, not timed).

Every figure is the median over ``--rounds`` interleaved rounds (PennyLane: one call per round).
Read the ratios, not the absolute figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable

import torch

from tengri.models import EnhancedLSTM, EnhancedLSTMConfig, create_enhanced_lstm
from tengri.models.attention import WindowedMemoryAttention
from tengri.models.quantum_attention import QuantumKernelAttention
from tengri.models.quantum_memory import NOISE_CHANNELS, QuantumMemory

sys.path.insert(0, os.path.dirname(__file__))
from bench_models import interleaved

BATCH, BARS, FEATURES, HIDDEN, HEADS, SLOTS, WINDOW = 4, 50, 50, 64, 4, 8, 60


def _row(name: str, seconds: float, reference: float) -> str:
    return f"  {name:<58} {seconds * 1e3:>10.3f} ms {seconds / reference:>9.1f}×"


def bench_attention(repeat: int, rounds: int, reference_rounds: int) -> list[str]:
    torch.manual_seed(0)
    z = torch.randn(BATCH, BARS, HIDDEN)
    classical = WindowedMemoryAttention(HIDDEN, HEADS, SLOTS, WINDOW).eval()
    quantum = QuantumKernelAttention(HIDDEN, HEADS, SLOTS, WINDOW).eval()
    pennylane = QuantumKernelAttention(HIDDEN, HEADS, SLOTS, WINDOW, backend="pennylane").eval()
    pennylane.load_state_dict(quantum.state_dict())
    with torch.inference_mode():
        gap = float((quantum(z) - pennylane(z)).abs().max())
        fast = interleaved({"classical": lambda: classical(z), "quantum": lambda: quantum(z)}, repeat, rounds)
        slow = interleaved({"pennylane": lambda: pennylane(z)}, 1, reference_rounds)
    base = fast["classical"]
    return [
        (
            f"Attention layer, last row: batch {BATCH} × {BARS} bars, width {HIDDEN}, {HEADS} heads, "
            f"{SLOTS} memory slots (ratio: time / classical)"
        ),
        _row("classical q·k/√d [reference]", base, base),
        _row("quantum kernel, 4 qubits, fused simulator", fast["quantum"], base),
        _row("quantum kernel, 4 qubits, PennyLane default.qubit", slow["pennylane"], base),
        (
            f"  fused is {slow['pennylane'] / fast['quantum']:.0f}× faster than PennyLane on the same "
            f"circuits; largest output difference {gap:.1e} (float32)"
        ),
    ]


def bench_streaming(repeat: int, rounds: int) -> list[str]:
    bar = torch.randn(BATCH, FEATURES)
    window = torch.randn(BATCH, WINDOW, FEATURES)
    candidates: dict[str, Callable[[], object]] = {}
    for name, flags in (
        ("classical attention [reference]", {}),
        ("quantum attention", {"use_quantum_attention": True}),
    ):
        model = create_enhanced_lstm(EnhancedLSTMConfig(seq_len=WINDOW, **flags)).eval()  # type: ignore[arg-type]
        assert isinstance(model, EnhancedLSTM)
        with torch.inference_mode():
            state = model.init_state(BATCH)
            for t in range(WINDOW):
                _, state = model.step(window[:, t], state)
        candidates[name] = lambda model=model, state=state: model.step(bar, state)
    with torch.inference_mode():
        times = interleaved(candidates, repeat, rounds)
    base = times["classical attention [reference]"]
    lines = [f"Streaming step, full model, {WINDOW}-bar cache (ratio: time / classical step)"]
    lines += [_row(name, seconds, base) for name, seconds in times.items()]
    return lines


def bench_memory(repeat: int, rounds: int, reference_rounds: int) -> list[str]:
    torch.manual_seed(0)
    h = torch.randn(BATCH, HIDDEN)
    clean = QuantumMemory(HIDDEN, SLOTS).eval()
    noisy = QuantumMemory(HIDDEN, SLOTS, noise="bit_flip", noise_strength=0.1, code=True).eval()
    noisy.load_state_dict(clean.state_dict())
    reference = QuantumMemory(HIDDEN, SLOTS, backend="pennylane").eval()
    reference.load_state_dict(clean.state_dict())
    with torch.inference_mode():
        fast = interleaved({"clean": lambda: clean(h), "noisy": lambda: noisy(h)}, repeat, rounds)
        slow = interleaved({"pennylane": lambda: reference(h)}, 1, reference_rounds)
    base = fast["clean"]
    return [
        f"Quantum memory read, batch {BATCH}, {SLOTS} slots of 4 qubits (ratio: time / noiseless fused)",
        _row("fused, noiseless (state overlaps) [reference]", base, base),
        _row("fused, bit flip p = 0.1 + repetition code (density matrices)", fast["noisy"], base),
        _row("PennyLane default.mixed, noiseless", slow["pennylane"], base),
    ]


def fidelity_table() -> list[str]:
    lines = [
        "Stored-state fidelity ⟨φ|ρ|φ⟩, mean of 16 random 3-qubit slots (2 layers), p = 0.1 per stored qubit",
        f"  {'channel':<20} {'no code':>9} {'repetition code':>16}",
    ]
    torch.manual_seed(0)
    clean = QuantumMemory(2, 16, n_qubits=3, n_layers=2).double()
    with torch.no_grad():
        ideal = clean.stored_states()
        for noise in NOISE_CHANNELS[1:]:
            row = []
            for code in (False, True):
                memory = QuantumMemory(
                    2, 16, n_qubits=3, n_layers=2, noise=noise, noise_strength=0.1, code=code
                )  # type: ignore[arg-type]
                memory.double().load_state_dict(clean.state_dict())
                row.append(float(torch.einsum("mij,mji->m", ideal, memory.stored_states()).real.mean()))
            lines.append(f"  {noise:<20} {row[0]:>9.4f} {row[1]:>16.4f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per figure (median)")
    parser.add_argument("--quick", action="store_true", help="3 rounds and fewer calls (a smoke run)")
    args = parser.parse_args()
    rounds = 3 if args.quick else max(1, args.rounds)
    repeat = 10 if args.quick else 30
    reference_rounds = 3 if args.quick else min(rounds, 5)
    torch.set_num_threads(1)
    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} logical cores, "
        f"torch {torch.__version__}, 1 intra-op thread, {rounds} interleaved rounds per figure"
    )
    started = time.perf_counter()
    for section in (
        bench_attention(repeat, rounds, reference_rounds),
        bench_streaming(repeat, rounds),
        bench_memory(repeat, rounds, reference_rounds),
        fidelity_table(),
    ):
        for line in section:
            print(line)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
