"""The load client: a fixed number of concurrent clients, a bounded count of requests, 127.0.0.1 only.

Each client is an asyncio task with its own keep-alive connection; they share one list of
request bodies and take the next one until ``requests`` have been sent or ``seconds`` have
passed, whichever is first. Every answer is checked against the expected class: a wrong or
failed answer is an error, not a slow request.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import numpy as np

from fmnist_edge.runtime.errors import FmnistError

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Level:
    """What one concurrency level measured (the lists fill while it runs; the times are set after)."""

    clients: int
    latencies: list[float] = field(default_factory=list)  # seconds, per answered request
    stages: dict = field(default_factory=lambda: {"decode": [], "inference": [], "server": [],
                                                  "decode_cpu": [], "inference_cpu": []})
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0
    server_cpu: float = 0.0  # seconds of the server process's CPU during the level

    def summary(self) -> dict:
        """requests/s, p50/p99 latency (ms), errors, server CPU and stage times per request (µs)."""
        done = len(self.latencies)
        lat = np.array(self.latencies) * 1000 if done else np.zeros(1)
        per = {k: float(np.mean(v)) * 1000 if v else 0.0 for k, v in self.stages.items()}  # ms→µs
        cpu = self.server_cpu / done * 1e6 if done else 0.0
        return {"clients": self.clients, "requests": done, "errors": len(self.errors),
                "error_examples": self.errors[:3], "seconds": round(self.wall, 3),
                "rps": round(done / self.wall, 1) if self.wall else 0.0,
                "p50_ms": round(float(np.percentile(lat, 50)), 3),
                "p99_ms": round(float(np.percentile(lat, 99)), 3),
                "server_cpu_us": round(cpu, 1),
                **{f"{k}_us": round(v, 1) for k, v in per.items()}}


def check_loopback(url: str) -> None:
    """The load test only ever targets this machine."""
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise FmnistError(f"the load test only targets 127.0.0.1, not {host}")


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just what the test needs.

    Its own few lines rather than httpx: httpx costs ~0.5 ms of CPU a request, as much as the
    server's own work, and on a 2-core machine the client shares the cores with the server, so
    a heavy client would cap what the server shows.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port, self.reader, self.writer = host, port, None, None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: image/png\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        lines = (await self.reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        status = int(lines[0].split()[1])
        length = next(int(v) for k, _, v in (line.partition(b":") for line in lines[1:])
                      if k.lower() == b"content-length")
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def _client(url: str, bodies: list[bytes], expected: list[int], state: dict,
                  level: Level) -> None:
    parts = urlsplit(url)
    connection = Connection(parts.hostname, parts.port)
    try:
        while state["next"] < state["limit"] and time.perf_counter() < state["deadline"]:
            i = state["next"]
            state["next"] += 1
            await _one(connection, parts.path, bodies[i % len(bodies)], expected[i % len(expected)],
                       i, level)
    finally:
        await connection.close()


async def _one(connection: Connection, path: str, body: bytes, want: int, i: int,
               level: Level) -> None:
    start = time.perf_counter()
    try:
        status, payload = await connection.post(path, body)
    except (OSError, asyncio.IncompleteReadError, ValueError, StopIteration) as exc:
        level.errors.append(f"request {i}: {type(exc).__name__}: {exc}")  # reported, not a crash
        connection.writer = None
        return
    elapsed = time.perf_counter() - start
    if status != 200:
        level.errors.append(f"request {i}: HTTP {status}: {payload[:200]!r}")
        return
    data = json.loads(payload)
    if data["results"][0]["index"] != want:
        level.errors.append(f"request {i}: class {data['results'][0]['index']}, expected {want}")
        return
    level.latencies.append(elapsed)
    for stage, ms in data["time_ms"].items():
        level.stages[stage].append(ms)
    for stage, ms in data.get("cpu_ms", {}).items():
        level.stages[f"{stage}_cpu"].append(ms)


async def run_clients(server, url: str, clients: int, bodies, expected, requests: int,
                      seconds: float, warm_up: int) -> Level:
    """``clients`` concurrent clients: ``warm_up`` requests untimed, then the timed level."""
    scratch = Level(clients)
    state = {"next": 0, "limit": warm_up, "deadline": time.perf_counter() + seconds}
    await asyncio.gather(*(_client(url, bodies, expected, state, scratch) for _ in range(clients)))
    level = Level(clients, errors=scratch.errors)
    state = {"next": 0, "limit": requests, "deadline": time.perf_counter() + seconds}
    cpu, start = server.cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(_client(url, bodies, expected, state, level) for _ in range(clients)))
    return replace(level, wall=time.perf_counter() - start, server_cpu=server.cpu_seconds() - cpu)


def run_level(server, clients: int, bodies: list[bytes], expected: list[int], requests: int,
              seconds: float, warm_up: int = 50) -> Level:
    """``requests`` POST /v1/classify (at most ``seconds``) from ``clients`` concurrent clients."""
    url = server.url + "v1/classify"
    check_loopback(url)
    return asyncio.run(run_clients(server, url, clients, bodies, expected, requests, seconds, warm_up))
