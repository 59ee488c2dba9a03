"""Facts about this machine that every stage reads: /proc/cpuinfo and installed versions.

One parser for /proc/cpuinfo (x86 ``flags``/``model name``; ARM ``Features``/``Model``/``Hardware``)
and one installed-version lookup, shared by the AMX policy, fmnist-doctor and benchmark reports.
"""

from __future__ import annotations

from functools import lru_cache

CPUINFO = "/proc/cpuinfo"


@lru_cache(maxsize=1)
def cpuinfo() -> tuple[tuple[str, str], ...]:
    """(key, value) pairs of /proc/cpuinfo, in order; empty where there is none (not Linux)."""
    try:
        with open(CPUINFO, encoding="ascii", errors="replace") as f:
            text = f.read()
    except OSError:
        return ()
    pairs = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def cpu_flags() -> frozenset[str]:
    """Every CPU feature flag /proc/cpuinfo lists (x86 ``flags``, ARM ``Features``)."""
    return frozenset(word for key, value in cpuinfo() if key in ("flags", "Features")
                     for word in value.split())


def cpu_model() -> str | None:
    """The CPU's model name (x86 ``model name``, ARM ``Model``/``Hardware``), else None."""
    return next((value for key, value in cpuinfo()
                 if key in ("model name", "Model", "Hardware") and value), None)


def machine_summary() -> str:
    """``AMD EPYC, 2 cores``: the CPU a figure was measured on, as the docs' blocks name it."""
    import os
    import platform

    model = cpu_model()
    return f"{model}, {os.cpu_count()} cores" if model else platform.machine()


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution (``onnxruntime``, ``ai-edge-litert``), else None."""
    from importlib import metadata  # 10 ms of imports (email, zipfile, …): only when asked

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
