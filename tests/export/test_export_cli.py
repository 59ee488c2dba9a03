"""fmnist-export as a user meets it: --help, bad input → one line, exit 2, nothing written."""

import dataclasses
import os
import shutil
import subprocess
import sys

import pytest

from fmnist_edge.export import cli
from tests.conftest import tiny_model


def _one_line_error(capsys, *fragments):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fmnist-export: error:"), err
    for fragment in fragments:
        assert fragment in err, err


def test_help_is_instant_and_lists_options(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--format", "--quantize", "--out", "--calibration-samples", "--onnx-activations",
                 "--max-drop", "--no-check"):
        assert flag in out


def test_help_imports_no_tensorflow():
    code = ("import sys\nfrom fmnist_edge.export import cli\ntry:\n cli.main(['--help'])\n"
            "except SystemExit:\n pass\nprint('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False")


@pytest.mark.parametrize("argv, fragment", [
    (["--format", "coreml"], "invalid choice: 'coreml'"),
    (["--quantize", "int4"], "invalid choice: 'int4'"),
    (["--calibration-samples", "0"], "must be at least 1"),
    (["--format", "onnx", "--quantize", "float16"], "--format onnx does not support --quantize float16"),
    (["--onnx-activations", "int16"], "invalid choice 'int16'"),
])
def test_bad_options(capsys, argv, fragment):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    _one_line_error(capsys, fragment)


def test_missing_model(tmp_path, capsys):
    assert cli.main([str(tmp_path / "nope")]) == 2
    _one_line_error(capsys, "no Keras model at", "nope")
    assert os.listdir(tmp_path) == []


def test_not_a_keras_file(tmp_path, capsys):
    (tmp_path / "model.txt").write_text("hello")
    assert cli.main([str(tmp_path / "model.txt")]) == 2
    _one_line_error(capsys, "not a Keras model file")
    (tmp_path / "model.keras").write_bytes(b"garbage, not a zip")
    assert cli.main([str(tmp_path)]) == 2
    _one_line_error(capsys, "not a loadable Keras model")
    assert sorted(os.listdir(tmp_path)) == ["model.keras", "model.txt"]


def test_model_with_the_wrong_input_shape(tmp_path, capsys):
    tiny_model((32, 32, 3)).save(tmp_path / "model.keras")
    assert cli.main([str(tmp_path)]) == 2
    _one_line_error(capsys, "model input is (32, 32, 3), expected one (28, 28, 1) image input")
    assert sorted(os.listdir(tmp_path)) == ["model.keras"]


def test_unwritable_or_foreign_out(tiny_run, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main([str(tiny_run), "--out", str(blocker / "export")]) == 2
    _one_line_error(capsys, "cannot write the export folder")
    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    assert cli.main([str(tiny_run), "--out", str(foreign)]) == 2
    _one_line_error(capsys, "is not an fmnist-edge export folder")
    assert os.listdir(foreign) == ["thesis.tex"]


def test_failed_check_exits_1_after_printing_the_table(tiny_run, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    # a negative budget is a usage error on the command line; only the library can fail float32
    parse = cli.config_from_args
    monkeypatch.setattr(cli, "config_from_args",
                        lambda args: dataclasses.replace(parse(args), max_drop=-1.0))
    rc = cli.main([str(run), "--format", "tflite", "--quantize", "none",
                   "--calibration-samples", "100", "--progress", "off"])
    assert rc == 1
    captured = capsys.readouterr()
    assert "| model_float32.tflite | tflite | float32 |" in captured.out and "FAIL" in captured.out
    assert captured.err.count("\n") == 1 and "dropped 0.00 points" in captured.err


def test_update_readme(tiny_run, tmp_path, capsys):
    run, readme = tmp_path / "run", tmp_path / "README.md"
    shutil.copytree(tiny_run, run)
    readme.write_text("a\n<!-- exports:begin -->\nold\n<!-- exports:end -->\nb\n")
    assert cli.main([str(run), "--format", "onnx", "--quantize", "none", "--max-drop", "100",
                     "--calibration-samples", "100", "--update-readme", str(readme)]) == 0
    text = readme.read_text()
    assert "old" not in text and "| model_float32.onnx | onnx | float32 | float32 |" in text
    assert text.startswith("a\n") and text.endswith("<!-- exports:end -->\nb\n")


@pytest.mark.parametrize("args, message", [
    (["--max-drop", "-1"], "--max-drop: must be 0 or more"),
    (["--max-drop", "nan"], "--max-drop: must be 0 or more"),
    (["--calibration", "kl"], "--calibration: invalid choice 'kl'"),
    (["--calibration-samples", "0"], "--calibration-samples"),
    (["--quantize", "auto"], "needs the training run's validation images"),
    (["--calibration", "auto", "--format", "onnx", "--quantize", "int8"],
     "needs the training run's validation images"),
    (["--onnx-weights", "uint8", "--onnx-activations", "int8"],
     "--onnx-weights uint8 needs --onnx-activations uint8"),
    (["--onnx-weights", "int4"], "--onnx-weights: invalid choice 'int4'"),
])
def test_bad_int8_options_are_one_line_exit_2_and_write_nothing(tiny_run, tmp_path, capsys,
                                                               args, message):
    run = tmp_path / "run"  # the tiny run has no config.json: no validation split is known
    shutil.copytree(tiny_run, run)
    try:  # argparse exits; a library error returns the code
        rc = cli.main([str(run), *args, "--progress", "off"])
    except SystemExit as exc:
        rc = exc.code
    assert rc == 2
    _one_line_error(capsys, message)
    assert sorted(os.listdir(run)) == ["model.keras"]
