"""``export/manifest.json``: what the runtime reads to load, verify and feed each artifact."""

from __future__ import annotations

import platform
from pathlib import Path

from fmnist_edge.runtime import system
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.manifest import read_manifest, sha256_file

from fmnist_edge.runtime.labels import CLASS_NAMES
from fmnist_edge.runtime.preprocessing import INPUT_SCALE, LAYOUT

SCHEMA = 1
PREPROCESSING = {
    "input": "uint8 grayscale 28x28, light garment on a dark background (the dataset's polarity)",
    "scale": INPUT_SCALE,
    "layout": LAYOUT,
    "shape": [28, 28, 1],
    "background": "light-on-dark",
}


def artifact_entry(path: Path, fmt: str, quantization: str, classifier, extra: dict) -> dict:
    """One manifest entry, with the input/output facts read back from the written file."""
    runner = classifier.runner
    entry = {
        "file": path.name,
        "format": fmt,
        "quantization": quantization,
        "size_bytes": path.stat().st_size,
        "sha256": sha256_file(path),
        "input": {"name": runner.input_name, "shape": runner.input_shape,
                  "dtype": runner.input_dtype.name},
        "labels": list(CLASS_NAMES),
        "preprocessing": PREPROCESSING,
        **extra,
    }
    for side in ("input", "output"):
        quant = getattr(runner, f"{side}_quant", None)
        if quant is not None:
            entry.setdefault(side, {})["quantization"] = quant.to_json()
    return entry


def tool_versions() -> dict:
    """Versions of every library that touched the artifacts."""
    versions = {"python": platform.python_version()}
    for dist in ("numpy", "tensorflow-cpu", "tensorflow", "keras", "tf2onnx", "onnx",
                 "onnxruntime", "ai-edge-litert", "fmnist-edge"):
        version = system.installed_version(dist)
        if version:
            versions[dist] = version
    return versions


def previous_manifest(folder: Path) -> dict | None:
    """The manifest already in ``folder``; None when there is none or it is unreadable."""
    try:
        return read_manifest(folder)
    except FmnistError:
        return None


def reusable_entries(previous: dict | None, folder: Path, source_sha: str, redone: set) -> list:
    """Entries of a previous export of the same source model whose files are intact and not redone."""
    if not previous or previous.get("source", {}).get("sha256") != source_sha:
        return []
    keep = []
    for entry in previous.get("artifacts", []):
        path = Path(folder) / entry.get("file", "")
        if entry.get("file") in redone or not path.is_file():
            continue
        if sha256_file(path) == entry.get("sha256"):
            keep.append(entry)
    return keep
