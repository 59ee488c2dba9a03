"""``fmnist-predict MODEL INPUT...``: classify image files, folders and .npy arrays, TensorFlow-free."""

from __future__ import annotations

import argparse
import sys

from . import cliutil
from .options import add_model_options, decode_limits, model_options
from .predict import PROG, PredictConfig, predict


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``fmnist-predict``."""
    p = cliutil.ArgumentParser(prog=PROG, description="Classify clothing images with an exported "
                               "Fashion-MNIST model (no TensorFlow needed).")
    add = p.add_argument
    add("model", metavar="MODEL", help="a .tflite/.onnx file or an export folder with manifest.json")
    add("inputs", metavar="INPUT", nargs="+",
        help="image files (PNG, JPEG, …), folders of them, or .npy arrays of 28×28 images")
    add("--top-k", type=cliutil.positive_int, default=1, metavar="K",
        help="show the K most likely classes (default: 1)")
    add("--json", action="store_true", help="print one JSON object per image instead of text")
    add_model_options(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fmnist-predict``: 0 = all inputs classified, 2 = some input failed."""
    args = build_parser().parse_args(argv)
    config = PredictConfig(args.model, tuple(args.inputs), args.top_k, args.json,
                           model_options(args), args.invert, decode_limits(args))
    return cliutil.run(PROG, lambda: predict(config))


if __name__ == "__main__":
    sys.exit(main())
