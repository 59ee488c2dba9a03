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
from .calibration import CALIBRATION_SEED, VALIDATION_SIZE, CalibrationPool
from .config import CalibrationMethod, Conversion, ExportConfig, Quantization
from .errors import CheckFailed
from .int8 import BudgetNotMet, has_conv
from .report import artifacts_table, write_report
from .source import SourceModel, load_source
from .validation import DEBUG_IMAGES, load_validation, require_validation


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
        """Raise CheckFailed (exit 1) naming every artifact that failed its self-check, or
        BudgetNotMet when ``--quantize auto`` wrote nothing for a format."""
        missing = self.manifest.get("not_written", [])
        if missing:
            raise BudgetNotMet(f"{', '.join(r['file'] for r in missing)} not written: no int8 model "
                               f"within {missing[0]['max_drop']} validation points short of "
                               "all-float (see report.md)")
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
    # the Keras predictions on the split cost a second: only when a calibrated file is made
    calibrated = any(v.calibrated for v in config.jobs())
    validation = load_validation(data, source.run_dir, source.model) if calibrated else None
    if config.quantizations == (Quantization.AUTO,) or config.calibration is CalibrationMethod.AUTO:
        require_validation(validation, source.run_dir, "--quantize auto / --calibration auto")
    pool = CalibrationPool(data, validation.size if validation else VALIDATION_SIZE)
    calibration = pool.sample(config.calibration_samples)
    staging = atomic.make_staging_dir(out, "export folder")
    try:
        entries, not_written = _export_all(source, config, data, (calibration, pool, validation),
                                           staging, progress)
        written = tuple(e["file"] for e in entries)
        entries += _carry_over(out, staging, source.sha256, set(written))
        manifest = _manifest(source, config, entries, out, validation, not_written)
        atomic.write_json(staging / "manifest.json", manifest)
        write_report(manifest, staging, artifacts_table(manifest))
        atomic.publish_dir(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(out, manifest, written)


def _applies(variant, config: ExportConfig, validation, model) -> bool:
    """Whether ``variant`` is made: several quantizations (``all``) mean those this model can have.

    auto needs a validation split; mixed a convolution (an ANN has none). Asked for alone, mixed
    on a model without one is an error (int8.first_conv), not a silent nothing.
    """
    if variant.quantization is Quantization.AUTO:
        return validation is not None
    if variant.quantization is Quantization.MIXED and len(config.quantizations) > 1:
        return has_conv(model)
    return True


def _export_all(source: SourceModel, config: ExportConfig, data, inputs: tuple,
                staging: Path, progress) -> tuple[list[dict], list[dict]]:
    """Convert every job (decisions read validation images only), then check each on the test set."""
    from .validate import check_artifact, load_artifact

    calibration, pool, validation = inputs
    jobs = [v for v in config.jobs() if _applies(v, config, validation, source.model)]
    made, memo = [], {}
    with tempfile.TemporaryDirectory(prefix="fmnist-export-") as scratch:
        steps = Steps(jobs, progress, "export", "model")
        for variant in steps:
            steps.note(f"{variant.name}: converting")
            path = staging / variant.file_name
            converter = importlib.import_module(f"{__package__}.{FORMATS[variant.format].converter}")
            job = Conversion(source, variant, calibration, path, config, Path(scratch),
                             validation, pool, memo)
            try:
                made.append((variant, path, converter.convert(job)))
            except BudgetNotMet as exc:
                pass  # recorded in memo["not-written"]; the other files are still made
    # the test split is read from here on: every file and every decision is already made
    reference = _keras_predictions(source.model, data.x_test) if config.check else None
    entries = []
    for variant, path, facts in made:
        runtime_model = load_artifact(path, variant.format)
        if reference is not None:
            facts["check"] = check_artifact(runtime_model, data.x_test, data.y_test, reference,
                                            config.max_drop)
        entries.append(mf.artifact_entry(path, variant.format.value, variant.quantization.value,
                                         runtime_model, facts))
    return entries, memo.get("not-written", [])


def _keras_predictions(model, images: np.ndarray) -> np.ndarray:
    probabilities = model.predict(to_model_input(images), batch_size=1024, verbose=0)
    return np.argmax(probabilities, axis=1)


def _manifest(source: SourceModel, config: ExportConfig, entries: list[dict], out: Path,
              validation, not_written: list[dict]) -> dict:
    order = {v.file_name: i for i, v in enumerate(VARIANTS)}  # the table's order
    return {
        "schema": mf.SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "source": {"file": os.path.relpath(source.path.resolve(), out.resolve()),
                   "sha256": source.sha256},
        "labels": list(CLASS_NAMES),
        "preprocessing": mf.PREPROCESSING,
        "calibration": {"samples": config.calibration_samples, "seed": CALIBRATION_SEED,
                        "method": config.calibration.value,
                        "from": "training split (stratified; validation and test excluded)"},
        "validation": ({"images": int(len(validation.labels)), "debug_images": DEBUG_IMAGES,
                        "from": "the training run's validation split (config.json)"}
                       if validation else None),
        "not_written": not_written,
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


def export_and_report(model, config, out: str | Path | None = None, data: str | None = None,
                      progress=None, readme: str | None = None):
    """What ``fmnist-export`` does: export, print the table, write it into ``readme``'s block.

    A README without the block fails before anything is converted; a failed self-check raises
    CheckFailed (exit 1) after everything is written and reported.
    """
    from fmnist_edge.readme import check_block, replace_block

    if readme:
        check_block(readme, "exports")
    result = export_model(model, config, out, data, progress)
    table = artifacts_table(result.manifest)
    kept = len(result.manifest["artifacts"]) - len(result.written)
    print(f"fmnist-export: wrote {len(result.written)} models to {result.out_dir}/"
          + (f" (kept {kept} from the previous export of the same model)" if kept else "")
          + f"\n\n{table}\n\nreport: {result.out_dir / 'report.md'}")
    if result.manifest["validation"] is None and Quantization.AUTO in config.quantizations:
        print("auto: not made, and no per-layer error: the model has no training run's "
              "validation split (config.json) beside it")
    if readme:
        replace_block(readme, "exports", table)
    result.raise_on_failed_checks()
    return result
