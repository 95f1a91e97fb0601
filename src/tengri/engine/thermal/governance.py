"""What the thermal zone lets Tengri compute: the one table from GPU allocation to settings.

DESIGN.md, Next seams: Compute governance. The zone's GPU allocation picks a row of
:data:`ALLOCATION_TABLE`; when :meth:`~tengri.engine.thermal.ThermalZoneManager.should_reduce_gpu_load`
holds (hot or critical, or D_thermal ≥ 0.5) the next row down applies, and leaving that state
raises the settings again. A row sets:

``threads``
    The share of ``model.torch_threads`` torch may use (at least one thread).
``batch``
    The share of the predictor's training segments streamed side by side in a fit.
``model_every``
    The model is asked for a signal every this many bars (bars between are streamed through the
    model when it is next asked, so its state stays exact); 0 never asks.
``retrain_factor``
    A replay retrains every ``model.retrain_every × retrain_factor`` bars; 0 never.
``qlstm``
    Whether the quantum model may run (else it is asked for nothing, as ``model_every = 0``).

The device is CUDA where present and the allocation is at least ``thermal.gpu_min_allocation``
without a call to reduce the GPU load, else the CPU. :func:`markdown_table` renders the table
for the README (a test checks that the README shows exactly it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ALLOCATION_TABLE", "AllocationRow", "ComputeSettings", "markdown_table", "settings_for"]


@dataclass(frozen=True)
class AllocationRow:
    """One row of :data:`ALLOCATION_TABLE`: the settings from ``min_allocation`` up."""

    min_allocation: float
    zones: str
    threads: float
    batch: float
    model_every: int
    retrain_factor: int
    qlstm: bool


#: From the most allocation down; the default zones' allocations are cool 0.7, normal 0.6,
#: warm 0.4, hot 0.2, critical 0.1.
ALLOCATION_TABLE: tuple[AllocationRow, ...] = (
    AllocationRow(0.6, "cool, normal", 1.0, 1.0, 1, 1, True),
    AllocationRow(0.4, "warm", 0.5, 0.5, 2, 2, True),
    AllocationRow(0.2, "hot", 0.0, 0.25, 4, 0, False),
    AllocationRow(0.0, "critical", 0.0, 0.25, 8, 0, False),
)


@dataclass(frozen=True)
class ComputeSettings:
    """The settings heavy work and the model's stream use now."""

    row: int
    torch_threads: int
    segments: int
    model_every: int
    retrain_factor: int
    qlstm_allowed: bool
    device: str


def settings_for(
    allocation: float,
    *,
    reduce: bool,
    max_threads: int,
    max_segments: int,
    gpu_min_allocation: float,
    cuda_available: bool,
) -> ComputeSettings:
    """Return the settings of the row ``allocation`` falls in, or the next row down if ``reduce``."""
    index = next(i for i, row in enumerate(ALLOCATION_TABLE) if allocation >= row.min_allocation - 1e-12)
    if reduce:
        index = min(index + 1, len(ALLOCATION_TABLE) - 1)
    row = ALLOCATION_TABLE[index]
    gpu = cuda_available and not reduce and allocation >= gpu_min_allocation
    return ComputeSettings(
        row=index,
        torch_threads=max(1, math.floor(max_threads * row.threads)),
        segments=max(1, math.floor(max_segments * row.batch)),
        model_every=row.model_every,
        retrain_factor=row.retrain_factor,
        qlstm_allowed=row.qlstm,
        device="cuda" if gpu else "cpu",
    )


def _bars(count: int) -> str:
    return "bar" if count == 1 else f"{count} bars"


def markdown_table() -> str:
    """Return :data:`ALLOCATION_TABLE` as the README's Markdown table."""
    header = (
        "| GPU allocation ≥ | zones (default) | torch threads | training batch | model asked every | "
        "retrain every | QLSTM |"
    )
    lines = [header, "|---|---|---|---|---|---|---|"]
    for row in ALLOCATION_TABLE:
        threads = "1" if row.threads == 0 else "all" if row.threads == 1 else f"{row.threads:g} × (≥ 1)"
        batch = "all segments" if row.batch == 1 else f"{row.batch:g} × segments"
        retrain = "never" if row.retrain_factor == 0 else f"{row.retrain_factor} × `retrain_every`"
        lines.append(
            f"| {row.min_allocation:g} | {row.zones} | {threads} | {batch} | {_bars(row.model_every)} | "
            f"{retrain} | {'yes' if row.qlstm else 'no'} |"
        )
    return "\n".join(lines) + "\n"
