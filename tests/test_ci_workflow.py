"""The GitHub workflow runs what is tested here: make test, as root, in Debian bookworm."""

from pathlib import Path

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "ci.yml"


def test_the_workflow_runs_make_test_in_a_debian_bookworm_container():
    lines = [line.strip() for line in WORKFLOW.read_text().splitlines()]
    # Ubuntu runners' apt sources carry no arm64 packages (the Pi check's guest), and an
    # unprivileged job could not install qemu-user-static: the job runs in Debian, as root
    assert "container: debian:bookworm" in lines
    assert "run: make test" in lines and "run: make pi-matrix" in lines  # as .ci/run
    assert "run: make gallery" in lines and "make gallery" in (WORKFLOW.parents[2] / ".ci" / "run").read_text()
    assert not any(line.startswith("run: sudo") for line in lines)
    install = WORKFLOW.read_text().split("apt-get install", 1)[1].split("- uses:", 1)[0]
    for package in ("git", "make", "python3-venv", "ca-certificates"):
        assert package in install.split(), package


def test_the_pi_job_runs_the_emulated_pis_command_on_a_self_hosted_arm64_runner():
    import yaml

    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    pi = jobs["pi"]
    assert pi["runs-on"] == ["self-hosted", "linux", "ARM64"] and pi["needs"] == "test"
    assert pi["if"] == "vars.FMNIST_PI_RUNNER == 'true'"  # off unless the repository enables it
    runs = "\n".join(step.get("run", "") for step in pi["steps"])
    assert "pip install --quiet '.[litert,onnx]'" in runs and "[train]" not in runs
    assert "-m fmnist_edge.benchmarks.on_device export" in runs
    assert "GITHUB_STEP_SUMMARY" in runs
    uploads = [s for s in jobs["test"]["steps"] if s.get("with", {}).get("name") == "export"]
    assert uploads and uploads[0]["with"]["path"] == "artifacts/seed-cnn/export/"
    # the same module is what make pi-check runs in its guests
    check = (WORKFLOW.parents[2] / "benchmarks" / "pi" / "cells.py").read_text()
    assert '"-m", "fmnist_edge.benchmarks.on_device"' in check
