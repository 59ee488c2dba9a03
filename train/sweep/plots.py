"""One small plot per hyperparameter: validation accuracy against its value, the tutorial's marked."""

from __future__ import annotations

from pathlib import Path

from fmnist_edge import plotting

from . import space as sweep_space


def save_curves(report: dict, out: Path) -> dict[str, Path]:
    """Write ``sweep_<name>.png`` for every hyperparameter with points; name → path."""
    plt = plotting.pyplot()
    written = {}
    for name, curve in report["hyperparameters"].items():
        points = curve["points"]
        if not points:
            continue
        h = sweep_space.SPACE[name]
        fig, ax = plt.subplots(figsize=(4.2, 3.0))
        xs = [p["value"] for p in points] if h.numeric else list(range(len(points)))
        ys = [100 * p["val_accuracy"] for p in points]
        ax.plot(xs, ys, "o-", color="tab:blue")
        for x, p in zip(xs, points):
            if p["value"] == curve["tutorial_value"]:
                ax.plot([x], [100 * p["val_accuracy"]], "*", ms=14, color="tab:orange",
                        label=f"{curve['base_label']} ({p['value']})")
        if h.numeric and h.log or name in ("filters", "batch_size", "dense_units"):
            ax.set_xscale("log")
            ax.set_xticks(xs, [str(x) for x in xs])
            ax.minorticks_off()
        elif not h.numeric:
            ax.set_xticks(xs, [str(p["value"]) for p in points])
        ax.set(xlabel=name, ylabel="validation accuracy %", title=name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        path = out / f"sweep_{name}.png"
        plotting.save(fig, plt, path)
        written[name] = path
    return written
