"""A minimal Debian arm64 root filesystem (Python and its libraries) from Debian's own packages.

No debootstrap, no root-only kernel set-up: a private apt configuration (arm64, its own state and
cache) whose sources are the Debian entries of the host's own apt sources (see ``sources``),
``apt-get install --download-only``, then ``dpkg-deb -x`` of each package and the guest's
``ldconfig`` under qemu. About 40 packages, 17 MB downloaded, 78 MB unpacked, a few seconds; the
result is cached and reused while it is complete.
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

from .sources import arm64_sources

PACKAGES = ("python3", "libstdc++6", "libgcc-s1", "libc-bin")
HOST_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
STAMP = ".fmnist-rootfs.json"


@dataclass(frozen=True)
class Rootfs:
    """An unpacked arm64 root: its folder, its Python and the versions wheels must match."""

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


def apt_config(work: Path, sources: list[Path]) -> Path:
    """Write a private arm64 apt configuration under ``work`` from the Debian entries of ``sources``."""
    if not sources:
        raise FmnistError("no apt sources on this host (looked in /etc/apt/sources.list and "
                          "/etc/apt/sources.list.d); the arm64 packages come from the host's sources")
    derived = arm64_sources(sources)
    parts = work / "sources.list.d"
    for folder in (parts, work / "state/lists/partial", work / "cache/archives/partial",
                   work / "preferences.d"):
        folder.mkdir(parents=True, exist_ok=True)
    (parts / "debian-arm64.sources").write_text(derived)
    (work / "state/status").touch()
    conf = work / "apt.conf"
    # the host's apt.conf.d (proxies, mirror settings) still applies: only these paths are private
    conf.write_text("\n".join([
        'APT::Architecture "arm64";', 'APT::Architectures { "arm64"; };',
        'APT::Install-Recommends "false";', f'Dir::State "{work}/state";',
        f'Dir::State::status "{work}/state/status";', f'Dir::Cache "{work}/cache";',
        'Dir::Etc::SourceList "/dev/null";', f'Dir::Etc::SourceParts "{parts}";',
        f'Dir::Etc::PreferencesParts "{work}/preferences.d";', 'Debug::NoLocking "true";', ""]))
    return conf


def download_debs(work: Path, packages=PACKAGES) -> list[Path]:
    """``apt-get update`` and ``install --download-only`` with the private configuration."""
    for tool in ("apt-get", "dpkg-deb"):
        if not shutil.which(tool):
            raise FmnistError(f"{tool} not found: the Pi check builds its arm64 root from Debian "
                              "packages and needs a Debian-based host")
    env = {**os.environ, "APT_CONFIG": str(apt_config(work, host_source_files())),
           "DEBIAN_FRONTEND": "noninteractive"}
    for args in (["update", "-q"], ["install", "-y", "-q", "--download-only", *packages]):
        out = subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True)
        if out.returncode != 0:
            last = (out.stderr.strip() or out.stdout.strip() or "failed").splitlines()[-1]
            raise FmnistError(f"apt-get {args[0]} for the arm64 root failed: {last}")
    return sorted((work / "cache/archives").glob("*.deb"))


def build_rootfs(cache: Path, qemu: str) -> Rootfs:
    """The cached arm64 root under ``cache/rootfs``, built (atomically) when missing."""
    final = cache / "rootfs"
    found = _load(final)
    if found:
        return found
    staging = atomic.make_staging_dir(final, "arm64 root cache")
    try:
        debs = download_debs(staging / "apt")
        root = staging / "root"
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        _ldconfig(qemu, root)
        shutil.rmtree(staging / "apt")  # the .debs are unpacked; keep the cache small
        (root / "proc").mkdir(exist_ok=True)
        (staging / STAMP).write_text(json.dumps({"debs": [d.name for d in debs]}))
        atomic.publish_dir(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _load(final)


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
