"""``python -m fmnist_edge.benchmarks.engines EXPORT_DIR...``: the numpy engine against LiteRT.

Every TFLite file of each export folder runs on the 10,000 test images three ways: the numpy
engine, LiteRT's builtin kernels (the arithmetic TFLite defines) and LiteRT's default (XNNPACK).
The table says, per file, how far the numpy engine is from the builtin kernels (int8 output:
codes that differ; float output: the largest difference), on how many images its top-1 class
differs from each, and on how many LiteRT's two kernel sets differ from each other (XNNPACK
requantizes in float32: on the edge CNN's int8 file 27 of 10,000). ``make numpy-check`` runs it
on every trained model; it exits 1 when an int8 file's codes or a float32 file's probabilities
(beyond 1e-5) differ from the builtin kernels, or more than 0.1 % of top-1 classes do.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from fmnist_edge.runtime import cliutil
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.tables import markdown_table

PROG = "python -m fmnist_edge.benchmarks.engines"
FLOAT_TOLERANCE = 1e-5  # probabilities of float32 files
TOP1_SHARE = 0.001  # at most 0.1 % of top-1 classes may differ from LiteRT's builtin kernels


def model_input(runner, pixels: np.ndarray) -> np.ndarray:
    """uint8 images as the file takes them: int8 pixel − 128, or float pixel / 255."""
    x = pixels.reshape(-1, 28, 28, 1)
    if runner.input_dtype == np.int8:
        return (x.astype(np.int16) - 128).astype(np.int8)
    return (x / np.float32(255)).astype(np.float32)


def compare_file(path: Path, pixels: np.ndarray) -> dict:
    """The numpy engine against LiteRT's builtin kernels and its default on ``pixels``."""
    from fmnist_edge.runtime.backend_litert import reference_outputs
    from fmnist_edge.runtime.backend_numpy import NumpyRunner

    data = path.read_bytes()
    runner = NumpyRunner(data, str(path))
    x = model_input(runner, pixels)
    mine = runner.run_batch(x)
    builtin, default = reference_outputs(data, pixels, True), reference_outputs(data, pixels, False)
    row = {"file": path.name, "images": len(x), "int8_output": mine.dtype == np.int8,
           "top1_vs_builtin": int((mine.argmax(1) != builtin.argmax(1)).sum()),
           "top1_vs_default": int((mine.argmax(1) != default.argmax(1)).sum()),
           "top1_litert_builtin_vs_default": int((builtin.argmax(1) != default.argmax(1)).sum())}
    if row["int8_output"]:
        row["codes_vs_builtin"] = int((mine != builtin).sum())
    else:
        row["max_diff_vs_builtin"] = float(np.abs(mine.astype(np.float64) - builtin).max())
    return row


def failures(row: dict) -> list[str]:
    """What breaks the engine's promises in one row (see the module)."""
    found = []
    if row.get("codes_vs_builtin"):
        found.append(f"{row['codes_vs_builtin']} int8 codes differ from LiteRT's builtin kernels")
    if row["file"] == "model_float32.tflite" and row["max_diff_vs_builtin"] > FLOAT_TOLERANCE:
        found.append(f"probabilities differ by {row['max_diff_vs_builtin']:.1e}")
    if row["top1_vs_builtin"] > TOP1_SHARE * row["images"]:
        found.append(f"{row['top1_vs_builtin']} top-1 classes differ from LiteRT's builtin kernels")
    return [f"{row['run']}/{row['file']}: {f}" for f in found]


def table(rows: list[dict]) -> str:
    """The markdown table of the rows."""
    body = [[r["run"], r["file"], f"{r['codes_vs_builtin']:,} codes" if r["int8_output"]
             else f"max {r['max_diff_vs_builtin']:.1e}", f"{r['top1_vs_builtin']:,}",
             f"{r['top1_vs_default']:,}", f"{r['top1_litert_builtin_vs_default']:,}"] for r in rows]
    return markdown_table(["run", "file", "numpy vs LiteRT builtin", "top-1 differ",
                           "top-1 differ from LiteRT default", "LiteRT builtin vs default, top-1"],
                          body, "llrrrr") + \
        f"\n\nOver the first {rows[0]['images']:,} test images each." if rows else "no TFLite files"


def run(folders: list[Path], images: int | None, readme: str | None) -> int:
    """Compare every TFLite file of ``folders``; print (and write) the table; 1 on a failure."""
    from fmnist_edge import readme as blocks
    from fmnist_edge.runtime.dataset import load_fashion_mnist
    from fmnist_edge.runtime.system import machine_summary

    from .run import run_name

    if readme:
        blocks.check_block(readme, "numpy-engine")
    pixels = load_fashion_mnist().x_test[:images]
    rows = []
    for folder in folders:
        files = sorted(Path(folder).glob("*.tflite"))
        if not files:
            raise FmnistError(f"{folder}: no .tflite files here")
        rows += [{"run": run_name(Path(folder)), **compare_file(path, pixels)} for path in files]
    text = table(rows) + f" {machine_summary()}; `make numpy-check`."
    print(text)
    if readme:
        blocks.replace_block(readme, "numpy-engine", text)
    problems = [p for r in rows for p in failures(r)]
    for problem in problems:
        print(f"{PROG}: {problem}", file=sys.stderr)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when the numpy engine keeps its promises on every file, 1 when not."""
    p = cliutil.ArgumentParser(prog=PROG, description="The numpy engine against LiteRT's builtin "
                               "kernels and its default, on every TFLite file of export folders.")
    p.add_argument("export_dirs", nargs="+", metavar="EXPORT_DIR", help="export folders")
    p.add_argument("--images", type=cliutil.positive_int, default=None, metavar="N",
                   help="the first N test images (default: all 10,000)")
    p.add_argument("--update-readme", metavar="FILE", default=None,
                   help="write the table into FILE's numpy-engine block")
    args = p.parse_args(argv)
    return cliutil.run(PROG, lambda: run([Path(d) for d in args.export_dirs], args.images,
                                         args.update_readme))


if __name__ == "__main__":
    sys.exit(main())
