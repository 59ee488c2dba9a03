"""matplotlib for the training, sweep and benchmark plots: headless, written atomically.

Off-device only (matplotlib is in ``[train]``, never on a device), so outside the runtime package.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmnist_edge.runtime import atomic
from fmnist_edge.runtime.labels import CLASS_NAMES


def available() -> bool:
    """True when matplotlib is installed (a device with only ``[litert]`` or ``[onnx]`` has none)."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display on CI or a device)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, plt, path: Path) -> Path:
    """Lay out, write ``path`` as a 100-dpi PNG through a temp file, close the figure."""
    fig.tight_layout()
    with atomic.atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return path


def class_matrix(ax, cells: np.ndarray, text, **imshow) -> None:
    """A classes × classes matrix (true rows, predicted columns) with class-name ticks.

    ``text(count)`` gives each cell's label and colour, or None to leave the cell blank.
    """
    ax.imshow(cells, **imshow)
    ticks = np.arange(len(CLASS_NAMES))
    ax.set_xticks(ticks, CLASS_NAMES, rotation=45, ha="right")
    ax.set_yticks(ticks, CLASS_NAMES)
    for (i, j), count in np.ndenumerate(cells):
        label = text(count)
        if label:
            ax.text(j, i, label[0], ha="center", va="center", fontsize=8, color=label[1])
