"""choose="fastest": the in-budget variant that is fastest here, cached, and timed again when
anything it depends on changes."""

import json
import logging
import shutil

import pytest

from fmnist_edge.runtime import choose, system
from fmnist_edge.runtime.classifier import Classifier
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.labels import CLASS_NAMES
from fmnist_edge.runtime.manifest import sha256_file
from tests.runtime.conftest import BUNDLED

VARIANTS = (("model_int8.tflite", "tflite", "int8", 0.2), ("model_float32.onnx", "onnx", "none", 0.0),
            ("model_mixed.tflite", "tflite", "mixed", 2.0))


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    export = tmp_path / "export"
    export.mkdir()
    entries = []
    for name, fmt, quant, drop in VARIANTS:
        shutil.copy2(BUNDLED / f"doctor-tiny.{fmt}", export / name)
        entries.append({"file": name, "format": fmt, "quantization": quant,
                        "sha256": sha256_file(export / name), "check": {"drop_points": drop}})
    (export / "manifest.json").write_text(json.dumps({"labels": list(CLASS_NAMES), "artifacts": entries}))
    return export


def _timed(monkeypatch, speeds):
    calls = []

    def fake(classifiers, budget_s=choose.BUDGET_S):
        calls.append(sorted(classifiers))
        return {name: speeds[name] for name in classifiers}
    monkeypatch.setattr(choose, "time_candidates", fake)
    return calls


def test_the_fastest_within_the_budget_is_loaded_and_cached(folder, monkeypatch):
    calls = _timed(monkeypatch, {"model_int8.tflite": 40.0, "model_float32.onnx": 12.0})
    clf = Classifier.load(folder, choose="fastest", max_drop=0.5)
    assert clf.path.name == "model_float32.onnx" and clf.choice["cached"] is False
    assert calls == [["model_float32.onnx", "model_int8.tflite"]]  # mixed dropped 2 points: out
    assert clf.describe()["choice"]["timings_us"] == {"model_int8.tflite": 40.0, "model_float32.onnx": 12.0}
    again = Classifier.load(folder, choose="fastest", max_drop=0.5)
    assert again.path.name == "model_float32.onnx" and again.choice["cached"] is True
    assert len(calls) == 1  # the second load timed nothing
    assert choose.cache_path().is_file()


def _paired(folder, drops: dict) -> None:
    """Give the manifest's checks a paired test: {file: (drop points, measurable?)}."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["artifacts"]:
        drop, measurable = drops[entry["file"]]
        entry["check"] = {"drop_points": drop, "paired": {"drop_points": drop, "distinguishable": measurable,
                                                          "mcnemar_p": 0.001 if measurable else 0.6}}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_a_measurable_loss_gives_way_to_a_slower_variant_without_one(folder, monkeypatch):
    """Within the budget, a drop that cannot be told from zero is not ranked: the fastest wins.
    A measurable one (exact McNemar p < 0.05) loses to the fastest variant without one."""
    _timed(monkeypatch, {"model_int8.tflite": 10.0, "model_float32.onnx": 40.0})
    _paired(folder, {"model_int8.tflite": (0.2, False), "model_float32.onnx": (0.0, False),
                     "model_mixed.tflite": (2.0, True)})
    clf = Classifier.load(folder, choose="fastest", max_drop=0.5)
    assert clf.path.name == "model_int8.tflite" and clf.choice["why"] == "the fastest within the budget"
    _paired(folder, {"model_int8.tflite": (0.4, True), "model_float32.onnx": (0.0, False),
                     "model_mixed.tflite": (2.0, True)})
    choose.cache_path().unlink()  # the cache is keyed by the files, which did not change
    clf = Classifier.load(folder, choose="fastest", max_drop=0.5)
    assert clf.path.name == "model_float32.onnx"
    assert clf.choice["why"].startswith("the fastest whose loss cannot be told from zero: model_int8.tflite")


def test_a_tighter_budget_a_new_engine_or_a_changed_model_times_again(folder, monkeypatch):
    calls = _timed(monkeypatch, {"model_int8.tflite": 40.0, "model_float32.onnx": 12.0})
    Classifier.load(folder, choose="fastest", max_drop=0.5)
    assert Classifier.load(folder, choose="fastest", max_drop=0.1).path.name == "model_float32.onnx"
    assert calls[-1] == ["model_float32.onnx"]
    real = system.installed_version
    monkeypatch.setattr(system, "installed_version", lambda d: "99.0" if d == "onnxruntime" else real(d))
    Classifier.load(folder, choose="fastest", max_drop=0.5)
    assert len(calls) == 3
    manifest = json.loads((folder / "manifest.json").read_text())
    shutil.copy2(BUNDLED / "doctor-tiny.onnx", folder / "model_int8.onnx")  # a re-export
    manifest["artifacts"][1]["file"] = "model_int8.onnx"
    manifest["artifacts"][1]["sha256"] = sha256_file(folder / "model_int8.onnx")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    _timed(monkeypatch, {"model_int8.tflite": 10.0, "model_int8.onnx": 30.0})
    assert Classifier.load(folder, choose="fastest").path.name == "model_int8.tflite"


def test_a_corrupt_cache_is_ignored_with_a_warning_and_rebuilt(folder, monkeypatch, caplog):
    calls = _timed(monkeypatch, {"model_int8.tflite": 5.0, "model_float32.onnx": 12.0})
    choose.cache_path().parent.mkdir(parents=True)
    choose.cache_path().write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="fmnist_edge.runtime.choose"):
        assert Classifier.load(folder, choose="fastest").path.name == "model_int8.tflite"
    assert "unreadable choice cache" in caplog.text and len(calls) == 1
    assert json.loads(choose.cache_path().read_text())  # rewritten as valid JSON
    key = next(iter(json.loads(choose.cache_path().read_text())))
    choose.cache_path().write_text(json.dumps({key: {"file": "model_gone.tflite"}}))  # stale
    with caplog.at_level(logging.WARNING, logger="fmnist_edge.runtime.choose"):
        Classifier.load(folder, choose="fastest")
    assert "stale choice" in caplog.text and len(calls) == 2


def test_bad_choices_are_one_line_errors(folder, tmp_path):
    with pytest.raises(FmnistError, match="unknown choose 'slowest'"):
        Classifier.load(folder, choose="slowest")
    with pytest.raises(FmnistError, match="max_drop must be a number"):
        Classifier.load(folder, choose="fastest", max_drop=-1)
    manifest = json.loads((folder / "manifest.json").read_text())
    for e in manifest["artifacts"]:
        del e["check"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(FmnistError, match="no variant a backend here can run has a recorded accuracy"):
        Classifier.load(folder, choose="fastest")


def test_real_timing_stays_within_its_budget(folder):
    loaded = {name: Classifier.load(folder / name) for name, *_ in VARIANTS[:2]}
    import time

    start = time.perf_counter()
    timings = choose.time_candidates(loaded, budget_s=0.3)
    assert time.perf_counter() - start < 0.3 + 0.2 and all(t > 0 for t in timings.values())


def test_fmnist_predict_and_doctor_show_the_choice(folder, monkeypatch, capsys, tmp_path):
    from fmnist_edge.runtime import doctor, predict_cli

    _timed(monkeypatch, {"model_int8.tflite": 40.0, "model_float32.onnx": 12.0})
    image = tmp_path / "x.npy"
    import numpy as np

    np.save(image, np.zeros((2, 28, 28), np.uint8))
    assert predict_cli.main([str(folder), str(image), "--choose", "fastest", "--max-drop", "0.5",
                             "--json"]) == 0
    assert capsys.readouterr().out.count('"input"') == 2
    assert doctor.main([str(folder)]) == 0
    out = capsys.readouterr().out
    assert ("choice         model_float32.onnx (the fastest within the budget, of 2 within 0.5 points; "
            "from the cache") in out
    assert "model_int8.tflite: 40.0 µs batch 1, drop +0.20 points" in out


@pytest.mark.slow
def test_on_the_real_export_int8_beats_float32_and_the_choice_is_the_fastest(
        tutorial_export, tmp_path, monkeypatch):
    """Known speeds: the tutorial CNN's float32 files take 3–6× the time of its int8-weight ones
    at batch 1 on every CPU measured here, so the choice is never a float32 file."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    import time

    start = time.perf_counter()
    clf = Classifier.load(tutorial_export.out_dir, choose="fastest", max_drop=0.5, threads=1)
    seconds = time.perf_counter() - start
    timings = clf.choice["timings_us"]
    assert len(timings) == len(tutorial_export.manifest["artifacts"])
    assert clf.path.name == min(timings, key=timings.get)
    assert "float32" not in clf.path.name and "float16" not in clf.path.name
    assert seconds < 2.5  # TOTAL_S = 2 s, loads included, plus one call's overrun per round
    assert Classifier.load(tutorial_export.out_dir, choose="fastest", max_drop=0.5,
                           threads=1).choice["cached"] is True
