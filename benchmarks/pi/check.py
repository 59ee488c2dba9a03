"""``make pi-check`` / ``make pi-matrix``: the runtime on emulated Raspberry Pis, every OS a user runs.

    python -m fmnist_edge.benchmarks.pi.check [EXPORT_DIR...] [--matrix default|full] [--out reports/]

Per system (``systems``: bookworm and trixie, 64- and 32-bit): its cached Debian root (rootfs),
the wheels that exist for it resolved on the host and installed by the guest's pip in a venv
(wheels), then per emulated Pi the steps of ``cells``: fmnist-doctor, fmnist-predict, every
engine there on N test images compared image by image with this machine, the device benchmark
and fmnist-serve.
"""

from __future__ import annotations

import argparse
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

from fmnist_edge.runtime import amx
from fmnist_edge.runtime.classifier import Classifier
from fmnist_edge.runtime.dataset import load_fashion_mnist
from fmnist_edge.runtime.formats import Backend

from ..on_device import EMULATED_IMAGES
from . import report as pi_report
from . import wheels as pi_wheels
from .cells import Target, reference_key, run_cell
from .guest import Guest, GuestError, PiCpu, find_qemu
from .rootfs import build_rootfs
from .systems import BY_NAME, DEFAULT_CELLS, SYSTEMS, PiEnv, PiSystem

Cells = tuple[tuple[PiSystem, PiCpu], ...]
LEGACY = ("rootfs", "site-main", "site-classic", "wheels-main", "wheels-classic")
FULL: Cells = tuple((system, cpu) for system in SYSTEMS for cpu in system.cpus)
DEFAULT: Cells = tuple((BY_NAME[name], next(c for c in BY_NAME[name].cpus if c.qemu_cpu == cpu))
                       for name, cpu in DEFAULT_CELLS)


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/fmnist-edge/pi`` (``~/.cache/…``): survives fresh clones of the repo."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fmnist-edge" / "pi"


@dataclass(frozen=True)
class PiConfig:
    """What to check; ``wheelhouse`` replaces the download with a prepared folder of wheels."""

    export_dirs: tuple[Path, ...]  # the tutorial CNN's export first; the edge CNN's beside it
    images: int = 500
    out: Path = Path("reports")
    cache: Path = field(default_factory=default_cache)
    wheelhouse: Path | None = None
    cells: Cells = DEFAULT
    max_mismatch_pct: float = 0.5  # int8 kernels may round differently on Arm; say how many
    data_dir: str | None = None
    bench: bool = True  # the device benchmark (on_device) in every cell

    @property
    def systems(self) -> tuple[PiSystem, ...]:
        """The systems of ``cells``, in order, once each."""
        return tuple(dict.fromkeys(system for system, _ in self.cells))


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
    for old in LEGACY:  # the one-system layout's folders (430 MB), replaced by per-system ones
        shutil.rmtree(config.cache / old, ignore_errors=True)
    work = _fresh(config.cache / "work")
    target = _target(config, work)
    project = pi_wheels.project_wheel(work / "dist")  # built once, installed in every environment
    results = {"records": [], "predict": [], "doctor": [], "bench": [], "serve": []}
    systems, skipped, seconds = {}, [], {"setup": time.perf_counter() - start}
    for system in config.systems:
        tick = time.perf_counter()
        qemu = find_qemu(system.qemu)
        rootfs = build_rootfs(config.cache, qemu, system)
        envs, skip = _environments(config, system)
        skipped += skip
        cpus = [cpu for s, cpu in config.cells if s == system]
        sites = {env.name: _install(config, system, rootfs, qemu, env, project, cpus[0]) for env in envs}
        one = system if not skip else _without(system, envs)
        systems[system.name] = pi_report.system_facts(system, rootfs, qemu, sites, cpus)
        seconds[f"{system.name} root and installs"] = time.perf_counter() - tick
        for cpu in cpus:
            guest = Guest(qemu, rootfs.path / "root", rootfs.python, cpu, config.cache / "home")
            for key, values in run_cell(guest, one, sites, target, config.out, work, config.bench).items():
                results[key] += values
    seconds["total"] = time.perf_counter() - start
    report = pi_report.build(config, systems, results, seconds, skipped)
    pi_report.write(report, config.out)
    failures = pi_report.failures(report)
    if failures:
        raise GuestError("Pi check failed: " + "; ".join(failures))
    return report


def _environments(config: PiConfig, system: PiSystem) -> tuple[tuple[PiEnv, ...], list[str]]:
    """The system's installs; with a user's wheelhouse, those needing tflite-runtime only when it
    has that wheel."""
    if config.wheelhouse is None or any(config.wheelhouse.glob("tflite_runtime-*.whl")):
        return system.envs, []
    keep = tuple(env for env in system.envs if "tflite-runtime" not in env.requirement)
    return keep, [f"{system.name} {env.name} ({env.requirement}): no tflite_runtime wheel in "
                  f"{config.wheelhouse}" for env in system.envs if env not in keep]


def _without(system: PiSystem, envs: tuple[PiEnv, ...]) -> PiSystem:
    import dataclasses

    return dataclasses.replace(system, envs=envs)


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _target(config: PiConfig, work: Path) -> Target:
    """The test images, the files for fmnist-predict, and this machine's results for both."""
    from PIL import Image

    from ..serving.bench import bodies_for

    data = load_fashion_mnist(config.data_dir)
    n = min(config.images, len(data.x_test))
    np.save(work / "images.npy", data.x_test[:n])
    files = []
    for i in range(4):
        files.append(work / f"test-{i:05d}.png")
        Image.fromarray(data.x_test[i]).save(files[-1])
    files.append(work / "phone-00004.jpg")  # a 1200×900 photo of a garment on a table
    files[-1].write_bytes(bodies_for("photo", data.x_test[4:5])[0])
    exports = tuple(Path(d).resolve() for d in config.export_dirs)
    probabilities, backends = _x86_results(config, exports, data.x_test[:n])
    return Target(exports, work / "images.npy", data.y_test[:n], tuple(files), tuple(_x86_labels(exports[0], files)),
                  probabilities, backends, _x86_accuracies(exports[0], data), config.data_dir)


def _x86_results(config: PiConfig, exports: tuple[Path, ...], images: np.ndarray) -> tuple[dict, dict]:
    """This machine's probabilities (and engine) for every model a cell evaluates."""
    probabilities, backends = {}, {}
    models = {model for system in config.systems for env in system.envs for model in env.models}
    for export_dir in exports:
        for model in sorted(models):
            key = reference_key(export_dir, model)
            if key in probabilities:
                continue
            clf = Classifier.load(export_dir, format=model[0], quantization=model[1],
                                  backend=Backend.NUMPY if key[-1] == "numpy" else Backend.AUTO,
                                  amx=amx.command_policy())  # as fmnist-predict runs it
            probabilities[key], backends[key] = clf.predict(images), clf.backend
    return probabilities, backends


def _x86_labels(export_dir: Path, files: list[Path]) -> list[str]:
    """fmnist-predict --json's labels of ``files`` on this machine."""
    out = subprocess.run([sys.executable, "-m", "fmnist_edge.runtime.predict_cli", "--json",
                          str(export_dir), *map(str, files)], capture_output=True, text=True)
    if out.returncode != 0:
        raise GuestError(f"fmnist-predict on this machine failed: {out.stderr.strip()[-300:]}")
    return [json.loads(line)["label"] for line in out.stdout.splitlines() if line.startswith("{")]


def _install(config: PiConfig, system: PiSystem, rootfs, qemu: str, env: PiEnv, project: Path,
             cpu: PiCpu) -> Path:
    """Resolve (or copy) the wheels for ``env`` on ``system`` and install them with the guest's pip."""
    wheelhouse = config.cache / f"wheels-{system.name}-{env.name}"
    if config.wheelhouse is not None:
        wheelhouse = _fresh(config.cache / "work" / f"wheels-{system.name}-{env.name}")
        for wheel in config.wheelhouse.glob("*.whl"):
            shutil.copy2(wheel, wheelhouse)
    wheelhouse.mkdir(parents=True, exist_ok=True)
    for old in wheelhouse.glob("fmnist_edge-*.whl"):
        old.unlink()
    shutil.copy2(project, wheelhouse)
    if config.wheelhouse is None:
        extras = env.requirement[len("fmnist-edge"):]
        # where NumPy and Pillow come from Debian, only the wheels that exist are fetched
        wanted = [f"{wheelhouse / project.name}{extras}", "pip"] if not system.debian_numpy else \
            [str(wheelhouse / project.name), "pip", *(["tflite-runtime>=2.14"] if "tflite" in extras else [])]
        pi_wheels.download(wheelhouse, wanted, rootfs.python_version, rootfs.glibc, system.machine,
                           deps=not system.debian_numpy)
    guest = Guest(qemu, rootfs.path / "root", rootfs.python, cpu, config.cache / "home")
    return pi_wheels.guest_install(guest, wheelhouse, env.requirement,
                                   config.cache / f"site-{system.name}-{env.name}", config.wheelhouse,
                                   system_site=system.debian_numpy)


def _x86_accuracies(export_dir: Path, data) -> dict:
    """(file, on numpy?) → accuracy over the first test images on_device uses in a guest: with
    this machine's default engine, and the TFLite files on the numpy engine (auto's engine on a
    32-bit Pi)."""
    manifest = json.loads((export_dir / "manifest.json").read_text())
    x, y = data.x_test[:EMULATED_IMAGES], data.y_test[:EMULATED_IMAGES]
    found = {}
    for entry in manifest["artifacts"]:
        for numpy in (False, True) if entry["format"] == "tflite" else (False,):
            clf = Classifier.load(export_dir / entry["file"], amx=amx.command_policy(),
                                  backend=Backend.NUMPY if numpy else Backend.AUTO)
            found[(entry["file"], numpy)] = float(np.mean(np.argmax(clf.predict(x), axis=1) == y))
    return found


def _names(valid: list[str]):
    """An argparse type: comma-separated names out of ``valid``, as a tuple."""
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(part for part in text.replace(" ", "").split(",") if part)
        wrong = [name for name in names if name not in valid]
        if wrong or not names:
            raise argparse.ArgumentTypeError(f"invalid choice {(wrong or [text])[0]!r} "
                                             f"(choose from {', '.join(valid)})")
        return names
    return parse


def cells_of(matrix: str, systems: tuple[str, ...] | None, cpus: tuple[str, ...] | None) -> Cells:
    """The cells of ``matrix`` (default or full) on the named systems and CPUs (None: all)."""
    return tuple((system, cpu) for system, cpu in (FULL if matrix == "full" else DEFAULT)
                 if (systems is None or system.name in systems) and (cpus is None or cpu.qemu_cpu in cpus))


def build_parser() -> argparse.ArgumentParser:
    """pi-check's options."""
    from fmnist_edge.runtime import cliutil

    from ..cliargs import DEFAULT_EXPORT, add_count

    p = cliutil.ArgumentParser(prog="pi-check", description=(
        "Run the runtime on emulated Raspberry Pis: Raspberry Pi OS bookworm and trixie, 64- and "
        "32-bit (Debian's packages, qemu user mode, the wheels that exist for each)."))
    add = p.add_argument
    add("export_dirs", nargs="*", default=[DEFAULT_EXPORT], metavar="EXPORT_DIR",
        help=f"export folders with manifest.json, each model checked in every cell (default: {DEFAULT_EXPORT})")
    add_count(p, "--images", 500, "test images per model and cell")
    add("--matrix", choices=("default", "full"), default="default",
        help="default: each system on one Pi (every OS, both architectures, the numpy engine); "
             "full: each system on both of its Pis (make pi-matrix) (default: %(default)s)")
    add("--system", type=_names([s.name for s in SYSTEMS]), default=None, metavar="SYSTEM[,...]",
        help=f"only these systems ({', '.join(s.name for s in SYSTEMS)}; default: all)")
    add("--cpu", type=_names(sorted({c.qemu_cpu for _, c in FULL})), default=None, metavar="CPU[,...]",
        help="only these emulated CPUs (cortex-a72: Pi 4, cortex-a76: Pi 5; 32-bit: cortex-a7 for "
             "a Pi 3 / Zero 2 W, max for a Pi 4; default: all)")
    add("--no-bench", action="store_true", help="skip the device benchmark (on_device) in the guests")
    add("--out", metavar="DIR", default="reports", help="report folder (default: %(default)s)")
    add("--cache", metavar="DIR", default=None,
        help="where the guest roots, wheels and installs are kept (default: ~/.cache/fmnist-edge/pi)")
    add("--wheelhouse", metavar="DIR", default=None,
        help="install from this folder of wheels instead of resolving them with pip download")
    add("--data", metavar="DIR", default=None, help="Fashion-MNIST folder (default: the usual lookup)")
    add("--update-readme", metavar="FILE", default=None,
        help="also write the results table into FILE between <!-- pi:begin/end --> markers")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``make pi-check``: 0 passed, 1 a check failed, 2 bad input or set-up."""
    from fmnist_edge.runtime import cliutil
    from fmnist_edge.runtime.errors import FmnistError

    p = build_parser()
    args = p.parse_args(argv)

    def action() -> int:
        exports = tuple(Path(d) for d in args.export_dirs)
        for export_dir in exports:
            if not (export_dir / "manifest.json").is_file():
                raise FmnistError(f"{export_dir}: no manifest.json; run fmnist-export first")
        if args.wheelhouse and not Path(args.wheelhouse).is_dir():
            raise FmnistError(f"--wheelhouse {args.wheelhouse}: not a folder")
        cells = cells_of(args.matrix, args.system, args.cpu)
        if not cells:
            raise FmnistError(f"no cell of the {args.matrix} matrix runs {','.join(args.system or ())} "
                              f"on {','.join(args.cpu or ())} (--matrix full has every system on both its Pis)")
        config = PiConfig(exports, args.images, Path(args.out),
                          Path(args.cache) if args.cache else default_cache(),
                          Path(args.wheelhouse).resolve() if args.wheelhouse else None, cells,
                          data_dir=args.data, bench=not args.no_bench)
        report = run_pi_check(config)
        print(pi_report.markdown(report))
        if args.update_readme:
            from fmnist_edge.readme import replace_block

            replace_block(args.update_readme, "pi", pi_report.readme_block(report))
        return 0

    return cliutil.run(p.prog, action)


if __name__ == "__main__":
    sys.exit(main())
