"""Latency, throughput and cold start, measured interleaved so machine drift hits every model alike."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Candidate:
    """One thing to time: a model on a backend (or Keras), with its batch-1 and batch callables."""

    key: str
    predict_one: Callable
    predict_batch: Callable
    call_scale: float = 1.0  # Keras predict costs ~40 ms a call: time fewer calls of it


def call_times(fn: Callable, calls: int, *args) -> np.ndarray:
    """Seconds taken by each of ``calls`` calls of ``fn(*args)``."""
    clock = time.perf_counter
    times = np.empty(calls)
    for i in range(calls):
        start = clock()
        fn(*args)
        times[i] = clock() - start
    return times


def median_us(fn: Callable, calls: int, *args) -> float:
    """Median µs per call of ``fn(*args)`` over ``calls`` calls."""
    return float(np.median(call_times(fn, calls, *args)) * 1e6)


def time_batch1(candidates: list[Candidate], image: np.ndarray, rounds: int, calls: int,
                progress=None) -> dict[str, list[np.ndarray]]:
    """Per-call seconds of every candidate, ``rounds`` interleaved rounds of ``calls`` calls."""
    samples: dict[str, list[np.ndarray]] = {c.key: [] for c in candidates}
    for _ in range(rounds):
        for c in candidates:
            n = max(3, int(calls * c.call_scale))
            call_times(c.predict_one, max(1, n // 10), image)  # warm-up: caches, allocator
            samples[c.key].append(call_times(c.predict_one, n, image))
            if progress:
                progress.update(1)
    return samples


def time_throughput(candidates: list[Candidate], images: np.ndarray, rounds: int,
                    repeats: int, progress=None) -> dict[str, float]:
    """Images per second at batch ``len(images)``: the median over interleaved rounds."""
    rates: dict[str, list[float]] = {c.key: [] for c in candidates}
    for _ in range(rounds):
        for c in candidates:
            n = max(1, int(repeats * c.call_scale))
            c.predict_batch(images)  # warm-up (and, for TFLite, the one-time resize)
            start = time.perf_counter()
            for _ in range(n):
                c.predict_batch(images)
            rates[c.key].append(len(images) * n / (time.perf_counter() - start))
            if progress:
                progress.update(1)
    return {key: float(np.median(values)) for key, values in rates.items()}


COLD_RUNTIME = """
import time
start = time.perf_counter()
import sys
import numpy as np
from fmnist_edge.runtime.classifier import Classifier
imported = time.perf_counter()
clf = Classifier.load(sys.argv[1], format=sys.argv[2], quantization=sys.argv[3], threads=int(sys.argv[4]),
                      backend=sys.argv[5])
loaded = time.perf_counter()
clf.predict(np.zeros((28, 28), np.uint8))
end = time.perf_counter()
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print((imported - start) * 1000, (loaded - imported) * 1000, (end - loaded) * 1000, (end - start) * 1000, hwm)
"""
COLD_KERAS = """
import os, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
start = time.perf_counter()
import sys
import numpy as np
import keras
model = keras.saving.load_model(sys.argv[1], compile=False)
model(np.zeros((1, 28, 28, 1), np.float32), training=False)
elapsed = (time.perf_counter() - start) * 1000
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(elapsed, hwm)
"""


def cold_start(args: list[str], code: str = COLD_RUNTIME, runs: int = 1,
               env: dict | None = None) -> dict:
    """Fresh-process import → load → first result: median wall ms, and the process's peak RSS.

    ``env`` adds variables to the child's environment. Linux only (reads /proc/self/status),
    like the devices this targets.
    """
    inner, process, rss, phases = [], [], [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                             env={**os.environ, **(env or {})})
        process.append((time.perf_counter() - start) * 1000)
        if out.returncode != 0:
            return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
        *parts, ms, kb = out.stdout.strip().splitlines()[-1].split()  # the runtime's adds phases
        inner.append(float(ms))
        phases.append([float(p) for p in parts])
        rss.append(int(kb) / 1024)  # VmHWM (KiB): this process's own peak; ru_maxrss survives exec
    result = {"ms": float(np.median(inner)), "process_ms": float(np.median(process)),
              "peak_rss_mb": float(max(rss)), "runs": runs}
    if phases[0]:  # the runtime's: where its time goes (median of each)
        result["phases_ms"] = {name: round(float(np.median([p[i] for p in phases])), 1)
                               for i, name in enumerate(("imports", "load", "first_inference"))}
    return result


def predict_command(python: str, *args: str) -> list[str]:
    """``fmnist-predict ARGS`` as a user types it: the console script of ``python``'s environment
    (``-m fmnist_edge.runtime.predict_cli`` where there is none, e.g. a source checkout)."""
    script = Path(python).parent / "fmnist-predict"  # not resolved: a venv's python is a link
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), *args]
    return [python, "-m", "fmnist_edge.runtime.predict_cli", *args]


def first_answer(model: str, image: str, backend: str | None, runs: int, env: dict | None = None,
                 python: str = sys.executable) -> dict:
    """fmnist-predict as a user runs it: a fresh process from its start to its first line.

    ``python``'s environment runs it (this one by default); ``backend`` None = its own choice.
    One run first, untimed, so Python has compiled what it caches; then the median of ``runs``.
    """
    command = predict_command(python, model, image, *(["--backend", backend] if backend else []))
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, **(env or {})})
        line = proc.stdout.readline()
        elapsed = (time.perf_counter() - start) * 1000
        _, err = proc.communicate(timeout=120)
        if proc.returncode != 0 or not line:
            return {"error": err.strip().splitlines()[-1] if err.strip() else "no answer"}
        if i:
            times.append(elapsed)
    return {"ms": float(np.median(times)), "runs": runs, "all_ms": [round(t, 1) for t in times]}
