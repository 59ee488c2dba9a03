"""fmnist-serve in the emulated Pi: started in the guest, asked over HTTP from this machine.

qemu user-mode shares this machine's network stack, so the guest's server on 127.0.0.1 is
reachable from here: the PNG files go to it as a device's clients would send them, and its
labels must be this machine's. Then SIGTERM must drain it to exit 0. Timings are emulated
and never reported as speed.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

from fmnist_edge.runtime.errors import FmnistError

from ..serving.process import ServerProcess
from .guest import Guest, GuestError

START_TIMEOUT = 300  # seconds: the guest imports uvicorn and loads the model under emulation


def _request(url: str, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        headers = {"Content-Type": "image/png"} if body is not None else {}
        connection.request(method, path, body, headers)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def serve_in_guest(guest: Guest, site: Path, export_dir: Path, pngs: list[Path],
                   x86_labels: list[str]) -> dict:
    """Classify ``pngs`` through the guest's fmnist-serve; labels, health, metrics, exit code."""
    server = ServerProcess(export_dir, ("--threads", "2"), str(guest.venv_python(site)),
                           launcher=guest.launcher(), timeout=START_TIMEOUT)
    try:
        server.__enter__()
    except FmnistError as exc:
        raise GuestError(f"fmnist-serve on {guest.cpu.qemu_cpu} did not start: {exc}") from None
    try:
        health, _ = _request(server.url, "GET", "/healthz")
        labels = []
        for png in pngs:
            status, body = _request(server.url, "POST", f"/v1/classify?name={png.name}", png.read_bytes())
            if status != 200:
                raise GuestError(f"fmnist-serve on {guest.cpu.qemu_cpu}: HTTP {status}: {body[:200]!r}")
            labels.append(json.loads(body)["results"][0]["label"])
        bad, _ = _request(server.url, "POST", "/v1/classify", b"not an image")
        _, metrics = _request(server.url, "GET", "/metrics")
        model = json.loads(_request(server.url, "GET", "/healthz")[1])["model"]
    finally:
        code = server.stop()
    return {"cpu": guest.cpu.qemu_cpu, "healthz": health, "files": len(pngs), "labels": labels,
            "x86_labels": x86_labels, "mismatches": sum(a != b for a, b in zip(labels, x86_labels)),
            "bad_input_status": bad, "model": model,
            "metrics_counted": f'route="/v1/classify",status="200"}} {float(len(pngs))}'
            in metrics.decode(), "exit_code": code}
