"""The gallery: user-style Keras models through ``fmnist-export --quantize all`` and every engine.

    python -m fmnist_edge.export.gallery [--models NAME,...] [--out DIR] [--update-readme FILE]

Each model of :mod:`.gallery_models` is trained briefly on the real training split (a few hundred
steps, so its predictions are not constant; the training run's validation split held out and
named in ``config.json``, as ``fmnist-train`` does), exported by ``fmnist-export --quantize all``
as a user would run it, and every file written is run on the 10,000 test images by every engine
installed here that takes its format. An engine either agrees with the file's reference engine
(the one the export's self-check used: LiteRT for TFLite, ONNX Runtime for ONNX; for TFLite
also LiteRT's builtin kernels, the arithmetic TFLite defines) on all but 0.1 % of top-1
classes, or refuses the file with one line; anything else is a silent disagreement, and the
run exits 1. The support table of docs/export.md is written from here.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

from fmnist_edge.runtime.errors import FmnistError, first_line
from fmnist_edge.runtime.formats import FORMATS, Backend, Format

from .gallery_models import BY_NAME, MODELS, PROBES, GalleryModel

STEPS = 600  # batches of 64: 38 k training images, one pass
PROBE_STEPS = 200  # a probe only has to predict something other than one class
BATCH = 64
VALIDATION_SIZE = 5000  # fmnist-train's default split, held out of training, read by auto
SEED = 0
STEM = "probe-stem"  # the probes' stem and head alone: a refusal there would blame every layer
TOP1_SHARE = 0.001  # an engine may differ from the reference engine on 0.1 % of top-1 classes


def train(entry: GalleryModel, data, steps: int = STEPS, seed: int = SEED):
    """``entry``'s model, trained ``steps`` batches on the training split minus validation."""
    import keras

    from fmnist_edge.runtime.preprocessing import to_model_input
    from fmnist_edge.splits import stratified_split

    keras.utils.set_random_seed(seed)
    model = entry.build(keras)
    model.compile("adam", "sparse_categorical_crossentropy")
    train_idx, _ = stratified_split(data.y_train, VALIDATION_SIZE)
    pick = np.random.default_rng(seed).permutation(train_idx)[:steps * BATCH]
    model.fit(to_model_input(data.x_train[pick]), data.y_train[pick], batch_size=BATCH,
              epochs=1, verbose=0, shuffle=False)
    return model


def write_run(model, folder: Path) -> Path:
    """A run folder as fmnist-train leaves one: model.keras and the validation split's size."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")
    (folder / "config.json").write_text(json.dumps({"validation_size": VALIDATION_SIZE,
                                                    "made_by": "fmnist_edge.export.gallery"}))
    return folder


def export(folder: Path, data_dir: str | None = None) -> dict:
    """``fmnist-export FOLDER --quantize all`` in this process: exit code and its stderr lines."""
    from .cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(folder), "--quantize", "all", "--progress", "none"]
                    + (["--data", data_dir] if data_dir else []))
    return {"exit": code, "stderr": [line for line in err.getvalue().splitlines() if line]}


def engine_results(path: Path, fmt: Format, x_test: np.ndarray) -> dict[str, dict]:
    """Every engine here that takes ``fmt`` on the file: ok (differing top-1 count) or refused."""
    from fmnist_edge.runtime.backend_litert import reference_outputs
    from fmnist_edge.runtime.backends import availability
    from fmnist_edge.runtime.classifier import Classifier

    results, reference = {}, None
    for backend in FORMATS[fmt].backends:
        if availability(backend) is not None:
            continue
        try:
            model = Classifier.load(path, backend=backend, verify=False, threads=1)
            top1 = np.argmax(model.predict(x_test), axis=1)
        except FmnistError as exc:
            results[backend.value] = {"status": "refused", "reason": first_line(exc)}
            continue
        reference = top1 if reference is None else reference
        result = {"differ": int((top1 != reference).sum())}
        if fmt is Format.TFLITE and backend is not Backend.LITERT and "litert" in results:
            # the TFLite arithmetic itself: XNNPACK (LiteRT's default) computes dynamic-range
            # files in float, the builtin kernels (and the numpy engine) as TFLite defines them;
            # they differ on 18 of 10,000 top-1 classes for the separable model's dynamic file
            builtin = reference_outputs(path.read_bytes(), x_test).argmax(axis=1)
            result["differ_builtin"] = int((top1 != builtin).sum())
        limit = TOP1_SHARE * len(x_test)
        ok = min(result.values()) <= limit
        results[backend.value] = {"status": "ok" if ok else "disagrees", **result}
    return results


def run_model(entry: GalleryModel, data, work: Path, data_dir: str | None = None,
              steps: int | None = None) -> dict:
    """Train, export, run on every engine: the gallery's record of one model."""
    started = time.monotonic()
    model = train(entry, data, steps or (PROBE_STEPS if entry.probe else STEPS))
    folder = write_run(model, work / entry.name)
    record = {"model": entry.name, "probe": entry.probe, "layers": list(entry.layers),
              "params": model.count_params(), **export(folder, data_dir)}
    manifest_path = folder / "export" / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    record["skipped"] = manifest.get("skipped", [])
    record["files"] = [_file_record(folder / "export", entry_, data.x_test)
                       for entry_ in manifest.get("artifacts", [])]
    record["seconds"] = round(time.monotonic() - started, 1)
    return record


def _file_record(export_dir: Path, artifact: dict, x_test: np.ndarray) -> dict:
    check = artifact.get("check") or {}
    return {"file": artifact["file"], "format": artifact["format"],
            "quantization": artifact["quantization"], "check_passed": check.get("passed"),
            "keras_accuracy": check.get("reference_accuracy"), "accuracy": check.get("accuracy"),
            "keras_accuracy_ci": check.get("reference_accuracy_ci"), "accuracy_ci": check.get("accuracy_ci"),
            "engines": engine_results(export_dir / artifact["file"], Format(artifact["format"]),
                                      x_test)}


def failures(record: dict) -> list[str]:
    """What breaks the gallery's promise in one model's record (empty: kept)."""
    found = []
    if record["exit"] not in (0, 3):
        found.append(f"fmnist-export exited {record['exit']}: {' / '.join(record['stderr'])}")
    for f in record["files"]:
        if f["check_passed"] is False:
            found.append(f"{f['file']} failed its self-check against Keras")
        for engine, result in f["engines"].items():
            if result["status"] == "disagrees":
                found.append(f"{f['file']} on {engine}: {result['differ']} top-1 classes differ "
                             "from the reference engine")
            elif result["status"] != "ok" and record["model"] == STEM:
                found.append(f"{f['file']} on {engine}: refused, but every probe stands on this "
                             "one")
    return [f"{record['model']}: {line}" for line in found]


def run(names: list[str] | None, out: Path, data_dir: str | None = None,
        steps: int | None = None, readme: str | None = None) -> list[dict]:
    """Every named model (all by default): records in ``out/gallery.json`` and ``.md``."""
    from fmnist_edge.readme import check_block, replace_block
    from fmnist_edge.reports import write_report
    from fmnist_edge.runtime.dataset import load_fashion_mnist

    from .gallery_report import support_table

    if readme:
        check_block(readme, "gallery")
    entries = [BY_NAME[n] for n in names] if names else list(MODELS + PROBES)
    data = load_fashion_mnist(data_dir)
    started = time.monotonic()
    records = [run_model(e, data, out / "runs", data_dir, steps) for e in entries]
    table = support_table(records) + "\n\n" + _provenance(records, time.monotonic() - started)
    write_report(out, "gallery", {"steps": steps, "models": records}, table + "\n")
    if readme:
        replace_block(readme, "gallery", table)
    return records


def _provenance(records: list[dict], seconds: float) -> str:
    """Which command, engines, machine and date the tables are from."""
    import datetime

    from fmnist_edge.runtime.system import installed_version, machine_summary

    engines = ", ".join(f"{d} {installed_version(d)}" for d in
                        ("tensorflow-cpu", "tensorflow", "ai-edge-litert", "onnxruntime",
                         "tflite-runtime")
                        if installed_version(d))
    today = datetime.date.today().isoformat()
    probes = sum(bool(r.get("probe")) for r in records)
    return (f"Written by `make gallery` (`python -m fmnist_edge.export.gallery`): "
            f"{len(records) - probes} models and {probes} probes, trained {STEPS} and "
            f"{PROBE_STEPS} batches of 64 on the training split, exported by "
            f"`fmnist-export --quantize all`, every file on the 10,000 test images; {engines}, "
            f"numpy engine; {machine_summary()}, {today}, {seconds:.0f} s.")


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit 1 when any model breaks the gallery's promise (see the module)."""
    from fmnist_edge.runtime import cliutil

    parser = cliutil.ArgumentParser(prog="python -m fmnist_edge.export.gallery",
                                    description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=lambda s: s.split(","), default=None, metavar="NAME,...",
                        help=f"gallery models to run (default: all of {', '.join(BY_NAME)})")
    parser.add_argument("--steps", type=cliutil.positive_int, default=None,
                        help=f"training batches of 64 per model (default: {STEPS}, probes "
                        f"{PROBE_STEPS})")
    parser.add_argument("--out", default="reports/gallery",
                        help="output folder (default: %(default)s)")
    parser.add_argument("--data", default=None,
                        help="Fashion-MNIST folder (default: $FMNIST_DATA, then Debian's)")
    parser.add_argument("--update-readme", metavar="FILE", default=None,
                        help="write the support table into FILE's <!-- gallery --> block")
    args = parser.parse_args(argv)
    unknown = [n for n in args.models or [] if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown gallery model {unknown[0]!r} (known: {', '.join(BY_NAME)})")

    def action() -> int:
        records = run(args.models, Path(args.out), args.data, args.steps, args.update_readme)
        broken = [line for r in records for line in failures(r)]
        for line in broken:
            print(f"gallery: {line}", file=sys.stderr)
        print((Path(args.out) / "gallery.md").read_text())
        return 1 if broken else 0

    return cliutil.run("gallery", action)


if __name__ == "__main__":
    sys.exit(main())
