"""``fmnist-runs``: a table of the run folders' metrics, and the spread between seeds.

Reads only ``artifacts/*/metrics.json`` (no TensorFlow), so it is instant. With
``--update-readme FILE`` it rewrites the block between ``<!-- runs:begin -->`` and
``<!-- runs:end -->`` so the README's figures always come from this command.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from fmnist_edge import readme
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
        runs.append({"run": path.parent.name, **metrics})
    if not runs:
        raise FmnistError(f"no run folders with metrics.json under {folder}; run fmnist-train first")
    return runs


def runs_table(runs: list[dict]) -> str:
    """A markdown table (one row per run) followed by the mean ± std per model kind."""
    per_run = markdown_table(
        ["run", "model", "seed", "epochs", "params", "MACs", "last-epoch train %", "train %", "val %",
         "test %", "test loss", "s"],
        [[r["run"], r["model"], r["seed"], r["epochs"], f"{r['params']:,}", f"{r.get('macs', 0):,}",
          _pct(r["final_epoch_train_accuracy"]), _pct(r["train_accuracy"]), _pct(r["val_accuracy"]),
          _pct(r["test_accuracy"]), f"{r['test_loss']:.4f}", f"{r['seconds']:.0f}"] for r in runs],
        "llrrrrrrrrrr")
    per_model = []
    for model in sorted({r["model"] for r in runs}):
        group = [r for r in runs if r["model"] == model]
        accs = [r["test_accuracy"] * 100 for r in group]
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        best = max(group, key=lambda r: r["val_accuracy"])  # selection never looks at the test set
        per_model.append([model, len(accs), f"{statistics.mean(accs):.2f} ± {std:.2f}",
                          f"{min(accs):.2f}", f"{max(accs):.2f}",
                          f"{best['run']} ({_pct(best['test_accuracy'])})"])
    return per_run + "\n\n" + markdown_table(
        ["model", "runs", "test % mean ± std", "min", "max", "best by validation (its test %)"],
        per_model, "lrrrrl")


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
