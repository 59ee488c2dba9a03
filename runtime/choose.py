"""``Classifier.load(folder, choose="fastest", max_drop=0.5)``: the device picks its own variant.

The fastest variant depends on the CPU (int8 is 3.7× float32 on one x86 CPU, 2.3× on another,
and XNNPACK's Arm kernels differ between a Pi 4 and a Pi 5), so the choice is measured here:
every variant whose recorded accuracy drop (the export's self-check) is within ``max_drop`` is
loaded and timed at batch 1 for about 1.5 s in all, and the fastest is kept. The choice is cached
in ``$XDG_CACHE_HOME/fmnist-edge/choices.json`` (``~/.cache/…``), keyed by the models' sha256,
the CPU model and features, the engines' versions, the thread count and the budget, so the next
load times nothing; a corrupt or stale cache is ignored with a logged warning and rewritten.

Knowing the noise: a variant whose loss is measurable (its self-check's paired test against the
float model: exact McNemar p < 0.05 on the test images, a drop above zero) gives way to the
fastest in-budget variant whose loss is not, when there is one; drops that cannot be told from
zero are not ranked at all, so among those the fastest wins. Manifests written before the paired
test count as "not measurable" (speed alone decides, as it did).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import TYPE_CHECKING

import numpy as np

from . import system
from .backends import runnable_formats
from .errors import FmnistError
from .formats import ENGINES, FORMATS, Backend, Choice

if TYPE_CHECKING:  # pathlib and atomic are imported where used: options imports this module for
    from pathlib import Path  # Choose, and pathlib's import is ~4 ms of fmnist-predict's ~100 ms start

TOTAL_S = 2.0  # the whole choice, loads included (7 loads of the tutorial CNN: about 0.1 s)
BUDGET_S = 1.5  # the timing share at most; less when loading took longer (at least MIN_S)
MIN_S = 0.3
ROUNDS = 3  # interleaved, so a burst of machine noise hits every variant alike
RULE = "fastest without a measurable loss"  # in the cache key: a choice made by an older rule is redone


class Choose(Choice):
    """How ``Classifier.load`` picks a variant of an export folder by itself."""

    FASTEST = "fastest"


def cache_path() -> Path:
    """``$XDG_CACHE_HOME/fmnist-edge/choices.json``, else ``~/.cache/fmnist-edge/choices.json``."""
    from pathlib import Path

    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fmnist-edge" / "choices.json"


def candidates(manifest: dict, folder: Path, backend: Backend, max_drop: float) -> list[dict]:
    """The entries a backend here can run whose self-check dropped at most ``max_drop`` points."""
    formats = runnable_formats(backend)  # the numpy engine's only where no engine is installed
    found = [e for e in manifest["artifacts"] if (e.get("check") or {}).get("drop_points") is not None
             and e["check"]["drop_points"] <= max_drop and e["format"] in formats]
    if not found:
        raise FmnistError(f"{folder}: no variant a backend here can run has a recorded accuracy "
                          f"drop within {max_drop} points (choose='fastest' reads the export's "
                          "self-check; export with the check on, or raise max_drop)")
    return found


def cache_key(entries: list[dict], backend: Backend, threads: int | None, max_drop: float) -> str:
    """What the choice depends on: models, CPU, engine versions, threads, budget."""
    engines = sorted({b for e in entries for b in FORMATS[e["format"]].backends
                      if backend is Backend.AUTO or b is backend})
    facts = {"rule": RULE, "models": sorted(e["sha256"] for e in entries), "cpu": system.cpu_model(),
             "features": sorted(system.cpu_flags()), "threads": threads, "max_drop": max_drop,
             "engines": {b.value: system.installed_version(ENGINES[b].distribution) for b in engines}}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def time_candidates(classifiers: dict, budget_s: float = BUDGET_S) -> dict[str, float]:
    """Median batch-1 µs per call of each classifier, interleaved over ROUNDS rounds."""
    image = np.zeros((28, 28), np.uint8)
    samples = {name: [] for name in classifiers}
    for clf in classifiers.values():
        clf.predict(image)  # warm: first calls plan buffers
    share = budget_s / (ROUNDS * len(classifiers))
    for _ in range(ROUNDS):
        for name, clf in classifiers.items():
            end = time.perf_counter() + share
            while True:
                start = time.perf_counter()
                clf.predict(image)
                now = time.perf_counter()
                samples[name].append((now - start) * 1e6)
                if now >= end:
                    break
    import statistics

    return {name: statistics.median(values) for name, values in samples.items()}


def choose_fastest(load, folder: Path, manifest: dict, backend: Backend, threads: int | None,
                   max_drop: float):
    """The fastest in-budget variant, loaded with ``load(path)``; its ``choice`` says why."""
    entries = candidates(manifest, folder, backend, max_drop)
    key, files = cache_key(entries, backend, threads, max_drop), {e["file"] for e in entries}
    cached = _read_cache().get(key)
    if cached is not None and cached.get("file") in files and isinstance(cached.get("timings_us"), dict):
        clf = load(folder / cached["file"])
        clf.choice = {**cached, "cached": True}
        return clf
    if cached is not None:
        _log().warning("fmnist-edge: ignoring a stale choice in %s; timing again", cache_path())
    start = time.perf_counter()
    loaded = {e["file"]: load(folder / e["file"]) for e in entries}
    budget = min(BUDGET_S, max(MIN_S, TOTAL_S - (time.perf_counter() - start)))
    timings = time_candidates(loaded, budget)
    best, why = pick(timings, entries)
    choice = {"file": best, "why": why, "timings_us": timings, "max_drop": max_drop, "threads": threads,
              "drops": {e["file"]: e["check"]["drop_points"] for e in entries}}
    _write_choice(key, choice)
    loaded[best].choice = {**choice, "cached": False}
    return loaded[best]


def pick(timings: dict[str, float], entries: list[dict]) -> tuple[str, str]:
    """The fastest variant without a measurable loss (else the fastest), and why, in words."""
    fastest = min(timings, key=timings.get)
    lossy = {e["file"]: e["check"]["paired"] for e in entries if _measurable_loss(e)}
    clean = [name for name in timings if name not in lossy]
    if fastest not in lossy:
        return fastest, "the fastest within the budget"
    if not clean:
        return fastest, "the fastest within the budget (every candidate's loss is measurable)"
    best = min(clean, key=timings.get)
    return best, (f"the fastest whose loss cannot be told from zero: {fastest} is faster but its "
                  f"drop of {lossy[fastest]['drop_points']:+.2f} points is measurable "
                  f"(exact McNemar p = {lossy[fastest]['mcnemar_p']:.2g})")


def _measurable_loss(entry: dict) -> bool:
    paired = entry["check"].get("paired")
    return bool(paired) and bool(paired.get("distinguishable")) and paired.get("drop_points", 0) > 0


def _read_cache() -> dict:
    path = cache_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        _log().warning("fmnist-edge: ignoring the unreadable choice cache %s (%s); it is rebuilt",
                    path, type(exc).__name__)
        return {}
    if not isinstance(data, dict):
        _log().warning("fmnist-edge: ignoring the choice cache %s (not a JSON object); it is rebuilt", path)
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def _write_choice(key: str, choice: dict) -> None:
    """Add one choice to the cache, atomically; a cache that cannot be written is only logged."""
    from . import atomic

    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_json(path, {**_read_cache(), key: choice})
    except OSError as exc:
        _log().warning("fmnist-edge: cannot write the choice cache %s (%s); the next load times again",
                    path, exc.strerror or exc)


def _log():
    import logging  # here: logging's imports are 3 ms of a cold start that never warns

    return logging.getLogger(__name__)
