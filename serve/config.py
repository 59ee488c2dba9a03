"""``ServeConfig``: what ``fmnist-serve`` loads, where it listens and what it accepts."""

from __future__ import annotations

import os
from dataclasses import dataclass

from fmnist_edge.runtime.images import DecodeLimits, Invert
from fmnist_edge.runtime.options import ModelOptions

PROG = "fmnist-serve"
HEADER_TIMEOUT = 10.0  # seconds; a phone's request headers come in one packet
BODY_TIMEOUT = 60.0  # seconds; an 8 MB photo over a 1.1 Mbit/s link
TOKEN_ENV = "FMNIST_SERVE_TOKEN"
# A 12 MP phone JPEG is 3–5 MB; 8 MiB leaves room for a 48 MP one at high compression, and
# bounds what one request can make the device buffer.
DEFAULT_MAX_BODY = 8 * 1024 * 1024
MAX_FILES = 64  # images in one multipart request: one batch call, a bounded one
MAX_TOP_K = 10


@dataclass(frozen=True)
class ServeConfig:
    """The model, the socket and the limits of one ``fmnist-serve`` process."""

    model: str
    host: str = "127.0.0.1"  # all interfaces only when asked for (--host 0.0.0.0)
    port: int = 8000
    threads: int | None = None  # requests decoded and classified at once per process; None: CPUs
    workers: int = 1  # server processes on the one socket (each loads the model: RSS × workers)
    token: str | None = None  # None: no authentication
    max_body: int = DEFAULT_MAX_BODY
    options: ModelOptions = ModelOptions()  # which model, on which engine (threads: see Service)
    invert: Invert = Invert.AUTO
    limits: DecodeLimits = DecodeLimits()  # the pixel limit of each upload's decode
    header_timeout: float = HEADER_TIMEOUT  # seconds for a request's headers (see .guards)
    body_timeout: float = BODY_TIMEOUT  # seconds for its body
    access_log: bool = False  # uvicorn's line per request: off by default, a device's log is small

    def pool_size(self) -> int:
        """Worker threads: ``threads``, else one per CPU this process may run on."""
        if self.threads:
            return self.threads
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not Linux
            return max(1, os.cpu_count() or 1)


def parse_size(text: str) -> int:
    """``8M``, ``512k``, ``1048576`` → bytes (K/M/G are 1024-based); a ValueError names the problem."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    cleaned = text.strip().lower().removesuffix("ib").removesuffix("b")
    factor = units.get(cleaned[-1:], 1)
    number = cleaned[:-1] if cleaned[-1:] in units else cleaned
    try:
        value = int(float(number) * factor)
    except ValueError:
        raise ValueError(f"expected a size such as 8M, 512k or 1048576, got {text!r}") from None
    if value < 1:
        raise ValueError(f"must be at least 1 byte, got {text!r}")
    return value
