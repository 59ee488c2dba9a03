"""One epoch of the tutorial CNN on the real 60k/10k data, through the CLI (CI runs this)."""

import json

import pytest

pytest.importorskip("tensorflow")

from fmnist_edge.runtime.dataset import EXPECTED_COUNTS  # noqa: E402
from fmnist_edge.train import cli  # noqa: E402
from fmnist_edge.train.run import RUN_FILES  # noqa: E402


@pytest.mark.slow
def test_one_epoch_of_the_tutorial_cnn_on_real_data(tmp_path, capsys):
    assert cli.main(["--epochs", "1", "--out", str(tmp_path), "--progress", "none"]) == 0
    summary = capsys.readouterr().out
    assert "fmnist-train: seed-cnn test accuracy" in summary
    run_dir = tmp_path / "seed-cnn"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed-cnn"]  # no staging leftovers
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(RUN_FILES)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.85
    assert metrics["params"] == 542_230 and metrics["epochs"] == 1
    assert metrics["dataset"]["train"] + metrics["dataset"]["validation"] == EXPECTED_COUNTS["train"]
    assert metrics["dataset"]["test"] == EXPECTED_COUNTS["test"]
    for key in ("test_loss", "train_accuracy", "val_accuracy", "seconds", "versions"):
        assert key in metrics
    for split, n in (("train", 55_000), ("val", 5_000), ("test", 10_000)):  # Wilson 95 % intervals
        low, high = metrics[f"{split}_accuracy_ci"]
        assert low < metrics[f"{split}_accuracy"] < high and (high - low) / 2 < 1.1 / n ** 0.5
    classes = metrics["per_class_test"]
    assert [c["images"] for c in classes] == [1000] * 10
    assert all(c["ci"][0] <= c["accuracy"] <= c["ci"][1] for c in classes)
    assert len(metrics["dataset"]["sha256"]) == 4
    config = json.loads((run_dir / "config.json").read_text())
    assert config["epochs"] == 1 and config["dense_units"] == [100] and config["optimizer"] == "adam"
    history = json.loads((run_dir / "history.json").read_text())
    assert set(history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    for png in ("curves.png", "confusion.png"):
        assert (run_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import keras

    model = keras.saving.load_model(run_dir / "model.keras")
    assert model.count_params() == 542_230
