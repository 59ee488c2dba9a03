"""The gate on synthetic reports: it passes what it should and is proven to fail what it must."""

import json

import pytest

from fmnist_edge.benchmarks import gate
from fmnist_edge.runtime.errors import FmnistError

BASELINE = {
    "accuracy": {"max_drop_points": {"int8": 0.5}, "min_agreement": {"int8": 0.99}},
    "ratios": [{"name": "int8 faster", "faster": {"format": "tflite", "quantization": "int8"},
                "slower": {"format": "tflite", "quantization": "none"}, "metric": "latency_p50",
                "threads": 1, "min": 1.5},
               {"name": "vs keras", "faster": {"format": "tflite", "quantization": "int8"},
                "slower": {"format": "keras", "quantization": "call"}, "metric": "latency_p50", "min": 5}],
}


def _record(fmt, quant, p50, threads=1, ips=1000.0, **extra):
    return {"format": fmt, "quantization": quant, "threads": threads, "latency_us": {"p50": p50},
            "throughput_ips": ips, **extra}


def _report(int8_p50=10.0, drop=0.1, agreement=0.995, keras=True):
    records = [_record("tflite", "none", 30.0, accuracy=0.9, drop_points=0.0, agreement=1.0),
               _record("tflite", "int8", int8_p50, accuracy=0.899, drop_points=drop, agreement=agreement)]
    if keras:
        records.append(_record("keras", "call", 200.0, threads=None))
    return {"environment": {"threads": [1]}, "records": records}


def test_a_healthy_report_passes(capsys):
    assert gate.check_gate(_report(), BASELINE) == 0
    assert "gate passed: 4 checks" in capsys.readouterr().out


def test_a_slow_int8_model_fails_with_a_table(capsys):
    assert gate.check_gate(_report(int8_p50=25.0), BASELINE) == 1  # 30/25 = 1.2 < 1.5
    captured = capsys.readouterr()
    assert "| int8 faster | 1.2 | ≥ 1.5 | REGRESSED |" in captured.out
    assert captured.err.count("\n") == 1 and "gate failed: 1 of 4 checks regressed" in captured.err


def test_accuracy_budgets_fail(capsys):
    assert gate.check_gate(_report(drop=0.7, agreement=0.98), BASELINE) == 1
    out = capsys.readouterr().out
    assert "tflite int8: accuracy drop (points) | 0.7 | ≤ 0.5 | REGRESSED" in out
    assert "tflite int8: agreement with float | 0.98 | ≥ 0.99 | REGRESSED" in out


def test_a_format_and_quantization_limit_overrides_the_quantizations_for_one_run(capsys):
    report = _report(agreement=0.987)
    report["records"].append(_record("onnx", "int8", 10.0, accuracy=0.9, drop_points=0.1,
                                      agreement=0.987))
    for r in report["records"]:
        r["run"] = "edge-cnn"
    baseline = {**BASELINE, "accuracy": {**BASELINE["accuracy"], "runs": {
        "edge-cnn": {"min_agreement": {"onnx int8": 0.985}}}}}
    rows = {r["check"]: r for r in gate.accuracy_checks(report, baseline)}
    assert rows["onnx int8: agreement with float"]["ok"]
    assert rows["onnx int8: agreement with float"]["limit"] == "≥ 0.985"
    assert not rows["tflite int8: agreement with float"]["ok"]  # still the int8 floor, 0.99
    assert gate.check_gate(report, baseline) == 1


def test_a_side_not_measured_is_skipped_not_failed(capsys):
    assert gate.check_gate(_report(keras=False), BASELINE) == 0
    rows = gate.ratio_checks(_report(keras=False), BASELINE)
    assert rows[1]["limit"].startswith("skipped")


def test_unreadable_baselines(tmp_path):
    with pytest.raises(FmnistError, match="cannot read baseline"):
        gate.load_baseline(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(FmnistError, match="not valid JSON"):
        gate.load_baseline(tmp_path / "bad.json")
    (tmp_path / "shape.json").write_text(json.dumps({"accuracy": {}, "ratios": [{"metric": "speed"}]}))
    with pytest.raises(FmnistError, match="lacks"):
        gate.load_baseline(tmp_path / "shape.json")


def test_the_committed_baseline_loads():
    from pathlib import Path

    import fmnist_edge.benchmarks

    baseline = gate.load_baseline(Path(fmnist_edge.benchmarks.__file__).parent / "baseline.json")
    assert len(baseline["ratios"]) >= 4


def test_a_gate_that_checked_nothing_fails(capsys):
    report = {"environment": {"threads": [1]},
              "records": [_record("onnx", "float16", 30.0, accuracy=0.9, drop_points=0.0, agreement=1.0)]}
    assert gate.check_gate(report, BASELINE) == 1  # every ratio skipped, no accuracy budget applies
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gate failed: no check ran" in err


def test_a_model_compared_with_itself_fails(capsys):
    report = _report()
    report["self_referenced"] = ["seed-cnn"]  # an int8-only export, no TensorFlow: its own reference
    assert gate.check_gate(report, BASELINE) == 1
    captured = capsys.readouterr()
    assert "seed-cnn: float reference for the accuracy checks" in captured.out
    assert "compared with itself" in captured.out and "gate failed: 1 of 5" in captured.err


def test_an_emulated_report_gates_accuracy_and_never_timings(capsys):
    report = _report(int8_p50=100.0)  # int8 10× slower than float: would regress if gated
    report["device"] = {"emulated": "qemu-aarch64 -cpu cortex-a72"}
    assert gate.check_gate(report, BASELINE) == 0
    out = capsys.readouterr().out
    assert out.count("skipped: emulated (qemu-aarch64 -cpu cortex-a72)") == 2
    report = _report(int8_p50=100.0, drop=2.0)
    report["device"] = {"emulated": "qemu-aarch64 -cpu cortex-a72"}
    assert gate.check_gate(report, BASELINE) == 1  # its accuracy is still held to the budget


PER_CLASS = {"accuracy": {}, "ratios": [
    {"name": "int8 faster", "faster": {"format": "tflite", "quantization": "int8"},
     "slower": {"format": "tflite", "quantization": "none"}, "metric": "latency_p50", "threads": 1,
     "min": {"x86-amx": 2.8, "x86-avx512-vnni": 1.8}}]}


@pytest.mark.parametrize("machine, features, cls", [
    ("x86_64", ["avx512f", "avx512_vnni", "amx_int8"], "x86-amx"),
    ("x86_64", ["avx2", "avx512_vnni"], "x86-avx512-vnni"),
    ("x86_64", ["avx2"], "other"),
    ("aarch64", ["asimd", "asimddp"], "arm64-dotprod"),
    ("aarch64", ["asimd"], "arm64"),
])
def test_the_cpu_class_comes_from_the_device_record(machine, features, cls):
    from fmnist_edge.benchmarks.device import report_cpu_class

    assert report_cpu_class({"device": {"machine": machine, "cpu_features": features}}) == cls


def _on(machine, features, int8_p50):
    report = _report(int8_p50=int8_p50)
    report["device"] = {"machine": machine, "cpu_features": features, "emulated": False}
    return report


def test_each_cpu_class_is_held_to_its_own_minimum(capsys):
    # 30 / 12.5 = 2.4: enough for the AVX-512 VNNI class, a regression on an AMX machine
    assert gate.check_gate(_on("x86_64", ["avx512_vnni"], 12.5), PER_CLASS) == 0
    assert "≥ 1.8 (x86-avx512-vnni)" in capsys.readouterr().out
    assert gate.check_gate(_on("x86_64", ["avx512_vnni", "amx_int8"], 12.5), PER_CLASS) == 1
    assert "| int8 faster | 2.4 | ≥ 2.8 (x86-amx) | REGRESSED |" in capsys.readouterr().out


def test_a_class_without_minimums_says_so_and_is_not_a_pass_of_nothing(capsys):
    report = _on("aarch64", ["asimd", "asimddp"], 40.0)  # int8 slower than float: not gated here
    report["records"][1]["drop_points"] = 0.1
    assert gate.check_gate(report, {**PER_CLASS, "accuracy": BASELINE["accuracy"]}) == 0
    assert "not gated: no minimum measured on arm64-dotprod yet" in capsys.readouterr().out


def test_minimums_for_unknown_classes_are_refused(tmp_path):
    path = tmp_path / "b.json"
    bad = {**PER_CLASS, "ratios": [{**PER_CLASS["ratios"][0], "min": {"x86-sse2": 1.0}}]}
    path.write_text(json.dumps(bad))
    with pytest.raises(FmnistError, match="one per CPU class"):
        gate.load_baseline(path)


def test_a_failed_batch1_ratio_is_timed_again_and_passes_only_if_the_second_measurement_does(capsys):
    asked = []

    def remeasure(specs):
        asked.extend(s["name"] for s in specs)
        return [2.0]

    assert gate.check_gate(_report(int8_p50=25.0), BASELINE, remeasure) == 0
    out = capsys.readouterr().out
    assert asked == ["int8 faster"]  # only the failed ratio, never the accuracy rows
    assert "int8 faster 1.2, re-measured 2" in out and "gate passed: 4 checks" in out


@pytest.mark.parametrize("again", [1.3, None])
def test_a_regression_the_second_measurement_repeats_fails(capsys, again):
    assert gate.check_gate(_report(int8_p50=25.0), BASELINE, lambda specs: [again]) == 1
    shown = "1.3" if again else "not re-measured"
    assert f"| int8 faster | 1.2, re-measured {shown} | ≥ 1.5 | REGRESSED |" in capsys.readouterr().out


def test_accuracy_is_never_re_measured(capsys):
    calls = []
    assert gate.check_gate(_report(drop=0.7), BASELINE, lambda specs: calls.append(specs) or []) == 1
    assert calls == []
