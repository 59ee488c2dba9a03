"""SIGTERM (and Ctrl-C) drain fmnist-serve: the request in flight is answered, then exit 0."""

from __future__ import annotations

import json
import signal
import socket
import time
from urllib.parse import urlsplit

import pytest

from .conftest import wait_exit
from .images import png, synthetic


def _send_half(url: str, body: bytes) -> socket.socket:
    """A request whose headers and first half of the body are sent; the rest is held back."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=20)
    head = (f"POST /v1/classify?name=late HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: image/png\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    sock.sendall(head + body[: len(body) // 2])
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 1 << 30


def _refused(url: str, seconds: float = 5) -> bool:
    """New connections are refused within ``seconds`` (the workers close the socket one by one)."""
    parts = urlsplit(url)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection((parts.hostname, parts.port), timeout=5).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_drains_the_request_in_flight_then_exits_0(tiny_export, start_server, sig, workers):
    server = start_server(str(tiny_export), "--workers", workers)
    body = png(synthetic(1)[0])
    sock = _send_half(server.url, body)
    try:
        time.sleep(0.5)  # the server has read the headers: the request is in flight
        server.proc.send_signal(sig)
        assert _refused(server.url), "still accepting connections after the signal"
        assert server.proc.poll() is None, "exited with a request in flight"
        sock.sendall(body[len(body) // 2:])
        status, answer = _answer(sock)
    finally:
        sock.close()
    assert status == 200 and answer["results"][0]["name"] == "late"
    assert wait_exit(server, timeout=20) == 0
    assert server.lines[-1] == "fmnist-serve: stopped", server.log()


def test_workers_stop_when_their_parent_is_killed(tiny_export, start_server, tmp_path):
    server = start_server(str(tiny_export), "--workers", "2", env={"TMPDIR": str(tmp_path)})
    children = _children(server.proc.pid)
    assert len(children) >= 2
    folders = list(tmp_path.glob("fmnist-serve-metrics-*"))  # the parent's, for the workers' samples
    assert len(folders) == 1
    server.proc.kill()
    server.proc.wait(10)
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)], "workers outlived their parent"
    assert not folders[0].exists(), "the killed parent's metrics folder was left behind"


def _children(parent: int) -> list[int]:
    from pathlib import Path

    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(stat.parent.name))
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    from pathlib import Path

    try:  # a zombie has exited: only its parent (init, here) has not reaped it yet
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
