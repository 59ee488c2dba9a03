"""The Raspberry Pi OS systems the Pi check emulates: one row per Debian release × architecture.

Raspberry Pi OS is Debian with the Pi's firmware on top: bookworm (Debian 12, Python 3.11) for its
2023–2025 releases, trixie (Debian 13, Python 3.13) since late 2025, each as a 64-bit (arm64) and a
32-bit (armhf) image. What a user can install differs by row (measured with ``pip download
--platform``, 2026-12): ai-edge-litert 2.3.0 and onnxruntime 1.32.0 have cp311 and cp313 aarch64
wheels and nothing for armv7l; tflite-runtime 2.14 has cp311 wheels only (aarch64 and armv7l);
PyPI has no armv7l NumPy or Pillow, so a 32-bit install takes Debian's ``python3-numpy`` and
``python3-pil`` (a venv with system site packages) and runs the numpy engine, plus tflite-runtime
on bookworm.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from fmnist_edge.runtime.formats import Backend, Format, Quantization

from .guest import PI3_32, PI4, PI4_32, PI5, PiCpu


class Arch(str, Enum):
    """A Debian architecture the Pi check emulates."""

    ARM64 = "arm64"
    ARMHF = "armhf"


QEMU = {Arch.ARM64: "qemu-aarch64-static", Arch.ARMHF: "qemu-arm-static"}
WHEEL_MACHINE = {Arch.ARM64: "aarch64", Arch.ARMHF: "armv7l"}  # a wheel's platform tag suffix
BASE_PACKAGES = ("python3", "libstdc++6", "libgcc-s1", "libc-bin")
# a 32-bit Pi takes NumPy and Pillow from Debian: PyPI has no armv7l wheel of either
DEBIAN_NUMPY = ("python3-numpy", "python3-pil")

INT8, FLOAT = Quantization.INT8, Quantization.NONE
ON_NUMPY = ((Format.TFLITE, INT8, Backend.NUMPY), (Format.TFLITE, FLOAT, Backend.NUMPY))


@dataclass(frozen=True)
class PiEnv:
    """One install in a guest: the requirement its pip resolves, the models × engines it must run,
    and fmnist-predict's ``--backend`` there (auto: what a user's default would pick)."""

    name: str
    requirement: str
    models: tuple[tuple[Format, Quantization, Backend], ...]
    predict_backend: Backend = Backend.AUTO


MAIN = PiEnv("main", "fmnist-edge[litert,onnx,serve]",
             ((Format.TFLITE, INT8, Backend.LITERT), (Format.TFLITE, FLOAT, Backend.LITERT),
              (Format.ONNX, INT8, Backend.ONNXRUNTIME)) + ON_NUMPY)
# the classic Pi path: tflite-runtime 2.14 (its last release) needs NumPy < 2
CLASSIC = PiEnv("classic", "fmnist-edge[tflite-runtime]",
                ((Format.TFLITE, INT8, Backend.TFLITE_RUNTIME), (Format.TFLITE, FLOAT, Backend.TFLITE_RUNTIME)),
                Backend.TFLITE_RUNTIME)
# 32-bit: Debian's NumPy 1.24 (bookworm) is below 2, as tflite-runtime needs
CLASSIC_32 = PiEnv("classic", "fmnist-edge[tflite-runtime]", CLASSIC.models + ON_NUMPY)
CORE = PiEnv("core", "fmnist-edge", ON_NUMPY)  # no engine: auto picks the numpy engine


@dataclass(frozen=True)
class PiSystem:
    """One emulated Raspberry Pi OS: release, architecture, the Pis it runs on, what installs."""

    release: str
    arch: Arch
    cpus: tuple[PiCpu, ...]
    envs: tuple[PiEnv, ...]

    @property
    def name(self) -> str:
        """``bookworm-arm64``: the system's name in reports, cache folders and ``--system``."""
        return f"{self.release}-{self.arch.value}"

    @property
    def title(self) -> str:
        """What a user calls it: ``Raspberry Pi OS bookworm 64-bit``."""
        return f"Raspberry Pi OS {self.release} {'64' if self.arch is Arch.ARM64 else '32'}-bit"

    @property
    def qemu(self) -> str:
        """The qemu user-mode binary of the architecture."""
        return QEMU[self.arch]

    @property
    def machine(self) -> str:
        """The machine of its wheels' platform tags: aarch64 or armv7l."""
        return WHEEL_MACHINE[self.arch]

    @property
    def packages(self) -> tuple[str, ...]:
        """The Debian packages of its root."""
        return BASE_PACKAGES + (DEBIAN_NUMPY if self.arch is Arch.ARMHF else ())

    @property
    def debian_numpy(self) -> bool:
        """True where NumPy and Pillow come from Debian (no wheel exists for the architecture)."""
        return self.arch is Arch.ARMHF


SYSTEMS = (
    PiSystem("bookworm", Arch.ARM64, (PI4, PI5), (MAIN, CLASSIC)),
    PiSystem("trixie", Arch.ARM64, (PI4, PI5), (MAIN,)),
    PiSystem("bookworm", Arch.ARMHF, (PI3_32, PI4_32), (CLASSIC_32,)),
    PiSystem("trixie", Arch.ARMHF, (PI3_32, PI4_32), (CORE,)),
)
BY_NAME = {system.name: system for system in SYSTEMS}
# make test's default: every release, both architectures and the numpy engine, one Pi each
# (the full matrix, every system on both of its Pis, is make pi-matrix)
DEFAULT_CELLS = (("bookworm-arm64", "cortex-a72"), ("trixie-arm64", "cortex-a76"),
                 ("bookworm-armhf", PI3_32.qemu_cpu), ("trixie-armhf", PI4_32.qemu_cpu))
