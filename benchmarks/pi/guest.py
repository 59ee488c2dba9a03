"""Run the arm64 guest's Python under qemu user-mode emulation, as a Raspberry Pi 4 or 5.

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
    """An emulated Raspberry Pi CPU: the qemu model and the cpuinfo the guest reads."""

    qemu_cpu: str
    board: str
    part: str  # ARM's CPU part number, as the kernel prints it
    features: str


PI4 = PiCpu("cortex-a72", "Raspberry Pi 4 Model B", "0xd08", "fp asimd evtstrm crc32 cpuid")
PI5 = PiCpu("cortex-a76", "Raspberry Pi 5 Model B", "0xd0b",
            "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc "
            "dcpop asimddp")
CPUS = (PI4, PI5)


class GuestError(FmnistError):
    """Something failed inside the emulated Pi: the check fails (exit 1)."""

    exit_code = 1


def cpuinfo(cpu: PiCpu) -> str:
    """A 4-core /proc/cpuinfo in the layout a 64-bit Raspberry Pi OS kernel prints."""
    core = ("processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: {f}\nCPU implementer\t: 0x41\n"
            "CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: {p}\nCPU revision\t: 1\n\n")
    cores = "".join(core.format(i=i, f=cpu.features, p=cpu.part) for i in range(4))
    return cores + f"Model\t\t: {cpu.board} (emulated by qemu -cpu {cpu.qemu_cpu})\n"


def find_qemu() -> str:
    """The qemu-aarch64-static binary, or a one-line error saying how to install it."""
    path = shutil.which(QEMU)
    if path is None:
        raise FmnistError(f"{QEMU} not found: install it with 'apt-get install qemu-user-static' "
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
        return f"qemu-aarch64 -cpu {self.cpu.qemu_cpu}"

    def launcher(self, site: Path) -> tuple[str, ...]:
        """What runs the guest Python with ``site`` on its path: ``env -i …`` qemu and its options.

        Writes the guest's cpuinfo first, so call it right before each process it starts.
        """
        (self.root / "proc/cpuinfo").write_text(cpuinfo(self.cpu))
        self.home.mkdir(parents=True, exist_ok=True)
        return ("env", "-i", f"HOME={self.home}", f"PYTHONPATH={site}", "PYTHONDONTWRITEBYTECODE=1",
                "PYTHONUNBUFFERED=1", "LC_ALL=C.UTF-8", f"{EMULATED_ENV}={self.emulated}", self.qemu,
                "-cpu", self.cpu.qemu_cpu, "-L", str(self.root))

    def python_run(self, args: list[str], site: Path, what: str, timeout: float = 900) -> tuple[str, float]:
        """Run the guest Python with ``args`` and ``site`` on its path; (stdout, seconds).

        Raises GuestError with the last line of the guest's stderr, or the signal that killed it.
        """
        command = [*self.launcher(site), str(self.python), *args]
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
