"""fmnist-bench on the bundled tiny models (no TF needed): reports, gate exit codes, bad input."""

import json
import shutil

import pytest

from fmnist_edge.benchmarks import cli

FAST = ["--quick", "--threads", "1", "--no-keras"]


def _one_line(capsys, fragment):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fmnist-bench: error:") and fragment in err, err


def test_quick_run_writes_every_report(export_dir, tmp_path, capsys):
    out = tmp_path / "reports"
    assert cli.main([str(export_dir), *FAST, "--out", str(out)]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(["benchmark.json", "benchmark.md", "benchmark_confusion_diff.png", "benchmark_int8.png",
                              "benchmark_latency.png", "benchmark_per_class.png", "benchmark_pareto.png"])
    report = json.loads((out / "benchmark.json").read_text())
    assert report["schema"] == 1 and report["quick"] is True
    assert "(no TensorFlow here)" in report["reference"] or report["reference"].startswith("model_")
    record = report["records"][0]
    for key in ("latency_us", "throughput_ips", "cold_start", "accuracy", "agreement", "drop_points",
                "per_class_delta_points", "changed_indices", "confusion_diff", "size_bytes",
                "accuracy_ci", "agreement_ci", "paired", "per_class"):
        assert key in record, key
    low, high = record["accuracy_ci"]  # every accuracy with its interval, every drop paired
    assert low < record["accuracy"] < high and record["paired"]["n"] == report["test_images"]
    assert record["paired"]["drop_points"] == pytest.approx(record["drop_points"])
    for key in ("p50", "p90", "p99", "mean", "std", "round_p50"):
        assert key in record["latency_us"]
    assert record["cold_start"]["ms"] > 0 and record["cold_start"]["peak_rss_mb"] > 10
    phases = record["cold_start"]["phases_ms"]
    assert set(phases) == {"imports", "load", "first_inference"} and phases["imports"] > 0 <= min(phases.values())
    assert sum(phases.values()) <= record["cold_start"]["ms"] * 1.01 + 0.5
    answer = record["first_answer"]  # fmnist-predict itself, Python's start included
    assert answer["runs"] == 1 and answer["ms"] > phases["imports"], answer
    assert report["environment"]["cpu"] and report["environment"]["cores"] >= 1
    assert report["environment"]["amx"]["policy"] == "allow"  # tests/conftest.py sets FMNIST_AMX
    assert report["device"]["name"] and report["device"]["emulated"] is False
    assert report["device"]["cores"] >= 1 and "after" in report["device"]
    markdown = (out / "benchmark.md").read_text()
    assert "| model | size KB | accuracy % ±95 % | drop pt [95 %] | drop vs noise |" in markdown
    assert "- Intel AMX: " in markdown and " ±" in markdown and "within noise" in markdown
    assert "| first answer ms |" in markdown
    assert "| model | size KB |" in capsys.readouterr().out


def test_an_emulated_device_without_matplotlib_gets_a_marked_report_and_no_plots(
        export_dir, tmp_path, capsys, monkeypatch):
    from fmnist_edge import plotting
    from fmnist_edge.benchmarks import device

    monkeypatch.setenv(device.EMULATED_ENV, "qemu-aarch64 -cpu cortex-a72")
    monkeypatch.setattr(plotting, "available", lambda: False)
    out = tmp_path / "reports"
    assert cli.main([str(export_dir), *FAST, "--out", str(out), "--device-name", "pi4-lab"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["benchmark.json", "benchmark.md"]
    assert "fmnist-bench: no plots: matplotlib is not installed" in capsys.readouterr().out
    record = json.loads((out / "benchmark.json").read_text())["device"]
    assert record["name"] == "pi4-lab" and record["emulated"] == "qemu-aarch64 -cpu cortex-a72"
    assert set(record["before"]) == {"temperature_c", "throttled", "frequency_mhz"}
    assert list(record["sources"].values()) == [None]  # the tiny export names no Keras source
    text = (out / "benchmark.md").read_text()
    assert text.splitlines()[2].startswith("**Emulated** (qemu-aarch64 -cpu cortex-a72)")
    assert "- Device: pi4-lab" in text


def test_gate_is_proven_to_fail(export_dir, tmp_path, capsys):
    baseline = tmp_path / "impossible.json"
    baseline.write_text(json.dumps({"accuracy": {}, "ratios": [{
        "name": "int8 a thousand times faster", "faster": {"format": "tflite", "quantization": "int8"},
        "slower": {"format": "onnx", "quantization": "none"}, "metric": "latency_p50", "min": 1000}]}))
    assert cli.main([str(export_dir), *FAST, "--out", str(tmp_path / "r"), "--gate", str(baseline)]) == 1
    captured = capsys.readouterr()
    assert "int8 a thousand times faster" in captured.out and "REGRESSED" in captured.out
    assert "gate failed: 1 of 1 checks regressed" in captured.err


def test_bad_inputs(export_dir, tmp_path, capsys):
    assert cli.main([str(tmp_path / "nope"), *FAST]) == 2
    _one_line(capsys, "no manifest.json")
    broken = tmp_path / "broken"
    shutil.copytree(export_dir, broken)
    (broken / "model_float32.onnx").unlink()
    assert cli.main([str(broken), *FAST, "--out", str(tmp_path / "r")]) == 2
    _one_line(capsys, "no such model file")
    changed = tmp_path / "changed"
    shutil.copytree(export_dir, changed)
    data = bytearray((changed / "model_int8.tflite").read_bytes())
    data[-1] ^= 0xFF
    (changed / "model_int8.tflite").write_bytes(bytes(data))
    assert cli.main([str(changed), *FAST, "--out", str(tmp_path / "r")]) == 2
    _one_line(capsys, "checksum mismatch")
    assert cli.main([str(export_dir), *FAST, "--gate", str(tmp_path / "missing.json")]) == 2
    _one_line(capsys, "cannot read baseline")
    for argv in (["--threads", "0"], ["--batch", "-1"], ["--threads", "two"]):
        with pytest.raises(SystemExit) as info:
            cli.main([str(export_dir), *argv])
        assert info.value.code == 2
        assert capsys.readouterr().err.count("\n") == 1


def test_two_runs_side_by_side_with_a_cross_run_gate(export_dir, tmp_path, capsys):
    runs = []
    for name in ("seed-cnn", "edge-cnn"):
        shutil.copytree(export_dir, tmp_path / name / "export")
        runs.append(str(tmp_path / name / "export"))
    baseline = tmp_path / "cross.json"
    baseline.write_text(json.dumps({"accuracy": {"max_drop_points": {"int8": 5},
                                                 "runs": {"edge-cnn": {"max_drop_points": {"int8": -1}}}},
                                    "ratios": [{"name": "edge int8 vs tutorial int8",
                                                "faster": {"run": "edge-cnn", "format": "tflite", "quantization": "int8"},
                                                "slower": {"run": "seed-cnn", "format": "tflite", "quantization": "int8"},
                                                "metric": "latency_p50", "min": 0.01}]}))
    out = tmp_path / "reports"
    assert cli.main([*runs, *FAST, "--out", str(out), "--gate", str(baseline)]) == 1
    report = json.loads((out / "benchmark.json").read_text())
    assert report["runs"] == ["seed-cnn", "edge-cnn"]
    assert {(r["run"], r["model"]) for r in report["records"]} == {
        (run, m) for run in ("seed-cnn", "edge-cnn") for m in ("model_int8.tflite", "model_float32.onnx")}
    markdown = (out / "benchmark.md").read_text()
    assert "| edge-cnn tflite int8 |" in markdown and "## Runs side by side (int8 TFLite)" in markdown
    captured = capsys.readouterr()
    # only the edge run's own, impossible budget fails; the cross-run ratio was measured and passed
    assert "edge-cnn tflite int8: accuracy drop" in captured.out and "1 of 3 checks regressed" in captured.err
    assert cli.main([runs[0], runs[0], *FAST, "--out", str(out)]) == 2
    _one_line(capsys, "a second export of run 'seed-cnn'")


def test_an_int8_only_export_without_tensorflow_fails_the_gate(export_dir, tmp_path, capsys):
    manifest = json.loads((export_dir / "manifest.json").read_text())
    manifest["artifacts"] = [e for e in manifest["artifacts"] if e["quantization"] == "int8"]
    (export_dir / "manifest.json").write_text(json.dumps(manifest))
    baseline = tmp_path / "accuracy.json"
    baseline.write_text(json.dumps({"accuracy": {"max_drop_points": {"int8": 1.0}}, "ratios": []}))
    assert cli.main([str(export_dir), *FAST, "--out", str(tmp_path / "r"), "--gate", str(baseline)]) == 1
    captured = capsys.readouterr()
    assert "float reference for the accuracy checks" in captured.out and "REGRESSED" in captured.out
    report = json.loads((tmp_path / "r/benchmark.json").read_text())
    assert "compared with itself" in report["reference"]


def test_a_bare_model_file_alone_and_with_a_reference(export_dir, tmp_path, capsys):
    """Alone: accuracy against the labels, no drop or agreement, a gate that refuses it. With
    --reference: drop, agreement and speed-up against that float file."""
    model, reference = export_dir / "model_int8.tflite", export_dir / "model_float32.onnx"
    alone = tmp_path / "alone"
    assert cli.main([str(model), *FAST, "--out", str(alone)]) == 0
    report = json.loads((alone / "benchmark.json").read_text())
    (record,) = report["records"]
    assert (record["model"], record["quantization"]) == ("model_int8.tflite", "int8")
    assert 0 <= record["accuracy"] <= 1 and record["drop_points"] is None and record["agreement"] is None
    assert report["reference"].startswith("none: model_int8.tflite is a bare model file")
    assert report["self_referenced"] == ["model_int8.tflite"]
    assert not (alone / "benchmark_confusion_diff.png").exists()  # nothing to compare with
    assert "| tflite int8 | " in (alone / "benchmark.md").read_text()
    capsys.readouterr()
    gated = tmp_path / "gated"
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"accuracy": {"max_drop_points": {"int8": 0.5}}, "ratios": []}))
    assert cli.main([str(model), *FAST, "--out", str(gated), "--gate", str(baseline)]) == 1
    assert "bare model file without --reference" in capsys.readouterr().out

    both = tmp_path / "both"
    assert cli.main([str(model), "--reference", str(reference), *FAST, "--out", str(both)]) == 0
    report = json.loads((both / "benchmark.json").read_text())
    int8 = next(r for r in report["records"] if r["model"] == "model_int8.tflite")
    assert report["reference"] == "model_float32.onnx (--reference)" and not report["self_referenced"]
    assert int8["drop_points"] is not None and 0 <= int8["agreement"] <= 1


def test_bad_bare_files_and_references(export_dir, tmp_path, capsys):
    assert cli.main([str(tmp_path / "missing.tflite"), *FAST]) == 2
    _one_line(capsys, "missing.tflite: no such model file")
    assert cli.main([str(export_dir / "model_int8.tflite"), "--reference", str(tmp_path / "r.pt"),
                     *FAST]) == 2
    _one_line(capsys, "unknown model type")
    assert cli.main([str(export_dir), "--reference", str(export_dir / "model_float32.onnx"),
                     *FAST]) == 2
    _one_line(capsys, "--reference goes with a bare model file")


def test_the_tiny_plan_on_the_first_test_images(export_dir, tmp_path):
    out = tmp_path / "tiny"
    assert cli.main([str(export_dir), "--plan", "tiny", "--images", "200", "--threads", "1",
                     "--batch", "1,32", "--no-keras", "--out", str(out)]) == 0
    report = json.loads((out / "benchmark.json").read_text())
    assert (report["plan_kind"], report["test_images"], report["quick"]) == ("tiny", 200, True)
    assert report["plan"] == {"rounds": 1, "calls": 30, "repeats": 1, "cold_runs": 0}
    for r in report["records"]:
        assert r["cold_start"] == {"skipped": "this plan starts no fresh processes"}
        assert r["latency_us"]["calls"] == 30 and r["throughput_batch"] == 32
    assert "Tiny run of" in (out / "benchmark.md").read_text()
    assert "first 200 test images" in (out / "benchmark.md").read_text()
