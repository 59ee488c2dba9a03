import json

from fmnist_edge.intervals import wilson
from fmnist_edge.train import summary


def _run(folder, name, model, seed, test, val):
    run_dir = folder / name
    run_dir.mkdir(parents=True)
    metrics = {"model": model, "seed": seed, "epochs": 15, "params": 10, "macs": 20,
               "final_epoch_train_accuracy": 0.99, "train_accuracy": 0.97, "val_accuracy": val,
               "test_accuracy": test, "test_loss": 0.5, "seconds": 100.0}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))


def test_table_reports_spread_and_selects_by_validation(tmp_path):
    _run(tmp_path, "a", "seed-cnn", 0, 0.90, 0.91)
    _run(tmp_path, "b", "seed-cnn", 1, 0.92, 0.89)
    _run(tmp_path, "c", "seed-cnn", 2, 0.91, 0.90)
    table = summary.runs_table(summary.load_runs(tmp_path))
    assert "| a | seed-cnn | 0 | 15 | 10 | 20 | 99.00 | 97.00 | 91.00 | 90.00 | 0.5000 | 100 |" in table
    # mean 91.00, sample std 1.00, t(2) = 4.303: 91.00 ± 2.48; 90.69 is within 90–92;
    # validation picks run a although b tests better
    assert ("| seed-cnn | 3 | 91.00 ± 1.00 | 88.52–93.48 | 90.00 | 92.00 | inside the seeds' range "
            "| a (90.00) |") in table


def test_one_seed_is_judged_by_its_own_interval(tmp_path):
    _run(tmp_path, "a", "seed-cnn", 0, 0.8969, 0.90)
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    (tmp_path / "a" / "metrics.json").write_text(json.dumps({**metrics, "test_accuracy_ci": list(wilson(8969, 10000))}))
    table = summary.runs_table(summary.load_runs(tmp_path))
    assert "| 89.69 ±0.60 |" in table  # the run's row shows its interval
    assert "| – | 89.69 | 89.69 | outside its 95 % interval (one seed) |" in table


def test_update_readme_rewrites_only_the_block(tmp_path, capsys):
    _run(tmp_path / "art", "a", "ann", 0, 0.88, 0.88)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- runs:begin -->\nold\n<!-- runs:end -->\noutro\n")
    assert summary.main([str(tmp_path / "art"), "--update-readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("<!-- runs:end -->\noutro\n")
    assert "old" not in text and "| ann | 1 | 88.00 ± 0.00" in text
    assert "| ann | 1 | 88.00" in capsys.readouterr().out


def test_no_runs_or_no_markers_exit_2(tmp_path, capsys):
    assert summary.main([str(tmp_path)]) == 2
    assert "run fmnist-train first" in capsys.readouterr().err
    _run(tmp_path, "a", "ann", 0, 0.88, 0.88)
    (tmp_path / "R.md").write_text("no markers")
    assert summary.main([str(tmp_path), "--update-readme", str(tmp_path / "R.md")]) == 2
    assert (tmp_path / "R.md").read_text() == "no markers"


def test_runs_of_another_recipe_are_not_counted_as_seeds(tmp_path):
    from fmnist_edge.train.config import ModelKind, TrainConfig

    _run(tmp_path, "seed-cnn", "seed-cnn", 0, 0.897, 0.895)
    _run(tmp_path, "quant-demo", "seed-cnn", 0, 0.715, 0.72)  # make quant-demo: ELU, lr 0.02, 3 epochs
    demo = TrainConfig(model=ModelKind.SEED_CNN, learning_rate=0.02, epochs=3).resolved().to_json()
    (tmp_path / "quant-demo" / "config.json").write_text(json.dumps({**demo, "activation": "elu"}))
    table = summary.runs_table(summary.load_runs(tmp_path))
    assert "| seed-cnn | 1 | 89.70 ± 0.00 |" in table
    assert "| seed-cnn (activation elu, learning_rate 0.02, epochs 3) | 1 | 71.50 ± 0.00 |" in table
