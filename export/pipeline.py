"""``export_model``: every requested artifact, self-checked, behind one manifest, published atomically.

The export folder is built in a hidden staging folder beside it and swapped in only when every
file and the manifest are written: Ctrl-C or a converter exception at any point leaves the
previous export folder exactly as it was.
"""

from __future__ import annotations

import datetime
import importlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist_edge.progress import Progress, Steps
from fmnist_edge.runtime import atomic
from fmnist_edge.runtime.dataset import load_fashion_mnist
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.formats import FORMATS, VARIANTS
from fmnist_edge.runtime.labels import CLASS_NAMES
from fmnist_edge.runtime.preprocessing import to_model_input

from . import manifest as mf
from .calibration import CALIBRATION_SEED, calibration_sample
from .config import Conversion, ExportConfig
from .errors import CheckFailed
from .source import SourceModel, load_source


@dataclass(frozen=True)
class ExportResult:
    """Where the export went and its manifest."""

    out_dir: Path
    manifest: dict
    written: tuple[str, ...]  # files made by this call; the manifest's others were kept as they were

    @property
    def failed(self) -> list[dict]:
        """Artifacts whose self-check lost more than ``max_drop`` points."""
        return [e for e in self.manifest["artifacts"] if e.get("check") and not e["check"]["passed"]]

    def raise_on_failed_checks(self) -> None:
        """Raise CheckFailed (exit 1) naming every artifact that failed its self-check."""
        if self.failed:
            worst = ", ".join(f"{e['file']} dropped {e['check']['drop_points']:.2f} points"
                              for e in self.failed)
            raise CheckFailed(f"{worst} (more than --max-drop {self.failed[0]['check']['max_drop']}); "
                              f"written to {self.out_dir}/ and marked failed in manifest.json")


def export_model(run_dir_or_model: str | Path | None, config: ExportConfig,
                 out_dir: str | Path | None = None, data_dir: str | None = None,
                 progress: Progress | bool | None = None) -> ExportResult:
    """Export, self-check and publish every requested artifact; see ``ExportResult.failed``.

    ``progress``: a :class:`~fmnist_edge.progress.Progress` (None = auto).
    """
    source = load_source(run_dir_or_model)
    out = Path(out_dir) if out_dir else source.run_dir / "export"
    _refuse_foreign_folder(out)
    data = load_fashion_mnist(data_dir)
    calibration = calibration_sample(data, config.calibration_samples)
    staging = atomic.make_staging_dir(out, "export folder")
    try:
        entries = _export_all(source, config, data, calibration, staging, progress)
        written = tuple(e["file"] for e in entries)
        entries += _carry_over(out, staging, source.sha256, set(written))
        manifest = _manifest(source, config, entries, out)
        atomic.write_json(staging / "manifest.json", manifest)
        atomic.publish_dir(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(out, manifest, written)


def _export_all(source: SourceModel, config: ExportConfig, data, calibration: np.ndarray,
                staging: Path, progress) -> list[dict]:
    from .validate import check_artifact, load_artifact

    reference = _keras_predictions(source.model, data.x_test) if config.check else None
    jobs = config.jobs()
    entries = []
    with tempfile.TemporaryDirectory(prefix="fmnist-export-") as scratch:
        steps = Steps(jobs, progress, "export", "model")
        for variant in steps:
            name = f"{variant.format} {variant.quantization}"
            steps.note(f"{name}: converting")
            path = staging / variant.file_name
            converter = importlib.import_module(f"{__package__}.{FORMATS[variant.format].converter}")
            facts = converter.convert(Conversion(source, variant, calibration, path, config,
                                                 Path(scratch)))
            runtime_model = load_artifact(path, variant.format)
            if reference is not None:
                steps.note(f"{name}: checking on 10k test images")
                facts["check"] = check_artifact(runtime_model, data.x_test, data.y_test,
                                                reference, config.max_drop)
            entries.append(mf.artifact_entry(path, variant.format.value, variant.quantization.value,
                                             runtime_model, facts))
    return entries


def _keras_predictions(model, images: np.ndarray) -> np.ndarray:
    probabilities = model.predict(to_model_input(images), batch_size=1024, verbose=0)
    return np.argmax(probabilities, axis=1)


def _manifest(source: SourceModel, config: ExportConfig, entries: list[dict], out: Path) -> dict:
    order = {v.file_name: i for i, v in enumerate(VARIANTS)}  # the table's order
    return {
        "schema": mf.SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "source": {"file": os.path.relpath(source.path.resolve(), out.resolve()),
                   "sha256": source.sha256},
        "labels": list(CLASS_NAMES),
        "preprocessing": mf.PREPROCESSING,
        "calibration": {"samples": config.calibration_samples, "seed": CALIBRATION_SEED,
                        "from": "training split (stratified; validation and test excluded)"},
        "tools": mf.tool_versions(),
        "artifacts": sorted(entries, key=lambda e: order.get(e["file"], len(order))),
    }


def _carry_over(out: Path, staging: Path, source_sha: str, redone: set) -> list[dict]:
    """Keep a previous export's other artifacts of the same model (hard-linked, not re-made)."""
    kept = mf.reusable_entries(mf.previous_manifest(out), out, source_sha, redone)
    for entry in kept:
        try:
            os.link(out / entry["file"], staging / entry["file"])
        except OSError:
            shutil.copy2(out / entry["file"], staging / entry["file"])
    return kept


def _refuse_foreign_folder(out: Path) -> None:
    """Publishing replaces the whole folder: never do that to a folder that is not an export."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and
                                              not (out / "manifest.json").is_file())):
        raise FmnistError(f"--out {out} exists and is not an fmnist-edge export folder; "
                          "choose a new or empty folder")
