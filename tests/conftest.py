import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ banners out of test logs


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
        shutil.copy2(Path(reuse) / "model.keras", target / "model.keras")
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
