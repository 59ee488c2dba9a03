"""The machine a benchmark ran on, recorded with every report (numbers mean little without it)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

from fmnist_edge.runtime import system
from fmnist_edge.runtime.amx import ENV as AMX_ENV
from fmnist_edge.runtime.amx import status as amx_status
from fmnist_edge.runtime.doctor import cpu_features

LIBRARIES = ("numpy", "ai-edge-litert", "tflite-runtime", "onnxruntime", "tensorflow-cpu",
             "tensorflow", "keras", "Pillow", "fmnist-edge")


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def cpu_model() -> str:
    """The CPU's model name (x86 'model name', ARM 'Model'/'Hardware'), else platform.processor()."""
    return system.cpu_model() or platform.processor() or platform.machine()


def pi_throttling() -> str | None:
    """``vcgencmd get_throttled`` on a Raspberry Pi (0x0 = never throttled), else None."""
    if not shutil.which("vcgencmd"):
        return None
    try:
        out = subprocess.run(["vcgencmd", "get_throttled"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def git_commit() -> str | None:
    """The commit of the checkout this runs from, when there is one."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict:
    """Installed versions of the libraries that decide the figures."""
    found = {"python": platform.python_version()}
    found.update({name: v for name in LIBRARIES if (v := system.installed_version(name))})
    return found


def environment(threads: list[int]) -> dict:
    """Everything about the machine and settings a reader needs to interpret the report."""
    return {
        "cpu": cpu_model(),
        "cpu_features": cpu_features(),
        "cores": os.cpu_count(),
        "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "pi_throttled": pi_throttling(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "versions": versions(),
        "threads": threads,
        "amx": amx_status().as_dict(),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "TF_NUM_INTRAOP_THREADS",
                                              AMX_ENV)
                if k in os.environ},
        "git_commit": git_commit(),
    }
