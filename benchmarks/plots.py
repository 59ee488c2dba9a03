"""Report plots: accuracy vs latency (Pareto), latency distributions, per-class delta, confusion diff."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmnist_edge import plotting
from fmnist_edge.runtime.formats import Format, Quantization, quantization_label
from fmnist_edge.runtime.labels import CLASS_NAMES

from .report import model_name


def _first_thread(report: dict) -> list[dict]:
    first = report["environment"]["threads"][0]
    return [r for r in report["records"] if r["threads"] == first and "accuracy" in r]


def _compared(report: dict) -> list[dict]:
    """The first-thread records that had a reference (a bare file alone has none)."""
    return [r for r in _first_thread(report) if r.get("confusion_diff") is not None]


def pareto(report: dict, plt, path: Path) -> Path:
    """Accuracy vs batch-1 p50 latency; marker area ∝ file size; the Pareto front joined."""
    records = _first_thread(report)
    fig, ax = plt.subplots(figsize=(8, 5))
    for r in records:
        ax.scatter(r["latency_us"]["p50"], r["accuracy"] * 100, s=max(20, r["size_bytes"] / 4000), alpha=0.6)
        ax.annotate(f"{model_name(r)} ({r['size_bytes'] / 1024:.0f} KB)", (r["latency_us"]["p50"], r["accuracy"] * 100),
                    textcoords="offset points", xytext=(6, 4), fontsize=8)
    front, best = [], -1.0
    for r in sorted(records, key=lambda r: r["latency_us"]["p50"]):
        if r["accuracy"] > best:
            front.append(r)
            best = r["accuracy"]
    ax.plot([r["latency_us"]["p50"] for r in front], [r["accuracy"] * 100 for r in front], "k--", lw=1,
            label="Pareto front")
    ax.set(xlabel="batch-1 latency p50 (µs, lower is better)", ylabel="test accuracy %",
           title="Accuracy vs latency (marker size = file size)")
    ax.legend()
    ax.grid(alpha=0.3)
    return plotting.save(fig, plt, path)


def int8_models(report: dict, plt, path: Path) -> Path:
    """Every model's int8 files: test accuracy (95 % interval as an error bar) vs batch-1 p50."""
    records = [r for r in _first_thread(report) if r["quantization"] == Quantization.INT8]
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, fmt in enumerate((Format.TFLITE, Format.ONNX)):
        mine = [r for r in records if r["format"] == fmt]
        if not mine:
            continue
        x = [r["latency_us"]["p50"] for r in mine]
        y = [r["accuracy"] * 100 for r in mine]
        low = [(r["accuracy"] - (r.get("accuracy_ci") or [r["accuracy"]] * 2)[0]) * 100 for r in mine]
        high = [((r.get("accuracy_ci") or [r["accuracy"]] * 2)[1] - r["accuracy"]) * 100 for r in mine]
        ax.errorbar(x, y, yerr=[low, high], fmt="o", capsize=4, color=f"C{i}", label=f"{fmt.value} int8")
        for r, xi, yi in zip(mine, x, y):
            ax.annotate(f"{r.get('label') or 'model'} ({r['size_bytes'] / 1024:.0f} KB)", (xi, yi),
                        textcoords="offset points", xytext=(7, -3), fontsize=8)
    ax.set(xlabel="batch-1 latency p50 (µs, one thread, lower is better)", ylabel="test accuracy %",
           title=f"int8 models: accuracy (95 % interval) vs latency, {report['environment']['cpu']}")
    ax.legend()
    ax.grid(alpha=0.3)
    return plotting.save(fig, plt, path)


def distributions(report: dict, plt, path: Path) -> Path:
    """Batch-1 latency histograms of every model at the first thread count."""
    records = _first_thread(report)
    fig, ax = plt.subplots(figsize=(8, 5))
    for r in records:
        edges, counts = np.array(r["histogram"]["edges_us"]), np.array(r["histogram"]["counts"])
        ax.stairs(counts / max(counts.sum(), 1), edges, label=model_name(r))
    ax.set(xlabel="batch-1 latency (µs, clipped at p99.5)", ylabel="fraction of calls",
           title="Latency distributions")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return plotting.save(fig, plt, path)


def per_class(report: dict, plt, path: Path) -> Path:
    """Per-class accuracy change (points) of the quantized models against the reference."""
    records = [r for r in _compared(report) if r["quantization"] != Quantization.NONE]
    fig, ax = plt.subplots(figsize=(10, 5))
    width = 0.8 / max(len(records), 1)
    x = np.arange(len(CLASS_NAMES))
    for i, r in enumerate(records):
        ax.bar(x + i * width, r["per_class_delta_points"], width, label=model_name(r))
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x + width * (len(records) - 1) / 2, CLASS_NAMES, rotation=30, ha="right")
    ax.set(ylabel="accuracy change (points)", title=f"Per-class change vs {report['reference']}")
    ax.legend(fontsize=8)
    return plotting.save(fig, plt, path)


def confusion_diff(report: dict, plt, path: Path) -> Path:
    """Confusion-matrix difference (model − reference) of the int8 TFLite model (else the first)."""
    records = _compared(report)
    r = next((r for r in records if r["format"] == Format.TFLITE
              and r["quantization"] == Quantization.INT8), records[0])
    diff = np.array(r["confusion_diff"])
    fig, ax = plt.subplots(figsize=(8, 7))
    limit = max(1, int(np.abs(diff).max()))
    plotting.class_matrix(ax, diff, lambda n: (f"{n:+d}", "black") if n else None,
                          cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set(xlabel="predicted", ylabel="true", title=f"{model_name(r)} − reference: confusion difference")
    return plotting.save(fig, plt, path)


def save_plots(report: dict, out: Path) -> list[Path]:
    """Write the PNGs into ``out``: four, or two when no model had a reference to compare with."""
    plt = plotting.pyplot()
    written = [pareto(report, plt, out / "benchmark_pareto.png"),
               int8_models(report, plt, out / "benchmark_int8.png"),
               distributions(report, plt, out / "benchmark_latency.png")]
    if _compared(report):
        written += [per_class(report, plt, out / "benchmark_per_class.png"),
                    confusion_diff(report, plt, out / "benchmark_confusion_diff.png")]
    return written


def fleet_plot(fleet: dict, path: Path) -> Path:
    """Speed-up against float32 per variant, grouped by device; emulated devices get no bars."""
    plt = plotting.pyplot()
    names = sorted({f"{v['format']} {quantization_label(v['quantization'])}"
                    for d in fleet["devices"] for v in d["variants"]})
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(fleet["devices"]) * max(1, len(names)) / 3), 4.5))
    width, labelled = 0.8 / max(len(names), 1), set()
    for i, name in enumerate(names):
        for j, d in enumerate(fleet["devices"]):
            v = next((v for v in d["variants"]
                      if f"{v['format']} {quantization_label(v['quantization'])}" == name), None)
            if v is None or v["speedup_vs_float"] is None or d["emulated"]:
                continue  # an emulator's timings are not a device's speed: no bar
            ax.bar(j + i * width, v["speedup_vs_float"], width, color=f"C{i}",
                   label=None if name in labelled else name)
            labelled.add(name)
    ax.axhline(1, color="k", lw=0.8)
    ax.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(fleet["devices"]))],
                  [d["device"] + ("\n(emulated: no timings)" if d["emulated"] else "")
                   for d in fleet["devices"]])
    ax.set(ylabel="batch-1 speed-up vs float32", title="Speed-up against float32 per variant and device")
    ax.legend(fontsize=8)
    return plotting.save(fig, plt, path)
