"""Per-layer int8 error, the --quantize auto loop and --calibration auto, on the tiny model."""

import dataclasses
import json
import math
import os
import shutil

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from fmnist_edge.export import fallback, pipeline, trial  # noqa: E402
from fmnist_edge.export.config import CalibrationMethod, ExportConfig, Format, Quantization  # noqa: E402
from fmnist_edge.runtime.dataset import FILES, candidate_dirs  # noqa: E402
from tests.idx_fixtures import write_idx  # noqa: E402

CALIBRATED = (Quantization.INT8, Quantization.MIXED, Quantization.AUTO)
LOOSE = ExportConfig(quantizations=CALIBRATED, max_drop=100.0, calibration_samples=100)


@pytest.fixture(scope="module")
def split_run(tiny_run, tmp_path_factory):
    """The tiny run with a config.json naming fmnist-train's validation split."""
    run = tmp_path_factory.mktemp("split") / "run"
    shutil.copytree(tiny_run, run)
    (run / "config.json").write_text(json.dumps({"validation_size": 5000}))
    return run


@pytest.fixture(scope="module")
def exported(split_run):
    result = pipeline.export_model(split_run, LOOSE, progress=False)
    return result, {e["file"]: e for e in result.manifest["artifacts"]}


def _layer_names(run):
    import keras

    return [layer.name for layer in keras.saving.load_model(run / "model.keras").layers]


def test_every_calibrated_file_has_ranked_per_layer_fields(exported, split_run):
    result, entries = exported
    names = _layer_names(split_run)
    assert sorted(entries) == ["model_auto.onnx", "model_auto.tflite", "model_int8.onnx",
                               "model_int8.tflite", "model_mixed.tflite"]
    for file, entry in entries.items():
        error = entry["layer_error"]
        assert error["format"] == entry["format"] and error["from"] == "validation split"
        assert error["images"] == 1000
        rows = error["layers"]
        assert rows and {r["layer"] for r in rows} <= set(names), file
        assert [r["rank_db"] for r in rows] == sorted(r["rank_db"] for r in rows)  # worst first
        assert all(math.isfinite(r["sqnr_db"]) and r["op"] for r in rows)
        if entry["format"] == "tflite":
            assert all(r["rank_db"] == r["sqnr_db"] and r["rmse_scale"] >= 0 for r in rows)
        else:
            assert all(r["rank_db"] == r["added_db"] for r in rows)
    assert (result.out_dir / "report.md").read_text().count("error per layer (worst first)") == 5


def test_mixed_is_the_fallback_mechanism_with_the_first_conv(exported, split_run):
    _, entries = exported
    first_conv = next(n for n in _layer_names(split_run) if n.startswith("conv"))
    mixed = entries["model_mixed.tflite"]
    assert mixed["float_layers"] == [first_conv]
    assert first_conv not in {r["layer"] for r in mixed["layer_error"]["layers"]}
    assert first_conv in {r["layer"] for r in entries["model_int8.tflite"]["layer_error"]["layers"]}


def test_auto_within_a_loose_budget_is_full_int8_with_its_latency(exported):
    _, entries = exported
    for file in ("model_auto.tflite", "model_auto.onnx"):
        entry = entries[file]
        assert entry["float_layers"] == [] and entry["fallback"]["met"] is True
        assert len(entry["fallback"]["steps"]) == 1
        assert entry["validation"]["images"] == 5000
        latency = entry["latency_us"]
        assert latency["auto"] > 0 and latency["full_int8"] > 0
        assert latency["ratio"] == pytest.approx(latency["auto"] / latency["full_int8"], abs=1e-3)


def test_the_layers_block_shows_every_calibrated_file_per_layer(exported, split_run, tmp_path):
    from fmnist_edge.export import quant_summary

    result, entries = exported
    page = tmp_path / "page.md"
    page.write_text("before\n<!-- layers-run:begin -->\nold\n<!-- layers-run:end -->\nafter\n")
    assert quant_summary.main([str(result.out_dir), "--layers", "--update-readme", str(page)]) == 0
    lines = page.read_text().splitlines()
    header = next(line for line in lines if line.startswith("| layer |"))
    assert header.count("model_") == 5 and "old" not in lines and lines[-1] == "after"
    conv = next(n for n in _layer_names(split_run) if n.startswith("conv"))
    row = next(line for line in lines if line.startswith(f"| {conv} |")).split("|")[2:-1]
    files = header.split("|")[2:-1]
    for file, cell in zip(files, row):
        entry = entries[file.strip()]
        if conv in entry["layer_error"]["float_layers"]:
            assert cell.strip() == "float"
        else:
            db = next(r["rank_db"] for r in entry["layer_error"]["layers"] if r["layer"] == conv)
            assert cell.strip() == f"{db:.1f}"
    assert quant_summary.main([str(result.out_dir), "--layers", "--update-readme",
                               str(tmp_path / "missing.md")]) == 2


def _error(*rows):
    return {"layers": sorted(({"layer": n, "rank_db": db} for n, db in rows),
                             key=lambda r: r["rank_db"])}


def test_the_loop_floats_the_worst_layer_until_the_budget_holds():
    drops = {(): 3.0, ("dense",): 1.0, ("dense", "conv"): 0.2}
    errors = {(): _error(("conv", 30), ("dense", 20), ("out", 35), ("pool", 146)),
              ("dense",): _error(("conv", 25), ("out", 35), ("pool", 146)),
              ("dense", "conv"): _error(("out", 35), ("pool", 146))}
    built = []

    def build(layers):
        built.append(list(layers))
        return tuple(layers), errors[tuple(layers)]

    result = fallback.accuracy_aware(build, lambda m: {"drop_points": drops[m]}, 0.3)
    assert result.met and result.float_layers == ["dense", "conv"] and result.model == ("dense", "conv")
    assert built == [[], ["dense"], ["dense", "conv"]]
    assert [s.get("next") for s in result.steps] == ["dense", "conv", None]


def test_the_loop_stops_at_the_first_model_within_budget_and_gives_up_short_of_float():
    result = fallback.accuracy_aware(lambda layers: (1, _error(("conv", 30))),
                                     lambda m: {"drop_points": 0.3}, 0.3)
    assert result.met and result.float_layers == [] and len(result.steps) == 1
    # pool adds no error (146 dB, float rounding) and has no weights: never a candidate, and
    # the last candidate (out) is never floated: that would be all-float
    errors = {(): _error(("conv", 30), ("out", 40), ("pool", 146)),
              ("conv",): _error(("out", 40), ("pool", 146))}
    result = fallback.accuracy_aware(lambda layers: (2, errors[tuple(layers)]),
                                     lambda m: {"drop_points": 2.0}, 0.3)
    assert not result.met and result.model is None and result.float_layers == ["conv"]
    assert len(result.steps) == 2
    # a layer with weights stays a candidate even when ONNX's estimate sees no added error
    errors = {(): _error(("conv", 30), ("dense", 200), ("out", 40)),
              ("conv",): _error(("dense", 200), ("out", 40)),
              ("conv", "out"): _error(("dense", 200))}
    result = fallback.accuracy_aware(lambda layers: (3, errors[tuple(layers)]),
                                     lambda m: {"drop_points": 2.0}, 0.3,
                                     weighted=frozenset({"conv", "dense", "out"}))
    assert result.float_layers == ["conv", "out"] and not result.met


def test_auto_that_cannot_meet_the_budget_writes_nothing_under_its_name(split_run, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setattr(trial, "score", lambda *a: {"drop_points": 9.0, "accuracy": 0.1,
                                                   "agreement": 0.1, "images": 1})
    config = ExportConfig(quantizations=(Quantization.NONE, Quantization.AUTO), max_drop=0.3,
                          calibration_samples=100, check=False)
    result = pipeline.export_model(split_run, config, tmp_path / "out", progress=False)
    assert sorted(os.listdir(result.out_dir)) == ["manifest.json", "model_float32.onnx",
                                                  "model_float32.tflite", "report.md"]
    assert {r["file"] for r in result.manifest["not_written"]} == {"model_auto.tflite",
                                                                   "model_auto.onnx"}
    # asked for among others: skipped with its reason, the others written, exit 3
    assert {r["file"] for r in result.skipped} == {"model_auto.tflite", "model_auto.onnx"}
    assert all("no int8 model loses at most 0.3" in r["reason"] for r in result.skipped)
    result.raise_on_failed_checks()
    assert result.exit_code == pipeline.EXIT_SKIPPED
    # asked for alone: the export's failure (exit 1), nothing written under its name
    alone = dataclasses.replace(config, formats=(Format.TFLITE,), quantizations=(Quantization.AUTO,))
    result = pipeline.export_model(split_run, alone, tmp_path / "alone", progress=False)
    assert not (tmp_path / "alone" / "model_auto.tflite").exists() and not result.skipped
    with pytest.raises(pipeline.BudgetNotMet):
        result.raise_on_failed_checks()


def _data_with_test_split(folder, seed):
    """The real training files beside a synthetic test split of its own (seeded)."""
    real = next(path for _, path in candidate_dirs() if (path / FILES[("train", "images")]).exists()
                or (path / (FILES[("train", "images")] + ".gz")).exists())
    folder.mkdir()
    for key, name in FILES.items():
        if key[0] == "train":
            for suffix in ("", ".gz"):
                if (real / (name + suffix)).exists():
                    os.symlink(real / (name + suffix), folder / (name + suffix))
    rng = np.random.default_rng(seed)
    write_idx(folder / FILES[("test", "images")], rng.integers(0, 256, (10_000, 28, 28), np.uint8))
    write_idx(folder / FILES[("test", "labels")], rng.integers(0, 10, 10_000).astype(np.uint8))
    return folder


def test_decisions_read_only_validation_images(split_run, tmp_path, monkeypatch):
    """Two different test splits: every decision is the same; the test split is read last."""
    events = []
    real_predictions = pipeline._keras_predictions
    monkeypatch.setattr(pipeline, "_keras_predictions",
                        lambda *a: events.append("test") or real_predictions(*a))
    real_score = trial.score
    monkeypatch.setattr(trial, "score", lambda *a: events.append("decide") or real_score(*a))
    config = ExportConfig(quantizations=(Quantization.AUTO,), max_drop=100.0,
                          calibration=CalibrationMethod.AUTO, calibration_samples=100)
    decisions = []
    for seed in (1, 2):
        data = _data_with_test_split(tmp_path / f"data{seed}", seed)
        result = pipeline.export_model(split_run, config, tmp_path / f"out{seed}", str(data),
                                       progress=False)
        entries = result.manifest["artifacts"]
        # figures and choices, not names: tf2onnx numbers its nodes per process (Transpose__61)
        decisions.append([(e["file"], e["calibration"], e["calibration_search"], e["fallback"],
                           [(r["layer"], r["rank_db"], r["sqnr_db"])
                            for r in e["layer_error"]["layers"]]) for e in entries])
        assert events.index("test") > max(i for i, e in enumerate(events) if e == "decide")
        assert entries[0]["check"]["test_images"] == 10_000
        events.clear()
    assert decisions[0] == decisions[1]
    search = result.manifest["artifacts"][0]["calibration_search"]
    assert len(search["settings"]) in (3, 24)


def test_mixed_names_the_layers_its_first_conv_is_folded_with():
    """The edge CNN's conv1 has no TFLite op of its own: the converter folds it, bn1 and act1."""
    import keras

    from fmnist_edge.export.int8 import first_conv

    inputs = keras.Input((28, 28, 1), name="image")
    x = keras.layers.Conv2D(4, 3, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.Conv2D(4, 3, name="conv2")(keras.layers.ReLU(name="act1")(x))
    outputs = keras.layers.Dense(10, name="probabilities")(keras.layers.Flatten()(x))
    assert first_conv(keras.Model(inputs, outputs)) == ["conv1", "bn1", "act1"]
    plain = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3, name="c"),
                              keras.layers.ReLU(), keras.layers.Flatten(), keras.layers.Dense(10)])
    assert first_conv(plain)[0] == "c" and len(first_conv(plain)) == 2  # and its ReLU
