"""Where the batch-1 time goes: each part of a run's CNN as its own float32 and int8 TFLite model.

    python -m fmnist_edge.benchmarks.layers [RUN_DIR]      (needs TensorFlow: the [train] extra)

The model is cut into its convolution, its pooling and its dense head; each part is converted on
its own (int8 calibrated on real training images passed through the preceding parts) and timed
with a bare LiteRT loop at batch 1, 1 thread, interleaved rounds.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

from fmnist_edge.runtime import cliutil
from fmnist_edge.runtime.dataset import load_fashion_mnist
from fmnist_edge.runtime.formats import Quantization
from fmnist_edge.runtime.options import add_model_options
from fmnist_edge.runtime.preprocessing import to_model_input
from fmnist_edge.runtime.quiet import native_stderr_captured
from fmnist_edge.tables import markdown_table

from .timing import median_us


def parts(model) -> list[tuple[str, list]]:
    """Consecutive layer groups: each Conv2D, each pooling layer, then everything after them."""
    import keras

    groups, head = [], []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.MaxPooling2D)) and not head:
            groups.append((f"{type(layer).__name__} {layer.name}", [layer]))
        else:
            head.append(layer)
    return groups + ([("dense head (" + ", ".join(l.name for l in head) + ")", head)] if head else [])


def _tflite(layers: list, sample: np.ndarray, int8: bool) -> bytes:
    import keras

    # the exporter's own converter set-up, so each part is converted as fmnist-export would
    from fmnist_edge.export.tflite_export import tflite_converter

    inputs = keras.Input(sample.shape[1:])
    x = inputs
    for layer in layers:
        x = layer(x)
    with tempfile.TemporaryDirectory() as folder:
        keras.Model(inputs, x).export(folder, format="tf_saved_model", verbose=False)
        quantization = Quantization.INT8 if int8 else Quantization.NONE
        converter = tflite_converter(Path(folder), quantization, sample)
        with native_stderr_captured():
            return converter.convert()


def _timer(flatbuffer: bytes, shape: tuple):
    from ai_edge_litert.interpreter import Interpreter

    with native_stderr_captured():
        interpreter = Interpreter(model_content=flatbuffer, num_threads=1)
        index = interpreter.get_input_details()[0]["index"]
        interpreter.resize_tensor_input(index, [1, *shape])
        interpreter.allocate_tensors()
    x = np.zeros((1, *shape), interpreter.get_input_details()[0]["dtype"])

    def call():
        interpreter.set_tensor(index, x)
        interpreter.invoke()
    return lambda calls: median_us(call, calls)


def measure(run_dir: Path, rounds: int = 5, calls: int = 2000, amx: str | None = None) -> list[dict]:
    """Median µs per part, float32 and int8, under the AMX policy ``amx`` (see runtime.amx)."""
    from fmnist_edge.runtime.amx import apply_policy, command_policy

    apply_policy(command_policy(amx))  # before TensorFlow or LiteRT can ask for AMX
    import keras

    model = keras.saving.load_model(Path(run_dir) / "model.keras", compile=False)
    sample = to_model_input(load_fashion_mnist().x_train[:300])
    timers = []
    for name, layers in parts(model):
        shape = sample.shape[1:]
        timers.append((name, _timer(_tflite(layers, sample, False), shape),
                       _timer(_tflite(layers, sample, True), shape)))
        for layer in layers:
            sample = np.asarray(layer(sample))
    results = {name: ([], []) for name, _, _ in timers}
    for _ in range(rounds):
        for name, f32, i8 in timers:
            f32(calls // 10), i8(calls // 10)  # warm-up
            results[name][0].append(f32(calls))
            results[name][1].append(i8(calls))
    return [{"part": n, "float32_us": statistics.median(f), "int8_us": statistics.median(q)}
            for n, (f, q) in results.items()]


def table(rows: list[dict]) -> str:
    """Markdown table of :func:`measure` results: µs per part and the int8 speed-up."""
    return markdown_table(["part", "float32 µs", "int8 µs", "int8 speed-up"],
                          [[r["part"], f"{r['float32_us']:.1f}", f"{r['int8_us']:.1f}",
                            f"{r['float32_us'] / r['int8_us']:.2f}×"] for r in rows])


def main(argv: list[str] | None = None) -> int:
    """Print the per-part table for a run folder."""
    p = cliutil.ArgumentParser(prog="python -m fmnist_edge.benchmarks.layers",
                               description="Batch-1 time of each part of a CNN, float32 vs int8 TFLite.")
    p.add_argument("run_dir", nargs="?", default="artifacts/seed-cnn", help="run folder (default: %(default)s)")
    add_model_options(p, only=("amx",))
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    def action() -> int:
        from fmnist_edge.runtime.amx import status

        print(table(measure(Path(args.run_dir), amx=args.amx)))
        print(f"\nbatch 1, 1 thread, LiteRT (XNNPACK), median of 5 interleaved rounds; "
              f"AMX {status().policy}: {status().note}")
        return 0

    return cliutil.run(p.prog, action)


if __name__ == "__main__":
    sys.exit(main())
