"""``run_load(config)``: cold start, memory, and requests/s at 1, 8 and 32 clients of fmnist-serve.

Two workloads, each request checked against the class the runtime's own Classifier gives the
same file in this process:

- ``png28``: the real test images as 28×28 PNGs (what a camera loop that crops sends): the
  HTTP and framework cost per request, since decoding and inference are tiny;
- ``photo``: the same garments as 1200×900 JPEGs on a light table (a phone photo, scaled
  down): decoding's cost.

Then the photo workload once more at HOSTILE_CLIENTS clients beside the hostile mix
(:mod:`.hostile`), with each server process's peak RSS taken afresh for it.
"""

from __future__ import annotations

import dataclasses
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
from .hostile import Mix, run_hostile_level
from . import predict
from .load import run_level
from .process import ServerProcess

WORKLOADS = ("png28", "photo")
PHOTO_SIZE = (1200, 900)
HOSTILE_CLIENTS = 8
PREDICT_PHOTOS = 100


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
    min_ratio: float = 2.0  # requests/s at the most clients ÷ at 1 client, each workload
    hostile: Mix | None = Mix()  # None: no hostile level
    max_p99_ms: float = 100.0  # gate: the good requests' p99 beside the hostile mix …
    max_rss_mb: float = 300.0  # … and each server process's peak RSS during it


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
    # the expected answers only; the command's AMX policy (deny), as fmnist-serve's own default
    classifier = Classifier.load(config.export_dir, amx=command_policy())
    work = _work(config, classifier)
    first_body = work[config.workloads[0]][0][0]
    cold = []
    for _ in range(config.cold_starts):
        with ServerProcess(config.export_dir, config.server_args, config.server_python) as server:
            cold.append(first_answer(server, first_body))
    levels, memory, hostile = [], {}, None
    with ServerProcess(config.export_dir, config.server_args, config.server_python) as server:
        first_answer(server, first_body)
        memory["after_start"] = server.memory_mb()
        for name, (bodies, expected) in work.items():
            for clients in config.clients:
                level = run_level(server, clients, bodies, expected, config.requests, config.seconds)
                levels.append({"workload": name, **level.summary()})
                say(_line(levels[-1]))
        memory["after_load"] = server.memory_mb()
        if config.hostile is not None:
            name = "photo" if "photo" in work else config.workloads[0]
            hostile = _hostile_level(server, config, name, work[name])
            say(_hostile_line(hostile))
        banner, threads = server.lines[:2], server.threads()
    predict = _predict(config, classifier, work)  # after the server: never beside its load
    say(f"fmnist-predict: {predict['folder']['photos']} photos in {predict['folder']['seconds']} s, "
        f"peak RSS {predict['folder']['peak_rss_mb']} MB; first answer {predict['first_answer']['ms']} ms")
    return {"environment": environment([]), "server": {**server_facts(config.server_python),
            "banner": banner, "os_threads": threads, "args": list(config.server_args)},
            "model": classifier.describe(), "config": _config_dict(config),
            "cold_start_s": [round(c, 3) for c in cold], "memory_mb": memory, "levels": levels,
            "hostile": hostile, "predict": predict, "gate": gate(levels, hostile, config, predict)}


def _predict(config: LoadConfig, classifier, work: dict) -> dict:
    """fmnist-predict under the server's Python: PREDICT_PHOTOS photos, and its first answer."""
    # the workloads' own bodies and expected classes, or made here when a run left one out
    missing = tuple(w for w in WORKLOADS if w not in work)
    work = {**work, **(_work(dataclasses.replace(config, workloads=missing), classifier)
                       if missing else {})}
    photos, expected = work["photo"]
    png = work["png28"][0][0]
    return {"folder": predict.folder_run(config.server_python, config.export_dir,
                                         photos[:PREDICT_PHOTOS], expected[:PREDICT_PHOTOS],
                                         list(classifier.labels)),
            "first_answer": predict.first_answer(config.server_python, config.export_dir, png)}


def _work(config: LoadConfig, classifier) -> dict:
    """Each workload's request bodies and the class the Classifier gives each, here."""
    images = load_fashion_mnist().x_test[: config.images]
    work = {}
    for name in config.workloads:
        bodies = bodies_for(name, images)
        expected = [g[0].index for g in classifier.classify(
            np.stack([decode_image(b, f"{name}-{i}") for i, b in enumerate(bodies)]))]
        work[name] = (bodies, expected)
    return work


def _hostile_level(server: ServerProcess, config: LoadConfig, name: str, work) -> dict:
    """The good workload at HOSTILE_CLIENTS clients beside the hostile mix, peak RSS reset before."""
    bodies, expected = work
    server.reset_peaks()
    # three levels' worth of requests: the level runs its full time, past the header timeout
    level, hostile = run_hostile_level(server, HOSTILE_CLIENTS, bodies, expected, 3 * config.requests,
                                       config.seconds, config.hostile)
    peaks = server.peaks_mb()
    return {"good": {"workload": name, **level.summary()},
            **hostile, "peak_rss_mb": sorted(peaks.values(), reverse=True),
            "mix": dataclasses.asdict(config.hostile)}


def _hostile_line(hostile: dict) -> str:
    good = hostile["good"]
    return (f"hostile mix, {good['workload']} {good['clients']} clients: {good['rps']:.1f} req/s  "
            f"p99 {good['p99_ms']:.2f} ms  errors {good['errors']}  bombs {hostile['bomb']}  "
            f"large {hostile['large']}  peak RSS {max(hostile['peak_rss_mb'])} MB")


def _line(row: dict) -> str:
    return (f"{row['workload']:6} {row['clients']:3} clients: {row['rps']:8.1f} req/s  "
            f"p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms  errors {row['errors']}")


def _config_dict(config: LoadConfig) -> dict:
    return {"export_dir": str(config.export_dir), "clients": list(config.clients),
            "requests": config.requests, "seconds": config.seconds, "images": config.images,
            "workloads": list(config.workloads), "cold_starts": config.cold_starts,
            "min_ratio": config.min_ratio, "max_p99_ms": config.max_p99_ms,
            "max_rss_mb": config.max_rss_mb}


def gate(levels: list[dict], hostile: dict | None, config: LoadConfig, predict: dict) -> dict:
    """No errors; each workload's requests/s at the most clients ≥ ``min_ratio`` × at 1 client;
    beside the hostile mix, every good request answered within ``max_p99_ms`` at the 99th
    percentile, every bomb 413, no 5xx, and no server process over ``max_rss_mb`` at its peak;
    fmnist-predict's answers on the photo folder all the expected class."""
    errors = sum(r["errors"] for r in levels)
    ratios = {}
    for name in dict.fromkeys(r["workload"] for r in levels):
        rps = {r["clients"]: r["rps"] for r in levels if r["workload"] == name}
        if 1 in rps and len(rps) > 1 and rps[1]:
            ratios[name] = round(rps[max(rps)] / rps[1], 2)
    failures = [f"{errors} errors"] if errors else []
    failures += [f"{k} ratio {v} < {config.min_ratio}" for k, v in ratios.items() if v < config.min_ratio]
    if hostile is not None:
        failures += _hostile_failures(hostile, config)
    if predict["folder"]["wrong"]:
        failures.append(f"fmnist-predict: {predict['folder']['wrong']} photos not the expected class")
    return {"errors": errors, "ratios": ratios, "ratio_clients": max(r["clients"] for r in levels),
            "min_ratio": config.min_ratio, "failures": failures, "passed": not failures}


def _hostile_failures(hostile: dict, config: LoadConfig) -> list[str]:
    good, failures = hostile["good"], []
    if good["errors"] or not good["requests"]:
        failures.append(f"hostile mix: {good['errors']} good requests failed of {good['requests']}")
    if good["p99_ms"] > config.max_p99_ms:
        failures.append(f"hostile mix: good p99 {good['p99_ms']} ms > {config.max_p99_ms}")
    if set(hostile["bomb"]) != {"413"}:
        failures.append(f"hostile mix: bombs answered {hostile['bomb']}, not only 413")
    answers = [s for kind in ("bomb", "large") for s in hostile[kind]]
    if any(s.startswith("5") for s in answers):
        failures.append(f"hostile mix: 5xx answers {answers}")
    if max(hostile["peak_rss_mb"]) > config.max_rss_mb:
        failures.append(f"hostile mix: a server process peaked at {max(hostile['peak_rss_mb'])} MB "
                        f"> {config.max_rss_mb}")
    return failures
