"""Real fmnist-serve processes on 127.0.0.1 at a free port; every one is stopped after its test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from fmnist_edge.benchmarks.serving.process import ServerProcess
from tests.runtime.conftest import build_tiny_export, export_dir  # noqa: F401  (tiny-model exports)

pytest.importorskip("starlette")
pytest.importorskip("httpx")


class Server(ServerProcess):
    """One ``fmnist-serve MODEL [OPTION...]`` subprocess, started at once; ``url`` once it listens."""

    def __init__(self, model: str, *args: str, env: dict | None = None,
                 python: str = sys.executable) -> None:
        super().__init__(model, args, python,
                         env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
        self.start()

    def wait_ready(self, timeout: float = 60) -> str:
        """The base URL, or AssertionError with the server's stderr if it did not come up."""
        self._ready.wait(timeout)
        assert self.url, f"fmnist-serve did not start: {self.log()}"
        return self.url

    def log(self) -> str:
        return "\n".join(self.lines[-20:])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Signal it and wait; killed if it does not exit within ``timeout``. Its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


@pytest.fixture
def start_server():
    """``start_server(*args)`` → a ready Server; all of them are stopped when the test ends."""
    servers: list[Server] = []

    def start(*args: str, ready: bool = True, **kwargs) -> Server:
        server = Server(*args, **kwargs)
        servers.append(server)
        if ready:
            server.wait_ready()
        return server
    yield start
    for server in servers:
        server.stop(signal.SIGKILL if server.proc.poll() is None and server.url is None
                    else signal.SIGTERM)


def wait_exit(server: Server, timeout: float = 60) -> int:
    """The exit code of a server expected to stop by itself."""
    deadline = time.monotonic() + timeout
    while server.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return server.stop(signal.SIGKILL) if server.proc.poll() is None else server.proc.returncode


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    """The tiny-model export folder, once per test module."""
    return build_tiny_export(tmp_path_factory.mktemp("serve") / "export")


@pytest.fixture(scope="module")
def module_server():
    """``module_server(*args)`` → a ready Server kept for the module's tests, then stopped."""
    servers: list[Server] = []

    def start(*args: str, **kwargs) -> Server:
        server = Server(*args, **kwargs)
        servers.append(server)
        server.wait_ready()
        return server
    yield start
    for server in servers:
        server.stop()
