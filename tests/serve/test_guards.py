"""fmnist-serve against hostile clients: bombs, idle and slow connections, too many bodies at once."""

import socket
import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest

from .images import phone_jpeg, png, synthetic, white_png


@pytest.fixture(scope="module")
def server(module_server, tiny_export):
    return module_server(str(tiny_export), "--max-body", "1M", "--threads", "2", "--max-pixels", "2M",
                         "--header-timeout", "1", "--body-timeout", "1.5")


def address(server) -> tuple[str, int]:
    parts = urlsplit(server.url)
    return parts.hostname, parts.port


def classify(server, body: bytes) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        return client.post("/v1/classify", content=body, headers={"Content-Type": "image/png"})


def test_an_image_over_the_pixel_limit_is_413_from_its_header(server):
    bomb = white_png(9400, 9400, "1")  # 88 M pixels decoded (under Pillow's own 179 M) from 23 kB
    assert len(bomb) < 30_000
    answer = classify(server, bomb)
    assert answer.status_code == 413, answer.text
    assert "PNG 9,400×9,400 (mode 1) counts 44,180,000 pixels of decoder memory, over the limit of 2,000,000" \
        in answer.json()["error"]
    assert classify(server, white_png(1600, 1200)).status_code == 200  # 1.9 M: under, decoded
    assert classify(server, phone_jpeg(synthetic(1)[0], (4032, 3024))).status_code == 200  # 12 MP at 1/8


def read_until_closed(sock: socket.socket, seconds: float) -> tuple[bytes, float]:
    """What the server sent before closing the connection, and when it closed (inf: it did not)."""
    start, data = time.monotonic(), b""
    sock.settimeout(0.2)
    while time.monotonic() - start < seconds:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            return data, time.monotonic() - start
        data += chunk
    return data, float("inf")


def read_response(sock: socket.socket) -> bytes:
    """One HTTP response, read up to the end of its Content-Length."""
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head = data.split(b"\r\n\r\n")[0].lower()
    length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
    while len(data) < len(head) + 4 + length:
        data += sock.recv(65536)
    return data


def test_an_idle_connection_is_closed_after_the_header_timeout(server):
    with socket.create_connection(address(server)) as idle:
        data, closed = read_until_closed(idle, 10)
    assert data == b"" and 0.8 < closed < 5


def test_a_slowloris_is_closed_although_it_keeps_sending(server):
    with socket.create_connection(address(server)) as slow:
        stop = threading.Event()

        def drip():
            for byte in b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200:
                if stop.wait(0.1):
                    return
                try:
                    slow.send(bytes([byte]))
                except OSError:
                    return
        threading.Thread(target=drip, daemon=True).start()
        try:
            _, closed = read_until_closed(slow, 10)
        finally:
            stop.set()
    assert 0.8 < closed < 5


def test_a_body_too_slow_is_408_and_the_connection_closes(server):
    with socket.create_connection(address(server)) as slow:
        slow.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                     b"Content-Length: 1000\r\n\r\n" + b"\x89PNG" + b"x" * 60)
        data, closed = read_until_closed(slow, 10)
    assert data.startswith(b"HTTP/1.1 408 ") and b"within 1.5 s" in data and closed < 5


def test_bodies_over_the_budget_get_429_and_the_others_complete(server):
    # --max-body 1M: the budget is 4 bodies, 4 MiB; five clients each send 0.95 MB of a 1 MB body
    parts = [socket.create_connection(address(server)) for _ in range(5)]
    try:
        for sock in parts:
            sock.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                         b"Content-Length: 1000000\r\n\r\n" + b"x" * 950_000)
            time.sleep(0.2)
        for i, sock in enumerate(parts):
            sock.sendall(b"x" * 50_000)
            answer = read_response(sock)
            if i < 4:  # complete, and not an image
                assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]
            else:  # read to its end (no reset) but not held
                assert answer.startswith(b"HTTP/1.1 429 ") and b"retry-after: 1" in answer.lower()
    finally:
        for sock in parts:
            sock.close()
    assert classify(server, png(synthetic(1)[0])).status_code == 200
