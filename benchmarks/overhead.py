"""Batch-1 overhead of ``Classifier.predict`` against the bare engine loop on the same file.

    python -m fmnist_edge.benchmarks.overhead artifacts/seed-cnn/export

The bare loop is what a user would write by hand with the input already in the model's dtype:
LiteRT ``set_tensor / invoke / get_tensor``, ONNX Runtime ``session.run``. ``Classifier.predict``
additionally takes a uint8 image, prepares it and returns float probabilities. Both are timed in
interleaved rounds (so machine drift hits them equally) and compared by the median per call.

A second table shares one Classifier between 1, 2 and 8 threads, as a server's worker pool does:
its own design (a runner per concurrent call) against one runner behind a lock.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

from fmnist_edge.runtime import amx, cliutil
from fmnist_edge.runtime.classifier import Classifier
from fmnist_edge.runtime.dataset import load_fashion_mnist
from fmnist_edge.runtime.formats import Format, Quantization, quantization_label
from fmnist_edge.runtime.quiet import native_stderr_captured
from fmnist_edge.tables import markdown_table

from .cliargs import add_count, export_parser
from .timing import median_us

MODELS = tuple((f, q) for f in Format for q in (Quantization.INT8, Quantization.NONE))


def _bare_tflite(path: Path, prepared: np.ndarray, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    with native_stderr_captured():
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        index = interpreter.get_input_details()[0]["index"]
        interpreter.resize_tensor_input(index, [1, 28, 28, 1])
        interpreter.allocate_tensors()
    out = interpreter.get_output_details()[0]["index"]
    set_tensor, invoke, get_tensor = interpreter.set_tensor, interpreter.invoke, interpreter.get_tensor

    def call():
        set_tensor(index, prepared)
        invoke()
        return get_tensor(out)
    return call


def _bare_onnx(path: Path, prepared: np.ndarray, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feeds = {session.get_inputs()[0].name: prepared.astype(np.float32)}
    return lambda: session.run(None, feeds)


BARE = {Format.TFLITE: _bare_tflite, Format.ONNX: _bare_onnx}  # the loop a user writes by hand


def measure(export_dir: Path, threads: int = 1, calls: int = 3000, rounds: int = 11) -> list[dict]:
    """Median µs per call, bare vs Classifier, for each int8/float model in the export."""
    image = load_fashion_mnist().x_test[0]
    pairs = []
    for fmt, quant in MODELS:
        clf = Classifier.load(export_dir, format=fmt, quantization=quant, threads=threads,
                              amx=amx.command_policy())  # the bare loops run under it too
        clf.predict(image)  # leaves the prepared input in the classifier's buffer
        prepared = clf.runner.one.copy()
        bare = BARE[fmt](clf.path, prepared, threads)
        pairs.append((fmt, quant, bare, lambda c=clf: c.predict(image)))
    samples = {(f, q): ([], []) for f, q, _, _ in pairs}
    for _ in range(rounds):  # interleaved: every model and both paths in each round
        for fmt, quant, bare, wrapped in pairs:
            median_us(bare, calls // 10)
            median_us(wrapped, calls // 10)  # warm-up
            samples[(fmt, quant)][0].append(median_us(bare, calls))
            samples[(fmt, quant)][1].append(median_us(wrapped, calls))
    return [{"format": f, "quantization": q, "bare_us": statistics.median(b),
             "classifier_us": statistics.median(c), "ratio": statistics.median(c) / statistics.median(b),
             "ratio_spread": (min(ci / bi for bi, ci in zip(b, c)), max(ci / bi for bi, ci in zip(b, c)))}
            for (f, q), (b, c) in samples.items()]


def concurrent(export_dir: Path, threads=(1, 2, 8), calls: int = 4000, rounds: int = 3) -> list[dict]:
    """Batch-1 images/s of N threads sharing one Classifier: its runner per thread, or one lock.

    The lock is the other way to make a shared model safe (one runner, calls in turn); both are
    measured on the same model in interleaved rounds, ``calls`` predictions per thread.
    """
    image = load_fashion_mnist().x_test[0]
    rows = []
    for fmt in Format:
        clf = Classifier.load(export_dir, format=fmt, quantization=Quantization.INT8, threads=1,
                              amx=amx.command_policy())
        lock = threading.Lock()

        def locked(x, predict=clf.predict):
            with lock:
                return predict(x)
        for n in threads:
            ips = {"runners": [], "lock": []}
            for _ in range(rounds):
                for name, predict in (("runners", clf.predict), ("lock", locked)):
                    ips[name].append(_images_per_second(predict, image, n, calls))
            rows.append({"format": fmt, "threads": n, **{k: statistics.median(v) for k, v in ips.items()}})
    return rows


def _images_per_second(predict, image, threads: int, calls: int) -> float:
    start = threading.Barrier(threads + 1)

    def work():
        start.wait()
        for _ in range(calls):
            predict(image)
    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in pool:
        thread.join()
    return threads * calls / (time.perf_counter() - began)


def concurrent_table(rows: list[dict]) -> str:
    """Markdown table of :func:`concurrent` results."""
    table = markdown_table(["model", "threads", "runner per thread img/s", "one lock img/s",
                            "runners / lock"],
                           [[f"{r['format']} int8", r["threads"], f"{r['runners']:,.0f}",
                             f"{r['lock']:,.0f}", f"{r['runners'] / r['lock']:.2f}"] for r in rows])
    return table + "\n\nBatch 1, 1 engine thread per runner, median of 3 interleaved rounds."


def table(rows: list[dict], threads: int) -> str:
    """Markdown table of :func:`measure` results."""
    cells = [[f"{r['format']} {quantization_label(r['quantization'])}", f"{r['bare_us']:.1f}",
              f"{r['classifier_us']:.1f}",
              f"{r['ratio']:.2f} ({r['ratio_spread'][0]:.2f}–{r['ratio_spread'][1]:.2f})"] for r in rows]
    return (markdown_table(["model", "bare loop µs", "Classifier.predict µs",
                            "ratio (min–max over rounds)"], cells)
            + f"\n\nBatch 1, {threads} thread(s), median per call.")


def main(argv: list[str] | None = None) -> int:
    """Print the overhead table for an export folder."""
    p = export_parser("python -m fmnist_edge.benchmarks.overhead",
                      "Batch-1 overhead of Classifier.predict vs the bare loop.")
    add_count(p, "--threads", 1, "engine threads")
    add_count(p, "--calls", 3000, "timed calls per round")
    add_count(p, "--rounds", 11, "interleaved rounds")
    args = p.parse_args(argv)
    def action() -> int:
        export_dir = Path(args.export_dir)
        print(table(measure(export_dir, args.threads, args.calls, args.rounds), args.threads))
        print("\n" + concurrent_table(concurrent(export_dir)))
        return 0
    return cliutil.run(p.prog, action)


if __name__ == "__main__":
    sys.exit(main())
