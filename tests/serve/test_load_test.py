"""The load test of fmnist-serve (make serve-bench's harness), small: every answer checked, shares add up."""

from __future__ import annotations

import json
import subprocess
import sys

from fmnist_edge.benchmarks.serving.report import readme_summary, shares, summary


def test_a_small_load_test_answers_everything_and_splits_the_servers_cpu(tiny_export, tmp_path):
    # a process of its own: the command applies its AMX policy (a seccomp filter) to its process
    proc = subprocess.run([sys.executable, "-m", "fmnist_edge.benchmarks.serving.cli", str(tiny_export),
                           "--clients", "1,2", "--requests", "40", "--seconds", "10", "--images", "20",
                           "--cold-starts", "1", "--min-ratio", "0.01", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads((tmp_path / "serve.json").read_text())
    assert {(r["workload"], r["clients"]) for r in result["levels"]} == {
        (w, c) for w in ("png28", "photo") for c in (1, 2)}
    for row in result["levels"]:
        assert row["errors"] == 0 and row["requests"] > 0, row
        # Stage CPU is the worker thread's: never more than its wall time, and it is where the
        # photos' time goes (a 1200×900 JPEG is milliseconds of conversion, a tiny model microseconds).
        assert 0 < row["decode_cpu_us"] <= row["decode_us"] * 1.05 + 50, row
        assert 0 <= row["inference_cpu_us"] <= row["inference_us"] * 1.05 + 50, row
        split = shares(row)
        assert all(v >= 0 for v in split.values()) and sum(split.values()) <= 100.5, (row, split)
    hostile = result["hostile"]
    assert hostile["good"]["errors"] == 0 and hostile["good"]["requests"] > 0, hostile
    assert set(hostile["bomb"]) == {"413"} and set(hostile["large"]) == {"200"}, hostile
    assert hostile["idle"]["connections"] == 200 and len(hostile["peak_rss_mb"]) >= 1
    assert result["gate"]["passed"] and set(result["gate"]["ratios"]) == {"png28", "photo"}
    folder = result["predict"]["folder"]
    assert folder["photos"] == 20 and folder["wrong"] == 0 and folder["peak_rss_mb"] > 10, folder
    assert result["predict"]["first_answer"]["runs"] == 5 and result["predict"]["first_answer"]["ms"] > 0
    report = (tmp_path / "serve.md").read_text()
    assert "HTTP / decode / inference %" in report and "Beside the hostile mix" in report
    assert "on a folder of 20 photos" in report
    untimed = {**result, "cold_start_s": []}  # --cold-starts 0: a report all the same
    assert "No cold start timed." in summary(untimed) and "First answered" not in readme_summary(untimed)


def test_shares_of_an_old_report_fall_back_on_wall_times():
    row = {"server_cpu_us": 1000.0, "decode_us": 600.0, "inference_us": 100.0}
    assert shares(row) == {"http": 30.0, "decode": 60.0, "inference": 10.0}
    row.update(decode_cpu_us=300.0, inference_cpu_us=50.0)
    assert shares(row) == {"http": 65.0, "decode": 30.0, "inference": 5.0}
