"""Timing statistics: percentiles over all samples, plus the spread of per-round medians."""

from __future__ import annotations

import numpy as np


def latency_stats(rounds: list[np.ndarray]) -> dict:
    """µs statistics of batch-1 call times (seconds), given one sample array per round."""
    samples = np.concatenate(rounds) * 1e6
    medians = [float(np.median(r) * 1e6) for r in rounds]
    return {
        "p50": float(np.percentile(samples, 50)),
        "p90": float(np.percentile(samples, 90)),
        "p99": float(np.percentile(samples, 99)),
        "mean": float(samples.mean()),
        "std": float(samples.std()),
        "calls": int(samples.size),
        "round_p50": medians,
        "spread": float((max(medians) - min(medians)) / np.median(medians)) if medians else 0.0,
    }


def histogram(rounds: list[np.ndarray], bins: int = 60) -> dict:
    """A compact latency histogram (µs) for the distribution plot, clipped at p99.5."""
    samples = np.concatenate(rounds) * 1e6
    top = float(np.percentile(samples, 99.5))
    counts, edges = np.histogram(np.clip(samples, None, top), bins=bins)
    return {"counts": counts.tolist(), "edges_us": [round(float(e), 3) for e in edges]}
