"""``python -m fmnist_edge.benchmarks.cold``: the floor and fmnist-predict, timed in the same rounds."""

import re

import numpy as np
from PIL import Image

from fmnist_edge.benchmarks import cold


def test_floor_and_first_answer_are_timed_for_each_python(export_dir, tmp_path, capsys):
    image = tmp_path / "one.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    model = next(export_dir.glob("*.tflite"))
    assert cold.main([str(model), str(image), "--runs", "1"]) == 0
    rows = [re.fullmatch(r" *([\d.]+) ms  ([\w-]+) \((.+)\)", line)
            for line in capsys.readouterr().out.splitlines()]
    assert [row[2] for row in rows] == ["floor", "fmnist-predict"]
    assert all(float(row[1]) > 0 for row in rows)


def test_a_command_that_fails_is_one_line_and_exit_2(export_dir, tmp_path, capsys):
    model = next(export_dir.glob("*.tflite"))
    assert cold.main([str(model), str(tmp_path / "missing.png"), "--runs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.png: no such file" in err[0]
