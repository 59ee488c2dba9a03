"""``fmnist-export``: Keras run → TFLite / ONNX files, quantized, self-checked, with a manifest."""

from __future__ import annotations

import argparse
import os
import sys

from fmnist_edge.progress import Progress
from fmnist_edge.runtime import cliutil

from fmnist_edge.runtime.formats import supported

from .config import (CalibrationMethod, ExportConfig, Format, OnnxActivations, OnnxWeights,
                     Quantization)

PROG = "fmnist-export"
ALL = "all"


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``fmnist-export``."""
    p = cliutil.ArgumentParser(prog=PROG, description="Export a trained model to TFLite and ONNX, "
                               "quantize it, check every file on the 10k test set, write manifest.json.",
                               epilog="exit status: 0 = every file written and checked; 1 = a "
                               "self-check or a converter failed; 2 = bad input, or a variant asked "
                               "for alone that this model cannot have; 3 = written and checked, but "
                               "variants of --quantize all this model cannot have were skipped "
                               "(each named on stderr, in manifest.json and report.md)")
    add = p.add_argument
    add("model", nargs="?", default=None, metavar="RUN_DIR_OR_MODEL",
        help="a run folder (uses its model.keras) or a .keras file (default: artifacts/seed-cnn)")
    add("--format", choices=[f.value for f in Format] + [ALL], default=ALL,
        help="file format(s) to write (default: all)")
    add("--quantize", choices=[q.value for q in Quantization] + [ALL], default=ALL,
        help="none = float32; float16 = half-size weights; dynamic = int8 weights only; "
        "int8 = int8 weights and activations, calibrated; mixed = int8 but the first conv in "
        "float32 (TFLite); auto = int8 with the fewest layers kept float32 that hold the "
        "validation drop within --max-drop (needs a run folder's validation split); "
        "all = every one the format supports and the model can have: mixed only with a "
        "convolution, auto only with a validation split (default: all)")
    add("--out", metavar="DIR", default=None,
        help="output folder (default: RUN_DIR/export); it is replaced as a whole")
    add("--calibration-samples", type=cliutil.positive_int, default=500, metavar="N",
        help="training images (stratified, never test images) used to calibrate int8 ranges "
        "(default: %(default)s)")
    add("--calibration", **cliutil.choice(CalibrationMethod), default=CalibrationMethod.MINMAX,
        help="how int8 activation ranges are set (ONNX; TFLite is always min/max); auto = score "
        "every method x 100/500/2000 images x per-channel on/off on the validation split and "
        "write the best (default: minmax)")
    add("--onnx-activations", **cliutil.choice(OnnxActivations), default=OnnxActivations.UINT8,
        help="ONNX int8 activation type; uint8 (U8S8) measured faster on x86 (default: uint8)")
    add("--onnx-weights", **cliutil.choice(OnnxWeights), default=OnnxWeights.INT7,
        help="ONNX int8 weight type: int7 = int8 in 7 bits, exact on every CPU (x86 without VNNI "
        "overflows full-range weights); int8 = full range, exact on ARM and on x86 with VNNI; "
        "uint8 = U8U8, exact everywhere but slower on x86 with VNNI (default: int7)")
    add("--max-drop", type=cliutil.non_negative_float, default=0.5, metavar="POINTS",
        help="accuracy budget in points against Keras: --quantize auto keeps layers float until "
        "the validation drop is within it; any artifact whose test drop exceeds it fails the "
        "self-check (exit 1) (default: %(default)s)")
    add("--no-check", action="store_true",
        help="skip the 10k-image self-check (faster; the manifest then has no accuracy)")
    add("--data", metavar="DIR", default=None,
        help="Fashion-MNIST folder (default: $FMNIST_DATA, then the Debian package location)")
    add("--progress", **cliutil.choice(Progress), default=Progress.AUTO,
        help="progress on stderr: a live bar, one line per model, or none; on/off still mean "
        "bar/none (default: auto = a bar on a terminal, else lines)")
    add("--update-readme", metavar="FILE", default=None,
        help="also write the artifacts table into FILE between <!-- exports:begin/end --> markers")
    return p


def config_from_args(args: argparse.Namespace) -> ExportConfig:
    """The ExportConfig the options describe; an explicit unsupported pair is a usage error."""
    formats = tuple(Format) if args.format == ALL else (Format(args.format),)
    quants = tuple(Quantization) if args.quantize == ALL else (Quantization(args.quantize),)
    config = ExportConfig(formats=formats, quantizations=quants,
                          calibration_samples=args.calibration_samples,
                          calibration=args.calibration,
                          onnx_activations=args.onnx_activations,
                          onnx_weights=args.onnx_weights, max_drop=args.max_drop,
                          check=not args.no_check)
    if config.onnx_weights is OnnxWeights.UINT8 and config.onnx_activations is OnnxActivations.INT8:
        raise cliutil.UsageError("--onnx-weights uint8 needs --onnx-activations uint8 (ONNX "
                                 "Runtime quantizes no int8 activations with uint8 weights)")
    if not config.jobs():
        supported_here = ", ".join(q.value for q in supported(formats[0]))
        raise cliutil.UsageError(f"--format {args.format} does not support --quantize "
                                 f"{args.quantize} (supported: {supported_here})")
    return config


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fmnist-export``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except cliutil.UsageError as exc:
        parser.error(str(exc))

    def action() -> int:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TF's C++ info banners
        from .pipeline import export_and_report

        return export_and_report(args.model, config, args.out, args.data, args.progress,
                                 args.update_readme).exit_code

    return cliutil.run(PROG, action)


if __name__ == "__main__":
    sys.exit(main())
