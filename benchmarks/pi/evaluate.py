"""Runs inside the emulated Pi: predict test images with one exported model, save the probabilities.

    python -m fmnist_edge.benchmarks.pi.evaluate EXPORT_DIR IMAGES.npy OUT.npz FORMAT QUANT BACKEND

Imports only NumPy and the runtime, as a device install has nothing else. Prints one JSON line:
what was loaded and the load/predict seconds (emulated: ~500× slower than native, not a benchmark).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from fmnist_edge.runtime.classifier import Classifier
from fmnist_edge.runtime.formats import Backend, Format, Quantization


def main(argv: list[str] | None = None) -> int:
    """Entry point; arguments as in the module docstring."""
    p = argparse.ArgumentParser(prog="python -m fmnist_edge.benchmarks.pi.evaluate",
                                description="Predict test images in the emulated Pi (the host's "
                                "make pi-check runs this).")
    p.add_argument("export_dir", help="export folder with manifest.json")
    p.add_argument("images", help=".npy of uint8 test images")
    p.add_argument("out", help=".npz to write the probabilities into")
    p.add_argument("format", type=Format, help="model format to load")
    p.add_argument("quantization", type=Quantization, help="quantization to load")
    p.add_argument("backend", type=Backend, help="engine to run it on")
    args = p.parse_args(argv)
    print(json.dumps(evaluate(args.export_dir, args.images, args.out, args.format,
                              args.quantization, args.backend)))
    return 0


def evaluate(export_dir: str, images: str, out: str, fmt: Format, quantization: Quantization,
             backend: Backend) -> dict:
    """Load, predict, save the probabilities; what was loaded and the load/predict seconds."""
    start = time.perf_counter()
    clf = Classifier.load(export_dir, format=fmt, quantization=quantization, backend=backend)
    loaded = time.perf_counter()
    probabilities = clf.predict(np.load(images))
    done = time.perf_counter()
    np.savez(out, probabilities=probabilities)
    return {**clf.describe(), "load_s": loaded - start, "predict_s": done - loaded}


if __name__ == "__main__":
    sys.exit(main())
