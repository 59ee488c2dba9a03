"""An ``fmnist-serve`` process for the load test: started, timed to its first answer, measured, stopped.

It is started as a process of its own, with any Python (``--server-python``: a TF-free device
venv), so the benchmark measures what a device runs and never imports the serve package.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from fmnist_edge.runtime.errors import FmnistError

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+/)")
START_TIMEOUT = 120  # seconds; an emulated Pi imports uvicorn and loads the model in ~20 s
TICKS = os.sysconf("SC_CLK_TCK")


class ServerProcess:
    """``fmnist-serve MODEL --port 0`` on 127.0.0.1; ``url`` once it listens.

    Use as a context manager: the process is stopped (SIGTERM, then SIGKILL) on the way out,
    whatever happened inside.
    """

    def __init__(self, model: str | Path, args: tuple[str, ...] = (), python: str = sys.executable,
                 launcher: tuple[str, ...] = (), env: dict | None = None,
                 timeout: float = START_TIMEOUT, cwd: str | Path | None = None):
        # launcher: what runs the interpreter, e.g. qemu and its options for an emulated Pi
        self.command = [*launcher, python, "-m", "fmnist_edge.serve.cli", str(model),
                        "--host", "127.0.0.1", "--port", "0", *args]
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1"} if env is None else env
        self.timeout, self.cwd = timeout, cwd  # cwd: outside a checkout, so -m runs the install
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self.lines: list[str] = []
        self.started_at = 0.0
        self._ready = threading.Event()

    def start(self) -> "ServerProcess":
        """Start the process; its stderr is read into ``lines`` (and ``url``) from now on."""
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, env=self.env, cwd=self.cwd)
        threading.Thread(target=self._read, daemon=True).start()  # a full pipe would stall it
        return self

    def __enter__(self) -> "ServerProcess":
        self.start()
        self._ready.wait(self.timeout)
        if not self.url:
            self.stop()
            raise FmnistError(f"fmnist-serve did not start: {' | '.join(self.lines[-3:]) or 'no output'}")
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            found = LISTENING.search(line)
            if found:
                self.url = found.group(1)
                self._ready.set()
        self._ready.set()

    def stop(self) -> int | None:
        """SIGTERM (it drains), SIGKILL after 20 s; the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def _family(self) -> list[int]:
        """The server's pid and its worker processes' (--workers)."""
        pids = [self.proc.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    pids.append(int(stat.parent.name))
            except OSError:  # exited while we looked
                continue
        return pids

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server and its workers so far (Linux /proc)."""
        total = 0
        for pid in self._family():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total / TICKS

    def memory_mb(self) -> dict:
        """Resident set now and its peak (VmRSS / VmHWM), in MB, added up over the workers."""
        rss = peak = 0
        for pid in self._family():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            found = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M))
            rss, peak = rss + int(found["VmRSS"]), peak + int(found["VmHWM"])
        return {"rss_mb": round(rss / 1024, 1), "peak_rss_mb": round(peak / 1024, 1),
                "processes": len(self._family())}

    def reset_peaks(self) -> None:
        """Start each process's peak RSS (VmHWM) afresh from its RSS now (Linux clear_refs 5)."""
        for pid in self._family():
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:  # exited while we looked
                continue

    def peaks_mb(self) -> dict[int, float]:
        """Each process's peak RSS (VmHWM) in MB, since its start or reset_peaks()."""
        peaks = {}
        for pid in self._family():
            try:
                found = re.search(r"^VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
            except OSError:
                continue
            peaks[pid] = round(int(found.group(1)) / 1024, 1)
        return peaks

    def threads(self) -> int:
        """OS threads of the server process now."""
        return len(os.listdir(f"/proc/{self.proc.pid}/task"))
