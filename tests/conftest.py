import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ banners out of test logs
# Denying AMX installs a seccomp filter that this process and every child keep for good; the test
# process stays clean so that tests/runtime/test_amx.py can show both policies in subprocesses.
os.environ["FMNIST_AMX"] = "allow"


@pytest.fixture(scope="session")
def tutorial_run(tmp_path_factory) -> Path:
    """A run folder with the tutorial CNN trained by the full recipe on the real data (≈2 min).

    Set FMNIST_TEST_RUN to an existing run folder to reuse it (a developer shortcut; CI trains).
    """
    pytest.importorskip("tensorflow")
    target = tmp_path_factory.mktemp("tutorial") / "seed-cnn"
    reuse = os.environ.get("FMNIST_TEST_RUN")
    if reuse:
        target.mkdir()
        for name in ("model.keras", "config.json"):  # config.json names the validation split
            shutil.copy2(Path(reuse) / name, target / name)
        return target
    from fmnist_edge.train import cli

    assert cli.main(["--out", str(target.parent), "--name", target.name, "--progress", "none"]) == 0
    return target


@pytest.fixture(scope="session")
def tutorial_export(tutorial_run):
    """Every artifact of the tutorial CNN (export/ beside it), with its manifest."""
    from fmnist_edge.export.config import ExportConfig
    from fmnist_edge.export.pipeline import export_model

    return export_model(tutorial_run, ExportConfig(), progress=False)


def tiny_model(input_shape=(28, 28, 1)):
    """The 2-filter CNN fmnist-doctor's bundled models are made of (random weights, seed 0)."""
    from fmnist_edge.export.doctor_models import tiny_cnn

    return tiny_cnn(0, input_shape)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A run folder holding a tiny model fitted for one epoch on synthetic data."""
    pytest.importorskip("tensorflow")
    import numpy as np

    model = tiny_model()
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.random((256, 28, 28, 1), np.float32), rng.integers(0, 10, 256), epochs=1, verbose=0)
    run = tmp_path_factory.mktemp("tiny") / "run"
    run.mkdir()
    model.save(run / "model.keras")
    return run
