"""A minimal Debian root filesystem (Python and its libraries) per Pi system, from Debian's packages.

No debootstrap, no root-only kernel set-up: a private apt configuration (the system's
architecture and release, its own state and cache) whose sources are the Debian entries of the
host's own apt sources (see ``sources``), ``apt-get install --download-only``, then ``dpkg-deb
-x`` of each package and the guest's ``ldconfig`` under qemu. About 40 packages, 17 MB
downloaded, 78 MB unpacked, a few seconds (bookworm arm64); the result is cached per system and
reused while it is complete.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fmnist_edge.runtime import atomic
from fmnist_edge.runtime.errors import FmnistError

from .sources import guest_sources
from .systems import SYSTEMS, PiSystem
HOST_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
STAMP = ".fmnist-rootfs.json"


@dataclass(frozen=True)
class Rootfs:
    """An unpacked guest root: its folder, its Python and the versions wheels must match."""

    path: Path
    python: Path  # the guest interpreter, as a host path inside ``path``
    python_version: str  # "3.11"
    glibc: str  # "2.36"
    debs: tuple[str, ...]


def host_source_files(roots=HOST_SOURCES) -> list[Path]:
    """The host's apt source files (one-line ``.list`` and deb822 ``.sources``) that name a repo."""
    files = []
    for root in roots:
        candidates = sorted(root.glob("*")) if root.is_dir() else [root]
        for path in candidates:
            if path.suffix not in (".list", ".sources") or not path.is_file():
                continue
            text = path.read_text(errors="replace")
            if re.search(r"^\s*(deb\s|URIs:)", text, re.MULTILINE):
                files.append(path)
    return files


def apt_config(work: Path, sources: list[Path], system: PiSystem = SYSTEMS[0]) -> Path:
    """Write a private apt configuration for ``system`` under ``work`` from the Debian entries of
    ``sources``."""
    if not sources:
        raise FmnistError("no apt sources on this host (looked in /etc/apt/sources.list and "
                          "/etc/apt/sources.list.d); the guest's packages come from the host's sources")
    arch = system.arch.value
    derived = guest_sources(sources, arch, system.release)
    parts = work / "sources.list.d"
    for folder in (parts, work / "state/lists/partial", work / "cache/archives/partial",
                   work / "preferences.d"):
        folder.mkdir(parents=True, exist_ok=True)
    (parts / f"debian-{system.name}.sources").write_text(derived)
    (work / "state/status").touch()
    conf = work / "apt.conf"
    # the host's apt.conf.d (proxies, mirror settings) still applies: only these paths are private
    conf.write_text("\n".join([
        f'APT::Architecture "{arch}";', f'APT::Architectures {{ "{arch}"; }};',
        'APT::Install-Recommends "false";', f'Dir::State "{work}/state";',
        f'Dir::State::status "{work}/state/status";', f'Dir::Cache "{work}/cache";',
        'Dir::Etc::SourceList "/dev/null";', f'Dir::Etc::SourceParts "{parts}";',
        f'Dir::Etc::PreferencesParts "{work}/preferences.d";', 'Debug::NoLocking "true";', ""]))
    return conf


def download_debs(work: Path, system: PiSystem) -> list[Path]:
    """``apt-get update`` and ``install --download-only`` with the private configuration."""
    for tool in ("apt-get", "dpkg-deb"):
        if not shutil.which(tool):
            raise FmnistError(f"{tool} not found: the Pi check builds its guest roots from Debian "
                              "packages and needs a Debian-based host")
    env = {**os.environ, "APT_CONFIG": str(apt_config(work, host_source_files(), system)),
           "DEBIAN_FRONTEND": "noninteractive"}
    for args in (["update", "-q"], ["install", "-y", "-q", "--download-only", *system.packages]):
        out = subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True)
        if out.returncode != 0:
            last = (out.stderr.strip() or out.stdout.strip() or "failed").splitlines()[-1]
            raise FmnistError(f"apt-get {args[0]} for the {system.name} root failed: {last}")
    return sorted((work / "cache/archives").glob("*.deb"))


def build_rootfs(cache: Path, qemu: str, system: PiSystem = SYSTEMS[0]) -> Rootfs:
    """The cached root of ``system`` under ``cache/rootfs-<system>``, built (atomically) when missing."""
    final = cache / f"rootfs-{system.name}"
    found = _load(final)
    if found:
        return found
    staging = atomic.make_staging_dir(final, f"{system.name} root cache")
    try:
        debs = download_debs(staging / "apt", system)
        root = staging / "root"
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        merge_usr(root)
        alternatives(root)
        _ldconfig(qemu, root)
        shutil.rmtree(staging / "apt")  # the .debs are unpacked; keep the cache small
        (root / "proc").mkdir(exist_ok=True)
        (staging / STAMP).write_text(json.dumps({"debs": [d.name for d in debs]}))
        atomic.publish_dir(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _load(final)


def merge_usr(root: Path) -> None:
    """The /bin, /sbin, /lib → usr/… links of a merged-/usr system. Since trixie, packages ship
    their files under /usr only and base-files (not unpacked here) makes the links; without them
    the loader that binaries name (/lib/ld-linux-*.so.*) and /sbin/ldconfig are missing. Relative
    links: an absolute one would point into this host under qemu's -L."""
    for name in ("bin", "sbin", "lib"):
        if not (root / name).exists() and (root / "usr" / name).is_dir():
            (root / name).symlink_to(Path("usr") / name)


def alternatives(root: Path) -> None:
    """The links update-alternatives makes for BLAS and LAPACK in their packages' postinst, which
    unpacking does not run: Debian puts python3-numpy's libblas.so.3 in ``/usr/lib/<triplet>/blas/``
    and the loader looks in ``/usr/lib/<triplet>/``. (ld.so.conf.d would need the guest's ldconfig
    to stat guest paths, which qemu-arm 7.2 does not translate: measured, an empty cache.)"""
    for pattern in ("libblas.so.3", "liblapack.so.3"):
        for lib in sorted((root / "usr/lib").glob(f"*/*/{pattern}"))[:1]:
            link = lib.parent.parent / pattern
            if not link.exists():
                link.symlink_to(Path(lib.parent.name) / pattern)


def _ldconfig(qemu: str, root: Path) -> None:
    """The guest's own ldconfig writes the guest's ld.so.cache (qemu -L maps /etc to the root)."""
    out = subprocess.run([qemu, "-L", str(root), str(root / "sbin/ldconfig"), "-X",
                          "-C", str(root / "etc/ld.so.cache"), "-f", str(root / "etc/ld.so.conf")],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise FmnistError(f"guest ldconfig failed under {qemu}: {out.stderr.strip()[:200]}")


def _load(final: Path) -> Rootfs | None:
    """The Rootfs in ``final`` when its stamp says it is complete, else None."""
    try:
        debs = tuple(json.loads((final / STAMP).read_text())["debs"])
    except (OSError, ValueError, KeyError):
        return None
    root = final / "root"
    pythons = [p for p in (root / "usr/bin").glob("python3.*") if re.fullmatch(r"python3\.\d+", p.name)]
    glibc = next((m.group(1) for d in debs if (m := re.match(r"libc6_(\d+\.\d+)", d))), None)
    if not pythons or glibc is None:
        return None
    python = newest(pythons, lambda p: p.name.removeprefix("python"))
    return Rootfs(final, python, python.name.removeprefix("python"), glibc, debs)


def newest(items, version_of):
    """The item whose ``version_of(item)`` is highest as a version (3.11 > 3.9, 24.0 > 9.0.1)."""
    from packaging.version import InvalidVersion, Version

    def key(item):
        try:
            return (1, Version(version_of(item)))
        except InvalidVersion:  # an odd name never beats a real version
            return (0, Version("0"))
    return max(items, key=key)
