"""``fmnist-bench --merge REPORT.json...``: one fleet report from several devices' benchmarks.

For each device, each variant's accuracy, batch-1 p50, throughput and speed-up against float32
on that device, and the fastest variant within ``--max-drop``. Reports of different models
(another source sha256) are refused, never mixed; an emulated report is marked, and its timings
are neither compared nor used to choose.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from fmnist_edge import plotting
from fmnist_edge.intervals import scored_cells
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.formats import quantization_label
from fmnist_edge.reports import write_report
from fmnist_edge.tables import markdown_table

from .device import report_cpu_class

SCHEMA = 1


def read_report(path: Path) -> dict:
    """One ``benchmark.json`` with its device record; a one-line error for anything else."""
    try:
        report = json.loads(Path(path).read_text())
    except OSError as exc:
        raise FmnistError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise FmnistError(f"{path}: not JSON (expected a benchmark.json from fmnist-bench)") from None
    if not isinstance(report, dict) or not isinstance(report.get("records"), list):
        raise FmnistError(f"{path}: not a benchmark.json from fmnist-bench (no records)")
    if not isinstance(report.get("device"), dict):
        raise FmnistError(f"{path}: a report without a device record (written by an older "
                          "fmnist-bench); benchmark that device again")
    return report


def device_rows(report: dict, max_drop: float) -> dict:
    """One device: its variants (first thread count, no Keras) and the fastest within budget."""
    device = report["device"]
    first = report["environment"]["threads"][0]
    variants = [{"model": r["model"], "run": r.get("run"), "format": r["format"],
                 "quantization": r["quantization"], "accuracy": r.get("accuracy"),
                 "accuracy_ci": r.get("accuracy_ci"), "paired": r.get("paired"),
                 "drop_points": r.get("drop_points"), "p50_us": r["latency_us"]["p50"],
                 "throughput_ips": r["throughput_ips"], "speedup_vs_float": r.get("speedup_vs_float")}
                for r in report["records"] if r["format"] != "keras" and r["threads"] == first]
    eligible = [v for v in variants if v["drop_points"] is not None and v["drop_points"] <= max_drop]
    fastest = None if device.get("emulated") or not eligible else \
        min(eligible, key=lambda v: v["p50_us"])["model"]
    return {"device": device["name"], "model": device.get("model"), "cpu": device.get("cpu"),
            "cpu_class": report_cpu_class(report), "emulated": device.get("emulated") or False,
            "test_images": report.get("test_images", 10000),
            "threads": first, "fastest": fastest, "variants": variants}


def merge(paths: list[Path], max_drop: float = 0.5) -> dict:
    """The fleet report of ``paths``; FmnistError when they are not all of the same model."""
    if not paths:
        raise FmnistError("--merge needs at least one benchmark.json")
    reports = [(Path(p), read_report(p)) for p in paths]
    first_path, first = reports[0]
    sources = first["device"].get("sources") or {}
    for path, report in reports[1:]:
        if (report["device"].get("sources") or {}) != sources:
            raise FmnistError(f"{path} benchmarked another model than {first_path} (source sha256 "
                              f"{_shas(report)} vs {_shas(first)}); merge reports of one export only")
    names = [r["device"]["name"] for _, r in reports]
    if len(set(names)) < len(names):
        raise FmnistError(f"two reports of the same device name ({', '.join(names)}); name devices "
                          "apart with fmnist-bench --device-name")
    return {"schema": SCHEMA, "max_drop": max_drop, "sources": sources,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "reports": [str(p) for p, _ in reports],
            "devices": [device_rows(r, max_drop) for _, r in reports]}


def _shas(report: dict) -> str:
    return ", ".join(f"{run} {(sha or 'none')[:12]}"
                     for run, sha in (report["device"].get("sources") or {}).items()) or "none"


def fleet_table(fleet: dict) -> str:
    """One row per device × variant; emulated devices marked and never given a fastest."""
    rows = []
    for d in fleet["devices"]:
        where = d["device"] + (" (emulated)" if d["emulated"] else "")
        for v in d["variants"]:
            speedup = v["speedup_vs_float"]
            timings = (["emulated"] * 3 if d["emulated"] else  # an emulator's timings are not speed
                       [f"{v['p50_us']:.1f}", f"{v['throughput_ips']:,.0f}",
                        "–" if speedup is None else f"{speedup:.2f}×"])
            rows.append([where, d["cpu_class"], f"{d['test_images']:,}",
                         f"{v['format']} {quantization_label(v['quantization'])}",
                         *scored_cells(v)[:3], *timings,
                         "fastest" if v["model"] == d["fastest"] else ""])
    table = markdown_table(["device", "CPU class", "test images", "variant", "accuracy % ±95 %",
                            "drop pt [95 %]", "drop vs noise", "b1 p50 µs", "img/s", "speed-up vs float32",
                            f"within {fleet['max_drop']} pt"], rows, "llrlrrlrrrl")
    return table + ("\n\nFastest: the lowest batch-1 p50 among variants whose drop is at most "
                    f"{fleet['max_drop']} points, per device. Emulated devices show accuracy only: "
                    "their timings are the emulator's, so they get no fastest either. Accuracies "
                    "compare only over the same number of test images; ± and [ ] are 95 % intervals, "
                    "a drop paired against the device's own float reference (docs/benchmarks.md).")


def write_fleet(fleet: dict, out: Path) -> list[Path]:
    """fleet.json and fleet.md (atomically), and fleet.png when matplotlib is installed."""
    written = write_report(out, "fleet", fleet,
                           "# fmnist-edge fleet\n\n" + fleet_table(fleet) + "\n")
    if plotting.available():
        from .plots import fleet_plot

        written.append(fleet_plot(fleet, out / "fleet.png"))
    return written


def publish_fleet(paths: list[Path], out: Path, max_drop: float = 0.5) -> int:
    """What ``fmnist-bench --merge`` does: merge, write fleet.{json,md,png}, print the table."""
    fleet = merge(paths, max_drop)
    written = write_fleet(fleet, out)
    print(fleet_table(fleet))
    print("\nfmnist-bench: wrote " + ", ".join(str(p) for p in written))
    return 0
