"""One training run, end to end: data → fit → the run folder ``artifacts/<name>/``.

The folder is built in a hidden staging folder and swapped in only when every file is written, so
an interrupted run leaves the previous run folder (if any) untouched and no half-written model.
"""

from __future__ import annotations

import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

from fmnist_edge.intervals import accuracy_text
from fmnist_edge.metrics import confusion_matrix, mean_accuracy_ci, per_class
from fmnist_edge.runtime import atomic
from fmnist_edge.runtime.dataset import FashionMNIST, load_fashion_mnist

from .config import TrainConfig

RUN_FILES = ("model.keras", "config.json", "history.json", "metrics.json", "curves.png",
             "confusion.png")


@dataclass(frozen=True)
class RunResult:
    """Where the run was written and what it measured."""

    run_dir: Path
    metrics: dict


def train_run(config: TrainConfig, data_dir: str | None = None, out_dir: str = "artifacts",
              name: str | None = None, verbose: int | str = "auto") -> RunResult:
    """Train one model on the real data and write its complete run folder; return its metrics."""
    config.validate()
    config = config.resolved()
    data = load_fashion_mnist(data_dir)  # fail on missing/bad data before any slow import
    final = Path(out_dir) / (name or config.model.value)
    staging = atomic.make_staging_dir(final, "run folder")
    try:
        from .fit import fit

        result = fit(config, data, verbose=verbose)
        metrics = _metrics(config, data, result)
        _write_run(staging, config, result, metrics, data.y_test)
        atomic.publish_dir(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RunResult(final, metrics)


def _metrics(config: TrainConfig, data: FashionMNIST, result) -> dict:
    from .models import count_macs

    import keras
    import numpy as np
    import tensorflow as tf

    return {
        "model": config.model.value,
        **result.scores,
        **_intervals(result.scores, data, config, result.test_predictions),
        "final_epoch_train_accuracy": result.history["accuracy"][-1],
        "params": int(result.model.count_params()),
        "macs": count_macs(result.model),
        "epochs": len(result.history["loss"]),
        "epochs_requested": config.epochs,
        "seconds": round(result.seconds, 1),
        "seed": config.seed,
        "dataset": {"source": str(data.source), "sha256": data.sha256,
                    "train": int(len(data.y_train) - config.validation_size),
                    "validation": config.validation_size, "test": int(len(data.y_test))},
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "tensorflow": tf.__version__, "keras": keras.__version__},
        "platform": platform.platform(),
    }


def _intervals(scores: dict, data: FashionMNIST, config: TrainConfig, test_predictions) -> dict:
    """Wilson 95 % intervals of the train, validation and test accuracies, and per test class."""
    counts = {"train": len(data.y_train) - config.validation_size, "val": config.validation_size,
              "test": len(data.y_test)}
    out = {f"{split}_accuracy_ci": mean_accuracy_ci(scores[f"{split}_accuracy"], n)
           for split, n in counts.items() if f"{split}_accuracy" in scores and n}
    if test_predictions is not None:
        out["per_class_test"] = per_class(data.y_test, test_predictions)
    return out


def _write_run(folder: Path, config: TrainConfig, result, metrics: dict, y_test) -> None:
    from . import plots

    title = config.model.value

    with atomic.atomic_path(folder / "model.keras", suffix=".keras") as tmp:
        result.model.save(tmp)
    atomic.write_json(folder / "config.json", config.to_json())
    atomic.write_json(folder / "history.json", result.history)
    atomic.write_json(folder / "metrics.json", metrics)
    plots.save_curves(result.history, folder / "curves.png", title)
    cm = confusion_matrix(y_test, result.test_predictions)
    acc = accuracy_text(metrics["test_accuracy"], metrics.get("test_accuracy_ci"))
    plots.save_confusion(cm, folder / "confusion.png", f"{title}: test accuracy {acc} % (95 %)")
