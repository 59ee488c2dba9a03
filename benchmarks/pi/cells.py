"""One cell of the Pi matrix: a system on one emulated Pi. What a user runs there, compared with x86.

In each install of the system: ``fmnist-doctor`` (every engine the install brings must load its
test model), ``fmnist-predict --json`` on PNG files and a phone JPEG (labels equal to x86's), each
model on each engine over the test images (``evaluate``, compared image by image with the same
file on this machine: the numpy engine with this machine's numpy engine, every other engine with
this machine's default one), then the CI Pi job's command (``on_device``) and, where the install
has ``[serve]``, ``fmnist-serve`` asked over HTTP.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist_edge.metrics import agreement
from fmnist_edge.runtime.formats import Backend

from .guest import Guest, GuestError
from .serve_probe import serve_in_guest
from .systems import PiEnv, PiSystem


@dataclass(frozen=True)
class Target:
    """What every cell is compared with, computed once on this machine."""

    export_dirs: tuple[Path, ...]  # the first is the primary (fmnist-predict, bench, serve)
    images: Path  # .npy of the first N test images
    labels: np.ndarray  # their true labels
    files: tuple[Path, ...]  # PNG files and a phone JPEG for fmnist-predict and fmnist-serve
    x86_labels: tuple[str, ...]  # fmnist-predict's labels of ``files`` on this machine
    probabilities: dict  # (export_dir, format, quantization, "numpy"|"default") → probabilities
    x86_backends: dict  # the same keys → the engine that computed them here
    x86_accuracy: dict  # (file, on numpy?) → the primary export's accuracy over on_device's images
    data_dir: str | None = None  # Fashion-MNIST folder given to the guest's on_device


def reference_key(export_dir: Path, model: tuple) -> tuple:
    """The x86 result a guest model is compared with: same file, same kind of engine."""
    fmt, quantization, backend = model
    return (export_dir, fmt, quantization, "numpy" if backend is Backend.NUMPY else "default")


def run_cell(guest: Guest, system: PiSystem, sites: dict, target: Target, out: Path, work: Path,
             bench: bool = True) -> dict:
    """Every step of one cell; its results as lists keyed like reports/pi.json."""
    found = {"records": [], "predict": [], "doctor": [], "bench": [], "serve": []}
    for env in system.envs:
        site = sites[env.name]
        found["doctor"].append(doctor(guest, system, env, site))
        found["predict"].append(predict(guest, system, env, site, target))
        for export_dir in target.export_dirs:
            for model in env.models:
                found["records"].append(evaluate(guest, system, env, site, export_dir, model, target, work))
        if "serve" in env.requirement:
            found["serve"].append({"system": system.name, **serve_in_guest(
                guest, site, target.export_dirs[0], list(target.files), list(target.x86_labels))})
    if bench:
        found["bench"].append(on_device(guest, system, sites[system.envs[0].name], target, out))
    return found


def doctor(guest: Guest, system: PiSystem, env: PiEnv, site: Path) -> dict:
    """fmnist-doctor in the guest: every engine this install brings must say ``ok``."""
    text, _ = guest.python_run([str(site / "bin/fmnist-doctor")], site, f"fmnist-doctor ({env.name})")
    engines = sorted({backend.value for _, _, backend in env.models})
    broken = [engine for engine in engines
              if not any(line.split()[:1] == [engine] and ": ok:" in line for line in text.splitlines())]
    if broken:
        raise GuestError(f"fmnist-doctor on {system.name} {guest.cpu.qemu_cpu} ({env.name}): "
                         f"{', '.join(broken)} not ok")
    return {"system": system.name, "cpu": guest.cpu.qemu_cpu, "environment": env.name,
            "engines": engines, "text": text}


def predict(guest: Guest, system: PiSystem, env: PiEnv, site: Path, target: Target) -> dict:
    """fmnist-predict --json on the PNG files and the phone JPEG; labels compared with x86's."""
    args = [str(site / "bin/fmnist-predict"), "--json", "--backend", env.predict_backend.value,
            str(target.export_dirs[0]), *map(str, target.files)]
    text, seconds = guest.python_run(args, site, f"fmnist-predict ({env.name})")
    labels = [json.loads(line)["label"] for line in text.splitlines() if line.startswith("{")]
    return {"system": system.name, "cpu": guest.cpu.qemu_cpu, "environment": env.name,
            "backend": env.predict_backend.value, "files": len(target.files),
            "labels": labels, "x86_labels": list(target.x86_labels),
            "mismatches": sum(a != b for a, b in zip(labels, target.x86_labels))
            + abs(len(labels) - len(target.x86_labels)), "seconds": seconds}


def evaluate(guest: Guest, system: PiSystem, env: PiEnv, site: Path, export_dir: Path, model: tuple,
             target: Target, work: Path) -> dict:
    """One model on one engine over the test images in the guest, compared image by image."""
    fmt, quantization, backend = model
    out = work / f"{system.name}-{guest.cpu.qemu_cpu}-{env.name}-{export_dir.parent.name}-" \
                 f"{fmt}-{quantization}-{backend.value}.npz"
    text, seconds = guest.python_run(["-m", "fmnist_edge.benchmarks.pi.evaluate", str(export_dir),
                                      str(target.images), str(out), fmt, quantization, backend],
                                     site, f"{fmt} {quantization} on {backend.value}")
    loaded = json.loads(text.strip().splitlines()[-1])
    guest_p = np.load(out)["probabilities"]
    key = reference_key(export_dir, model)
    x86_p = target.probabilities[key]
    facts = agreement(np.argmax(guest_p, axis=1), target.labels, np.argmax(x86_p, axis=1))
    diff = np.max(np.abs(guest_p - x86_p), axis=1)
    return {"system": system.name, "cpu": guest.cpu.qemu_cpu, "board": guest.cpu.board,
            "environment": env.name, "run": export_dir.parent.name, "format": fmt,
            "quantization": quantization, "backend": loaded["backend"], "delegate": loaded["delegate"],
            "images": len(guest_p), "accuracy": facts["accuracy"], "accuracy_ci": facts["accuracy_ci"],
            "x86_accuracy": facts["reference_accuracy"], "x86_accuracy_ci": facts["reference_accuracy_ci"],
            "paired_vs_x86": facts["paired"], "x86_backend": target.x86_backends[key],
            "mismatches": len(facts["changed_indices"]), "mismatch_indices": facts["changed_indices"],
            "max_abs_prob_diff": float(diff.max()),
            # one int8 output step is 1/256: more than that means the kernels rounded differently
            "images_prob_diff_over_step": int(np.sum(diff > 1.01 / 256)),
            "load_s": loaded["load_s"], "predict_s": loaded["predict_s"], "seconds": seconds}


def on_device(guest: Guest, system: PiSystem, site: Path, target: Target, out: Path) -> dict:
    """The CI Pi job's command (``benchmarks.on_device``: fmnist-bench and the device gate with only
    the install's engines) in the guest: its report must say emulated, and each model's accuracy
    must equal this machine's on the same images."""
    name = f"emulated-{system.name}-{guest.cpu.qemu_cpu}"
    folder = (out / "devices" / name).resolve()
    args = ["-m", "fmnist_edge.benchmarks.on_device", str(target.export_dirs[0]), "--out", str(folder),
            "--device-name", name, *(["--data", str(Path(target.data_dir).resolve())] if target.data_dir else [])]
    _, seconds = guest.python_run(args, site, "fmnist-bench (benchmarks.on_device)")
    report = json.loads((folder / "benchmark.json").read_text())
    models = [{"model": r["model"], "backend": r["backend"], "accuracy": r["accuracy"],
               "x86_accuracy": target.x86_accuracy.get((r["model"], r["backend"] == "numpy"))}
              for r in report["records"]]
    return {"system": system.name, "cpu": guest.cpu.qemu_cpu, "report": str(folder / "benchmark.json"),
            "emulated": report["device"]["emulated"], "images": report["test_images"],
            "models": models, "seconds": seconds}
