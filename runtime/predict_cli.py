"""``fmnist-predict MODEL INPUT...``: classify image files, folders and .npy arrays, TensorFlow-free."""

from __future__ import annotations

import argparse
import sys

from . import cliutil
from .amx import Amx
from .choose import Choose
from .formats import Backend, Format, Quantization
from .images import Invert
from .predict import PROG, PredictConfig, predict


def add_model_options(p: argparse.ArgumentParser) -> None:
    """--backend, --format and --quantization: which model of a folder, on which engine.

    Shared with fmnist-serve, which loads a model the same way.
    """
    add = p.add_argument
    add("--backend", type=cliutil.enum_choice(Backend), default=Backend.AUTO,
        metavar=cliutil.enum_metavar(Backend),
        help="inference engine; auto = by file type, the first that imports (default: auto)")
    add("--format", type=cliutil.enum_choice(Format), default=None, metavar=cliutil.enum_metavar(Format),
        help="with an export folder: which format to load (default: TFLite if it can run here)")
    add("--quantization", type=cliutil.enum_choice(Quantization), default=Quantization.INT8,
        metavar=cliutil.enum_metavar(Quantization),
        help="with an export folder: which variant to load (default: int8)")


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
    add("--threads", type=cliutil.positive_int, default=None, metavar="N",
        help="inference threads (default: the engine's own choice)")
    add_model_options(p)
    add("--invert", type=cliutil.enum_choice(Invert), default=Invert.AUTO,
        metavar=cliutil.enum_metavar(Invert),
        help="negate images: auto = when the border is light (a dark garment on a light surface), "
        "yes, or no (default: auto)")
    add("--amx", type=cliutil.enum_choice(Amx), default=None, metavar=cliutil.enum_metavar(Amx),
        help="Intel AMX: deny (XNNPACK's AMX int8 kernels are slower for this model) or allow "
        "(default: $FMNIST_AMX, else deny)")
    add("--choose", type=cliutil.enum_choice(Choose), default=None, metavar=cliutil.enum_metavar(Choose),
        help="with an export folder: time every variant whose recorded accuracy drop is within "
        "--max-drop on this machine and load the fastest (cached; overrides --format/--quantization)")
    add("--max-drop", type=cliutil.non_negative_float, default=0.5, metavar="POINTS",
        help="with --choose: the largest accuracy drop a variant may have (default: %(default)s)")
    add("--no-verify", action="store_true",
        help="load the model even if its sha256 does not match the export manifest")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fmnist-predict``: 0 = all inputs classified, 2 = some input failed."""
    args = build_parser().parse_args(argv)
    config = PredictConfig(args.model, tuple(args.inputs), args.top_k, args.json, args.threads,
                           args.backend, args.format, args.quantization, args.invert, args.amx,
                           not args.no_verify, args.choose, args.max_drop)
    return cliutil.run(PROG, lambda: predict(config))


if __name__ == "__main__":
    sys.exit(main())
