"""Where and with how many threads a model runs: the thermal manager's device, few threads for small tensors.

The models layer does not import the engine: the caller (the predictor) asks the thermal manager
whether the GPU may be used and passes that decision in as ``allow_cuda``.

Threads. PyTorch's default intra-op pool uses every core. A recurrent step on a few thousand
numbers is far too small to split, so extra threads only add synchronisation, and when other
processes share the cores (oversubscription) a waiting thread can stall every operation of a
step. ``benchmarks/bench_models.py`` measures 1 against 2 threads on the streaming step; run
small-batch inference inside ``torch_threads(SMALL_TENSOR_THREADS)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from tengri.errors import ModelError

__all__ = ["SMALL_TENSOR_THREADS", "select_device", "torch_threads"]

SMALL_TENSOR_THREADS = 1
"""Intra-op threads for batch-of-a-few inference and streaming (see the module docstring)."""


def select_device(*, allow_cuda: bool) -> torch.device:
    """Return CUDA when the thermal manager allows it and a GPU is present, else the CPU.

    Results agree between devices to about 1e-4 in float32 (cuDNN and the CPU kernels sum in
    different orders); use float64 when bit-level comparisons matter.
    """
    if allow_cuda and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` intra-op threads, then restore the previous setting.

    The setting is process-wide (``torch.set_num_threads``): do not nest it across threads.
    """
    if count < 1:
        raise ModelError(f"thread count must be positive, got {count}")
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
