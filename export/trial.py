"""A candidate model (bytes not yet published), scored on the validation split and timed.

The fallback loop and the calibration search judge candidates here, through the runtime's own
Classifier, so a candidate scores what the written file will score; never on test images.
"""

from __future__ import annotations

import itertools
import statistics
import time
from pathlib import Path

import numpy as np

from fmnist_edge.runtime import atomic
from fmnist_edge.runtime.formats import FORMATS, Format

from .validate import load_artifact

_COUNTER = itertools.count()
# 21 interleaved rounds of 200 batch-1 calls, one thread: two copies of the same model measured
# 0.94× and 1.22× apart with 7 rounds of 300 on all cores (2-core Xeon, TF loaded beside them)
LATENCY_ROUNDS = 21
LATENCY_CALLS = 200


def candidate(model: bytes, fmt: Format, scratch: Path, threads: int | None = None):
    """A runtime Classifier for ``model`` bytes, via a scratch file of the format's suffix."""
    path = scratch / f"candidate-{next(_COUNTER)}{FORMATS[fmt].suffix}"
    atomic.write_bytes(path, model)
    return load_artifact(path, fmt, threads)


def score(model: bytes, fmt: Format, validation, scratch: Path) -> dict:
    """Accuracy, drop and agreement of ``model`` on the validation split."""
    return validation.score(candidate(model, fmt, scratch).predict(validation.images))


def batch1_latency_us(classifiers: dict, image: np.ndarray) -> dict:
    """Median batch-1 ``predict`` time (µs) of each classifier, rounds interleaved in one run.

    Interleaving puts every model under the same CPU state, so their ratio is what the figures
    mean; the absolute times are this machine's.
    """
    times: dict = {name: [] for name in classifiers}
    for _ in range(LATENCY_ROUNDS):
        for name, classifier in classifiers.items():
            classifier.predict(image)  # warm: the first call allocates
            start = time.perf_counter()
            for _ in range(LATENCY_CALLS):
                classifier.predict(image)
            times[name].append((time.perf_counter() - start) / LATENCY_CALLS * 1e6)
    return {name: round(statistics.median(values), 2) for name, values in times.items()}
