"""The layers of pyproject.toml's import-linter contracts hold, and a forbidden import breaks them.

lint-imports reads a package from one folder, but in a checkout the stages are top-level folders
that setuptools maps into fmnist_edge (package-dir). So the test lays the installed layout out in
a temporary folder, as symlinks to the checkout, and runs lint-imports on that.
"""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is in the [dev] extra")


def installed_layout(root: Path, real_runtime: bool = False) -> Path:
    """``root/fmnist_edge`` laid out as the wheel installs it; the stages are symlinks.

    With ``real_runtime`` the runtime folder is a real folder of symlinked files, so a test can
    add a module to it without touching the checkout.
    """
    package = root / "fmnist_edge"
    package.mkdir(parents=True)
    for path in (REPO / "fmnist_edge").glob("*.py"):
        if path.name == "__init__.py":  # a copy: the checkout's would add the checkout to __path__
            shutil.copy(path, package / path.name)
        else:
            (package / path.name).symlink_to(path)
    for stage in ("train", "export", "runtime", "benchmarks", "serve"):
        if stage == "runtime" and real_runtime:
            (package / stage).mkdir()
            for path in (REPO / stage).glob("*.py"):
                (package / stage / path.name).symlink_to(path)
        else:
            (package / stage).symlink_to(REPO / stage, target_is_directory=True)
    return root


def lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--no-cache", "--no-logo", str(REPO / "pyproject.toml")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_contracts_hold_in_the_checkout_and_in_the_installed_layout(tmp_path):
    for root in (REPO, installed_layout(tmp_path)):  # the checkout: through fmnist_edge/<stage> links
        out = lint(root)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "Contracts: 7 kept, 0 broken." in out.stdout
        files = int(out.stdout.split("Analyzed ")[1].split()[0])
        assert files >= 80, out.stdout  # every stage was read, not just the root package


def test_runtime_importing_the_benchmarks_breaks_the_device_contract(tmp_path):
    root = installed_layout(tmp_path, real_runtime=True)
    (root / "fmnist_edge" / "runtime" / "leak.py").write_text(
        "from fmnist_edge.benchmarks import report  # noqa: F401\n")
    out = lint(root)
    assert out.returncode == 1
    assert "runtime is the device package" in out.stdout and "BROKEN" in out.stdout
    assert "fmnist_edge.runtime.leak -> fmnist_edge.benchmarks.report" in out.stdout


def test_two_runtime_modules_importing_each_other_break_the_acyclic_contract(tmp_path):
    root = installed_layout(tmp_path, real_runtime=True)
    (root / "fmnist_edge" / "runtime" / "ping.py").write_text("from . import pong  # noqa: F401\n")
    (root / "fmnist_edge" / "runtime" / "pong.py").write_text("from . import ping  # noqa: F401\n")
    out = lint(root)
    assert out.returncode == 1
    assert "no import cycles" in out.stdout and "BROKEN" in out.stdout
    assert "No cycles are allowed in fmnist_edge.runtime." in out.stdout


def test_no_module_imports_another_modules_private_names():
    """Shared names are public functions of the module that owns them (lint-imports sees modules,
    not names, so this reads every import of the project's own code)."""
    offenders = []
    for folder in ("fmnist_edge", "train", "export", "runtime", "benchmarks", "serve"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module != "__future__" and (
                        node.level or (node.module or "").startswith("fmnist_edge")):
                    offenders += [f"{path.relative_to(REPO)}:{node.lineno} {a.name}"
                                  for a in node.names if a.name.startswith("_")]
    assert offenders == []
