"""Runs inside the emulated Pi: predict test images with one exported model, save the probabilities.

    python -m fmnist_edge.benchmarks.pi.evaluate EXPORT_DIR IMAGES.npy OUT.npz FORMAT QUANT BACKEND

Imports only NumPy and the runtime, as a device install has nothing else. Prints one JSON line:
what was loaded and the load/predict seconds (emulated: ~500× slower than native, not a benchmark).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from fmnist_edge.runtime.classifier import Classifier


def main(argv: list[str] | None = None) -> int:
    """Entry point; arguments as in the module docstring."""
    export_dir, images, out, fmt, quantization, backend = (argv or sys.argv[1:])[:6]
    start = time.perf_counter()
    clf = Classifier.load(export_dir, format=fmt, quantization=quantization, backend=backend)
    loaded = time.perf_counter()
    probabilities = clf.predict(np.load(images))
    done = time.perf_counter()
    np.savez(out, probabilities=probabilities)
    print(json.dumps({**clf.describe(), "load_s": loaded - start, "predict_s": done - loaded}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
