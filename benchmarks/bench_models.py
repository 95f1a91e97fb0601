"""Benchmark the models against their references, side by side in one run (issue 5).

Run: ``.venv/bin/python benchmarks/bench_models.py [--rounds N] [--quick]``

Shape: batch 4 × 50 bars × 50 features, hidden 64 (the seed's working configuration).

- forward of every EnhancedLSTM variant, the quantum attention and memory ones included,
  against a plain ``nn.LSTM`` of the same size (goal: the full variant within 3×), at 1 and 2
  intra-op threads (``benchmarks/bench_quantum.py`` compares them with PennyLane);
- one streaming step against recomputing the 60-bar window (goal: at least 10× faster), at 1 and
  2 intra-op threads;
- the fused QLSTM's forward and forward+backward against the same model on PennyLane
  ``default.qubit`` (goal: at least 50× faster).

Every figure is the median over ``--rounds`` short rounds (15 by default; PennyLane, seconds per
call, 7) that interleave the candidates, so that load from other processes on a shared machine
hits reference and candidate alike and a burst spoils few samples; read the ratios, not the
absolute figures. Each goal line ends in MET or NOT MET.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import torch

from tengri.models import QLSTM, EnhancedLSTM, EnhancedLSTMConfig, create_enhanced_lstm

BATCH, BARS, FEATURES, HIDDEN, WINDOW = 4, 50, 50, 64, 60


def _time(function: Callable[[], object], repeat: int) -> float:
    """Return the mean seconds per call over ``repeat`` calls."""
    start = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - start) / repeat


def interleaved(candidates: dict[str, Callable[[], object]], repeat: int, rounds: int) -> dict[str, float]:
    """Return the median seconds per call of each candidate over ``rounds`` interleaved rounds."""
    for function in candidates.values():
        _time(function, max(1, repeat // 5))  # warm-up
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, function in candidates.items():
            samples[name].append(_time(function, repeat))
    return {name: statistics.median(values) for name, values in samples.items()}


def _verdict(met: bool) -> str:
    return "MET" if met else "NOT MET"


def _row(name: str, seconds: float, reference: float, goal: str = "") -> str:
    return f"  {name:<50} {seconds * 1e3:>10.3f} ms {seconds / reference:>9.2f}×  {goal}"


def bench_forward(repeat: int, rounds: int) -> list[str]:
    x = torch.randn(BATCH, BARS, FEATURES)
    reference = torch.nn.LSTM(FEATURES, HIDDEN, batch_first=True).eval()
    variants = {
        "plain (no LIF, no attention)": {"use_biological_activation": False, "use_advanced_attention": False},
        "+LIF": {"use_biological_activation": True, "use_advanced_attention": False},
        "+attention": {"use_biological_activation": False, "use_advanced_attention": True},
        "full (+LIF +attention; seed config)": {},
        "full, quantum attention (4 qubits)": {"use_quantum_attention": True},
        "full + quantum memory (4 qubits)": {"use_quantum_memory": True},
    }
    reference_name = "nn.LSTM(50, 64) [reference]"
    full_name = "EnhancedLSTM full (+LIF +attention; seed config)"
    candidates: dict[str, Callable[[], object]] = {reference_name: lambda: reference(x)}
    for name, flags in variants.items():
        model = create_enhanced_lstm(EnhancedLSTMConfig(**flags)).eval()  # type: ignore[arg-type]
        candidates[f"EnhancedLSTM {name}"] = lambda model=model: model(x)
    multi = create_enhanced_lstm(EnhancedLSTMConfig(use_multi_timeframe=True)).eval()
    x_multi = torch.randn(BATCH, 3, BARS, FEATURES)
    candidates["EnhancedLSTM full, 3 timeframes (B·K = 12)"] = lambda: multi(x_multi)
    lines = [
        "Forward, batch 4 × 50 bars × 50 features, hidden 64 (ratio: time / nn.LSTM at the same threads)"
    ]
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with torch.inference_mode():
            times = interleaved(candidates, repeat, rounds)
        base = times[reference_name]
        lines.append(f" threads={threads}")
        for name, seconds in times.items():
            goal = ""
            if name == full_name:
                goal = f"goal ≤ 3×: {_verdict(seconds / base <= 3.0)}"
            lines.append(_row(name, seconds, base, goal))
    return lines


def bench_streaming(repeat: int, rounds: int) -> list[str]:
    model = create_enhanced_lstm(EnhancedLSTMConfig(seq_len=WINDOW)).eval()
    assert isinstance(model, EnhancedLSTM)
    window = torch.randn(BATCH, WINDOW, FEATURES)
    bar = torch.randn(BATCH, FEATURES)
    lines = [
        f"Streaming, full variant: one new bar vs recomputing the {WINDOW}-bar window (ratio: window / step)"
    ]
    steps: dict[int, float] = {}
    with torch.inference_mode():
        state = model.init_state(BATCH)
        for t in range(WINDOW):
            _, state = model.step(window[:, t], state)
        for threads in (1, 2):
            torch.set_num_threads(threads)
            times = interleaved(
                {"recompute window": lambda: model(window), "one step": lambda: model.step(bar, state)},
                repeat,
                rounds,
            )
            step, full = times["one step"], times["recompute window"]
            steps[threads] = step
            lines.append(
                f"  threads={threads}: window {full * 1e3:8.3f} ms   step {step * 1e3:8.3f} ms   "
                f"step is {full / step:6.1f}× faster  (goal ≥ 10×: {_verdict(full / step >= 10.0)})"
            )
    lines.append(f"  one step at 2 threads / at 1 thread: {steps[2] / steps[1]:.2f}×")
    return lines


def bench_quantum(rounds: int, reference_rounds: int) -> list[str]:
    x = torch.randn(BATCH, BARS, FEATURES)
    fused = create_enhanced_lstm(EnhancedLSTMConfig(use_quantum=True))
    pennylane = create_enhanced_lstm(
        EnhancedLSTMConfig(use_quantum=True, quantum_backend="pennylane", quantum_device="default.qubit")
    )
    assert isinstance(fused, QLSTM)
    assert isinstance(pennylane, QLSTM)

    def forward(model: torch.nn.Module) -> Callable[[], object]:
        def run() -> object:
            with torch.no_grad():
                return model(x)

        return run

    def forward_backward(model: torch.nn.Module) -> Callable[[], object]:
        def run() -> object:
            model.zero_grad()
            out = model(x)
            (out.predicted_return.sum() + out.prob_up_logit.sum()).backward()
            return out

        return run

    lines = [
        "QLSTM, 4 qubits, 1 layer, batch 4 × 50 bars: fused state vector vs PennyLane default.qubit",
        (
            f"  (ratio: PennyLane / fused; fused: median of {rounds} rounds, "
            f"PennyLane: median of {reference_rounds} calls)"
        ),
    ]
    for threads in (1, 2):
        torch.set_num_threads(threads)
        # One PennyLane call takes seconds: time it one call per round, between two fused rounds.
        fast = interleaved({"f": forward(fused), "fb": forward_backward(fused)}, 4, rounds)
        slow = interleaved({"f": forward(pennylane), "fb": forward_backward(pennylane)}, 1, reference_rounds)
        for key, label in (("f", "forward"), ("fb", "forward + backward")):
            ratio = slow[key] / fast[key]
            lines.append(
                f"  threads={threads} {label:<20} fused {fast[key] * 1e3:8.2f} ms   "
                f"PennyLane {slow[key] * 1e3:8.1f} ms   {ratio:6.1f}× faster  "
                f"(goal ≥ 50×: {_verdict(ratio >= 50)})"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per figure (median)")
    parser.add_argument("--quick", action="store_true", help="3 rounds and fewer calls (a smoke run)")
    args = parser.parse_args()
    rounds = 3 if args.quick else max(1, args.rounds)
    repeat = 20 if args.quick else 40
    default_threads = torch.get_num_threads()
    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} logical cores, "
        f"torch {torch.__version__}, default intra-op threads {default_threads}, "
        f"{rounds} interleaved rounds per figure"
    )
    started = time.perf_counter()
    for line in bench_forward(repeat, rounds):
        print(line)
    for line in bench_streaming(repeat, rounds):
        print(line)
    for line in bench_quantum(rounds, 3 if args.quick else min(rounds, 7)):
        print(line)
    torch.set_num_threads(default_threads)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
