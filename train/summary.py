"""``fmnist-runs``: a table of the run folders' metrics, and the spread between seeds.

Reads only ``artifacts/*/metrics.json`` (no TensorFlow), so it is instant. With
``--update-readme FILE`` it rewrites the block between ``<!-- runs:begin -->`` and
``<!-- runs:end -->`` so the README's figures always come from this command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fmnist_edge import readme
from fmnist_edge.intervals import accuracy_text, seeds
from fmnist_edge.metrics import mean_accuracy_ci
from fmnist_edge.runtime import cliutil
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.tables import markdown_table

PROG = "fmnist-runs"


def load_runs(folder: Path) -> list[dict]:
    """Every run's metrics.json under ``folder``, with its run name, sorted by name."""
    runs = []
    for path in sorted(Path(folder).glob("*/metrics.json")):
        try:
            metrics = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise FmnistError(f"{path}: unreadable metrics ({exc})") from None
        config = path.parent / "config.json"
        try:
            recipe = json.loads(config.read_text()) if config.is_file() else {}
        except (OSError, ValueError) as exc:
            raise FmnistError(f"{config}: unreadable config ({exc})") from None
        runs.append({"run": path.parent.name, **metrics, "recipe": _recipe(metrics["model"], recipe)})
    if not runs:
        raise FmnistError(f"no run folders with metrics.json under {folder}; run fmnist-train first")
    return runs


# The tutorial's CNN (Conv2D 32 → MaxPool → Dense 100, adam, 15 epochs, batch 32) on the test set,
# as its text reports it: the figure our seed-cnn reproduces, judged against the seeds' spread.
TUTORIAL_TEST_ACCURACY = 0.9069


def runs_table(runs: list[dict]) -> str:
    """A markdown table (one row per run) followed by each model's seeds: mean, std, t interval."""
    per_run = markdown_table(
        ["run", "model", "seed", "epochs", "params", "MACs", "last-epoch train %", "train %", "val %",
         "test % ±95 %", "test loss", "s"],
        [[r["run"], r["model"], r["seed"], r["epochs"], f"{r['params']:,}", f"{r.get('macs', 0):,}",
          _pct(r["final_epoch_train_accuracy"]), _pct(r["train_accuracy"]), _pct(r["val_accuracy"]),
          accuracy_text(r["test_accuracy"], _test_ci(r)), f"{r['test_loss']:.4f}",
          f"{r['seconds']:.0f}"] for r in runs],
        "llrrrrrrrrrr")
    per_model = [_seed_row(recipe, [r for r in runs if _recipe_of(r) == recipe])
                 for recipe in sorted({_recipe_of(r) for r in runs})]
    return per_run + "\n\n" + markdown_table(
        ["model", "runs", "test % mean ± std", "95 % interval of the mean (t)", "min", "max",
         f"tutorial's {TUTORIAL_TEST_ACCURACY * 100:.2f} %", "best by validation (its test %)"],
        per_model, "lrrrrrll") + "\n\n" + SEEDS_NOTE


SEEDS_NOTE = ("Mean ± the seeds' sample standard deviation; the interval is Student's t interval of the "
              "mean (n − 1 degrees of freedom: wide for three seeds). \"inside\" / \"outside\": whether "
              "the tutorial's test accuracy lies within the seeds' min–max range (with one seed, within "
              "its test accuracy's 95 % Wilson interval).")


def _recipe(model: str, config: dict) -> str:
    """The model and how its config differs from the model's own recipe (the seed aside): runs
    of one recipe are seeds of each other; make quant-demo's ELU CNN is not a tutorial CNN seed."""
    from .config import ModelKind, TrainConfig

    try:
        default = TrainConfig(model=ModelKind(model)).resolved().to_json()
    except ValueError:
        return model
    changed = [f"{k} {v}" for k, v in config.items() if k in default and k != "seed" and v != default[k]]
    return f"{model} ({', '.join(changed)})" if changed else model


def _recipe_of(run: dict) -> str:
    return run.get("recipe") or run["model"]


def _seed_row(model: str, group: list[dict]) -> list:
    summary = seeds(r["test_accuracy"] for r in group)
    low, high = min(summary.values), max(summary.values)
    best = max(group, key=lambda r: r["val_accuracy"])  # selection never looks at the test set
    inside = _tutorial(group, low, high)
    return [model, len(group), f"{summary.mean * 100:.2f} ± {summary.std * 100:.2f}",
            # an accuracy's mean lies in 0–100 %: two or three seeds' t interval can pass the ends
            f"{max(summary.interval.low, 0) * 100:.2f}–{min(summary.interval.high, 1) * 100:.2f}"
            if summary.interval else "–",
            f"{low * 100:.2f}", f"{high * 100:.2f}", inside,
            f"{best['run']} ({_pct(best['test_accuracy'])})"]


def _tutorial(group: list[dict], low: float, high: float) -> str:
    """Whether the tutorial's figure lies in the seeds' range (one seed: in its test interval)."""
    if len(group) > 1:
        return f"{'inside' if low <= TUTORIAL_TEST_ACCURACY <= high else 'outside'} the seeds' range"
    ci = _test_ci(group[0])
    if not ci:
        return "– (one seed)"
    return f"{'inside' if ci[0] <= TUTORIAL_TEST_ACCURACY <= ci[1] else 'outside'} its 95 % interval (one seed)"


def _test_ci(run: dict) -> list[float] | None:
    """The run's test interval; for a run trained before intervals were written, from its accuracy
    and test count."""
    if run.get("test_accuracy_ci"):
        return run["test_accuracy_ci"]
    return mean_accuracy_ci(run["test_accuracy"], (run.get("dataset") or {}).get("test"))


def _pct(x: float) -> str:
    return f"{x * 100:.2f}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fmnist-runs``."""
    p = cliutil.ArgumentParser(prog=PROG, description="Tabulate the metrics of training runs.")
    p.add_argument("folder", nargs="?", default="artifacts",
                   help="parent folder of run folders (default: %(default)s)")
    p.add_argument("--update-readme", metavar="FILE", default=None,
                   help="also write the table into FILE between the runs:begin/end markers")
    args = p.parse_args(argv)

    def action() -> int:
        table = runs_table(load_runs(Path(args.folder)))
        print(table)
        if args.update_readme:
            readme.replace_block(args.update_readme, "runs", table)
        return 0

    return cliutil.run(PROG, action)


if __name__ == "__main__":
    sys.exit(main())
