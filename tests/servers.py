"""Real servers the tests start (sshd, PostgreSQL): a free port on 127.0.0.1, start and stop.

``with SomeServer(...) as server:`` starts it and stops it on the way out, also when the test
fails and also when starting failed halfway; a subclass says how in ``start`` and ``stop``
(``stop`` must be safe to call on a half-started server, and twice).
"""

from __future__ import annotations

import socket
import subprocess
import time

HOST = "127.0.0.1"  # the only address a test server listens on


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 15) -> bool:
    """True once ``port`` accepts connections; False when ``proc`` exited or time ran out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex((HOST, port)) == 0:
                return True
        if proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def stop_process(proc: subprocess.Popen, seconds: float = 10) -> int:
    """SIGTERM, then SIGKILL after ``seconds``; the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class TestServer:
    """A server started on ``free_port()``; a context manager that always stops it."""

    __test__ = False  # a helper, not a pytest test class

    def __init__(self) -> None:
        self.port = free_port()

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
