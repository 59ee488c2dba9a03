"""``fmnist-doctor``: what this machine is, which backends work, and one inference on each."""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

import numpy as np

from . import cliutil
from .backends import availability
from .errors import FmnistError
from .formats import ENGINES, FORMATS, Backend
from .system import cpu_flags, installed_version

PROG = "fmnist-doctor"
BUNDLED = Path(__file__).resolve().parent / "models"
X86_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
ARM_FLAGS = ("asimd", "asimddp", "i8mm", "fphp", "asimdhp", "sve", "bf16")  # asimddp: SDOT/UDOT; fphp: fp16
NO_32BIT = ("32-bit ARM userland: ai-edge-litert and onnxruntime publish no 32-bit ARM (armv7l) "
            "wheels; the numpy engine runs TFLite files here")


def faster_engine(version: tuple[int, int] | None = None) -> str:
    """Which engine that beats the numpy engine installs on this system, and the pip line.

    From ``pip download --only-binary=:all: --platform … --python-version …`` (2026-12):
    ai-edge-litert 2.3.0 and onnxruntime 1.32.0 have x86-64 and aarch64 wheels for
    CPython 3.9–3.13 and no armv7l wheel; tflite-runtime 2.14.0 (its last release, built for
    NumPy < 2) has cp311 armv7l and aarch64 wheels only.
    """
    machine, version = platform.machine().lower(), version or sys.version_info[:2]
    if is_32bit_arm():
        if version == (3, 11):
            return ("tflite-runtime 2.14 (cp311 armv7l, NumPy < 2 only: Debian bookworm's "
                    "python3-numpy 1.24): pip install 'fmnist-edge[tflite-runtime]'")
        return (f"none: no TFLite or ONNX engine has a 32-bit ARM wheel for Python "
                f"{version[0]}.{version[1]}; the numpy engine is this system's engine")
    if machine in ("x86_64", "amd64", "aarch64", "arm64"):
        return ("ai-edge-litert, 6-27x the numpy engine's speed on this project's int8 files "
                "(docs/runtime.md): pip install 'fmnist-edge[litert]' (or [onnx] for ONNX Runtime)")
    return f"unknown: no engine this project knows publishes a wheel for {machine}"


def cpu_features() -> list[str]:
    """The CPU flags that decide which kernels run (from /proc/cpuinfo, Linux only)."""
    flags = cpu_flags()
    return [f for f in X86_FLAGS + ARM_FLAGS if f in flags]


def is_32bit_arm() -> bool:
    """True on a 32-bit ARM userland (also a 32-bit OS on a 64-bit Pi kernel)."""
    machine = platform.machine().lower()
    return machine.startswith("arm") and "64" not in machine or (
        machine in ("aarch64", "arm64") and platform.architecture()[0] == "32bit")


def system_report() -> list[tuple[str, str]]:
    """(name, value) lines about the platform."""
    libc, libc_version = platform.libc_ver()
    return [("platform", platform.platform()), ("machine", platform.machine()),
            ("python", f"{platform.python_version()} ({platform.architecture()[0]})"),
            ("numpy", np.__version__), ("libc", f"{libc} {libc_version}".strip() or "unknown"),
            ("cpu features", " ".join(cpu_features()) or "none detected")]


def smoke_test(backend: Backend, model: Path | None) -> str:
    """Load a model on ``backend`` and run one image through it; returns a one-line result."""
    from .amx import command_policy
    from .classifier import Classifier

    fmt = ENGINES[backend].format
    path = model or BUNDLED / f"doctor-tiny{FORMATS[fmt].suffix}"
    if model and model.is_file() and model.suffix.lower() != FORMATS[fmt].suffix:
        return f"skipped ({model.name} is not a {fmt} model)"
    try:
        clf = Classifier.load(path, backend=backend, format=fmt, threads=1,
                              amx=command_policy())  # as fmnist-predict runs it
        image = np.zeros((28, 28), np.uint8)
        clf.predict(image)
        start = time.perf_counter()
        probabilities = clf.predict(image)
        micros = (time.perf_counter() - start) * 1e6
    except FmnistError as exc:
        return f"FAILED: {exc}"
    return (f"ok: {clf.path.name}, {clf.runner.delegate}, sum of probabilities "
            f"{float(probabilities.sum()):.3f}, one warm call {micros:.0f} µs (not a benchmark)")


def run(model: Path | None) -> int:
    """Print the report; 0 when at least one backend ran a model, else 1."""
    for name, value in system_report():
        print(f"{name:14} {value}")
    if is_32bit_arm():
        print(f"{'note':14} {NO_32BIT}")
    working = 0
    for backend in ENGINES:
        problem = availability(backend)
        if problem:
            print(f"{backend.value:14} not available: {problem}")
            continue
        result = smoke_test(backend, model)
        working += result.startswith("ok")
        print(f"{backend.value:14} {_version(backend)}: {result}")
    if working and all(ENGINES[b].fallback for b in ENGINES if availability(b) is None):
        print(f"{'faster engine':14} {faster_engine()}")
    print(f"{'amx':14} {_amx_line()}")
    if working and model is not None and model.is_dir():
        for line in choice_lines(model):
            print(f"{'choice':14} {line}")
    if not working:
        advice = NO_32BIT if is_32bit_arm() else ("install one: pip install 'fmnist-edge[litert]' "
                                                  "(TFLite) or pip install 'fmnist-edge[onnx]' (ONNX)")
        print(f"{PROG}: error: no backend works; {advice}", file=sys.stderr)
        return 1
    return 0


def choice_lines(folder: Path, max_drop: float = 0.5) -> list[str]:
    """What ``choose="fastest"`` picks here for ``folder``, and the timings behind it."""
    from .amx import command_policy
    from .classifier import Classifier

    try:
        clf = Classifier.load(folder, choose="fastest", max_drop=max_drop, amx=command_policy())
    except FmnistError as exc:
        return [f"none: {exc}"]
    c = clf.choice
    lines = [f"{c['file']} ({c.get('why', 'the fastest within the budget')}, of "
             f"{len(c['timings_us'])} within {c['max_drop']} points; "
             f"{'from the cache' if c['cached'] else 'timed now'}, "
             "fmnist-predict --choose fastest loads it)"]
    for name, micros in sorted(c["timings_us"].items(), key=lambda kv: kv[1]):
        lines.append(f"  {name}: {micros:.1f} µs batch 1, drop {c['drops'][name]:+.2f} points")
    return lines


def _amx_line() -> str:
    from .amx import status

    state = status()
    return f"{state.policy} ({state.note})" if state.cpu else "no AMX on this CPU"


def _version(backend: Backend) -> str:
    return installed_version(ENGINES[backend].distribution) or "unknown version"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fmnist-doctor``."""
    p = cliutil.ArgumentParser(prog=PROG, description="Check that this machine can run "
                               "fmnist-edge models: platform, CPU features, backends, one inference each.")
    p.add_argument("model", nargs="?", default=None, metavar="MODEL",
                   help="a .tflite/.onnx file or export folder to test (default: the bundled tiny models)")
    args = p.parse_args(argv)
    return cliutil.run(PROG, lambda: run(Path(args.model) if args.model else None))


if __name__ == "__main__":
    sys.exit(main())
