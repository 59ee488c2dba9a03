"""One sweep trial: what a configuration costs (before training) and how well it learns.

Trials train on the training split and are scored on the fixed 5k validation split only; the
test set is never touched here (``fit(test=False)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from fmnist_edge.runtime.dataset import FashionMNIST

from ..config import TrainConfig

# An int8 TFLite file is about one byte per parameter plus 6-8 KB of graph, per-channel scales and
# int32 biases (measured: tutorial CNN 542,230 params → 535 KB; edge CNN 61,210 → 67.8 KB).
INT8_OVERHEAD_KB = 8.0


@dataclass(frozen=True)
class Budget:
    """Edge limits a configuration must meet before it is trained (None = no limit)."""

    max_params: int | None = None
    max_macs: int | None = None
    max_int8_kb: float | None = None

    def violation(self, cost: dict) -> str | None:
        """Why ``cost`` is over budget, or None."""
        for key, limit, unit in (("params", self.max_params, "parameters"),
                                 ("macs", self.max_macs, "MACs"),
                                 ("int8_kb_estimate", self.max_int8_kb, "KB int8 (estimated)")):
            if limit is not None and cost[key] > limit:
                return f"{cost[key]:,.0f} {unit} > {limit:,}"
        return None


def model_cost(config: TrainConfig) -> dict:
    """Parameters, multiply-accumulates per image and the estimated int8 file size, untrained."""
    import keras

    from ..models import build_model, count_macs

    model = build_model(config)
    params = int(model.count_params())
    cost = {"params": params, "macs": count_macs(model),
            "int8_kb_estimate": round(params / 1024 + INT8_OVERHEAD_KB, 1)}
    keras.backend.clear_session()  # trials build many models in one process
    return cost


def train_trial(config: TrainConfig, data: FashionMNIST,
                report: Callable[[int, float], bool] | None = None) -> dict:
    """Train ``config``; ``report(epoch, val_accuracy)`` returning True stops training (pruned)."""
    import keras

    from ..fit import fit

    stopper = _reporter(report) if report else None
    result = fit(config, data, verbose=0, test=False, callbacks=[stopper] if stopper else None)
    history = result.history
    outcome = {"val_accuracy": result.scores["val_accuracy"],
               "train_accuracy": result.scores["train_accuracy"], "seconds": round(result.seconds, 1),
               "epochs_run": len(history["loss"]), "curve": history.get("val_accuracy", []),
               "pruned": bool(stopper and stopper.pruned)}
    keras.backend.clear_session()
    return outcome


def _reporter(report: Callable[[int, float], bool]):
    import keras

    class Reporter(keras.callbacks.Callback):
        """Hands each epoch's validation accuracy to the tuner; stops when it says prune."""

        pruned = False

        def on_epoch_end(self, epoch, logs=None):
            if report(epoch, float((logs or {}).get("val_accuracy", 0.0))):
                self.pruned = True
                self.model.stop_training = True

    return Reporter()
