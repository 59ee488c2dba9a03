"""Training plots: learning curves and the test confusion matrix (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmnist_edge.runtime import atomic
from fmnist_edge.runtime.labels import CLASS_NAMES


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on CI or a device
    import matplotlib.pyplot as plt

    return plt


def save_curves(history: dict, path: Path, title: str) -> None:
    """Loss and accuracy per epoch, training vs validation, side by side."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for ax, metric in zip(axes, ("loss", "accuracy")):
        # Keras' train figure is the running mean over each epoch, so it lags validation early on.
        ax.plot(epochs, history.get(metric, []), "o-", label="train (epoch mean)")
        ax.plot(epochs, history.get(f"val_{metric}", []), "s-", label="validation")
        ax.set(xlabel="epoch", ylabel=metric, title=f"{title}: {metric}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, path, plt)


def save_confusion(cm: np.ndarray, path: Path, title: str) -> None:
    """The test confusion matrix with class names; cells show counts, diagonal = correct."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.imshow(cm, cmap="Blues")
    ticks = np.arange(len(CLASS_NAMES))
    ax.set_xticks(ticks, CLASS_NAMES, rotation=45, ha="right")
    ax.set_yticks(ticks, CLASS_NAMES)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    threshold = cm.max() / 2
    for (i, j), count in np.ndenumerate(cm):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                color="white" if count > threshold else "black")
    _save(fig, path, plt)


def _save(fig, path: Path, plt) -> None:
    fig.tight_layout()
    with atomic.atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
