"""fmnist-predict as a user meets it: files, folders, .npy, JSON, and bad inputs among good ones."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fmnist_edge.runtime import predict_cli

from .conftest import BUNDLED

MODEL = str(BUNDLED / "doctor-tiny.tflite")


def _image(path, value=30):
    array = np.full((50, 40), 250, np.uint8)
    array[10:40, 10:30] = value
    Image.fromarray(array).save(path)
    return path


def test_files_folders_and_npy(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    _image(folder / "a.png")
    _image(folder / "b.jpg")
    (folder / ".hidden.png").write_text("skipped")
    np.save(tmp_path / "batch.npy", np.zeros((3, 28, 28), np.uint8))
    assert predict_cli.main([MODEL, str(folder), str(tmp_path / "batch.npy")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == [
        str(folder / "a.png"), str(folder / "b.jpg"),
        *(f"{tmp_path / 'batch.npy'}[{i}]" for i in range(3))]
    assert all(len(line.split("\t")) == 3 for line in lines)


def test_json_and_top_k(tmp_path, capsys):
    path = _image(tmp_path / "a.png")
    assert predict_cli.main([MODEL, str(path), "--json", "--top-k", "3"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["input"] == str(path) and len(record["top_k"]) == 3
    assert record["label"] == record["top_k"][0]["label"]


def test_a_good_image_among_bad_ones_still_gets_its_result(tmp_path, capsys):
    good = _image(tmp_path / "good.png")
    text = tmp_path / "text.png"
    text.write_text("hello")
    nans = tmp_path / "nans.npy"
    np.save(nans, np.full((2, 28, 28), np.nan, np.float32))
    wrong_dtype = tmp_path / "ints.npy"
    np.save(wrong_dtype, np.zeros((2, 28, 28), np.int64))
    wrong_shape = tmp_path / "shape.npy"
    np.save(wrong_shape, np.zeros((2, 32, 32), np.uint8))
    empty_folder = tmp_path / "empty"
    empty_folder.mkdir()
    inputs = [text, good, nans, wrong_dtype, wrong_shape, tmp_path / "missing.png", empty_folder]
    assert predict_cli.main([MODEL, *map(str, inputs)]) == 2
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1 and captured.out.startswith(str(good))
    errors = captured.err.splitlines()
    assert len(errors) == 6 and all(line.startswith("fmnist-predict: error: ") for line in errors)
    for fragment in ("not a readable image", "NaN or infinity", "dtype int64", "shaped (2, 32, 32)",
                     "no such file", "holds no images"):
        assert any(fragment in line for line in errors), fragment


def test_an_image_over_the_pixel_limit_is_one_line_and_exit_2(tmp_path, capsys):
    good, big = _image(tmp_path / "good.png"), tmp_path / "big.png"
    Image.new("RGB", (3000, 2000), 255).save(big)  # 6 M pixels in a few kB
    assert predict_cli.main([MODEL, str(big), str(good), "--max-pixels", "5.9M"]) == 2
    captured = capsys.readouterr()
    assert captured.out.startswith(str(good)) and captured.out.count("\n") == 1
    assert captured.err.splitlines() == [
        f"fmnist-predict: error: {big}: image too large: PNG 3,000×2,000 (mode RGB) counts 6,000,000 pixels "
        "of decoder memory, over the limit of 5,900,000 (--max-pixels; a decompression-bomb guard)"]
    assert predict_cli.main([MODEL, str(big), "--max-pixels", "6M"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("content", [b"", b"\x00garbage" * 100])
def test_bad_model_file_is_one_line_exit_2(tmp_path, capsys, content):
    model = tmp_path / "model.tflite"
    model.write_bytes(content)
    assert predict_cli.main([str(model), str(_image(tmp_path / "a.png"))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fmnist-predict: error:")


def test_usage_errors_exit_2(capsys):
    for argv in ([MODEL], [MODEL, "x.png", "--top-k", "0"], [MODEL, "x.png", "--backend", "tensorrt"],
                 [MODEL, "x.png", "--max-pixels", "0"], [MODEL, "x.png", "--max-pixels", "lots"]):
        with pytest.raises(SystemExit) as info:
            predict_cli.main(argv)
        assert info.value.code == 2
        assert capsys.readouterr().err.count("\n") == 1


def test_startup_and_one_prediction_import_nothing_heavy_and_stderr_stays_clean(tmp_path):
    path = _image(tmp_path / "a.png")
    code = ("import sys\nfrom fmnist_edge.runtime import predict_cli\n"
            f"rc = predict_cli.main([{MODEL!r}, {str(path)!r}])\n"
            "heavy = [m for m in ('tensorflow', 'keras', 'matplotlib', 'pandas') if m in sys.modules]\n"
            "print(rc, heavy)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.splitlines()[-1] == "0 []"
    assert proc.stderr == ""  # no XNNPACK banner, no warnings
    help_run = subprocess.run([sys.executable, "-m", "fmnist_edge.runtime.predict_cli", "--help"],
                              capture_output=True, text=True)
    assert help_run.returncode == 0 and "--invert" in help_run.stdout and help_run.stderr == ""
