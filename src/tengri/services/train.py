"""Train use case: fit a predictor on a data source and save it under the models directory."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tengri.data import OHLCVSource, read_ohlcv
from tengri.predict import LSTMTradingPredictor
from tengri.services.compute import command_compute

if TYPE_CHECKING:
    from tengri.config import TengriConfig
    from tengri.engine import ThermalZoneManager

__all__ = ["TrainResult", "train"]


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` produced.

    Attributes
    ----------
    name
        The saved predictor's name, ``<data>-<model>``.
    directory
        ``<models_dir>/<name>``, holding ``manifest.json`` and ``model.safetensors``.
    manifest, weights
        The two files.
    metrics
        Validation metrics of the fit (loss, accuracy, Brier and ECE before and after calibration).
    bursts
        The thermal bursts the fit ran in: ``start``, ``end``, ``seconds``, ``label``.
    """

    name: str
    directory: Path
    manifest: Path
    weights: Path
    metrics: dict[str, float] = field(default_factory=dict)
    bursts: list[dict[str, Any]] = field(default_factory=list)


def train(
    config: TengriConfig, data: OHLCVSource, model: str, *, thermal: ThermalZoneManager | None = None
) -> TrainResult:
    """Fit ``LSTMTradingPredictor(config, model=model)`` on every bar of ``data`` and save it.

    The fit runs inside thermal bursts (pausing between them; :mod:`tengri.services.compute`).

    Parameters
    ----------
    config
        Tengri's configuration (model settings, seed, models directory).
    data
        A data source for :func:`tengri.data.read_ohlcv` (a path, ``sample:NAME``, bars already read).
    model
        A model name of :data:`tengri.predict.VARIANTS`.
    thermal
        The thermal manager granting bursts (default: one over the configured store and sensors).

    Returns
    -------
    TrainResult
        Paths and validation metrics; the same data, config and seed give the same files.
    """
    loaded = read_ohlcv(data)
    with command_compute(config, thermal) as compute, compute.budget("training") as budget:
        predictor = LSTMTradingPredictor(config, model=model).fit(loaded.frame, budget=budget)
    source = Path(loaded.source).stem if ":" not in loaded.source else loaded.source
    name = re.sub(r"[^A-Za-z0-9_.+-]+", "-", f"{source}-{model}").strip("-")
    directory = predictor.save(config.models_dir / name)
    return TrainResult(
        name=name,
        directory=directory,
        manifest=directory / "manifest.json",
        weights=directory / "model.safetensors",
        metrics=dict(predictor.metrics),
        bursts=compute.bursts,
    )
