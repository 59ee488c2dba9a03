"""The device record of every benchmark report: which machine, which CPU, in what state.

The same export is 3.7× faster in int8 than float32 on one x86 CPU and 2.3× on another, and a
Raspberry Pi 4's Cortex-A72 (no dot product) runs other XNNPACK kernels than a Pi 5's Cortex-A76:
a timing means nothing without the record of where it was taken. Every field is read from the
system (``/proc``, ``/sys``, ``vcgencmd``) and is None where the system does not have it.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import subprocess
from pathlib import Path

from fmnist_edge.runtime import system
from fmnist_edge.runtime.doctor import cpu_features

# Set by the emulated-Pi harness (benchmarks.pi) in its guests: qemu user mode cannot be detected
# reliably from inside, and an emulated timing must never pass for a device's.
EMULATED_ENV = "FMNIST_EMULATED"
# /proc/cpuinfo "CPU implementer" 0x41 (Arm) "CPU part" → core: what picks XNNPACK's Arm kernels
ARM_CORES = {"0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55",
             "0xd07": "Cortex-A57", "0xd08": "Cortex-A72", "0xd09": "Cortex-A73",
             "0xd0a": "Cortex-A75", "0xd0b": "Cortex-A76", "0xd0c": "Neoverse-N1",
             "0xd0d": "Cortex-A77", "0xd40": "Neoverse-V1", "0xd41": "Cortex-A78",
             "0xd44": "Cortex-X1", "0xd46": "Cortex-A510", "0xd47": "Cortex-A710",
             "0xd49": "Neoverse-N2", "0xd4f": "Neoverse-V2"}
CPUFREQ = Path("/sys/devices/system/cpu/cpu0/cpufreq")
THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", "replace").strip("\x00\n ") or None
    except OSError:
        return None


def _vcgencmd(*args: str) -> str | None:
    """A Raspberry Pi firmware query (``vcgencmd get_throttled``), else None."""
    if not shutil.which("vcgencmd"):
        return None
    try:
        out = subprocess.run(["vcgencmd", *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def arm_core() -> dict | None:
    """``{"implementer", "part", "core"}`` of the first ARM core in /proc/cpuinfo, else None."""
    fields = dict(reversed(system.cpuinfo()))  # reversed: the first core's value wins
    if "CPU part" not in fields:
        return None
    implementer, part = fields.get("CPU implementer"), fields["CPU part"].lower()
    core = ARM_CORES.get(part) if implementer == "0x41" else None
    return {"implementer": implementer, "part": part, "core": core}


def frequency_mhz() -> dict:
    """cpu0's current and maximum frequency in MHz (cpufreq reports kHz), None where unreadable."""
    def mhz(name: str):
        text = _read(CPUFREQ / name)
        return round(int(text) / 1000) if text and text.isdigit() else None
    return {"current": mhz("scaling_cur_freq"), "max": mhz("cpuinfo_max_freq")}


def soc_state() -> dict:
    """The SoC's temperature (°C) and the Pi firmware's throttling flags, at this moment."""
    temperature = None
    reading = _vcgencmd("measure_temp")  # "temp=48.3'C"
    match = re.search(r"[-\d.]+", reading or "")
    if match:
        temperature = float(match.group(0))
    elif (text := _read(THERMAL)) and text.lstrip("-").isdigit():
        temperature = int(text) / 1000  # millidegrees
    return {"temperature_c": temperature, "throttled": _vcgencmd("get_throttled"),
            "frequency_mhz": frequency_mhz()["current"]}


def device_record(name: str | None, sources: dict, before: dict, after: dict) -> dict:
    """The record: ``name`` (else the hostname), board, CPU, its state ``before``/``after``.

    ``sources`` maps each benchmarked run to its export's source sha256 (None for a bare file).
    """
    return {
        "name": name or socket.gethostname() or platform.node() or "unknown",
        "model": _read(Path("/proc/device-tree/model")),  # "Raspberry Pi 5 Model B Rev 1.0"
        "machine": platform.machine(),
        "cpu": system.cpu_model() or platform.processor() or None,
        "arm": arm_core(),
        "cpu_features": cpu_features(),
        "cores": os.cpu_count(),
        "governor": _read(CPUFREQ / "scaling_governor"),
        "max_frequency_mhz": frequency_mhz()["max"],
        "before": before,
        "after": after,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sources": sources,
        "emulated": os.environ.get(EMULATED_ENV) or False,
    }


# What the gate's speed minimums are keyed by: the kernels XNNPACK and ONNX Runtime pick differ
# between these, and so do the int8 speed-ups (tutorial CNN, int8 vs float32: 3.7× on an Intel
# Xeon with AMX denied, 2.3× on an AMD EPYC with AVX-512 VNNI).
CPU_CLASSES = ("x86-amx", "x86-avx512-vnni", "arm64-dotprod", "arm64", "other")


def cpu_class(machine: str, features) -> str:
    """The CPU class of a machine (``platform.machine()``) with these /proc/cpuinfo features."""
    features = set(features or ())
    if machine in ("x86_64", "AMD64"):
        if "amx_int8" in features:
            return "x86-amx"
        if "avx512_vnni" in features:
            return "x86-avx512-vnni"
    elif machine in ("aarch64", "arm64"):
        return "arm64-dotprod" if "asimddp" in features else "arm64"
    return "other"


def report_cpu_class(report: dict) -> str:
    """A report's CPU class, from its device record (or, in older reports, its environment)."""
    source = report.get("device") or report.get("environment") or {}
    return cpu_class(source.get("machine", ""), source.get("cpu_features"))
