"""``python -m fmnist_edge.benchmarks.peers``: our CNNs beside Fashion-MNIST's own benchmark table.

The peers' figures are quoted from the "Benchmark" table of zalandoresearch/fashion-mnist's
README: results submitted by their authors, which the maintainers say they have not tested, one
run each as far as the table tells. Ours are measured here: each model's test accuracy over the
seeds its run folders hold (``NAME``, ``NAME-seed1``, …: mean ± standard deviation), its
parameters, and its int8 TFLite file's size and batch-1 p50 from a ``fmnist-bench`` report.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from fmnist_edge.intervals import seeds
from fmnist_edge.readme import check_block, replace_block
from fmnist_edge.runtime import cliutil
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.system import cpu_label
from fmnist_edge.tables import markdown_table

PROG = "python -m fmnist_edge.benchmarks.peers"
SOURCE = "zalandoresearch/fashion-mnist README, \"Benchmark\" (submitted, untested by its maintainers)"
OURS = (("edge-cnn", "edge CNN (ours)"), ("seed-cnn", "tutorial CNN (ours)"))


@dataclass(frozen=True)
class Peer:
    """One row of the submitted table, as it stands there."""

    classifier: str
    preprocessing: str
    accuracy: float
    submitter: str


# The small models of that table (under ~1 M parameters, or ones the issue named), best last.
PEERS = (
    Peer("2 Conv <100K parameters", "none", 0.925, "@hardmaru"),
    Peer("5 Conv+BN+pooling", "none", 0.931, "@Noumanmufc1"),
    Peer("2 Conv+3 FC ~500K parameters", "augmentation, batch normalization", 0.934, "@cmasch"),
    Peer("2 Conv+2 FC", "random horizontal flips", 0.939, "@ashmeet13"),
    Peer("CNN with optional shortcuts, dense-like connectivity",
         "standardization, augmentation, random erasing", 0.947, "@kennivich"),
    Peer("MobileNet", "augmentation (horizontal flips)", 0.950, "@苏剑林"),
    Peer("DenseNet-BC 768K params", "random crops, horizontal flips", 0.954, "@ajbrock"),
)


def family(artifacts: Path, name: str) -> list[dict]:
    """The metrics.json of ``name`` and its ``name-seedN`` siblings that finished training."""
    folders = [artifacts / name, *sorted(artifacts.glob(f"{name}-seed*"))]
    return [json.loads((f / "metrics.json").read_text()) for f in folders if (f / "metrics.json").is_file()]


def _augmentation(run_dir: Path) -> str:
    """What the run's training did to its images, in the table's words (config.json)."""
    try:
        config = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError):
        return "–"
    words = [w for key, w in (("flip", "horizontal flips"), ("augment", "±1 px shifts"),
                              ("erasing", "random erasing")) if config.get(key)]
    if config.get("teacher") and config.get("teacher_weight"):
        words.append(f"distilled from {len(config['teacher'])} CNNs")
    return ", ".join(words) or "none"


def int8_tflite(bench: dict, name: str) -> dict | None:
    """The bench record of ``name``'s int8 TFLite file at the report's first thread count."""
    first = bench["environment"]["threads"][0]
    return next((r for r in bench["records"] if r.get("label", r.get("run")) == name
                 and r["format"] == "tflite" and r["quantization"] == "int8" and r["threads"] == first), None)


def table(artifacts: Path, bench: dict) -> str:
    """Markdown: the peers as submitted, then ours as measured, with a line saying which is which."""
    rows = [[p.classifier, p.preprocessing, f"{p.accuracy * 100:.1f}", "–", "–", "–", p.submitter]
            for p in PEERS]
    for name, label in OURS:
        runs = family(artifacts, name)
        if not runs:
            continue
        s = seeds(r["test_accuracy"] for r in runs)
        record = int8_tflite(bench, name) or {}
        rows.append([f"**{label}**", _augmentation(artifacts / name), f"**{s.mean * 100:.2f} ± {s.std * 100:.2f}** "
                     f"({len(runs)} seed{'s' if len(runs) > 1 else ''})", f"{runs[0]['params']:,}",
                     f"{record['size_bytes'] / 1024:.0f}" if record else "–",
                     f"{record['latency_us']['p50']:.1f}" if record else "–", "measured here"])
    env = bench["environment"]
    return (markdown_table(["model", "preprocessing, augmentation", "test accuracy %", "params", "int8 TFLite KB",
                            "int8 b1 p50 µs", "by"], rows, "llrrrrl")
            + f"\n\nAbove the line of ours: {SOURCE}, one figure each. Ours: mean ± standard "
            f"deviation over the seeds of `make run`; KB and µs from `fmnist-bench` ({bench['created']}, "
            f"{cpu_label(env['cpu'], env.get('cpu_features') or ())}, {env['cores']} cores, one thread).")


def _plot_folder(png: Path) -> None:
    """Create the plot's folder, or refuse in one line if it cannot hold the file."""
    try:
        png.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FmnistError(f"{png}: cannot create its folder ({exc.strerror or exc})") from None
    if not os.access(png.parent, os.W_OK):
        raise FmnistError(f"{png}: its folder is not writable")


def main(argv: list[str] | None = None) -> int:
    """Print the table (and write it into README.md's ``peers`` block when asked)."""
    p = cliutil.ArgumentParser(prog=PROG, description="Our CNNs beside Fashion-MNIST's benchmark table.")
    p.add_argument("artifacts", nargs="?", default="artifacts", help="folder of run folders (default: %(default)s)")
    p.add_argument("--bench", default="reports/benchmark.json", metavar="JSON",
                   help="fmnist-bench report with both CNNs (default: %(default)s, as make bench writes it)")
    p.add_argument("--update-readme", metavar="FILE", default=None,
                   help="also write the table into FILE between <!-- peers:begin/end --> markers")
    p.add_argument("--plot", metavar="PNG", default=None,
                   help="also draw every int8 model of the report, test accuracy against batch-1 p50 "
                        "(fmnist-bench's own int8 plot), into PNG (make peers UPDATE_DOCS=1: docs/img/)")
    args = p.parse_args(argv)

    def action() -> int:
        if args.update_readme:
            check_block(args.update_readme, "peers")
        if args.plot:  # refused before anything is printed or written
            _plot_folder(Path(args.plot))
        try:
            bench = json.loads(Path(args.bench).read_text())
        except (OSError, ValueError) as exc:
            raise FmnistError(f"{args.bench}: not a fmnist-bench report ({exc})") from None
        text = table(Path(args.artifacts), bench)
        print(text)
        if args.update_readme:
            replace_block(args.update_readme, "peers", text)
        if args.plot:
            from fmnist_edge import plotting
            from fmnist_edge.benchmarks.plots import int8_models

            print(f"plot: {int8_models(bench, plotting.pyplot(), Path(args.plot))}")
        return 0

    return cliutil.run(PROG, action)


if __name__ == "__main__":
    sys.exit(main())
