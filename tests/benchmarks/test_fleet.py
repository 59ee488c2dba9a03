"""fmnist-bench --merge: one fleet report from several devices, never mixing two models."""

import json

import pytest

from fmnist_edge.benchmarks import cli

FAST = ["--quick", "--threads", "1", "--no-keras"]


@pytest.fixture
def device_reports(export_dir, tmp_path, monkeypatch):
    """Two devices' reports of one export: this machine, and one marked emulated."""
    from fmnist_edge.benchmarks import device

    paths = []
    for name, emulated in (("desk", None), ("emulated-cortex-a72", "qemu-aarch64 -cpu cortex-a72")):
        if emulated:
            monkeypatch.setenv(device.EMULATED_ENV, emulated)
        out = tmp_path / name
        assert cli.main([str(export_dir), *FAST, "--out", str(out), "--device-name", name]) == 0
        paths.append(out / "benchmark.json")
    return paths


def test_merge_writes_the_fleet_with_emulated_rows_marked(device_reports, tmp_path, capsys):
    out = tmp_path / "fleet"
    capsys.readouterr()
    assert cli.main(["--merge", *map(str, device_reports), "--out", str(out), "--max-drop", "5"]) == 0
    fleet = json.loads((out / "fleet.json").read_text())
    desk, emulated = fleet["devices"]
    assert (desk["device"], desk["emulated"]) == ("desk", False)
    assert emulated["emulated"] == "qemu-aarch64 -cpu cortex-a72" and emulated["fastest"] is None
    eligible = [v for v in desk["variants"] if v["drop_points"] is not None and v["drop_points"] <= 5]
    assert desk["fastest"] == min(eligible, key=lambda v: v["p50_us"])["model"]
    text = (out / "fleet.md").read_text()
    assert "| emulated-cortex-a72 (emulated) |" in text and "| emulated | emulated | emulated |" in text
    assert text.count("| fastest |") == 1
    assert (out / "fleet.png").is_file()
    assert "fmnist-bench: wrote" in capsys.readouterr().out


def test_reports_of_two_models_are_refused(device_reports, tmp_path, capsys):
    other = json.loads(device_reports[1].read_text())
    other["device"]["sources"] = {"seed-cnn": "ff" * 32}
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert cli.main(["--merge", str(device_reports[0]), str(tmp_path / "other.json"),
                     "--out", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "benchmarked another model" in err
    assert not (tmp_path / "f").exists()


@pytest.mark.parametrize("content, fragment", [
    ("not json", "not JSON"), ('{"records": []}', "without a device record"), ("[]", "no records")])
def test_unusable_reports_are_one_line(content, fragment, tmp_path, capsys):
    (tmp_path / "r.json").write_text(content)
    assert cli.main(["--merge", str(tmp_path / "r.json"), "--out", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err
    assert cli.main(["--merge", "--out", str(tmp_path / "f")]) == 2
    assert "at least one benchmark.json" in capsys.readouterr().err
