import os
import subprocess
import sys

import pytest

from fmnist_edge.train import cli
from fmnist_edge.train.config import Activation, ModelKind, Optimizer
from tests.idx_fixtures import write_dataset

HYPERPARAMETERS = ["--model", "--filters", "--kernel-size", "--pool-size", "--activation",
                   "--kernel-initializer", "--dense-units", "--optimizer", "--learning-rate",
                   "--momentum", "--epochs", "--batch-size", "--seed", "--early-stopping-patience",
                   "--block-filters", "--dropout", "--label-smoothing", "--erasing"]


def test_help_lists_every_hyperparameter(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in HYPERPARAMETERS:
        assert flag in out


def test_options_map_to_config():
    args = cli.build_parser().parse_args(
        ["--model", "ann", "--dense-units", "64,32", "--optimizer", "sgd", "--momentum", "0.9",
         "--activation", "tanh", "--epochs", "3", "--early-stopping-patience", "2"])
    config = cli.config_from_args(args)
    assert config.model is ModelKind.ANN and config.dense_units == (64, 32)
    assert config.optimizer is Optimizer.SGD and config.momentum == 0.9
    assert config.activation is Activation.TANH and config.epochs == 3
    assert config.early_stopping_patience == 2


@pytest.mark.parametrize("argv, message", [
    (["--optimizer", "adagrad"], "invalid choice 'adagrad' (choose from sgd, adam, rmsprop)"),
    (["--epochs", "-3"], "must be at least 1"),
    (["--epochs", "ten"], "expected a whole number"),
    (["--batch-size", "0"], "must be at least 1"),
    (["--dense-units", "64,x"], "expected a whole number"),
    (["--learning-rate", "-1"], "must be a positive number"),
    (["--momentum", "1.5"], "must be in [0, 1)"),
    (["--dropout", "1"], "must be in [0, 1)"),
    (["--label-smoothing", "-0.1"], "must be in [0, 1)"),
    (["--model", "resnet"], "invalid choice 'resnet' (choose from seed-cnn, ann, edge-cnn)"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_options_exit_2_with_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fmnist-train: error:")
    assert message in err


@pytest.mark.parametrize("argv, message", [
    (["--kernel-size", "29"], "--kernel-size 29 does not fit a 28×28 image"),
    (["--kernel-size", "5", "--pool-size", "25"], "--pool-size 25 is larger than the 24×24"),
    (["--block-filters", "24,32,64"], "applies to --model edge-cnn only"),
    (["--model", "edge-cnn", "--block-filters", "24,32"], "takes three widths"),
])
def test_impossible_architecture(tmp_path, capsys, argv, message):
    assert cli.main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert os.listdir(tmp_path) == []


def test_missing_data_dir(tmp_path, capsys):
    assert cli.main(["--data", str(tmp_path / "missing"), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and "apt-get install" in err
    assert not (tmp_path / "a").exists()


def test_truncated_data_file(tmp_path, capsys):
    write_dataset(tmp_path / "d", gz=False)
    path = tmp_path / "d" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    assert cli.main(["--data", str(tmp_path / "d"), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "truncated" in err


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert cli.main(["--out", str(blocker / "artifacts")]) == 2  # real data, fails before training
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write the run folder" in err


def test_interrupted_run_keeps_previous_folder_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    previous = tmp_path / "seed-cnn"
    previous.mkdir()
    (previous / "metrics.json").write_text("{}")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    import fmnist_edge.train.fit as fit_module

    monkeypatch.setattr(fit_module, "fit", interrupted)
    assert cli.main(["--out", str(tmp_path)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["seed-cnn"]
    assert os.listdir(previous) == ["metrics.json"]


def test_bad_input_in_a_real_process_gives_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fmnist_edge.train.cli", "--data", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_failing_fast_imports_no_tensorflow(tmp_path):
    code = ("import sys; from fmnist_edge.train import cli; "
            f"rc = cli.main(['--data', {str(tmp_path)!r}]); "
            "print(rc, 'tensorflow' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.split() == ["2", "False"]
