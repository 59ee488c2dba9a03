"""The GitHub workflow runs what is tested here: make test, as root, in Debian bookworm."""

from pathlib import Path

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "ci.yml"


def test_the_workflow_runs_make_test_in_a_debian_bookworm_container():
    lines = [line.strip() for line in WORKFLOW.read_text().splitlines()]
    # Ubuntu runners' apt sources carry no arm64 packages (the Pi check's guest), and an
    # unprivileged job could not install qemu-user-static: the job runs in Debian, as root
    assert "container: debian:bookworm" in lines
    assert "run: make test" in lines
    assert not any(line.startswith("run: sudo") for line in lines)
    install = WORKFLOW.read_text().split("apt-get install", 1)[1].split("- uses:", 1)[0]
    for package in ("git", "make", "python3-venv", "ca-certificates"):
        assert package in install.split(), package
