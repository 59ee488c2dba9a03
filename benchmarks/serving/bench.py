"""``run_load(config)``: cold start, memory, and requests/s at 1, 8 and 32 clients of fmnist-serve.

Two workloads, each request checked against the class the runtime's own Classifier gives the
same file in this process:

- ``png28``: the real test images as 28×28 PNGs (what a camera loop that crops sends): the
  HTTP and framework cost per request, since decoding and inference are tiny;
- ``photo``: the same garments as 1200×900 JPEGs on a light table (a phone photo, scaled
  down): decoding's cost.
"""

from __future__ import annotations

import http.client
import io
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from fmnist_edge.runtime.amx import command_policy
from fmnist_edge.runtime.classifier import Classifier
from fmnist_edge.runtime.dataset import load_fashion_mnist
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.images import decode_image

from ..environment import environment
from .load import run_level
from .process import ServerProcess

WORKLOADS = ("png28", "photo")
PHOTO_SIZE = (1200, 900)


@dataclass(frozen=True)
class LoadConfig:
    """What the load test runs: the model, the levels, and the bounds of each level."""

    export_dir: Path
    clients: tuple[int, ...] = (1, 8, 32)
    requests: int = 3000  # per level, at most …
    seconds: float = 20.0  # … and for at most this long
    images: int = 500  # distinct test images cycled through
    workloads: tuple[str, ...] = WORKLOADS
    server_python: str = sys.executable
    server_args: tuple[str, ...] = field(default_factory=tuple)
    cold_starts: int = 3
    min_ratio: float = 2.0  # requests/s at the most clients ÷ at 1 client, png28


def bodies_for(workload: str, images: np.ndarray) -> list[bytes]:
    """The request bodies of ``workload`` for these uint8 28×28 test images."""
    from PIL import Image

    out = []
    for image in images:
        buffer = io.BytesIO()
        if workload == "png28":
            Image.fromarray(image).save(buffer, "PNG")
        else:  # a dark garment on an off-white table, as a phone photographs it
            side = PHOTO_SIZE[1] * 3 // 4
            garment = Image.fromarray(255 - image).resize((side, side), Image.Resampling.BICUBIC)
            canvas = Image.new("RGB", PHOTO_SIZE, (246, 244, 238))
            canvas.paste(garment.convert("RGB"), ((PHOTO_SIZE[0] - side) // 2, (PHOTO_SIZE[1] - side) // 2))
            canvas.save(buffer, "JPEG", quality=88)
        out.append(buffer.getvalue())
    return out


def first_answer(server: ServerProcess, body: bytes) -> float:
    """Seconds from the server's start to its first answered /v1/classify."""
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request("POST", "/v1/classify", body, {"Content-Type": "image/png"})
        answer = connection.getresponse()
        answer.read()
    finally:
        connection.close()
    if answer.status != 200:
        raise FmnistError(f"fmnist-serve's first answer was HTTP {answer.status}")
    return time.perf_counter() - server.started_at


def server_facts(python: str) -> dict:
    """The server's interpreter and whether TensorFlow is importable there."""
    code = ("import importlib.util, sys; print(sys.version.split()[0]); "
            "print(importlib.util.find_spec('tensorflow') is not None)")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise FmnistError(f"{python} does not run: {out.stderr.strip()[-200:]}")
    version, tf = out.stdout.split()
    return {"python": python, "python_version": version, "tensorflow_importable": tf == "True"}


def run_load(config: LoadConfig, say=print) -> dict:
    """Every workload at every level on one server; the cold starts on fresh ones. JSON-ready."""
    data = load_fashion_mnist()
    images = data.x_test[: config.images]
    # the expected answers only; the command's AMX policy (deny), as fmnist-serve's own default
    classifier = Classifier.load(config.export_dir, amx=command_policy())
    work = {}
    for name in config.workloads:
        bodies = bodies_for(name, images)
        expected = [g[0].index for g in classifier.classify(
            np.stack([decode_image(b, f"{name}-{i}") for i, b in enumerate(bodies)]))]
        work[name] = (bodies, expected)
    first_body = work[config.workloads[0]][0][0]
    cold = []
    for _ in range(config.cold_starts):
        with ServerProcess(config.export_dir, config.server_args, config.server_python) as server:
            cold.append(first_answer(server, first_body))
    levels, memory = [], {}
    with ServerProcess(config.export_dir, config.server_args, config.server_python) as server:
        first_answer(server, first_body)
        memory["after_start"] = server.memory_mb()
        for name, (bodies, expected) in work.items():
            for clients in config.clients:
                level = run_level(server, clients, bodies, expected, config.requests, config.seconds)
                levels.append({"workload": name, **level.summary()})
                say(_line(levels[-1]))
        memory["after_load"] = server.memory_mb()
        banner, threads = server.lines[:2], server.threads()
    return {"environment": environment([]), "server": {**server_facts(config.server_python),
            "banner": banner, "os_threads": threads, "args": list(config.server_args)},
            "model": classifier.describe(), "config": _config_dict(config),
            "cold_start_s": [round(c, 3) for c in cold], "memory_mb": memory, "levels": levels,
            "gate": gate(levels, config.min_ratio)}


def _line(row: dict) -> str:
    return (f"{row['workload']:6} {row['clients']:3} clients: {row['rps']:8.1f} req/s  "
            f"p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms  errors {row['errors']}")


def _config_dict(config: LoadConfig) -> dict:
    return {"export_dir": str(config.export_dir), "clients": list(config.clients),
            "requests": config.requests, "seconds": config.seconds, "images": config.images,
            "workloads": list(config.workloads), "cold_starts": config.cold_starts,
            "min_ratio": config.min_ratio}


def gate(levels: list[dict], min_ratio: float) -> dict:
    """No errors anywhere; png28 requests/s at the most clients ≥ ``min_ratio`` × at 1 client."""
    errors = sum(r["errors"] for r in levels)
    png = {r["clients"]: r["rps"] for r in levels if r["workload"] == "png28"}
    ratio = png[max(png)] / png[1] if 1 in png and len(png) > 1 and png[1] else None
    passed = errors == 0 and (ratio is None or ratio >= min_ratio)
    return {"errors": errors, "ratio": None if ratio is None else round(ratio, 2),
            "ratio_clients": max(png) if png else None, "min_ratio": min_ratio, "passed": passed}
