"""reports/pi.json and reports/pi.md: what the emulated Raspberry Pi ran, and how it compared."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path

from fmnist_edge.intervals import accuracy_text
from fmnist_edge.reports import write_report
from fmnist_edge.tables import markdown_table

from . import wheels as pi_wheels
from ..environment import git_commit

SCHEMA = 1


def build(config, systems: dict, results: dict, seconds: dict, skipped: list[str]) -> dict:
    """The report: per system its root, CPUs and installs; per cell its results; timings."""
    return {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "export_dirs": [str(d) for d in config.export_dirs], "images": config.images,
        "max_mismatch_pct": config.max_mismatch_pct,
        "cells": [[system.name, cpu.qemu_cpu] for system, cpu in config.cells],
        "systems": systems,
        "wheelhouse": str(config.wheelhouse) if config.wheelhouse else "resolved with pip download",
        **{key: results[key] for key in ("records", "predict", "doctor", "bench", "serve")},
        "skipped": skipped, "seconds": seconds, "git_commit": git_commit(),
    }


def system_facts(system, rootfs, qemu: str, sites: dict, cpus) -> dict:
    """What a system's guest was: its root, Python, glibc, qemu, CPUs and what each install holds."""
    return {"title": system.title, "root": f"Debian {system.release} {system.arch.value} from the host's "
            "apt sources (the base of Raspberry Pi OS)", "python": rootfs.python_version,
            "glibc": rootfs.glibc, "packages": len(rootfs.debs), "qemu": _qemu_version(qemu),
            "debian_versions": pi_wheels.debian_versions(rootfs.path / "root") if system.debian_numpy else {},
            "cpus": {c.qemu_cpu: {"board": c.board, "features": c.features, "note": c.note} for c in cpus},
            "installs": {name: {"requirement": next(e.requirement for e in system.envs if e.name == name),
                                "versions": pi_wheels.installed_versions(site)}
                         for name, site in sites.items()}}


def _qemu_version(qemu: str) -> str:
    out = subprocess.run([qemu, "--version"], capture_output=True, text=True)
    return (out.stdout.splitlines() or ["unknown"])[0]


def _where(item: dict) -> str:
    return f"{item.get('system', '?')} {item['cpu']}"


def failures(report: dict) -> list[str]:
    """What broke the check: top-1 mismatches against x86 above the threshold, any label change
    from fmnist-predict or fmnist-serve, a guest benchmark not marked emulated or off x86's accuracy."""
    found = []
    limit = report["max_mismatch_pct"]
    for r in report["records"]:
        pct = 100 * r["mismatches"] / max(1, r["images"])
        if r["backend"] == "numpy" and r["mismatches"]:  # the same NumPy code as here: no rounding excuse
            found.append(f"{r.get('run', '')} {r['format']} {r['quantization']} on numpy ({_where(r)}): "
                         f"{r['mismatches']} of {r['images']} predictions differ from this machine's numpy engine")
        elif pct > limit:
            found.append(f"{r.get('run', '')} {r['format']} {r['quantization']} on {r['backend']} "
                         f"({_where(r)}): {r['mismatches']} of {r['images']} predictions differ from x86 "
                         f"({pct:.2f} % > {limit} %)".lstrip())
    for p in report["predict"]:
        if p["mismatches"]:
            found.append(f"fmnist-predict ({p['environment']}, {_where(p)}): {p['mismatches']} of "
                         f"{p['files']} labels differ from x86")
    for v in report.get("serve", []):
        if v["mismatches"] or v["healthz"] != 200 or v["bad_input_status"] != 400:
            found.append(f"fmnist-serve ({_where(v)}): {v['mismatches']} of {v['files']} labels differ "
                         f"from x86; /healthz {v['healthz']}, a non-image {v['bad_input_status']}")
        if v["exit_code"] != 0 or not v["metrics_counted"]:
            found.append(f"fmnist-serve ({_where(v)}): exit {v['exit_code']} after SIGTERM; "
                         f"/metrics counted the requests: {v['metrics_counted']}")
    for b in report.get("bench", []):
        if not b["emulated"]:
            found.append(f"fmnist-bench ({_where(b)}): the report does not say it was emulated")
        found += [f"fmnist-bench ({_where(b)}): {m['model']} on {m.get('backend')} accuracy "
                  f"{m['accuracy']:.4f}, x86 {m['x86_accuracy']}" for m in b["models"]
                  if not _same_accuracy(m, limit)]
    return found


def _same_accuracy(model: dict, limit_pct: float) -> bool:
    """The numpy engine's accuracy equals x86's numpy engine's; another engine's may differ by the
    predictions its kernels may round differently (tflite-runtime 2.14 on the edge CNN's int8
    file: 1 image of 500 against x86 LiteRT, 0.2 points, the same image evaluate counts)."""
    if model["x86_accuracy"] is None:
        return False
    if model.get("backend") == "numpy":
        return model["accuracy"] == model["x86_accuracy"]
    return abs(model["accuracy"] - model["x86_accuracy"]) <= limit_pct / 100 + 1e-12


def markdown(report: dict) -> str:
    """The human-readable report."""
    lines = ["# fmnist-edge on emulated Raspberry Pis", "", systems_table(report), "", NOTE, "",
             matrix_table(report), "", "Every model on every engine, image by image against this machine:",
             "", table(report), "", "`fmnist-predict --json` on 4 PNG files and a 1200×900 phone JPEG "
             "(labels compared with this machine's):", ""]
    for p in report["predict"]:
        lines.append(f"- {_where(p)}, {p['environment']} install, --backend {p['backend']}: {p['files']} "
                     f"files, {p['mismatches']} differ ({', '.join(p['labels'])})")
    lines += ["", "`fmnist-serve` in the guest, the same files POSTed to it from this machine:", ""]
    for v in report.get("serve", []):
        lines.append(f"- {_where(v)}: {v['files']} files, {v['mismatches']} differ; a non-image got "
                     f"{v['bad_input_status']}; /metrics counted them: {v['metrics_counted']}; "
                     f"SIGTERM → exit {v['exit_code']}")
    lines += ["", "The device benchmark (`python -m fmnist_edge.benchmarks.on_device`, the tiny plan) in "
              "the guest, as a device runs it (emulated: its accuracies are compared, its timings mean nothing):", ""]
    for b in report.get("bench", []):
        same = sum(m["accuracy"] == m["x86_accuracy"] for m in b["models"])
        engines = ", ".join(sorted({str(m.get("backend")) for m in b["models"]}))
        lines.append(f"- {_where(b)}: {len(b['models'])} models on {engines}, {same} with the x86 accuracy "
                     f"on the first {b['images']} test images; report `{b['report']}`")
    lines += ["", _seconds(report)]
    lines += [f"- Skipped: {s}" for s in report["skipped"]]
    problems = failures(report)
    lines += ["", "Result: " + ("FAILED: " + "; ".join(problems) if problems else "passed"), ""]
    return "\n".join(lines)


NOTE = ("Emulated compute is about 500× slower than native: seconds are for orientation, never "
        "speed. qemu-arm has no Cortex-A53 or A72 model: the 32-bit Pi 3 runs as cortex-a7 (the "
        "ARMv7 subset of its 32-bit mode: what passes there runs on the real core), the 32-bit "
        "Pi 4 as max (an ARMv8 AArch32 superset).")


def systems_table(report: dict) -> str:
    """One row per system: its Python, glibc, qemu, and what each install holds."""
    rows = []
    for name, s in report["systems"].items():
        installs = "; ".join(f"{i}: " + ", ".join(f"{k} {v}" for k, v in facts["versions"].items()
                                                  if k != "pip")
                             for i, facts in s["installs"].items())
        debian = ", ".join(f"{k} {v}" for k, v in s.get("debian_versions", {}).items())
        rows.append([s["title"], f"{s['python']} / {s['glibc']}", installs + (f"; from Debian: {debian}"
                     if debian else ""), s["qemu"].replace("qemu-", "").split(" (")[0]])
    return markdown_table(["system", "Python / glibc", "installed by the guest's pip", "qemu"], rows, "llll")


def matrix_table(report: dict) -> str:
    """One row per system × Pi × engine: the models checked there and how many predictions differ."""
    cells: dict = {}
    for r in report["records"]:
        key = (r["system"], r["cpu"], r["backend"])
        cells.setdefault(key, []).append(r)
    predicts = {(p["system"], p["cpu"], p["environment"]): p for p in report["predict"]}
    rows = []
    for (system, cpu, backend), records in cells.items():
        facts = report["systems"][system]
        predict = predicts.get((system, cpu, records[0]["environment"]))
        rows.append([facts["title"], f"{facts['cpus'][cpu]['board']} ({cpu})", backend,
                     ", ".join(f"{r['run']} {r['format']} {r['quantization']}" for r in records),
                     records[0]["images"], sum(r["mismatches"] for r in records),
                     f"{max(r['max_abs_prob_diff'] for r in records):.2g}",
                     f"{predict['files'] - predict['mismatches']}/{predict['files']}" if predict else "–"])
    return markdown_table(["system", "Pi (emulated CPU)", "engine", "models", "images each",
                           "differ from x86", "max abs Δp", "fmnist-predict same"], rows, "lllllrrr")


def _seconds(report: dict) -> str:
    s = report["seconds"]
    parts = ", ".join(f"{k} {v:.0f}" for k, v in s.items() if k not in ("total", "setup"))
    return (f"Seconds: {parts}; total {s['total']:.0f} (roots and installs are cached). Pass: at most "
            f"{report['max_mismatch_pct']} % of predictions may differ from x86, and no fmnist-predict "
            "or fmnist-serve label.")


def table(report: dict) -> str:
    """One row per system × CPU × install × model × engine."""
    rows = [[r["system"], r["cpu"], r["environment"], f"{r['run']} {r['format']} {r['quantization']}",
             f"{r['backend']} ({r['delegate']})", r["images"], accuracy_text(r["accuracy"], r.get("accuracy_ci")),
             f"{accuracy_text(r['x86_accuracy'], r.get('x86_accuracy_ci'))} ({r['x86_backend']})", r["mismatches"],
             f"{r['max_abs_prob_diff']:.2g} ({r['images_prob_diff_over_step']})", f"{r['seconds']:.1f}"]
            for r in report["records"]]
    return markdown_table(["system", "CPU", "install", "model", "engine", "images", "accuracy % ±95 %",
                           "x86 accuracy % ±95 % (engine)", "differ from x86",
                           "max abs Δp (images > 1/256)", "seconds"], rows, "lllllrrrrrr")


def readme_block(report: dict) -> str:
    """docs/pi.md's ``pi`` block: the systems, the matrix, and the timings."""
    served = report.get("serve", [])
    serve = (f" fmnist-serve in the guests over HTTP: {sum(v['mismatches'] for v in served)} of "
             f"{sum(v['files'] for v in served)} labels differ." if served else "")
    return "\n".join([systems_table(report), "", matrix_table(report), "", f"{NOTE}{serve} "
                      f"{_seconds(report)} {len(report['cells'])} cells, {report['created']}."])


def write(report: dict, out: Path) -> list[Path]:
    """Write pi.json and pi.md into ``out`` atomically."""
    return write_report(out, "pi", report, markdown(report))
