"""The hostile mix: what a careless or hostile client on the LAN sends, beside the good clients.

While good clients run one level of a workload (every answer checked, as in :mod:`.load`):

- ``bomb``: a 9,400×9,400 1-bit PNG (88 M pixels from 23 kB) and a JPEG whose header claims
  60,000×60,000, posted again and again: each must be 413, from its header;
- ``large``: a 3,000×3,000 white RGB PNG (9 M pixels from 27 kB), under the pixel limit: decoded,
  one at a time in the large lane, and answered 200;
- ``slow``: connections sending a 200 kB body 100 bytes every half second;
- ``idle``: connections that send nothing, or half a request line, and wait.

Everything stays on 127.0.0.1 and ends when the good level does. The report counts each kind's
answers by status and how many slow or idle connections the server closed.
"""

from __future__ import annotations

import asyncio
import io
import struct
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

from .load import Connection, Level, check_loopback, run_clients

BOMB_SIDE = 9_400
JPEG_CLAIM = 60_000
LARGE_SIDE = 3_000


@dataclass(frozen=True)
class Mix:
    """How many clients of each hostile kind run beside the good ones."""

    bomb: int = 2
    large: int = 1
    slow: int = 16
    idle: int = 200


def bomb_png() -> bytes:
    """A 1-bit white PNG of BOMB_SIDE² pixels: small on the wire, 88 M pixels decoded."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (BOMB_SIDE, BOMB_SIDE), 1).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def bomb_jpeg() -> bytes:
    """A 16×16 JPEG whose frame header claims JPEG_CLAIM² pixels (7,500² even at 1/8 scale)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 190, 180)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")  # baseline frame: length, precision, height, width
    data[sof + 5:sof + 9] = struct.pack(">HH", JPEG_CLAIM, JPEG_CLAIM)
    return bytes(data)


def large_png() -> bytes:
    """A white RGB PNG of LARGE_SIDE² pixels: under the default limit, so it is decoded."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (LARGE_SIDE, LARGE_SIDE), (255, 255, 255)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


async def _poster(host: str, port: int, path: str, bodies: list[bytes], stop: asyncio.Event,
                  statuses: Counter) -> None:
    """POST the bodies in turn, a fresh connection each (a 413 closes it), until ``stop``."""
    i = 0
    while not stop.is_set():
        connection = Connection(host, port)
        try:
            status, _ = await connection.post(path, bodies[i % len(bodies)])
            statuses[status] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError, StopIteration) as exc:
            statuses[type(exc).__name__] += 1
            await asyncio.sleep(0.05)
        finally:
            await connection.close()
        i += 1


async def _slow(host: str, port: int, path: str, stop: asyncio.Event, closed: Counter) -> None:
    """Send a 200 kB body 100 bytes each half second; count it if the server hangs up."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/png\r\n"
                     "Content-Length: 200000\r\n\r\n".encode())
        while not stop.is_set():
            writer.write(b"\x00" * 100)
            await writer.drain()
            if await _closed_within(reader, stop, 0.5):
                closed["slow"] += 1
                return
    except OSError:
        closed["slow"] += 1
    finally:
        writer.close()


async def _idle(host: str, port: int, i: int, stop: asyncio.Event, closed: Counter) -> None:
    """Connect and send nothing (even i) or half a request line (odd i); count the hang-up."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        if i % 2:
            writer.write(b"POST /v1/classify HT")
        if await _closed_within(reader, stop, None):
            closed["idle"] += 1
    except OSError:
        closed["idle"] += 1
    finally:
        writer.close()


async def _closed_within(reader, stop: asyncio.Event, seconds: float | None) -> bool:
    """True when the server closed the connection (or answered) before ``stop``/``seconds``."""
    read = asyncio.ensure_future(reader.read(65536))
    halt = asyncio.ensure_future(stop.wait())
    done, pending = await asyncio.wait({read, halt}, timeout=seconds,
                                       return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return read in done and not read.cancelled()


async def _hostile(url: str, mix: Mix, stop: asyncio.Event, payloads: dict) -> dict:
    parts = urlsplit(url)
    host, port, path = parts.hostname, parts.port, parts.path
    bombs, large, closed = Counter(), Counter(), Counter()
    tasks = [*(_poster(host, port, path, payloads["bomb"], stop, bombs) for _ in range(mix.bomb)),
             *(_poster(host, port, path, payloads["large"], stop, large) for _ in range(mix.large)),
             *(_slow(host, port, path, stop, closed) for _ in range(mix.slow)),
             *(_idle(host, port, i, stop, closed) for i in range(mix.idle))]
    await asyncio.gather(*tasks)
    return {"bomb": _statuses(bombs), "large": _statuses(large),
            "slow": {"connections": mix.slow, "closed_by_server": closed["slow"]},
            "idle": {"connections": mix.idle, "closed_by_server": closed["idle"]}}


def _statuses(counter: Counter) -> dict:
    return {str(k): v for k, v in sorted(counter.items(), key=lambda kv: str(kv[0]))}


async def _level(server, url: str, clients: int, bodies, expected, requests: int, seconds: float,
                 mix: Mix, payloads: dict) -> tuple[Level, dict]:
    stop = asyncio.Event()
    hostile = asyncio.ensure_future(_hostile(url, mix, stop, payloads))
    await asyncio.sleep(1.0)  # the idle and slow connections are open before the good clients start
    try:
        level = await run_clients(server, url, clients, bodies, expected, requests, seconds, warm_up=0)
    finally:
        stop.set()
    return level, await hostile


def run_hostile_level(server, clients: int, bodies: list[bytes], expected: list[int],
                      requests: int, seconds: float, mix: Mix = Mix()) -> tuple[Level, dict]:
    """One good level (as load.run_level) with the hostile mix running beside it."""
    url = server.url + "v1/classify"
    check_loopback(url)
    payloads = {"bomb": [bomb_png(), bomb_jpeg()], "large": [large_png()]}
    start = time.perf_counter()
    level, hostile = asyncio.run(_level(server, url, clients, bodies, expected, requests, seconds,
                                        mix, payloads))
    hostile["seconds"] = round(time.perf_counter() - start, 1)
    return level, hostile
