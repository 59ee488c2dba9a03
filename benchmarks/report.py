"""``reports/benchmark.{json,md}``: the machine-readable record and the tables people read."""

from __future__ import annotations

from pathlib import Path

from fmnist_edge.intervals import SCORED, accuracy_text, drop_text, scored_cells
from fmnist_edge.runtime.formats import Format, Quantization, quantization_label
from fmnist_edge.runtime.labels import CLASS_NAMES
from fmnist_edge.reports import write_report
from fmnist_edge.runtime.system import cpu_label
from fmnist_edge.tables import markdown_table


def model_name(r: dict) -> str:
    prefix = f"{r['label']} " if r.get("label") else ""  # set when several runs sit side by side
    if r["format"] == "keras":
        return prefix + ("Keras model.predict" if r["quantization"] == "predict" else "Keras compiled call")
    engine = f" on {r['engine']}" if r.get("engine") else ""  # a second engine measured beside
    return f"{prefix}{r['format']} {quantization_label(r['quantization'])}{engine}"


def _f(value, fmt: str, suffix: str = "") -> str:
    return "–" if value is None else format(value, fmt) + suffix


def headline(report: dict) -> str:
    """The first table: one row per model at the first thread count, Keras baselines last."""
    first = report["environment"]["threads"][0]
    rows = []
    for r in report["records"]:
        if r["threads"] not in (first, None):
            continue
        cold = r.get("cold_start") or {}
        rows.append([model_name(r), _f(r["size_bytes"] and r["size_bytes"] / 1024, ".0f"),
                     *scored_cells(r),
                     f"{r['latency_us']['p50']:.1f}", _f(r.get("speedup_vs_float"), ".2f", "×"),
                     _f(r.get("speedup_vs_keras_call"), ".1f", "×"), f"{r['throughput_ips']:,.0f}",
                     _f(cold.get("ms"), ".0f"), _f((r.get("first_answer") or {}).get("ms"), ".0f"),
                     _f(cold.get("peak_rss_mb"), ".0f")])
    return markdown_table(["model", "size KB", *SCORED, "b1 p50 µs",
                           "speed-up vs float", "vs Keras call", "img/s", "cold start ms",
                           "first answer ms", "RSS MB"], rows)


def runs_table(report: dict) -> str:
    """With several runs: each run's float accuracy and its int8 TFLite model, side by side."""
    first = report["environment"]["threads"][0]
    rows = []
    for run in report.get("runs", []):
        r = next((r for r in report["records"] if r.get("run") == run and r["format"] == Format.TFLITE
                  and r["quantization"] == Quantization.INT8 and r["threads"] == first), None)
        if r is not None:
            rows.append([run, accuracy_text(r["reference_accuracy"], r.get("reference_accuracy_ci")),
                         f"{r['size_bytes'] / 1024:.0f}", accuracy_text(r["accuracy"], r.get("accuracy_ci")),
                         drop_text(r.get("paired"), r["drop_points"]),
                         f"{r['latency_us']['p50']:.1f}", f"{r['throughput_ips']:,.0f}"])
    return markdown_table(["run", "float accuracy % ±95 %", "int8 TFLite KB", "int8 accuracy % ±95 %",
                           "int8 drop pt [95 %]", "int8 b1 p50 µs", "int8 img/s"], rows)


def latency_table(report: dict) -> str:
    """Batch-1 latency distribution per model and thread count."""
    rows = [[model_name(r), r["threads"] or "TF default", f"{lat['p50']:.1f}", f"{lat['p90']:.1f}",
             f"{lat['p99']:.1f}", f"{lat['mean']:.1f} ± {lat['std']:.1f}", f"{lat['spread'] * 100:.1f} %",
             f"{r['throughput_ips']:,.0f}"] for r in report["records"] for lat in [r["latency_us"]]]
    return markdown_table(["model", "threads", "p50 µs", "p90 µs", "p99 µs", "mean ± std µs",
                           "round-median spread", f"img/s at batch {report['batch']}"], rows)


def per_class_table(report: dict) -> str:
    """Each quantized model's per-class accuracy (±95 %) and its change (points) from the reference."""
    first = report["environment"]["threads"][0]
    models = [r for r in report["records"] if r["threads"] == first and r["quantization"] != Quantization.NONE
              and r.get("per_class_delta_points") is not None]  # None: no reference to compare with

    def cell(r: dict, i: int) -> str:
        change = f"{r['per_class_delta_points'][i]:+.1f}"
        if not r.get("per_class"):  # a report written before per-class intervals
            return change
        return f"{accuracy_text(r['per_class'][i]['accuracy'], r['per_class'][i]['ci'])} ({change})"
    rows = [[label, *(cell(r, i) for r in models)] for i, label in enumerate(CLASS_NAMES)]
    return markdown_table(["class", *(model_name(r) for r in models)], rows)


def markdown(report: dict) -> str:
    """The whole human-readable report."""
    env = report["environment"]
    lines = [
        "# fmnist-edge benchmark", "", *([EMULATED_NOTE.format(report["device"]["emulated"]), ""]
                                          if (report.get("device") or {}).get("emulated") else []),
        f"{_plan(report)} run of "
        f"{', '.join(f'`{d}`' for d in report.get('export_dirs', [report['export_dir']]))}, "
        f"{report['created']}. Accuracy over the first {report.get('test_images', 10000):,} test "
        f"images{_data(report)}; drop and agreement against "
        f"each run's {report['reference']}; "
        f"batch-1 latency from {report['plan']['rounds']} interleaved rounds; speed-ups are ratios "
        "measured in this run.", "", INTERVALS_NOTE, "",
        headline(report), "", *(["## Runs side by side (int8 TFLite)", "", runs_table(report), ""]
                                 if len(report.get("runs", [])) > 1 else []),
        "## Latency", "", latency_table(report), "",
        "## Per-class accuracy", "", PER_CLASS_NOTE, "", per_class_table(report), "",
        "## Machine", "", *device_lines(report),
        f"- CPU: {env['cpu']} ({env['cores']} cores); features: {' '.join(env['cpu_features']) or 'none'}",
        f"- OS: {env['os']}; governor: {env['governor'] or 'not readable'}"
        + (f"; Pi throttling: {env['pi_throttled']}" if env["pi_throttled"] else ""),
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
        f"- Threads measured: {', '.join(map(str, env['threads']))}; git commit: {env['git_commit'] or 'unknown'}",
        f"- Intel AMX: {_amx(env)}",
        f"- Keras baseline: {report['keras']}",
    ]
    lines += [f"- Skipped: {s}" for s in report["skipped"]]
    return "\n".join(lines) + "\n"


PER_CLASS_NOTE = ("Each cell: the class's accuracy % ±95 % (a class has a tenth of the test images, 1,000 of "
                  "10,000: about ±1–2.5 points) and, in brackets, its change in points from the reference.")
INTERVALS_NOTE = ("± is half the 95 % Wilson interval of an accuracy or agreement; a drop's [interval] is "
                  "Newcombe's paired one (the two models scored on the same images), and \"within noise\" "
                  "means the exact McNemar test cannot tell the drop from zero (p ≥ 0.05): see "
                  "docs/benchmarks.md, \"Reading the intervals\".")
EMULATED_NOTE = ("**Emulated** ({}): accuracies are real, timings are the emulator's and say nothing "
                 "about a device's speed.")


def device_lines(report: dict) -> list[str]:
    """The device record as Markdown list lines (none for reports written before it existed)."""
    d = report.get("device")
    if not d:
        return []
    arm = d.get("arm") or {}
    core = arm.get("core") or (f"part {arm['part']}" if arm else None)

    def state(s: dict) -> str:
        parts = [f"{s['temperature_c']:.1f} °C" if s.get("temperature_c") is not None else None,
                 f"{s['frequency_mhz']} MHz" if s.get("frequency_mhz") else None,
                 f"throttled {s['throttled']}" if s.get("throttled") else None]
        return ", ".join(p for p in parts if p) or "not readable"
    return [f"- Device: {d['name']}" + (f", {d['model']}" if d.get("model") else "")
            + (f", {core}" if core else "") + f", {d['machine']}"
            + (f"; max {d['max_frequency_mhz']} MHz" if d.get("max_frequency_mhz") else "")
            + (f"; emulated ({d['emulated']})" if d.get("emulated") else ""),
            f"- SoC before the run: {state(d['before'])}; after: {state(d['after'])}",
            "- Export sources (sha256): " + ", ".join(f"{run} {(sha or 'none')[:12]}"
                                                     for run, sha in d["sources"].items())]


def _data(report: dict) -> str:
    """`` of <folder> (t10k-images… sha256 1234abcd…)``: where the device read its test images."""
    data = report.get("data")  # absent in reports written before it was recorded
    if not data:
        return ""
    hashes = ", ".join(f"{name} {sha[:12]}" for name, sha in sorted(data["sha256"].items()))
    return f" of `{data['folder']}` ({hashes})"


def _plan(report: dict) -> str:
    """Full, Quick or Tiny (reports written before plan_kind existed: by ``quick``)."""
    return report.get("plan_kind", "quick" if report["quick"] else "full").capitalize()


def _amx(env: dict) -> str:
    amx = env.get("amx")  # absent in reports written before the AMX policy existed
    if not amx:
        return "not recorded"
    return f"policy {amx['policy']}; {amx['note']}" if amx["cpu_amx_int8"] else "not on this CPU"


def readme_block(report: dict) -> str:
    """The headline table with the machine it ran on, for README.md."""
    env = report["environment"]
    runs = f"\n\n{runs_table(report)}" if len(report.get("runs", [])) > 1 else ""
    return (headline(report) + runs + f"\n\n{_plan(report)} run, {report['created']}, "
            f"threads {env['threads'][0]} (table) of {', '.join(map(str, env['threads']))}; "
            f"{cpu_label(env['cpu'], env.get('cpu_features') or ())}, {env['cores']} cores, {env['os']}; "
            f"AMX: {_amx(env)}. "
            "Full report: `reports/benchmark.md`.")


def write_reports(report: dict, out: Path) -> list[Path]:
    """Write benchmark.json and benchmark.md (atomically); return their paths."""
    return write_report(out, "benchmark", report, markdown(report))
