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
import sys
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


EXIT_SKIPPED = 3  # fmnist-export: every file written passed, but some variants were skipped


@dataclass(frozen=True)
class ExportResult:
    """Where the export went and its manifest."""

    out_dir: Path
    manifest: dict
    written: tuple[str, ...]  # files made by this call; the manifest's others were kept as they were
    skipped: tuple[dict, ...] = ()  # variants this call skipped (file, format, quantization, reason)

    @property
    def failed(self) -> list[dict]:
        """Artifacts whose self-check lost more than ``max_drop`` points."""
        return [e for e in self.manifest["artifacts"] if e.get("check") and not e["check"]["passed"]]

    @property
    def exit_code(self) -> int:
        """0, or EXIT_SKIPPED when this call skipped a requested variant (failures raise instead)."""
        return EXIT_SKIPPED if self.skipped else 0

    def raise_on_failed_checks(self) -> None:
        """Raise CheckFailed (exit 1) naming every artifact that failed its self-check, or
        BudgetNotMet when ``--quantize auto`` alone wrote nothing for a format."""
        skipped = {r["file"] for r in self.skipped}
        missing = [r for r in self.manifest.get("not_written", []) if r["file"] not in skipped]
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
    # the Keras predictions on the split cost a second: only when a file is measured on it (a
    # calibrated one, or a dynamic-range one's per-layer error)
    measured = any(v.calibrated or v.quantization is Quantization.DYNAMIC for v in config.jobs())
    validation = load_validation(data, source.run_dir, source.model) if measured else None
    if config.quantizations == (Quantization.AUTO,) or config.calibration is CalibrationMethod.AUTO:
        require_validation(validation, source.run_dir, "--quantize auto / --calibration auto")
    pool = CalibrationPool(data, validation.size if validation else VALIDATION_SIZE)
    calibration = pool.sample(config.calibration_samples)
    staging = atomic.make_staging_dir(out, "export folder")
    try:
        entries, not_written, skipped = _export_all(source, config, data,
                                                    (calibration, pool, validation), staging, progress)
        written = tuple(e["file"] for e in entries)
        entries += _carry_over(out, staging, source.sha256,
                               set(written) | {r["file"] for r in skipped})
        manifest = _manifest(source, config, entries, out, validation, not_written)
        manifest["skipped"] = skipped + _skips_kept(out, source.sha256, entries,
                                                    skipped + not_written)
        atomic.write_json(staging / "manifest.json", manifest)
        write_report(manifest, staging, artifacts_table(manifest))
        atomic.publish_dir(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(out, manifest, written, tuple(skipped))


def _skip_reason(variant, validation, model) -> str | None:
    """Why ``variant`` does not apply to this model (None: it does).

    auto needs a validation split; mixed a convolution (an ANN has none). Only asked for among
    others (``--quantize all``) is that a skip; asked for alone, the converter's own check raises
    (int8.first_conv, validation.require_validation: exit 2).
    """
    if variant.quantization is Quantization.AUTO and validation is None:
        return ("needs the training run's validation split (config.json beside the model, as "
                "fmnist-train writes it)")
    if variant.quantization is Quantization.MIXED and not has_conv(model):
        return "the model has no convolution to keep in float"
    return None


def _export_all(source: SourceModel, config: ExportConfig, data, inputs: tuple,
                staging: Path, progress) -> tuple[list[dict], list[dict], list[dict]]:
    """Convert every job (decisions read validation images only), then check each on the test set.

    Several variants asked for (``--quantize all``): one this model cannot have — it does not
    apply, its converter refuses the model, auto meets no budget — is skipped with its reason
    and the others are made. Asked for alone, its error is the export's.
    """
    from .validate import check_artifact, load_artifact

    calibration, pool, validation = inputs
    several = len(config.quantizations) > 1
    made, memo, skipped = [], {}, []
    with tempfile.TemporaryDirectory(prefix="fmnist-export-") as scratch:
        steps = Steps(config.jobs(), progress, "export", "model")
        for variant in steps:
            why = _skip_reason(variant, validation, source.model) if several else None
            if why:
                skipped.append(_skip(variant, why))
                continue
            steps.note(f"{variant.name}: converting")
            path = staging / variant.file_name
            converter = importlib.import_module(f"{__package__}.{FORMATS[variant.format].converter}")
            job = Conversion(source, variant, calibration, path, config, Path(scratch),
                             validation, pool, memo)
            try:
                made.append((variant, path, converter.convert(job)))
            except BudgetNotMet as exc:  # recorded in memo["not-written"]
                if several:
                    skipped.append(_skip(variant, str(exc)))
            except FmnistError as exc:
                if not several:
                    raise
                path.unlink(missing_ok=True)
                skipped.append(_skip(variant, str(exc), exc))
    if skipped and not made:
        raise _nothing_made(skipped)
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
    return entries, memo.get("not-written", []), [{k: v for k, v in r.items() if k != "error"}
                                                   for r in skipped]


def _skip(variant, reason: str, error: FmnistError | None = None) -> dict:
    return {"file": variant.file_name, "format": variant.format.value,
            "quantization": variant.quantization.value, "reason": reason, "error": error}


def _nothing_made(skipped: list[dict]) -> FmnistError:
    """Every requested variant was skipped: the first converter error, or an input error."""
    first = next((r["error"] for r in skipped if r["error"] is not None), None)
    error = FmnistError("nothing written: " + "; ".join(f"{r['file']}: {r['reason']}"
                                                         for r in skipped))
    error.exit_code = first.exit_code if first is not None else FmnistError.exit_code
    return error


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


def _skips_kept(out: Path, source_sha: str, entries: list[dict], now: list[dict]) -> list[dict]:
    """A previous export's skip records of the same model, for files still neither made nor skipped:
    a re-export of one variant keeps saying why the others are missing."""
    previous = mf.previous_manifest(out) or {}
    if previous.get("source", {}).get("sha256") != source_sha:
        return []
    present = {e["file"] for e in entries} | {r["file"] for r in now}
    return [r for r in previous.get("skipped", []) if r.get("file") not in present]


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
    CheckFailed (exit 1) after everything is written and reported; each skipped variant gets one
    stderr line (``result.exit_code`` is then EXIT_SKIPPED).
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
    for record in result.skipped:
        print(f"fmnist-export: skipped {record['file']}: {record['reason']}", file=sys.stderr)
    if readme:
        replace_block(readme, "exports", table)
    result.raise_on_failed_checks()
    return result
