"""``make pi-check``: the runtime on an emulated Raspberry Pi (Debian arm64, its Python, real wheels).

    python -m fmnist_edge.benchmarks.pi.check [EXPORT_DIR] [--images N] [--out reports/]

Steps: the cached arm64 root (rootfs), the aarch64 wheels of ``[litert,onnx]`` and of
``[tflite-runtime]`` resolved on the host and installed by the guest's pip (wheels), then, for a
Pi 4 (cortex-a72) and a Pi 5 (cortex-a76): ``fmnist-doctor``, ``fmnist-predict`` on PNG files,
``fmnist-serve`` asked over HTTP for the same files, and the int8 TFLite and ONNX models on N
test images, compared image by image with this machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fmnist_edge.metrics import agreement
from fmnist_edge.runtime import amx
from fmnist_edge.runtime.classifier import Classifier
from fmnist_edge.runtime.dataset import load_fashion_mnist
from fmnist_edge.runtime.formats import Backend, Format, Quantization

from ..on_device import EMULATED_IMAGES
from . import report as pi_report
from . import wheels as pi_wheels
from .guest import CPUS, Guest, GuestError, PiCpu, find_qemu
from .rootfs import build_rootfs
from .serve_probe import serve_in_guest


@dataclass(frozen=True)
class PiEnv:
    """One guest install: the requirement pip resolves, and the models/backends it must run."""

    name: str
    requirement: str
    models: tuple[tuple[Format, Quantization, Backend], ...]
    predict_backend: Backend


MAIN = PiEnv("main", "fmnist-edge[litert,onnx,serve]", ((Format.TFLITE, Quantization.INT8, Backend.LITERT),
             (Format.ONNX, Quantization.INT8, Backend.ONNXRUNTIME)), Backend.AUTO)
# the classic Pi path: tflite-runtime 2.14 (its last release) needs NumPy < 2
CLASSIC = PiEnv("classic", "fmnist-edge[tflite-runtime]",
                ((Format.TFLITE, Quantization.INT8, Backend.TFLITE_RUNTIME),), Backend.TFLITE_RUNTIME)


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/fmnist-edge/pi`` (``~/.cache/…``): survives fresh clones of the repo."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fmnist-edge" / "pi"


@dataclass(frozen=True)
class PiConfig:
    """What to check; ``wheelhouse`` replaces the download with a prepared folder of wheels."""

    export_dir: Path
    images: int = 1000
    out: Path = Path("reports")
    cache: Path = field(default_factory=default_cache)
    wheelhouse: Path | None = None
    cpus: tuple[PiCpu, ...] = CPUS
    max_mismatch_pct: float = 0.5  # int8 kernels may round differently on Arm; say how many
    data_dir: str | None = None


def run_pi_check(config: PiConfig) -> dict:
    """Run every step; write reports/pi.{json,md}; raise GuestError (exit 1) when a check failed."""
    with _cache_lock(config.cache):
        return _run_locked(config)


@contextlib.contextmanager
def _cache_lock(cache: Path):
    """One check at a time per cache: they share its work folder and guest installs (two at once
    had one check's 10 images overwrite the other's 1,000 mid-run)."""
    import fcntl

    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"pi-check: waiting for another Pi check using {cache}", file=sys.stderr, flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _run_locked(config: PiConfig) -> dict:
    start = time.perf_counter()
    export_dir = config.export_dir.resolve()
    qemu = find_qemu()
    rootfs = build_rootfs(config.cache, qemu)
    setup_s = {"rootfs": time.perf_counter() - start}
    work = _fresh(config.cache / "work")
    inputs = _inputs(config, work)
    reference = _x86_reference(export_dir, inputs)
    envs, skipped = _environments(config)
    tick = time.perf_counter()
    project = pi_wheels.project_wheel(work / "dist")  # built once, installed in every environment
    sites = {env.name: _install(config, rootfs, qemu, work, env, project) for env in envs}
    setup_s["wheels_and_install"] = time.perf_counter() - tick
    records, predicts, doctors, benches, serves = [], [], {}, [], []
    x86_accuracy = _x86_accuracies(export_dir, config.data_dir, EMULATED_IMAGES)
    for cpu in config.cpus:
        guest = Guest(qemu, rootfs.path / "root", rootfs.python, cpu, config.cache / "home")
        doctors[cpu.qemu_cpu] = _doctor(guest, sites["main"])
        benches.append(_bench(guest, sites["main"], export_dir, config, x86_accuracy))
        serves.append(serve_in_guest(guest, sites["main"], export_dir, inputs["pngs"],
                                     reference["labels"]))
        for env in envs:
            predicts.append(_predict(guest, env, sites[env.name], export_dir, inputs, reference))
            records += [_evaluate(guest, env, sites[env.name], export_dir, model, inputs, reference,
                                  work) for model in env.models]
    results = {"records": records, "predict": predicts, "doctor": doctors, "bench": benches,
               "serve": serves}
    report = pi_report.build(config, rootfs, qemu, sites, results, setup_s,
                             time.perf_counter() - start, skipped)
    pi_report.write(report, config.out)
    failures = pi_report.failures(report)
    if failures:
        raise GuestError("Pi check failed: " + "; ".join(failures))
    return report


def _environments(config: PiConfig) -> tuple[tuple[PiEnv, ...], list[str]]:
    """Both installs; with a user's wheelhouse, the classic one only when it has tflite-runtime."""
    if config.wheelhouse is not None and not any(config.wheelhouse.glob("tflite_runtime-*.whl")):
        return (MAIN,), [f"classic ({CLASSIC.requirement}): no tflite_runtime wheel in "
                         f"{config.wheelhouse}"]
    return (MAIN, CLASSIC), []


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _inputs(config: PiConfig, work: Path) -> dict:
    """The first N test images as .npy, and four of them as PNG files for fmnist-predict."""
    from PIL import Image

    data = load_fashion_mnist(config.data_dir)
    n = min(config.images, len(data.x_test))
    np.save(work / "images.npy", data.x_test[:n])
    pngs = []
    for i in range(4):
        pngs.append(work / f"test-{i:05d}.png")
        Image.fromarray(data.x_test[i]).save(pngs[-1])
    return {"npy": work / "images.npy", "x": data.x_test[:n], "y": data.y_test[:n], "pngs": pngs}


def _x86_reference(export_dir: Path, inputs: dict) -> dict:
    """This machine's probabilities per (format, quantization), and fmnist-predict's labels."""
    probabilities, backends = {}, {}
    for fmt, quantization in {(f, q) for env in (MAIN, CLASSIC) for f, q, _ in env.models}:
        clf = Classifier.load(export_dir, format=fmt, quantization=quantization,
                              amx=amx.command_policy())  # as fmnist-predict runs it
        probabilities[(fmt, quantization)] = clf.predict(inputs["x"])
        backends[(fmt, quantization)] = clf.backend
    out = subprocess.run([sys.executable, "-m", "fmnist_edge.runtime.predict_cli", "--json",
                          str(export_dir), *map(str, inputs["pngs"])], capture_output=True, text=True)
    if out.returncode != 0:
        raise GuestError(f"fmnist-predict on this machine failed: {out.stderr.strip()[-300:]}")
    return {"probabilities": probabilities, "backends": backends, "labels": _labels(out.stdout)}


def _labels(stdout: str) -> list[str]:
    return [json.loads(line)["label"] for line in stdout.splitlines() if line.startswith("{")]


def _install(config: PiConfig, rootfs, qemu: str, work: Path, env: PiEnv, project: Path) -> Path:
    """Resolve (or copy) the wheels for ``env`` and install them with the guest's pip."""
    wheelhouse = config.cache / f"wheels-{env.name}"
    if config.wheelhouse is not None:
        wheelhouse = _fresh(work / f"wheels-{env.name}")
        for wheel in config.wheelhouse.glob("*.whl"):
            shutil.copy2(wheel, wheelhouse)
    wheelhouse.mkdir(parents=True, exist_ok=True)
    for old in wheelhouse.glob("fmnist_edge-*.whl"):
        old.unlink()
    shutil.copy2(project, wheelhouse)
    if config.wheelhouse is None:
        extras = env.requirement[len("fmnist-edge"):]
        pi_wheels.download(wheelhouse, [f"{wheelhouse / project.name}{extras}", "pip"],
                           rootfs.python_version, rootfs.glibc)
    guest = Guest(qemu, rootfs.path / "root", rootfs.python, config.cpus[0], config.cache / "home")
    return pi_wheels.guest_install(guest, wheelhouse, env.requirement, config.cache / f"site-{env.name}",
                                   config.wheelhouse)


def _x86_accuracies(export_dir: Path, data_dir: str | None, n: int) -> dict:
    """Each artifact's accuracy on this machine over the first ``n`` test images, by file."""
    data = load_fashion_mnist(data_dir)
    manifest = json.loads((export_dir / "manifest.json").read_text())
    found = {}
    for entry in manifest["artifacts"]:
        clf = Classifier.load(export_dir / entry["file"], amx=amx.command_policy())
        top = np.argmax(clf.predict(data.x_test[:n]), axis=1)
        found[entry["file"]] = float(np.mean(top == data.y_test[:n]))
    return found


def _bench(guest: Guest, site: Path, export_dir: Path, config: PiConfig, x86: dict) -> dict:
    """The CI Pi job's command (``benchmarks.on_device``: fmnist-bench and the device gate, with
    only ``[litert,onnx]``, no TensorFlow or matplotlib) in the guest: its report, which must say
    emulated, and each model's accuracy, which must equal this machine's on the same images."""
    name = f"emulated-{guest.cpu.qemu_cpu}"
    out = (config.out / "devices" / name).resolve()
    args = ["-m", "fmnist_edge.benchmarks.on_device", str(export_dir), "--out", str(out),
            "--device-name", name, *(["--data", str(Path(config.data_dir).resolve())]
                                     if config.data_dir else [])]
    _, seconds = guest.python_run(args, site, "fmnist-bench (benchmarks.on_device)")
    report = json.loads((out / "benchmark.json").read_text())
    models = [{"model": r["model"], "backend": r["backend"], "accuracy": r["accuracy"],
               "x86_accuracy": x86.get(r["model"])} for r in report["records"]]
    return {"cpu": guest.cpu.qemu_cpu, "report": str(out / "benchmark.json"),
            "emulated": report["device"]["emulated"], "images": report["test_images"],
            "models": models, "seconds": seconds}


def _doctor(guest: Guest, site: Path) -> str:
    """fmnist-doctor in the guest; both engines of the main install must work."""
    text, _ = guest.python_run([str(site / "bin/fmnist-doctor")], site, "fmnist-doctor")
    broken = [line for line in text.splitlines()
              if line.startswith(("litert ", "onnxruntime ")) and ": ok:" not in line]
    if broken:
        raise GuestError(f"fmnist-doctor on {guest.cpu.qemu_cpu}: {broken[0]}")
    return text


def _predict(guest: Guest, env: PiEnv, site: Path, export_dir: Path, inputs: dict,
             reference: dict) -> dict:
    """fmnist-predict --json on the PNG files; labels compared with this machine's."""
    args = [str(site / "bin/fmnist-predict"), "--json", "--backend", env.predict_backend,
            str(export_dir), *map(str, inputs["pngs"])]
    text, seconds = guest.python_run(args, site, f"fmnist-predict ({env.name})")
    labels = _labels(text)
    same = sum(a == b for a, b in zip(labels, reference["labels"]))
    return {"cpu": guest.cpu.qemu_cpu, "environment": env.name, "backend": env.predict_backend,
            "files": len(inputs["pngs"]), "labels": labels, "x86_labels": reference["labels"],
            "mismatches": len(reference["labels"]) - same, "seconds": seconds}


def _evaluate(guest: Guest, env: PiEnv, site: Path, export_dir: Path, model: tuple, inputs: dict,
              reference: dict, work: Path) -> dict:
    """One model on N test images in the guest, compared image by image with this machine."""
    fmt, quantization, backend = model
    out = work / f"{guest.cpu.qemu_cpu}-{env.name}-{fmt}-{quantization}.npz"
    text, seconds = guest.python_run(["-m", "fmnist_edge.benchmarks.pi.evaluate", str(export_dir),
                                      str(inputs["npy"]), str(out), fmt, quantization, backend],
                                     site, f"{fmt} {quantization} on {backend}")
    loaded = json.loads(text.strip().splitlines()[-1])
    guest_p = np.load(out)["probabilities"]
    x86_p = reference["probabilities"][(fmt, quantization)]
    facts = agreement(np.argmax(guest_p, axis=1), inputs["y"], np.argmax(x86_p, axis=1))
    return {"cpu": guest.cpu.qemu_cpu, "board": guest.cpu.board, "environment": env.name,
            "format": fmt, "quantization": quantization, "backend": loaded["backend"],
            "delegate": loaded["delegate"], "images": len(guest_p),
            "accuracy": facts["accuracy"], "x86_accuracy": facts["reference_accuracy"],
            "x86_backend": reference["backends"][(fmt, quantization)],
            "mismatches": len(facts["changed_indices"]), "mismatch_indices": facts["changed_indices"],
            "max_abs_prob_diff": float(np.max(np.abs(guest_p - x86_p))),
            # one int8 output step is 1/256: more than that means the kernels rounded differently
            "images_prob_diff_over_step": int(np.sum(np.max(np.abs(guest_p - x86_p), axis=1) > 1.01 / 256)),
            "load_s": loaded["load_s"], "predict_s": loaded["predict_s"], "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``make pi-check``: 0 passed, 1 a check failed, 2 bad input or set-up."""
    from fmnist_edge.runtime import cliutil

    from .guest import PI4, PI5

    from ..cliargs import add_count, export_parser

    p = export_parser("pi-check", "Run the runtime on an emulated Raspberry Pi 4 and 5 (Debian "
                      "arm64, qemu user mode, the real aarch64 wheels).")
    add = p.add_argument
    add_count(p, "--images", 1000, "test images per model and CPU")
    add("--cpu", choices=("cortex-a72", "cortex-a76", "both"), default="both",
        help="Pi 4 (cortex-a72, no dot product), Pi 5 (cortex-a76) or both (default: both)")
    add("--out", metavar="DIR", default="reports", help="report folder (default: %(default)s)")
    add("--cache", metavar="DIR", default=None,
        help="where the arm64 root, wheels and guest installs are kept (default: ~/.cache/fmnist-edge/pi)")
    add("--wheelhouse", metavar="DIR", default=None,
        help="install from this folder of wheels instead of resolving them with pip download")
    add("--data", metavar="DIR", default=None, help="Fashion-MNIST folder (default: the usual lookup)")
    add("--update-readme", metavar="FILE", default=None,
        help="also write the results table into FILE between <!-- pi:begin/end --> markers")
    args = p.parse_args(argv)

    def action() -> int:
        from fmnist_edge.runtime.errors import FmnistError

        export_dir = Path(args.export_dir)
        if not (export_dir / "manifest.json").is_file():
            raise FmnistError(f"{export_dir}: no manifest.json; run fmnist-export first")
        if args.wheelhouse and not Path(args.wheelhouse).is_dir():
            raise FmnistError(f"--wheelhouse {args.wheelhouse}: not a folder")
        cpus = {"cortex-a72": (PI4,), "cortex-a76": (PI5,), "both": (PI4, PI5)}[args.cpu]
        config = PiConfig(export_dir, args.images, Path(args.out),
                          Path(args.cache) if args.cache else default_cache(),
                          Path(args.wheelhouse).resolve() if args.wheelhouse else None, cpus,
                          data_dir=args.data)
        report = run_pi_check(config)
        print(pi_report.markdown(report))
        if args.update_readme:
            from fmnist_edge.readme import replace_block

            replace_block(args.update_readme, "pi", pi_report.readme_block(report))
        return 0

    return cliutil.run(p.prog, action)


if __name__ == "__main__":
    sys.exit(main())
