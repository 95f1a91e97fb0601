"""A saved predictor on disk: safetensors weights plus a JSON manifest, never a pickle.

Layout of a predictor directory::

    <path>/manifest.json        settings, feature names, scaler, calibration, fingerprint, versions
    <path>/model.safetensors    the network's weights

Loading refuses anything that looks like a pickle (``torch.save`` output, a ``.pkl``): unpickling
runs arbitrary code, so a model file from elsewhere must never be unpickled.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from torch import Tensor

from tengri.data import OHLCV_COLUMNS
from tengri.errors import ModelError

__all__ = ["MANIFEST", "WEIGHTS", "data_fingerprint", "library_versions", "read_predictor", "write_predictor"]

MANIFEST: Final = "manifest.json"
WEIGHTS: Final = "model.safetensors"
FORMAT: Final = "tengri.predict.LSTMTradingPredictor"
VERSION: Final = 1
# Pickle protocols 2–5 start with 0x80; torch.save writes a zip archive of pickles ("PK").
_PICKLE_MAGIC: Final = (b"\x80", b"PK\x03\x04")
_LIBRARIES: Final = ("tengri", "torch", "numpy", "pandas", "scikit-learn", "ta-lib", "safetensors")


def data_fingerprint(ohlcv: pd.DataFrame) -> str:
    """Return the sha256 of a frame of bars: its timestamps (int64 ns) and OHLCV values (float64)."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(ohlcv.index.as_unit("ns").asi8).tobytes())
    digest.update(np.ascontiguousarray(ohlcv.loc[:, list(OHLCV_COLUMNS)].to_numpy(np.float64)).tobytes())
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Return the installed versions of the libraries a saved predictor depends on."""
    versions: dict[str, str] = {}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_predictor(path: Path, manifest: dict[str, Any], weights: dict[str, Tensor]) -> Path:
    """Write ``weights`` and ``manifest`` (completed with format, versions and checksum) to ``path``."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=0o700, exist_ok=True)
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in weights.items()}
    # Model files are the owner's only (0600), like the store: created so before anything is written.
    for name in (WEIGHTS, MANIFEST):
        os.close(os.open(path / name, os.O_CREAT | os.O_WRONLY, 0o600))
    save_file(tensors, str(path / WEIGHTS))
    full = {
        "format": FORMAT,
        "version": VERSION,
        **manifest,
        "weights": WEIGHTS,
        "weights_sha256": hashlib.sha256((path / WEIGHTS).read_bytes()).hexdigest(),
        "library_versions": library_versions(),
    }
    (path / MANIFEST).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_predictor(path: Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Read a predictor directory; return its manifest and weights.

    Raises
    ------
    ModelError
        If ``path`` is a pickle (refused), is not a predictor directory, or its files are
        damaged, of another format, or do not match the manifest's checksum.
    """
    if path.is_file():
        _refuse_pickle(path)
        raise ModelError(
            f"{path} is a file; a saved predictor is a directory holding {MANIFEST} and {WEIGHTS}"
        )
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise ModelError(f"{path} is not a saved predictor: {MANIFEST} is missing")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"{manifest_path} is not valid JSON ({error})") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelError(f"{manifest_path} is not a {FORMAT} manifest")
    if manifest.get("version") != VERSION:
        raise ModelError(f"{manifest_path}: version {manifest.get('version')!r} is not supported ({VERSION})")
    if manifest.get("weights") != WEIGHTS:
        raise ModelError(f"{manifest_path}: weights must be {WEIGHTS}, got {manifest.get('weights')!r}")
    weights_path = path / WEIGHTS
    if not weights_path.is_file():
        raise ModelError(f"{path}: {WEIGHTS} is missing")
    _refuse_pickle(weights_path)
    content = weights_path.read_bytes()
    if hashlib.sha256(content).hexdigest() != manifest.get("weights_sha256"):
        raise ModelError(f"{weights_path} does not match the manifest's checksum")
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        weights = load(content)
    except (SafetensorError, ValueError) as error:
        raise ModelError(f"{weights_path} is not a valid safetensors file ({error})") from error
    return manifest, weights


def _refuse_pickle(path: Path) -> None:
    with path.open("rb") as handle:
        head = handle.read(9)
    size = path.stat().st_size
    # A safetensors file: an 8-byte little-endian header length, then a JSON header ("{").
    safetensors = len(head) == 9 and head[8:9] == b"{" and 8 + int.from_bytes(head[:8], "little") <= size
    if not safetensors and (
        path.suffix in {".pkl", ".pickle", ".pt", ".pth"} or head.startswith(_PICKLE_MAGIC)
    ):
        raise ModelError(
            f"refusing to load {path}: it is (or looks like) a pickle, and unpickling can run "
            f"arbitrary code; Tengri predictors are saved as {WEIGHTS} plus {MANIFEST}"
        )
