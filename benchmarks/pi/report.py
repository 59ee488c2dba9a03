"""reports/pi.json and reports/pi.md: what the emulated Raspberry Pi ran, and how it compared."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path

from fmnist_edge.reports import write_report
from fmnist_edge.tables import markdown_table

from . import wheels as pi_wheels
from ..environment import git_commit

SCHEMA = 1


def build(config, rootfs, qemu: str, sites: dict, results: dict, setup_s: dict, total_s: float,
          skipped: list[str]) -> dict:
    """The report: target, wheels, per-CPU results, timings, and the pass threshold used."""
    return {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "export_dir": str(config.export_dir), "images": config.images,
        "max_mismatch_pct": config.max_mismatch_pct,
        "target": {"root": "Debian arm64 from the host's apt sources (Raspberry Pi OS 64-bit base)",
                   "python": rootfs.python_version, "glibc": rootfs.glibc, "packages": len(rootfs.debs),
                   "qemu": _qemu_version(qemu),
                   "cpus": {c.qemu_cpu: {"board": c.board, "features": c.features} for c in config.cpus}},
        "wheels": {name: pi_wheels.installed_versions(site) for name, site in sites.items()},
        "wheelhouse": str(config.wheelhouse) if config.wheelhouse else "resolved with pip download",
        "records": results["records"], "predict": results["predict"], "doctor": results["doctor"],
        "bench": results["bench"], "serve": results.get("serve", []), "skipped": skipped,
        "seconds": {**setup_s, "total": total_s}, "git_commit": git_commit(),
    }


def _qemu_version(qemu: str) -> str:
    out = subprocess.run([qemu, "--version"], capture_output=True, text=True)
    return (out.stdout.splitlines() or ["unknown"])[0]


def failures(report: dict) -> list[str]:
    """What broke the check: top-1 mismatches against x86 above the threshold, or any label change
    from fmnist-predict."""
    found = []
    limit = report["max_mismatch_pct"]
    for r in report["records"]:
        pct = 100 * r["mismatches"] / max(1, r["images"])
        if pct > limit:
            found.append(f"{r['format']} {r['quantization']} on {r['backend']} ({r['cpu']}): "
                         f"{r['mismatches']} of {r['images']} predictions differ from x86 "
                         f"({pct:.2f} % > {limit} %)")
    for p in report["predict"]:
        if p["mismatches"]:
            found.append(f"fmnist-predict ({p['environment']}, {p['cpu']}): {p['mismatches']} of "
                         f"{p['files']} labels differ from x86")
    for v in report.get("serve", []):
        if v["mismatches"] or v["healthz"] != 200 or v["bad_input_status"] != 400:
            found.append(f"fmnist-serve ({v['cpu']}): {v['mismatches']} of {v['files']} labels differ "
                         f"from x86; /healthz {v['healthz']}, a non-image {v['bad_input_status']}")
        if v["exit_code"] != 0 or not v["metrics_counted"]:
            found.append(f"fmnist-serve ({v['cpu']}): exit {v['exit_code']} after SIGTERM; "
                         f"/metrics counted the requests: {v['metrics_counted']}")
    for b in report.get("bench", []):
        if not b["emulated"]:
            found.append(f"fmnist-bench ({b['cpu']}): the report does not say it was emulated")
        found += [f"fmnist-bench ({b['cpu']}): {m['model']} accuracy {m['accuracy']:.4f}, x86 "
                  f"{m['x86_accuracy']}" for m in b["models"] if m["accuracy"] != m["x86_accuracy"]]
    return found


def markdown(report: dict) -> str:
    """The human-readable report."""
    lines = ["# fmnist-edge on an emulated Raspberry Pi", "", _target(report), "", table(report),
             "", "`fmnist-predict --json` on PNG files (labels compared with this machine's):", ""]
    for p in report["predict"]:
        lines.append(f"- {p['cpu']}, {p['environment']} install, backend {p['backend']}: {p['files']} "
                     f"files, {p['mismatches']} differ ({', '.join(p['labels'])})")
    lines += ["", "`fmnist-serve` in the guest, the same PNG files POSTed to it from this machine:", ""]
    for v in report.get("serve", []):
        lines.append(f"- {v['cpu']}: {v['files']} files, {v['mismatches']} differ "
                     f"({', '.join(v['labels'])}); a non-image got {v['bad_input_status']}; /metrics "
                     f"counted them: {v['metrics_counted']}; SIGTERM → exit {v['exit_code']}")
    lines += ["", "`fmnist-bench --plan tiny` in the guest, as a device runs it (emulated: its accuracies "
              "are compared, its timings mean nothing):", ""]
    for b in report.get("bench", []):
        same = sum(m["accuracy"] == m["x86_accuracy"] for m in b["models"])
        lines.append(f"- {b['cpu']}: {len(b['models'])} models, {same} with the x86 accuracy on the "
                     f"first {b['images']} test images; report `{b['report']}` (emulated: {b['emulated']})")
    lines += ["", "Wheels installed by the guest's own pip:", ""]
    for name, wheels in report["wheels"].items():
        lines.append(f"- {name}: " + ", ".join(f"{k} {v}" for k, v in wheels.items()))
    lines += ["", _seconds(report)]
    lines += [f"- Skipped: {s}" for s in report["skipped"]]
    problems = failures(report)
    lines += ["", "Result: " + ("FAILED: " + "; ".join(problems) if problems else "passed"), ""]
    return "\n".join(lines)


def _target(report: dict) -> str:
    t = report["target"]
    return (f"{t['root']}: Python {t['python']}, glibc {t['glibc']}, {t['packages']} packages; "
            f"{t['qemu']}. Emulated compute is about 500× slower than native: seconds are for "
            "orientation, not benchmarks.")


def _seconds(report: dict) -> str:
    s = report["seconds"]
    return (f"Seconds: arm64 root {s['rootfs']:.1f} (cached after the first run), wheels and guest "
            f"installs {s['wheels_and_install']:.1f}, total {s['total']:.1f}. Pass: at most "
            f"{report['max_mismatch_pct']} % of predictions may differ from x86, and no "
            "fmnist-predict label.")


def table(report: dict) -> str:
    """One row per CPU × install × model."""
    rows = [[f"{r['cpu']} ({r['board']})", r["environment"], f"{r['format']} {r['quantization']}",
             f"{r['backend']} ({r['delegate']})", r["images"], f"{100 * r['accuracy']:.2f}",
             f"{100 * r['x86_accuracy']:.2f} ({r['x86_backend']})", r["mismatches"],
             f"{r['max_abs_prob_diff']:.2g} ({r['images_prob_diff_over_step']})", f"{r['seconds']:.1f}"]
            for r in report["records"]]
    return markdown_table(["CPU", "install", "model", "backend", "images", "accuracy %",
                           "x86 accuracy % (engine)", "differ from x86",
                           "max abs Δp (images > 1/256)", "seconds"], rows, "llllrrrrrr")


def readme_block(report: dict) -> str:
    """The table, the target and the timings, for README.md's ``pi`` block."""
    predict = sum(p["mismatches"] for p in report["predict"])
    files = sum(p["files"] for p in report["predict"])
    served = report.get("serve", [])
    serve = (f" fmnist-serve in the guest over HTTP: {sum(v['mismatches'] for v in served)} of "
             f"{sum(v['files'] for v in served)} labels differ." if served else "")
    return "\n".join([table(report), "", f"{_target(report)} fmnist-predict on PNG files: {predict} "
                      f"of {files} labels differ from x86.{serve} {_seconds(report)} "
                      f"Run {report['created']}."])


def write(report: dict, out: Path) -> list[Path]:
    """Write pi.json and pi.md into ``out`` atomically."""
    return write_report(out, "pi", report, markdown(report))
