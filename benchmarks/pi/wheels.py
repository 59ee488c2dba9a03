"""The wheels a Raspberry Pi would install: resolved on the host for its machine, installed by the guest.

pip does not expand manylinux tags for a foreign ``--platform``: without every
``manylinux_2_17 … 2_<glibc>_aarch64`` tag it silently falls back to old releases (ai-edge-litert
1.4.0 instead of 2.x, measured). The install itself runs the *guest's* Python with pip, in a venv
as a user makes one on the Pi (with system site packages where NumPy and Pillow come from Debian),
so the target interpreter decides whether it accepts each wheel's tags and whether Debian's
NumPy meets the requirements, as it would on the Pi.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from fmnist_edge.runtime import atomic
from fmnist_edge.runtime.errors import FmnistError

from .guest import Guest, GuestError
from .rootfs import newest

REPO = Path(__file__).resolve().parents[2]  # a source checkout: benchmarks/pi/ sits two below its top
DONE = ".fmnist-installed.json"


def manylinux_platforms(glibc: str, machine: str = "aarch64") -> list[str]:
    """Every ``machine`` (aarch64, armv7l) platform tag a glibc ``glibc`` (e.g. "2.36") system accepts."""
    major, minor = (int(part) for part in glibc.split(".")[:2])
    if major != 2 or minor < 17:
        raise FmnistError(f"glibc {glibc}: {machine} manylinux wheels need glibc 2.17 or newer")
    return [f"manylinux2014_{machine}"] + [f"manylinux_2_{m}_{machine}" for m in range(17, minor + 1)]


def project_wheel(out: Path) -> Path:
    """Build this checkout's own wheel (pure Python) into ``out``."""
    if not (REPO / "pyproject.toml").is_file():
        raise FmnistError("the Pi check builds fmnist-edge's wheel from a source checkout; run it "
                          "from one, or pass --wheelhouse with a prepared set of aarch64 wheels")
    shutil.rmtree(out, ignore_errors=True)
    # setuptools reuses build/lib, which keeps modules the checkout has since deleted (measured:
    # a removed runtime/metrics.py was still in the wheel); it is only setuptools' cache
    shutil.rmtree(REPO / "build", ignore_errors=True)
    # a fixed zip timestamp makes the wheel's bytes depend only on the source, so an unchanged
    # checkout hits the guest-install cache (one install under emulation is about 12 s)
    _pip(["wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)], "building fmnist-edge's wheel",
         {"SOURCE_DATE_EPOCH": "315532800"})
    return next(out.glob("fmnist_edge-*.whl"))


def download(wheelhouse: Path, requirements: list[str], python_version: str, glibc: str,
             machine: str = "aarch64", deps: bool = True) -> None:
    """``pip download`` the ``machine`` CPython ``python_version`` wheels of ``requirements``
    (``deps=False``: only those named, where the rest comes from Debian)."""
    version = python_version.replace(".", "")
    platforms = [arg for tag in manylinux_platforms(glibc, machine) for arg in ("--platform", tag)]
    _pip(["download", "--quiet", "--only-binary=:all:", *platforms, "--python-version", python_version,
          "--implementation", "cp", "--abi", f"cp{version}", *([] if deps else ["--no-deps"]),
          "-d", str(wheelhouse), *requirements],
         f"resolving {machine} cp{version} wheels for {' '.join(requirements)}")


def _pip(args: list[str], what: str, env: dict | None = None) -> None:
    out = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    if out.returncode != 0:
        errors = [line for line in out.stderr.splitlines() if line.startswith("ERROR")]
        raise FmnistError(f"{what} failed: {(errors or out.stderr.strip().splitlines() or ['?'])[-1]}")


def pip_wheel(wheelhouse: Path) -> Path:
    """The pip wheel the guest runs pip from (a wheel is an importable zip)."""
    found = list(wheelhouse.glob("pip-*.whl"))
    if not found:
        raise FmnistError(f"{wheelhouse}: no pip wheel; the guest installs with pip run from one")
    return newest(found, lambda wheel: wheel.name.split("-")[1])


def foreign_wheels(wheelhouse: Path, machine: str = "aarch64") -> list[str]:
    """Wheels in ``wheelhouse`` that a ``machine`` Linux can never install (other platforms)."""
    return sorted(w.name for w in wheelhouse.glob("*.whl")
                  if not (w.name.endswith("-any.whl") or machine in w.name))


def guest_install(guest: Guest, wheelhouse: Path, requirement: str, cache: Path,
                  origin: Path | None = None, system_site: bool = False) -> Path:
    """Install ``requirement`` from ``wheelhouse`` with the guest's own pip into a new venv
    (``system_site``: one that sees Debian's python3-numpy); returns the venv folder.

    Cached under ``cache`` by the wheels' content, so an unchanged set installs once. ``origin``
    is the folder the user gave, when ``wheelhouse`` is a working copy of it (for messages).
    """
    key = hashlib.sha256(f"{requirement} system-site={system_site}".encode())
    for wheel in sorted(wheelhouse.glob("*.whl")):
        key.update(wheel.name.encode() + hashlib.sha256(wheel.read_bytes()).digest())
    final = cache / key.hexdigest()[:16]
    if (final / DONE).is_file():
        return final
    staging = atomic.make_staging_dir(final, "guest site cache")
    try:
        # --copies: a linked venv python would point at /usr/bin/python3.x, which this host
        # resolves to its own x86 Python; the copy is the guest's binary, found through -L
        guest.python_run(["-m", "venv", "--without-pip", "--copies",
                          *(["--system-site-packages"] if system_site else []), str(staging)],
                         None, "python -m venv")
        guest.python_run([f"{pip_wheel(wheelhouse)}/pip", "install", "--quiet", "--no-index",
                          "--no-compile", "--disable-pip-version-check", "--root-user-action=ignore",
                          "--find-links", str(wheelhouse), requirement],
                         staging, f"pip install {requirement}")
    except GuestError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        machine = "armv7l" if guest.cpu.bits == 32 else "aarch64"
        foreign = foreign_wheels(wheelhouse, machine)
        hint = f"; not for {machine}: {', '.join(foreign)}" if foreign else ""
        raise GuestError(f"the Pi's pip refused {requirement} from {origin or wheelhouse}: "
                         f"{exc}{hint}") from None
    (staging / DONE).write_text(json.dumps({"requirement": requirement}))
    for old in cache.glob("*"):
        if old.is_dir() and old.name != final.name and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)  # one install per environment is kept
    atomic.publish_dir(staging, final)
    return final


def installed_versions(site: Path, pattern: str = "lib/python3*/site-packages/*.dist-info") -> dict[str, str]:
    """Distribution → version of what a guest venv holds (from its .dist-info names)."""
    found = {}
    for info in site.glob(pattern):
        name, _, version = info.name.rsplit(".", 1)[0].partition("-")
        found[name.replace("_", "-").lower()] = version
    return dict(sorted(found.items()))


def debian_versions(root: Path) -> dict[str, str]:
    """Distribution → version of the Python packages Debian installed in a guest root (python3-numpy
    ships ``numpy-1.24.2.egg-info`` on bookworm, a .dist-info on trixie)."""
    folder = root / "usr/lib/python3/dist-packages"
    return {**installed_versions(folder, "*.egg-info"), **installed_versions(folder, "*.dist-info")}
