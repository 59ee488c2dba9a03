"""The device command: the quick plan on a device, the tiny one in an emulator, always gated."""

import json

from fmnist_edge.benchmarks import device, on_device

LOOSE = {"accuracy": {"max_drop_points": {"int8": 100.0}},
         "ratios": [{"name": "int8 faster", "faster": {"format": "tflite", "quantization": "int8"},
                     "slower": {"format": "onnx", "quantization": "none"}, "metric": "latency_p50",
                     "min": {"arm64": 1.0}}]}


def test_an_emulated_device_runs_the_tiny_plan_and_is_not_gated(
        export_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(device.EMULATED_ENV, "qemu-aarch64 -cpu cortex-a72")
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(LOOSE))
    out = tmp_path / "pi4"
    assert on_device.main([str(export_dir), "--out", str(out), "--device-name", "pi4",
                           "--gate", str(baseline)]) == 0
    report = json.loads((out / "benchmark.json").read_text())
    assert (report["plan_kind"], report["test_images"], report["keras"]) == (
        "tiny", 500, "Keras baseline not requested")
    assert report["environment"]["threads"] == [1] and report["batch"] == 32
    assert "no gate under emulation (qemu-aarch64 -cpu cortex-a72)" in capsys.readouterr().out


def test_a_device_runs_the_quick_plan_on_every_test_image(export_dir, monkeypatch):
    monkeypatch.delenv(device.EMULATED_ENV, raising=False)
    config = on_device.device_config(export_dir, "pi5")
    assert (config.plan_kind, config.images, config.batch, config.keras) == ("quick", None, 256, False)
    assert on_device.BASELINE.is_file()  # packaged with the benchmarks (package-data)


def test_make_test_runs_the_device_command_with_its_gate_on_this_machine():
    """The CI Pi job's command is exercised in make test, gated for this machine's CPU class
    (not emulated: its timings count)."""
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text().replace("\\\n", " ")
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    line = next(line for line in recipe.splitlines() if "fmnist_edge.benchmarks.on_device" in line)
    assert "FMNIST_EMULATED" not in line and "--gate" not in line  # the packaged baseline
