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


# The widest int8-relevant instruction set, first match wins. Two VMs both named "AMD EPYC" here
# were a Zen 4 (AVX-512 VNNI) and a Zen 3 (AVX2 only): the tutorial CNN trained 187 s vs 300 s,
# and their figures must not read as one machine's.
SIMD_LEVELS = (("amx_int8", "AMX"), ("avx512_vnni", "AVX-512 VNNI"), ("avx512f", "AVX-512"),
               ("avx_vnni", "AVX-VNNI"), ("avx2", "AVX2"), ("i8mm", "NEON i8mm"),
               ("asimddp", "NEON dot product"), ("asimd", "NEON"))


def simd_level(features=None) -> str | None:
    """``AVX-512 VNNI``, ``AVX2``, …: the widest level in ``features`` (default: this CPU's flags)."""
    flags = set(cpu_flags() if features is None else features)
    return next((label for flag, label in SIMD_LEVELS if flag in flags), None)


def cpu_label(model: str | None, features=None) -> str | None:
    """``AMD EPYC (AVX2)``: a CPU's model name with its SIMD level, as figures name their machine."""
    level = simd_level(features)
    return f"{model} ({level})" if model and level else model


def machine_summary() -> str:
    """``AMD EPYC (AVX2), 2 cores``: the CPU a figure was measured on, as the docs' blocks name it."""
    import os
    import platform

    model = cpu_label(cpu_model())
    return f"{model}, {os.cpu_count()} cores" if model else platform.machine()


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution (``onnxruntime``, ``ai-edge-litert``), else None."""
    from importlib import metadata  # 10 ms of imports (email, zipfile, …): only when asked

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
