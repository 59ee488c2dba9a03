"""Re-measuring a failed batch-1 ratio before the gate calls it a regression (gate.confirm_ratios)."""

from __future__ import annotations

from pathlib import Path

from fmnist_edge.runtime.classifier import Classifier
from fmnist_edge.runtime.dataset import load_fashion_mnist

from . import timing
from .gate import find_record
from .run import BenchConfig, run_name
from .stats import latency_stats


def remeasurer(config: BenchConfig, report: dict):
    """``remeasure(specs)`` for check_gate: each ratio timed again on the files of ``report``."""
    def remeasure(specs: list[dict]) -> list[float | None]:
        return remeasure_ratios(config, report, specs)
    return remeasure


def remeasure_ratios(config: BenchConfig, report: dict, specs: list[dict]) -> list[float | None]:
    """slower p50 / faster p50 of each spec, both sides timed again, interleaved, over twice the
    plan's rounds (at least 3). None for a side that is not a file of this run (the Keras call:
    TensorFlow is not loaded twice) or when the spec is not a batch-1 ratio."""
    folders = {run_name(d): (Path(d) if Path(d).is_dir() else Path(d).parent) for d in config.export_dirs}
    pairs, candidates = [], {}
    for spec in specs:
        threads = spec.get("threads", report["environment"]["threads"][0])
        sides = [find_record(report, spec[side], threads) for side in ("faster", "slower")]
        if spec["metric"] != "latency_p50" or any(r is None or r["format"] == "keras" for r in sides):
            pairs.append(None)
            continue
        keys = []
        for record in sides:
            key = f"{record['run']}/{record['model']}@{threads}"
            if key not in candidates:
                clf = Classifier.load(folders[record["run"]] / record["model"], threads=threads)
                candidates[key] = timing.Candidate(key, clf.predict, clf.predict)
            keys.append(key)
        pairs.append(keys)
    if not candidates:
        return [None] * len(specs)
    image = load_fashion_mnist(config.data_dir, splits=("test",)).x_test[0]
    plan = config.plan
    times = timing.time_batch1(list(candidates.values()), image, max(3, 2 * plan["rounds"]), plan["calls"])
    p50 = {key: latency_stats(parts)["p50"] for key, parts in times.items()}
    return [None if keys is None else p50[keys[1]] / p50[keys[0]] for keys in pairs]
