"""Training plots: learning curves and the test confusion matrix (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmnist_edge import plotting


def save_curves(history: dict, path: Path, title: str) -> None:
    """Loss and accuracy per epoch, training vs validation, side by side."""
    plt = plotting.pyplot()
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
    plotting.save(fig, plt, path)


def save_confusion(cm: np.ndarray, path: Path, title: str) -> None:
    """The test confusion matrix with class names; cells show counts, diagonal = correct."""
    plt = plotting.pyplot()
    fig, ax = plt.subplots(figsize=(8, 7))
    threshold = cm.max() / 2
    plotting.class_matrix(ax, cm, lambda n: (str(n), "white" if n > threshold else "black"),
                          cmap="Blues")
    ax.set(xlabel="predicted", ylabel="true", title=title)
    plotting.save(fig, plt, path)
