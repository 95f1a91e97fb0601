"""Benchmark the models against their references, side by side in one run (issue 5).

Run: ``.venv/bin/python benchmarks/bench_models.py [--threads N] [--quick]``

Shape: batch 4 × 50 bars × 50 features, hidden 64 (the seed's working configuration).

- forward of every EnhancedLSTM variant against a plain ``nn.LSTM`` of the same size (goal: the
  full variant within 3×);
- one streaming step against recomputing the 60-bar window (goal: at least 10× faster), at 1 and
  2 intra-op threads;
- the fused QLSTM's forward and forward+backward against the same model on PennyLane
  ``default.qubit`` (goal: at least 50× faster).

Timings are medians over rounds that interleave the candidates, so that load from other
processes on a shared machine hits reference and candidate alike; read the ratios, not the
absolute figures.
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
    }
    candidates: dict[str, Callable[[], object]] = {"nn.LSTM(50, 64) [reference]": lambda: reference(x)}
    for name, flags in variants.items():
        model = create_enhanced_lstm(EnhancedLSTMConfig(**flags)).eval()  # type: ignore[arg-type]
        candidates[f"EnhancedLSTM {name}"] = lambda model=model: model(x)
    multi = create_enhanced_lstm(EnhancedLSTMConfig(use_multi_timeframe=True)).eval()
    x_multi = torch.randn(BATCH, 3, BARS, FEATURES)
    candidates["EnhancedLSTM full, 3 timeframes (B·K = 12)"] = lambda: multi(x_multi)
    with torch.inference_mode():
        times = interleaved(candidates, repeat, rounds)
    base = times["nn.LSTM(50, 64) [reference]"]
    lines = ["Forward, batch 4 × 50 bars × 50 features, hidden 64 (ratio: time / nn.LSTM)"]
    for name, seconds in times.items():
        goal = "goal ≤ 3×" if name.startswith("EnhancedLSTM full (") else ""
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
            lines.append(
                f"  threads={threads}: window {full * 1e3:8.3f} ms   step {step * 1e3:8.3f} ms   "
                f"step is {full / step:6.1f}× faster  (goal ≥ 10×)"
            )
            if threads == 1:
                step_one_thread = step
        lines.append(f"  one step at 2 threads / at 1 thread: {step / step_one_thread:.2f}×")
    return lines


def bench_quantum(rounds: int) -> list[str]:
    x = torch.randn(BATCH, BARS, FEATURES)
    fused = create_enhanced_lstm(EnhancedLSTMConfig(use_quantum=True))
    pennylane = create_enhanced_lstm(EnhancedLSTMConfig(use_quantum=True, quantum_backend="pennylane"))
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

    fast = interleaved({"f": forward(fused), "fb": forward_backward(fused)}, 10, rounds)
    slow = interleaved({"f": forward(pennylane), "fb": forward_backward(pennylane)}, 1, 1)
    lines = [
        "QLSTM, 4 qubits, 1 layer, batch 4 × 50 bars: fused state vector vs PennyLane default.qubit",
        "  (ratio: PennyLane / fused)",
    ]
    for key, label in (("f", "forward"), ("fb", "forward + backward")):
        lines.append(
            f"  {label:<20} fused {fast[key] * 1e3:9.2f} ms   PennyLane {slow[key] * 1e3:9.1f} ms   "
            f"{slow[key] / fast[key]:7.1f}× faster  (goal ≥ 50×)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads for the forward table")
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    args = parser.parse_args()
    repeat, rounds = (20, 3) if args.quick else (100, 7)
    default_threads = torch.get_num_threads()
    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} logical cores, "
        f"torch {torch.__version__}, default intra-op threads {default_threads}, "
        f"forward table at {args.threads} thread(s)"
    )
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    for line in bench_forward(repeat, rounds):
        print(line)
    for line in bench_streaming(repeat, rounds):
        print(line)
    torch.set_num_threads(args.threads)
    for line in bench_quantum(3 if args.quick else 5):
        print(line)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
