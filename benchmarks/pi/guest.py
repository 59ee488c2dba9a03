"""Run a guest's Python under qemu user-mode emulation, as a Raspberry Pi 3, 4 or 5.

qemu 7.2 (Debian bookworm) passes the host's x86 ``/proc/cpuinfo`` through, and onnxruntime and
ai-edge-litert then crash at load (measured: SIGSEGV). qemu's ``-L`` prefix is searched first, so
the root gets a Pi-like ``proc/cpuinfo``; the instructions the guest may use still come from
``-cpu`` (cortex-a72 has no SDOT: a wheel that assumes it dies with SIGILL, which is reported).
Missing guest paths fall back to the host and can be written there: every path passed is absolute,
the environment is empty but for what is set here, and HOME is private.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from fmnist_edge.runtime.errors import FmnistError

from ..device import EMULATED_ENV

QEMU = "qemu-aarch64-static"


@dataclass(frozen=True)
class PiCpu:
    """An emulated Raspberry Pi CPU: the qemu model, and the cpuinfo the guest reads."""

    qemu_cpu: str
    board: str
    part: str  # ARM's CPU part number, as the kernel prints it
    features: str
    bits: int = 64  # 32: a 32-bit kernel's cpuinfo (ARMv7 layout), for qemu-arm
    note: str = ""  # how the emulated model differs from the real core, when it does


PI4 = PiCpu("cortex-a72", "Raspberry Pi 4 Model B", "0xd08", "fp asimd evtstrm crc32 cpuid")
PI5 = PiCpu("cortex-a76", "Raspberry Pi 5 Model B", "0xd0b",
            "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc "
            "dcpop asimddp")
CPUS = (PI4, PI5)
# qemu-arm (32-bit user mode) has no Cortex-A53 or A72 model. A Pi 3 / Zero 2 W running the
# 32-bit image executes ARMv8 AArch32 code; cortex-a7 is its ARMv7 + NEON/VFPv4 subset (what
# Debian armhf may assume), so a binary that passes there runs on the real core, and "max" is an
# ARMv8 AArch32 superset of a Pi 4's core: together they bracket the real CPUs.
ARMV7_FEATURES = "half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm"
PI3_32 = PiCpu("cortex-a7", "Raspberry Pi 3 Model B / Zero 2 W", "0xd03", ARMV7_FEATURES, 32,
               "its ARMv7 subset (qemu-arm has no Cortex-A53)")
PI4_32 = PiCpu("max", "Raspberry Pi 4 Model B", "0xd08", ARMV7_FEATURES + " crc32", 32,
               "an ARMv8 AArch32 superset (qemu-arm has no Cortex-A72)")


class GuestError(FmnistError):
    """Something failed inside the emulated Pi: the check fails (exit 1)."""

    exit_code = 1


def cpuinfo(cpu: PiCpu) -> str:
    """A 4-core /proc/cpuinfo in the layout a 64-bit (or 32-bit) Raspberry Pi OS kernel prints."""
    name = "model name\t: ARMv7 Processor rev 4 (v7l)\n" if cpu.bits == 32 else ""
    core = ("processor\t: {i}\n" + name + "BogoMIPS\t: 108.00\nFeatures\t: {f}\nCPU implementer\t: 0x41\n"
            f"CPU architecture: {7 if cpu.bits == 32 else 8}\nCPU variant\t: 0x0\nCPU part\t: {{p}}\n"
            "CPU revision\t: 1\n\n")
    cores = "".join(core.format(i=i, f=cpu.features, p=cpu.part) for i in range(4))
    return cores + f"Model\t\t: {cpu.board} (emulated by qemu -cpu {cpu.qemu_cpu})\n"


def find_qemu(name: str = QEMU) -> str:
    """The qemu user-mode binary ``name``, or a one-line error saying how to install it."""
    path = shutil.which(name)
    if path is None:
        raise FmnistError(f"{name} not found: install it with 'apt-get install qemu-user-static' "
                          "(make pi-check does this when run as root)")
    return path


@dataclass(frozen=True)
class Guest:
    """One emulated Pi: qemu, the arm64 root, the CPU, and a private HOME."""

    qemu: str
    root: Path
    python: Path
    cpu: PiCpu
    home: Path

    @property
    def emulated(self) -> str:
        """What a benchmark report in this guest records as its ``emulated`` field."""
        return f"{Path(self.qemu).name.removesuffix('-static')} -cpu {self.cpu.qemu_cpu}"

    def launcher(self) -> tuple[str, ...]:
        """What runs a guest program: ``env -i …`` qemu and its options.

        Writes the guest's cpuinfo first, so call it right before each process it starts.
        """
        (self.root / "proc/cpuinfo").write_text(cpuinfo(self.cpu))
        self.home.mkdir(parents=True, exist_ok=True)
        return ("env", "-i", f"HOME={self.home}", "PYTHONDONTWRITEBYTECODE=1",
                "PYTHONUNBUFFERED=1", "LC_ALL=C.UTF-8", f"{EMULATED_ENV}={self.emulated}", self.qemu,
                "-cpu", self.cpu.qemu_cpu, "-L", str(self.root))

    def venv_python(self, venv: Path | None) -> Path:
        """The Python of ``venv`` (a guest venv made by wheels.guest_install), or the root's own."""
        return venv / "bin" / self.python.name if venv is not None else self.python

    def python_run(self, args: list[str], venv: Path | None, what: str,
                   timeout: float = 900) -> tuple[str, float]:
        """Run the Python of ``venv`` (None: the root's) with ``args``; (stdout, seconds).

        Raises GuestError with the last line of the guest's stderr, or the signal that killed it.
        """
        command = [*self.launcher(), str(self.venv_python(venv)), *args]
        start = time.perf_counter()
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise GuestError(f"{what} on {self.cpu.qemu_cpu}: no result after {timeout:.0f} s") from None
        seconds = time.perf_counter() - start
        if out.returncode != 0:
            raise GuestError(f"{what} on {self.cpu.qemu_cpu} failed: {_why(out)}")
        return out.stdout, seconds


def _why(out: subprocess.CompletedProcess) -> str:
    if out.returncode < 0:
        name = signal.Signals(-out.returncode).name
        hint = (" (an instruction this CPU lacks: a wheel built for newer Arm cores)"
                if name == "SIGILL" else "")
        return f"killed by {name}{hint}"
    lines = [line for line in (out.stderr or out.stdout).strip().splitlines() if line.strip()]
    return lines[-1][:400] if lines else f"exit status {out.returncode}"
