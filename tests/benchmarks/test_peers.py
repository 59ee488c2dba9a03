"""Our CNNs beside the submitted benchmark table: seeds summarised, int8 figures from the bench."""

import json

from fmnist_edge.benchmarks import peers


def _run(folder, accuracy, params=90_000, **config):
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"test_accuracy": accuracy, "params": params}))
    (folder / "config.json").write_text(json.dumps(config))


def _bench(tmp_path):
    record = {"label": "edge-cnn", "format": "tflite", "quantization": "int8", "threads": 1,
              "size_bytes": 95 * 1024, "latency_us": {"p50": 14.25}, "accuracy": 0.939,
              "accuracy_ci": [0.934, 0.944]}
    bench = {"environment": {"threads": [1, 2], "cpu": "AMD EPYC", "cores": 2}, "created": "2026-12-07",
             "records": [record, {**record, "threads": 2, "latency_us": {"p50": 99.0}}]}
    path = tmp_path / "benchmark.json"
    path.write_text(json.dumps(bench))
    return path


def test_ours_are_the_seeds_mean_and_sd_beside_the_submitted_rows(tmp_path, capsys):
    artifacts = tmp_path / "artifacts"
    _run(artifacts / "edge-cnn", 0.94, flip=True, augment=True, teacher=["a", "b", "c"], teacher_weight=0.5)
    _run(artifacts / "edge-cnn-seed1", 0.942)
    _run(artifacts / "edge-cnn-seed2", 0.938)
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- peers:begin -->\nold\n<!-- peers:end -->\ny\n")
    assert peers.main([str(artifacts), "--bench", str(_bench(tmp_path)), "--update-readme", str(readme)]) == 0
    text = readme.read_text()
    ours = next(line for line in text.splitlines() if "edge CNN (ours)" in line)
    assert "**94.00 ± 0.20** (3 seeds)" in ours and "| 90,000 | 95 | 14.2 |" in ours
    assert "horizontal flips, ±1 px shifts, distilled from 3 CNNs" in ours
    assert "| 2 Conv <100K parameters | none | 92.5 |" in text and "tutorial CNN" not in text  # no runs
    assert "submitted, untested" in text and text.startswith("x\n") and text.endswith("y\n")
    assert "edge CNN (ours)" in capsys.readouterr().out


def test_a_missing_report_is_one_line_and_exit_2(tmp_path, capsys):
    assert peers.main([str(tmp_path), "--bench", str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none.json: not a fmnist-bench report" in err


def test_the_plot_is_the_reports_int8_models_drawn_where_asked(tmp_path, capsys):
    png = tmp_path / "img" / "int8.png"
    assert peers.main([str(tmp_path), "--bench", str(_bench(tmp_path)), "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"plot: {png}" in capsys.readouterr().out


def test_a_plot_path_that_cannot_be_written_is_one_line_and_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert peers.main([str(tmp_path), "--bench", str(_bench(tmp_path)), "--plot", str(blocker / "x.png")]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "cannot create its folder" in captured.err and captured.out == ""
