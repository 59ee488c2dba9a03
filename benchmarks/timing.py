"""Latency, throughput and cold start, measured interleaved so machine drift hits every model alike."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
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
clf = Classifier.load(sys.argv[1], format=sys.argv[2], quantization=sys.argv[3], threads=int(sys.argv[4]),
                      backend=sys.argv[5])
clf.predict(np.zeros((28, 28), np.uint8))
elapsed = (time.perf_counter() - start) * 1000
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(elapsed, hwm)
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
    inner, process, rss = [], [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                             env={**os.environ, **(env or {})})
        process.append((time.perf_counter() - start) * 1000)
        if out.returncode != 0:
            return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
        ms, kb = out.stdout.split()[-2:]
        inner.append(float(ms))
        rss.append(int(kb) / 1024)  # VmHWM (KiB): this process's own peak; ru_maxrss survives exec
    return {"ms": float(np.median(inner)), "process_ms": float(np.median(process)),
            "peak_rss_mb": float(max(rss)), "runs": runs}
