"""fmnist-bench --remote against a real OpenSSH server: Debian's sshd with its own config, host
key and user key in a temporary folder, on 127.0.0.1 at a free port, with this machine as the
"device". The system's sshd and the user's ~/.ssh are not touched; every sshd started is stopped."""

import getpass
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fmnist_edge.benchmarks import cli
from fmnist_edge.benchmarks.remote import RemoteError, install_for, split_target

from ..servers import TestServer, free_port, stop_process, wait_for_port

SSHD = "/usr/sbin/sshd"


def test_targets_parse_and_malformed_ones_are_refused():
    assert split_target("pi@raspberrypi.local") == ("pi@raspberrypi.local", None)
    assert split_target("pi@10.0.0.7:2222") == ("pi@10.0.0.7", 2222)
    for bad in ("", "host:ssh", "-oProxyCommand=touch x"):
        with pytest.raises(RemoteError, match="expected"):
            split_target(bad)


@pytest.mark.parametrize("machine, bits, python, extras, system_site", [
    ("aarch64", "64", "3.13", "[litert,onnx]", False),  # 64-bit trixie: both engines have wheels
    ("x86_64", "64", "3.11", "[litert,onnx]", False),
    ("armv7l", "32", "3.11", "[tflite-runtime]", True),  # 32-bit bookworm: the cp311 armv7l wheel
    ("armv7l", "32", "3.13", "", True),  # 32-bit trixie: no engine wheel, the numpy engine
    ("aarch64", "32", "3.11", "[tflite-runtime]", True),  # a 32-bit userland on a 64-bit kernel
])
def test_a_device_gets_what_installs_on_its_system(machine, bits, python, extras, system_site):
    """The same rows as make pi-matrix's systems (benchmarks/pi/systems.py), where each install is
    proven under emulation; before, a 32-bit device was refused outright."""
    install = install_for(machine, bits, python)
    assert (install.extras, install.system_site) == (extras, system_site)
    assert install.tag == {"[litert,onnx]": "litert-onnx", "[tflite-runtime]": "tflite-runtime-system",
                           "": "core-system"}[extras]


# sshd in a mount namespace of its own where the dataset folders are empty: the "device" has no
# Fashion-MNIST unless --remote brings it (root only: unshare needs CAP_SYS_ADMIN)
HIDDEN = ("/usr/share/datasets", os.path.expanduser("~/.keras"))
HIDE = "for d in \"$@\"; do [ -d \"$d\" ] && mount -t tmpfs none \"$d\"; done; exec {sshd}"


class Server(TestServer):
    """One sshd on 127.0.0.1 and the client options that reach it with a known host key."""

    def __init__(self, root: Path, env: dict, hide_data: bool = False) -> None:
        super().__init__()
        self.root, self.env, self.proc, self.hide_data = root, env, None, hide_data

    def start(self) -> None:
        root, env = self.root, self.env
        root.mkdir(parents=True)
        for key in ("host_key", "id"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / key)],
                           check=True)
        shutil.copy(root / "id.pub", root / "authorized_keys")
        (root / "known_hosts").write_text(f"[127.0.0.1]:{self.port} "
                                          + (root / "host_key.pub").read_text())
        set_env = " ".join(f"{k}={v}" for k, v in env.items())
        (root / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {root}/host_key\n"
            f"PidFile {root}/sshd.pid\nAuthorizedKeysFile {root}/authorized_keys\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n"
            + (f"SetEnv {set_env}\n" if set_env else ""))
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
        command = [SSHD, "-D", "-e", "-f", str(root / "sshd_config")]
        if self.hide_data:
            sshd = " ".join(shlex.quote(part) for part in command)
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       HIDE.format(sshd=sshd), "hide", *HIDDEN]
        with open(root / "sshd.log", "w") as log:
            self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        if not wait_for_port(self.port, self.proc):
            raise RuntimeError(f"sshd did not start: {(root / 'sshd.log').read_text()[-500:]}")

    @property
    def target(self) -> str:
        return f"{getpass.getuser()}@127.0.0.1:{self.port}"

    def options(self, known_hosts: Path | None = None) -> list[str]:
        opts = [f"IdentityFile={self.root}/id", "IdentitiesOnly=yes", "StrictHostKeyChecking=yes",
                f"UserKnownHostsFile={known_hosts or self.root / 'known_hosts'}", "ConnectTimeout=10"]
        return [arg for o in opts for arg in ("--ssh-option", o)]

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    if not Path(SSHD).exists():
        pytest.skip("openssh-server is not installed (make test installs it when root)")
    if os.geteuid() != 0:
        pytest.skip("hiding the dataset from the device needs a mount namespace (root)")
    root = tmp_path_factory.mktemp("device")
    (root / "tmp").mkdir()
    with Server(root / "sshd", {"XDG_CACHE_HOME": root / "cache", "TMPDIR": root / "tmp"},
                hide_data=True) as server:
        yield server, root


def _staged(root: Path) -> list[str]:
    """What this tool staged in the device's TMPDIR (engines keep files of their own there)."""
    return [p.name for p in (root / "tmp").iterdir() if p.name.startswith("fmnist-edge-")]


TINY = ["--plan", "tiny", "--images", "100", "--threads", "1", "--batch", "1,8"]


def _remote(server, export, out, *extra):
    return cli.main([str(export), "--remote", server.target, *server.options(), *TINY,
                     "--out", str(out), "--device-name", "loopback", *extra])


@pytest.mark.slow
def test_a_report_comes_home_and_the_second_run_reuses_the_venv(device, export_dir, tmp_path, capsys):
    server, root = device
    assert _remote(server, export_dir, tmp_path / "r1") == 0
    first = capsys.readouterr()
    report = tmp_path / "r1/devices/loopback/benchmark.json"
    assert report.is_file() and (tmp_path / "r1/devices/loopback/benchmark.md").is_file()
    assert '"name": "loopback"' in report.read_text()
    # the device has no dataset (hidden): it read the test split --remote staged, and says so
    data = json.loads(report.read_text())["data"]
    assert data["folder"] == "test-data" and sorted(data["sha256"]) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert "of `test-data` (t10k-images" in (tmp_path / "r1/devices/loopback/benchmark.md").read_text()
    assert "installing fmnist-edge" in first.err and "step 7/7: removing" in first.err
    assert _staged(root) == []  # nothing staged is left on the device
    assert _remote(server, export_dir, tmp_path / "r2") == 0
    second = capsys.readouterr().err
    assert "reusing the device venv" in second and "installing" not in second
    assert _staged(root) == []


def _error(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(err) == 1, err
    return err[0]


@pytest.mark.slow
def test_a_wrong_port_and_an_unknown_host_key_are_one_line_each(device, export_dir, tmp_path, capsys):
    server, _ = device
    closed = server.target.rsplit(":", 1)[0] + f":{free_port()}"
    assert cli.main([str(export_dir), "--remote", closed, *server.options(), *TINY]) == 2
    assert "step connect:" in (line := _error(capsys)) and "refused the connection" in line
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    assert cli.main([str(export_dir), "--remote", server.target, *server.options(empty), *TINY]) == 2
    assert "host key of 127.0.0.1" in (line := _error(capsys)) and "not known" in line


@pytest.mark.slow
def test_no_python3_on_the_device_path(tmp_path, export_dir, capsys):
    if not Path(SSHD).exists():
        pytest.skip("openssh-server is not installed")
    with Server(tmp_path / "sshd", {"PATH": "/nonexistent"}) as server:
        assert cli.main([str(export_dir), "--remote", server.target, *server.options(), *TINY]) == 2
        assert "no python3 on the device's PATH" in _error(capsys)


def _until_the_device_benchmarks(server, export_dir, out, name, plan):
    """fmnist-bench --remote in its own process, returned once the device (this machine) runs
    its fmnist-bench; the pattern matches only this run's processes there (by device name)."""
    import signal

    # a shell without job control starts background jobs with SIGINT ignored, and Python keeps
    # an ignored SIGINT: give the child the default, so Ctrl-C means KeyboardInterrupt there
    proc = subprocess.Popen([sys.executable, "-m", "fmnist_edge.benchmarks.cli", str(export_dir),
                             "--remote", server.target, *server.options(), "--plan", plan,
                             "--threads", "1", "--out", str(out), "--device-name", name],
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    pattern = f"fmnist-bench export-0 .*--device-name {name}"
    deadline = time.monotonic() + 120
    while subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode != 0:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"the device never ran this benchmark: {proc.communicate()[1][-500:]}")
        time.sleep(0.1)
    return proc, pattern


@pytest.mark.slow
def test_a_run_killed_midway_leaves_no_report_and_nothing_staged(device, export_dir, tmp_path):
    server, root = device
    assert _remote(server, export_dir, tmp_path / "warm") == 0  # the venv exists: step 5 is soon
    out, name = tmp_path / "killed", f"killed-{server.port}"
    proc, pattern = _until_the_device_benchmarks(server, export_dir, out, name, "quick")
    try:
        subprocess.run(["pkill", "-KILL", "-f", pattern], check=True)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    errors = [line for line in err.splitlines() if "error:" in line]
    assert proc.returncode == 2 and len(errors) == 1 and "step benchmark:" in errors[0], err
    assert not (out / "devices" / name).exists()
    assert _staged(root) == []


@pytest.mark.slow
def test_ctrl_c_here_ends_the_devices_commands_and_writes_no_report(device, export_dir, tmp_path):
    import signal

    server, root = device
    assert _remote(server, export_dir, tmp_path / "warm") == 0
    out, name = tmp_path / "interrupted", f"interrupted-{server.port}"
    proc, pattern = _until_the_device_benchmarks(server, export_dir, out, name, "full")
    try:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "interrupted" in err.splitlines()[-1], err
    deadline = time.monotonic() + 20  # the watchdog sees the session's input close
    while time.monotonic() < deadline and subprocess.run(
            ["pgrep", "-f", pattern], capture_output=True).returncode == 0:
        time.sleep(0.2)
    assert subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode != 0, \
        "a benchmark is still running there"
    assert not (out / "devices" / name).exists() and _staged(root) == []
