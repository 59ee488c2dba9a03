"""``run_benchmark``: every model in an export, side by side, in one run (see README: fmnist-bench)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist_edge.metrics import compare
from fmnist_edge.runtime import amx as amx_policy
from fmnist_edge.runtime import manifest as mf
from fmnist_edge.runtime.backends import availability, runnable_formats
from fmnist_edge.runtime.classifier import Classifier
from fmnist_edge.runtime.dataset import load_fashion_mnist
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.formats import ENGINES, FORMATS, VARIANTS, Backend, Quantization, format_of

from . import device, keras_baseline, timing
from .plan import PLANS, Plan
from .environment import environment
from .stats import histogram, latency_stats

SCHEMA = 1


@dataclass(frozen=True)
class BenchConfig:
    """What to measure; ``plan_kind`` trades precision for time (see PLANS)."""

    export_dirs: tuple[Path, ...]  # export folders or bare model files; the first is the primary
    reference: Path | None = None  # a bare file's float reference (--reference FILE)
    threads: tuple[int, ...] = (1, 2)
    batch: int = 256  # throughput batch; batch-1 latency is always measured
    plan_kind: Plan = Plan.FULL
    keras: bool = True
    data_dir: str | None = None
    amx: str | None = None  # deny/allow Intel AMX (None: $FMNIST_AMX, else deny); see runtime.amx
    device_name: str | None = None  # the report's device name; None: this machine's hostname
    images: int | None = None  # the first N test images for accuracy; None: all 10,000
    # engines: auto (each file on its format's first engine here), then others measured beside
    # it, each on the files of its format (numpy: the TFLite files on the numpy engine)
    backends: tuple[Backend, ...] = (Backend.AUTO,)

    @property
    def export_dir(self) -> Path:
        """The primary export folder."""
        return self.export_dirs[0]

    @property
    def plan(self) -> dict:
        """Rounds, calls per round, throughput repeats and fresh-process runs of ``plan_kind``."""
        return dict(PLANS[Plan(self.plan_kind)])

    @property
    def quick(self) -> bool:
        """Anything shorter than the full plan (the report's ``quick``)."""
        return Plan(self.plan_kind) is not Plan.FULL


def run_name(export_dir: Path) -> str:
    """A run's name: the run folder holding ``export/`` (artifacts/edge-cnn/export → edge-cnn)."""
    export_dir = Path(export_dir)
    return export_dir.resolve().parent.name if export_dir.name == "export" else export_dir.name


def _entries(config: BenchConfig) -> tuple[dict, dict, list[str]]:
    """Manifests by run, each runnable entry's loaded Classifier by key, and what was skipped.

    Entries get ``run``, ``path`` and ``key`` (run/file) so several runs can sit side by side.
    """
    manifests, runnable, skipped = {}, {}, []
    formats = runnable_formats_or_none()  # the numpy engine's only where no engine is installed
    for source in config.export_dirs:
        folder, manifest = _manifest_of(Path(source), config)
        run = run_name(source)
        if run in manifests:
            raise FmnistError(f"{source}: a second export of run {run!r}; pass each run once")
        manifests[run] = (folder, manifest)
        for entry in manifest["artifacts"]:
            backends = _engines_for(config, entry["format"], formats, skipped)
            if not backends:
                skipped.append(f"{run}/{entry['file']}: no backend for {entry['format']} installed")
                continue
            path = Path(entry.get("path") or folder / entry["file"])
            for backend in backends:
                engine = "" if backend is Backend.AUTO else f"@{backend.value}"
                one = {**entry, "run": run, "path": path, "key": f"{run}/{entry['file']}{engine}",
                       "backend": backend, "engine": engine[1:] or None}
                # a missing file or a checksum mismatch is one line here, before anything is timed
                runnable[one["key"]] = (one, Classifier.load(path, backend=backend))
    if not runnable:
        raise FmnistError(f"{', '.join(map(str, config.export_dirs))}: no model here can run on this "
                          f"machine ({'; '.join(skipped)})")
    return manifests, runnable, skipped


def runnable_formats_or_none() -> list:
    """The formats ``auto`` loads here (see runtime.backends.runnable_formats); none at all: []."""
    try:
        return runnable_formats()
    except FmnistError:
        return []


def _engines_for(config: BenchConfig, fmt: str, formats: list, skipped: list[str]) -> list[Backend]:
    """The requested engines that run ``fmt`` here: auto where ``auto`` loads the format (the
    numpy engine takes TFLite files only on a device with no engine), another when it works."""
    found = []
    for backend in dict.fromkeys(config.backends):
        if backend is Backend.AUTO and fmt not in formats:
            continue
        if backend is not Backend.AUTO and ENGINES[backend].format != fmt:
            continue
        problem = None if backend is Backend.AUTO else availability(backend)
        if problem:
            skipped.append(f"{fmt} on {backend.value}: {problem}")
        else:
            found.append(backend)
    return found


def _manifest_of(source: Path, config: BenchConfig) -> tuple[Path, dict]:
    """An export folder's manifest, or one made up for a bare file (and its ``--reference``)."""
    if source.suffix.lower() in {f.suffix for f in FORMATS.values()}:
        files = [(source, None)] + ([(config.reference, Quantization.NONE)] if config.reference else [])
        for path, _ in files:
            format_of(path)  # a one-line error for a reference that is not a model file
            if not path.is_file():
                raise FmnistError(f"{path}: no such model file")
        return source.parent, {"source": {}, "bare": True, "artifacts": [
            {"file": path.name, "path": str(path), "format": format_of(path),
             "quantization": quantization or _bare_quantization(path),
             "size_bytes": path.stat().st_size} for path, quantization in files]}
    if config.reference is not None:
        raise FmnistError(f"--reference goes with a bare model file, not the export folder {source} "
                          "(an export's float32 file is its reference)")
    manifest = mf.read_manifest(source)
    if manifest is None:
        raise FmnistError(f"{source}: no {mf.MANIFEST} (and not a .tflite/.onnx file); run "
                          "fmnist-export first")
    return source, manifest


def _bare_quantization(path: Path) -> str:
    """A bare file's quantization: by its export name (model_int8.tflite), else ``unknown``."""
    return next((v.quantization.value for v in VARIANTS if v.file_name == path.name), "unknown")


def _progress(total: int):
    try:
        from tqdm import tqdm
    except ImportError:
        return contextlib.nullcontext(None)
    return tqdm(total=total, desc="fmnist-bench", unit="step", disable=None)


def run_benchmark(config: BenchConfig) -> dict:
    """Measure accuracy, latency, throughput, cold start and size of every model; return the report."""
    # before any engine (TensorFlow included) can ask for AMX
    amx_policy.apply_policy(amx_policy.command_policy(config.amx))
    before = device.soc_state()
    manifests, loaded, skipped = _entries(config)
    entries = [entry for entry, _ in loaded.values()]
    data = _test_images(load_fashion_mnist(config.data_dir, splits=("test",)), config.images)
    keras, references, accuracy = _accuracy(config, manifests, loaded, data)
    primary = run_name(config.export_dir)
    keras_model, keras_note = keras[primary]
    plan = config.plan
    steps = len(config.threads) * (len(entries) + 2) * plan["rounds"] * 2 + len(entries) * len(config.threads)
    records = []
    with _progress(steps) as bar:
        for i, threads in enumerate(config.threads):
            with_keras = keras_model if i == 0 else None  # TF runs at its own thread count, once
            records += _measure_threads(config, entries, threads, with_keras, data.x_test, accuracy, bar)
    _add_ratios(records)
    _label(records, primary, len(manifests) > 1)
    sources = {run: (manifest.get("source") or {}).get("sha256")
               for run, (_, manifest) in manifests.items()}
    return {"schema": SCHEMA,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "export_dir": str(config.export_dir), "runs": list(manifests),
            "export_dirs": [str(d) for d in config.export_dirs], "quick": config.quick,
            "plan_kind": Plan(config.plan_kind).value, "plan": plan, "test_images": len(data.y_test),
            "data": {"folder": str(data.source), "sha256": data.sha256},
            "batch": config.batch, "reference": references[primary][1],
            "references": {run: name for run, (_, name, _) in references.items()},
            "self_referenced": sorted(run for run, (_, _, own) in references.items() if own),
            "keras": keras_note,
            "skipped": skipped, "environment": environment(list(config.threads)),
            "device": device.device_record(config.device_name, sources, before, device.soc_state()),
            "records": records}


def _test_images(data, n: int | None):
    """The dataset with only its first ``n`` test images (all with None)."""
    if n is None or n >= len(data.y_test):
        return data
    return dataclasses.replace(data, x_test=data.x_test[:n], y_test=data.y_test[:n])


def _accuracy(config: BenchConfig, manifests: dict, loaded: dict, data) -> tuple[dict, dict, dict]:
    """Per run its Keras model (or why none) and reference; per model its accuracy figures."""
    predictions = {k: np.argmax(clf.predict(data.x_test), axis=1) for k, (_, clf) in loaded.items()}
    entries = [entry for entry, _ in loaded.values()]
    keras, references = {}, {}
    for run, (export_dir, manifest) in manifests.items():
        bare = manifest.get("bare", False)
        keras[run] = ((None, "a bare model file: no Keras baseline") if bare else
                      keras_baseline.load_keras(export_dir, manifest) if config.keras
                      else (None, "Keras baseline not requested"))
        mine = [e for e in entries if e["run"] == run]
        references[run] = _reference(keras[run][0], mine, predictions, data.x_test, bare)
    accuracy = {k: compare(p, data.y_test, references[loaded[k][0]["run"]][0])
                for k, p in predictions.items()}  # a reference of None: accuracy only
    return keras, references, accuracy


def _reference(keras_model, entries: list[dict], predictions: dict, images: np.ndarray,
               bare: bool = False):
    """(predictions, name, unreferenced): Keras float predictions when TF is here, else the float32
    artifact's; with neither, the first artifact's own, flagged so that the gate refuses them. A
    bare file without ``--reference`` has none (None): its accuracy is against the labels only."""
    if keras_model is not None:
        return keras_baseline.keras_predictions(keras_model, images), "keras float32 model", False
    entries = [e for e in entries if not e["engine"]] or entries  # the default engine's first
    floats = [e for e in entries if e["quantization"] == Quantization.NONE]
    if bare and not floats:
        return None, f"none: {entries[0]['file']} is a bare model file (--reference FILE gives one)", True
    first = (floats or entries)[0]
    if bare:
        return predictions[first["key"]], f"{first['file']} (--reference)", False
    name = f"{first['file']} (no TensorFlow here)" if floats else \
        f"{first['file']} (no TensorFlow and no float32 artifact here: compared with itself)"
    return predictions[first["key"]], name, not floats


def _measure_threads(config: BenchConfig, entries: list[dict], threads: int, keras_model,
                     images: np.ndarray, accuracy: dict, bar) -> list[dict]:
    plan = config.plan
    candidates, meta = [], {}
    for entry in entries:
        clf = Classifier.load(entry["path"], backend=entry["backend"], threads=threads)
        key = f"{entry['key']}@{threads}"
        candidates.append(timing.Candidate(key, clf.predict, clf.predict))
        meta[key] = (entry, clf)
    if keras_model is not None:
        candidates += keras_baseline.keras_candidates(keras_model)
    latency = timing.time_batch1(candidates, images[0], plan["rounds"], plan["calls"], bar)
    batch = images[: config.batch]
    throughput = timing.time_throughput(candidates, batch, plan["rounds"], plan["repeats"], bar)
    records = []
    for c in candidates:
        entry = meta[c.key][0] if c.key in meta else None
        record = {"model": entry["file"] if entry else c.key, "run": entry["run"] if entry else None,
                  "engine": entry["engine"] if entry else None, "threads": threads if entry else None,
                  "latency_us": latency_stats(latency[c.key]), "histogram": histogram(latency[c.key]),
                  "throughput_ips": throughput[c.key], "throughput_batch": len(batch)}
        if c.key in meta:
            record.update(_artifact_fields(config, *meta[c.key], threads, accuracy, plan, bar,
                                           images[0]))
        else:
            record.update(_keras_fields(c.key, keras_model, plan))
        records.append(record)
    return records


def _artifact_fields(config, entry, clf, threads, accuracy, plan, bar, image) -> dict:
    env = {amx_policy.ENV: amx_policy.status().policy}
    skipped = {"skipped": "this plan starts no fresh processes"}
    cold = timing.cold_start([str(entry["path"]), entry["format"], entry["quantization"],
                              str(threads), entry["backend"].value], runs=plan["cold_runs"],
                             env=env) if plan["cold_runs"] else skipped
    # fmnist-predict runs with the engine's own threads: once per model, at the first count
    answer = (_first_answer(entry, image, plan["cold_runs"], env) if threads == config.threads[0]
              else {"skipped": "measured at the first thread count"}) if plan["cold_runs"] else skipped
    if bar:
        bar.update(1)
    return {"format": entry["format"], "quantization": entry["quantization"],
            "backend": clf.backend, "delegate": clf.runner.delegate,
            "size_bytes": entry["size_bytes"], "cold_start": cold, "first_answer": answer,
            **accuracy[entry["key"]]}


def _first_answer(entry, image: np.ndarray, runs: int, env: dict) -> dict:
    """fmnist-predict's first answer on the first test image, saved as the 28×28 PNG a user has."""
    import tempfile

    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="fmnist-bench-") as folder:
        png = Path(folder) / "test-image-0.png"
        Image.fromarray(image).save(png)
        return timing.first_answer(str(entry["path"]), str(png), entry["backend"].value, runs, env)


def _keras_fields(key: str, model, plan: dict) -> dict:
    fields = {"format": "keras", "quantization": key.split(":")[1], "backend": "tensorflow",
              "delegate": "tf default threads", "size_bytes": None}
    if key == "keras:call":
        source = getattr(model, "_fmnist_source", None)
        fields["cold_start"] = (timing.cold_start([source], timing.COLD_KERAS, 1)
                                if source else {"error": "source path unknown"})
    return fields


def _add_ratios(records: list[dict]) -> None:
    """Speed-up, throughput gain and size ratio against the float32 model of the same format and
    thread count, and speed-up against the compiled Keras call (measured in this same run)."""
    by_key = {(r["run"], r.get("engine"), r["format"], r["quantization"], r["threads"]): r
              for r in records}
    keras_call = next((r for r in records if r["format"] == "keras" and r["quantization"] == "call"), None)
    for r in records:
        base = by_key.get((r["run"], r.get("engine"), r["format"], Quantization.NONE, r["threads"]))
        if base and r["format"] != "keras":
            r["speedup_vs_float"] = base["latency_us"]["p50"] / r["latency_us"]["p50"]
            r["throughput_vs_float"] = r["throughput_ips"] / base["throughput_ips"]
            r["size_vs_float"] = r["size_bytes"] / base["size_bytes"]
        if keras_call and r["format"] != "keras":
            r["speedup_vs_keras_call"] = keras_call["latency_us"]["p50"] / r["latency_us"]["p50"]


def _label(records: list[dict], primary: str, several: bool) -> None:
    """Give Keras records the primary run, and (with several runs) prefix names with the run."""
    for r in records:
        r["run"] = r["run"] or primary
        if several:
            r["label"] = r["run"]
