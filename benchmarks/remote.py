"""``fmnist-bench --remote [USER@]HOST[:PORT] EXPORT_DIR...``: benchmark a Linux device over SSH.

Through the system's OpenSSH client (your keys, agent and ``~/.ssh/config``; ``BatchMode=yes``,
so it never asks for a password): the project wheel and the export folders go into a private
``mktemp -d`` folder on the device, a venv of what installs on its system (``install_for``) cached
per wheel (``${XDG_CACHE_HOME:-~/.cache}/fmnist-edge/remote/<version>-<sha>-<install>``, so a
second run installs nothing) runs ``fmnist-doctor``
and ``fmnist-bench``, the reports come back into ``reports/devices/<name>/`` (published only when
complete), and the staged folder is removed (``--keep`` keeps it). Every failure is one line
naming the step and the fix (exit 2). The device's commands run under a watchdog that ends them
when the connection does (Ctrl-C here, or a dropped link), so nothing is left running there.
"""

from __future__ import annotations

import hashlib
import io
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from fmnist_edge.runtime import atomic
from fmnist_edge.runtime.errors import FmnistError

STEPS = ("connect", "wheel", "stage", "venv", "benchmark", "fetch", "clean")
DATA = "test-data"  # the staged folder holding the test split, which the device's report names
# the command in its own process group; `cat` returns when ssh's stdin closes: kill the group.
# (sh gives background jobs /dev/null as stdin, so the session's stdin is kept as fd 3 first.)
WATCHDOG = ("exec 3<&0; setsid sh -c {cmd} </dev/null & job=$!; "
            "(cat <&3 >/dev/null; kill -TERM -$job 2>/dev/null) & dog=$!; "
            "wait $job; rc=$?; kill $dog 2>/dev/null; exit $rc")


class RemoteError(FmnistError):
    """A step of the remote benchmark failed; the message names the step and the fix."""


@dataclass(frozen=True)
class RemoteConfig:
    """Where and what: the SSH target, extra ``-o`` options, and fmnist-bench's own arguments."""

    target: str  # [USER@]HOST[:PORT]
    export_dirs: tuple[Path, ...]
    bench_args: tuple[str, ...] = ()
    ssh_options: tuple[str, ...] = ()
    out: Path = Path("reports")
    device_name: str | None = None
    keep: bool = False
    timeout: float = 3600  # the benchmark step; the others are short
    data_dir: str | None = None  # where the test images are here (default: the usual lookup)


def split_target(target: str) -> tuple[str, int | None]:
    """``user@host:2222`` → (``user@host``, 2222); a one-line error for a malformed target."""
    host, sep, port = target.rpartition(":") if target.count(":") == 1 else (target, "", "")
    if not sep:
        host = target
    if not host or host.startswith("-") or (sep and not port.isdigit()):
        raise RemoteError(f"--remote {target!r}: expected [USER@]HOST[:PORT]")
    return host, int(port) if sep else None


class Session:
    """ssh invocations against one device; stderr is classified into one-line errors."""

    def __init__(self, config: RemoteConfig) -> None:
        self.host, self.port = split_target(config.target)
        self.base = ["ssh", "-T", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=5",
                     "-o", "ServerAliveCountMax=3", *(["-p", str(self.port)] if self.port else []),
                     *[arg for option in config.ssh_options for arg in ("-o", option)]]

    def run(self, step: str, command: str, data: bytes | None = None,
            timeout: float = 300, watchdog: bool = False) -> subprocess.CompletedProcess:
        """Run ``command`` on the device; RemoteError naming ``step`` when it fails."""
        if watchdog:
            command = WATCHDOG.format(cmd=shlex.quote(command))
        proc = subprocess.Popen([*self.base, "--", self.host, command], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            if data is not None:
                proc.stdin.write(data)
            if not watchdog:
                proc.stdin.close()
            out, err = _communicate(proc, timeout)
        except RemoteError as exc:  # a time-out: the connection closes, the watchdog ends it
            proc.kill()
            proc.wait()
            raise RemoteError(f"step {step}: {exc}") from None
        except BaseException:
            proc.kill()  # the connection closes: the device's watchdog ends the command
            proc.wait()
            raise
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if result.returncode != 0:
            raise RemoteError(f"step {step}: {self.explain(result)}")
        return result

    def explain(self, result: subprocess.CompletedProcess) -> str:
        """The fix for an ssh failure (exit 255), else the device's last line."""
        err = result.stderr.decode("utf-8", "replace")
        where = f"{self.host.rpartition('@')[2]}:{self.port or 22}"
        if result.returncode == 255:
            for needle, why in _SSH_ERRORS:
                if needle in err:
                    return why.format(where=where, host=self.host.rpartition("@")[2])
        lines = [line for line in err.splitlines() if line.strip()]
        return lines[-1][:300] if lines else f"exit status {result.returncode}"


_SSH_ERRORS = (
    ("REMOTE HOST IDENTIFICATION HAS CHANGED", "the host key of {where} changed since it was last "
     "seen; if the device was reinstalled, remove the old key with: ssh-keygen -R {host}"),
    ("Host key verification failed", "the host key of {where} is not known; connect once with "
     "ssh to check and accept it (or add it to known_hosts)"),
    ("Connection refused", "{where} refused the connection: is sshd running there, and is the port "
     "right? (--remote HOST:PORT)"),
    ("Permission denied", "{where} does not accept your key: install it with ssh-copy-id {host}"),
    ("Could not resolve hostname", "cannot resolve {host}: check the name (or ~/.ssh/config)"),
    ("timed out", "no answer from {where}: is the device on and reachable?"),
)


def _communicate(proc: subprocess.Popen, timeout: float) -> tuple[bytes, bytes]:
    """Both pipes read at once (a full stderr must not stall stdout); stdin closed last."""
    chunks = {}
    readers = [threading.Thread(target=lambda s=s, n=n: chunks.__setitem__(n, s.read()), daemon=True)
               for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    for reader in readers:
        reader.start()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        raise RemoteError(f"no result from the device after {timeout:.0f} s") from None
    finally:
        if proc.stdin and not proc.stdin.closed:
            proc.stdin.close()
    for reader in readers:
        reader.join()
    return chunks.get("out", b""), chunks.get("err", b"")


def _tar(members: dict[str, Path]) -> bytes:
    """An in-memory tar of ``{name in the archive: local path}`` (files or folders)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, path in members.items():
            archive.add(str(path), arcname=name)
    return buffer.getvalue()


@dataclass(frozen=True)
class Install:
    """What the device venv gets: the requirement's extras, and whether it sees Debian's packages."""

    extras: str  # "[litert,onnx]", "[tflite-runtime]" or "" (the numpy engine alone)
    system_site: bool  # a 32-bit Pi's NumPy and Pillow are Debian's: PyPI has no armv7l wheel

    @property
    def tag(self) -> str:
        """The venv name's suffix, so each kind of install has its own cached venv."""
        return (self.extras.strip("[]").replace(",", "-") or "core") + ("-system" if self.system_site else "")


def install_for(machine: str, bits: str, python: str) -> Install:
    """The install a user makes on this device (the systems of benchmarks/pi/systems.py): engines
    on 64-bit; on a 32-bit ARM OS tflite-runtime 2.14 (Python 3.11 only, cp311 armv7l) or the numpy
    engine alone, over Debian's python3-numpy and python3-pil."""
    if bits == "32" or machine.startswith("armv"):
        return Install("[tflite-runtime]" if python == "3.11" else "", True)
    return Install("[litert,onnx]", False)


def probe(session: Session) -> dict:
    """Machine, word size, python3 version, hostname and the install of the device; step 1's checks."""
    text = session.run("connect", 'echo "machine=$(uname -m)"; echo "bits=$(getconf LONG_BIT)"; '
                       'echo "hostname=$(hostname)"; echo "python=$(python3 -c \'import sys; '
                       'print("%d.%d" % sys.version_info[:2])\' 2>/dev/null || echo none)"; '
                       'echo "debian_numpy=$(python3 -c \'import numpy, PIL\' 2>/dev/null && echo yes)"').stdout
    facts = dict(line.partition("=")[::2] for line in text.decode("utf-8", "replace").splitlines())
    machine, bits, python = facts.get("machine", ""), facts.get("bits", ""), facts.get("python", "none")
    hostname = facts.get("hostname") or session.host.rpartition("@")[2]
    if not python.replace(".", "").isdigit():
        raise RemoteError("step connect: no python3 on the device's PATH; install it: "
                          "sudo apt install python3 python3-venv")
    if tuple(int(x) for x in python.split(".")) < (3, 9):
        raise RemoteError(f"step connect: python3 {python} on the device; fmnist-edge needs 3.9 or "
                          "newer (64-bit Raspberry Pi OS bookworm has 3.11)")
    install = install_for(machine, bits, python)
    if install.system_site and facts.get("debian_numpy") != "yes":
        raise RemoteError(f"step connect: a 32-bit OS on the device ({machine}) has no PyPI wheel of "
                          "NumPy or Pillow; install Debian's: sudo apt install python3-numpy python3-pil "
                          "python3-venv")
    return {"machine": machine, "hostname": hostname, "python": python, "install": install}


def run_remote(config: RemoteConfig) -> Path:
    """Every step; returns the local report folder (``reports/devices/<name>/``)."""
    from .pi.wheels import project_wheel

    for folder in config.export_dirs:
        if not (Path(folder) / "manifest.json").is_file():
            raise RemoteError(f"{folder}: no manifest.json; --remote takes export folders written "
                              "by fmnist-export")
    from fmnist_edge.runtime.dataset import split_files

    # the device needs no dataset of its own: the 10,000 test images (4.4 MB gzipped) go along
    data = {f"{DATA}/{path.name}": path for path in split_files(config.data_dir, "test")}
    session = Session(config)
    facts = _step(1, f"connecting to {config.target}", lambda: probe(session))
    name = config.device_name or facts["hostname"]
    with tempfile.TemporaryDirectory(prefix="fmnist-remote-") as local:
        wheel = _step(2, "building the fmnist-edge wheel", lambda: project_wheel(Path(local) / "dist"))
        stage = session.run("stage", 'mktemp -d "${TMPDIR:-/tmp}/fmnist-edge-XXXXXX"').stdout.decode().strip()
        try:
            _step(3, f"staging the wheel, {len(config.export_dirs)} export folder(s) and the test "
                  f"images of {next(iter(data.values())).parent} in {stage}",
                  lambda: session.run("stage", f"tar -xf - -C {shlex.quote(stage)}", _tar(
                      {wheel.name: wheel, **data,
                       **{f"export-{i}": d for i, d in enumerate(config.export_dirs)}})))
            venv = _venv(session, wheel, stage, facts["install"])
            _step(5, "fmnist-doctor and fmnist-bench on the device",
                  lambda: _bench(session, config, stage, venv, name))
            return _step(6, f"copying the reports into {config.out / 'devices' / name}",
                         lambda: _fetch(session, stage, config.out / "devices" / name))
        finally:
            if not config.keep:
                _clean(session, stage)


def _clean(session: Session, stage: str) -> None:
    """Remove the staged folder; if the device cannot be reached any more, say what is left."""
    try:
        _step(7, f"removing {stage} from the device",
              lambda: session.run("clean", f"rm -rf -- {shlex.quote(stage)}", timeout=60))
    except (RemoteError, OSError) as exc:
        print(f"fmnist-bench --remote: could not remove {stage} on the device ({exc})",
              file=sys.stderr)


def _step(number: int, what: str, action):
    print(f"fmnist-bench --remote: step {number}/{len(STEPS)}: {what}", file=sys.stderr, flush=True)
    return action()


def _venv(session: Session, wheel: Path, stage: str, install: Install) -> str:
    """The device venv for this wheel and install: reused when its install finished before, else made."""
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()[:12]
    version = wheel.name.split("-")[1]
    venv = f'"${{XDG_CACHE_HOME:-$HOME/.cache}}/fmnist-edge/remote/{version}-{sha}-{install.tag}"'
    ready = session.run("venv", f"test -f {venv}/.complete && echo reuse || echo install").stdout
    if ready.strip() == b"reuse":
        _step(4, f"reusing the device venv of fmnist-edge {version} ({sha}, {install.tag})", lambda: None)
        return venv
    site = " --system-site-packages" if install.system_site else ""
    command = (f"rm -rf {venv} && python3 -m venv{site} {venv} && {venv}/bin/pip install --quiet "
               f"--disable-pip-version-check {shlex.quote(stage + '/' + wheel.name + install.extras)}"
               f" && touch {venv}/.complete")
    what = f"with {install.extras}" if install.extras else "alone (the numpy engine)"
    _step(4, f"installing fmnist-edge {version} {what}{site and ' over Debian NumPy'} into a device "
          f"venv ({sha})", lambda: session.run("venv", command, timeout=1800, watchdog=True))
    return venv


def _bench(session: Session, config: RemoteConfig, stage: str, venv: str, name: str) -> None:
    exports = " ".join(f"export-{i}" for i in range(len(config.export_dirs)))
    args = " ".join(shlex.quote(a) for a in (*config.bench_args, "--device-name", name))
    command = (f"cd {shlex.quote(stage)} && {venv}/bin/fmnist-doctor export-0 && "
               f"{venv}/bin/fmnist-bench {exports} --no-keras --data {DATA} --out reports {args}")
    result = session.run("benchmark", command, timeout=config.timeout, watchdog=True)
    sys.stdout.write(result.stdout.decode("utf-8", "replace"))


def _fetch(session: Session, stage: str, target: Path) -> Path:
    """The device's reports into ``target``, swapped in only when every file has arrived."""
    data = session.run("fetch", f"tar -cf - -C {shlex.quote(stage)}/reports .").stdout
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = atomic.make_staging_dir(target, "device report folder")
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            try:
                archive.extractall(staging, filter="data")  # no absolute paths or links out
            except TypeError:  # Python < 3.11.4 has no filters; the names are checked instead
                if any(m.name.startswith("/") or ".." in Path(m.name).parts or m.islnk() or m.issym()
                       for m in archive.getmembers()):
                    raise RemoteError("step fetch: the device sent paths outside its report folder") from None
                archive.extractall(staging)
        atomic.publish_dir(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
