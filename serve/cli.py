"""``fmnist-serve EXPORT_DIR_OR_MODEL``: the model as an HTTP service (needs the [serve] extra)."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

from fmnist_edge.runtime import cliutil
from fmnist_edge.runtime.options import add_model_options, decode_limits, model_options

from .config import (BODY_TIMEOUT, DEFAULT_MAX_BODY, HEADER_TIMEOUT, PROG, TOKEN_ENV, ServeConfig,
                     parse_size)


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(text: str) -> int:
    value = cliutil.non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be 0–65535, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``fmnist-serve``."""
    p = cliutil.ArgumentParser(prog=PROG, description="Serve an exported Fashion-MNIST model over "
                               "HTTP: POST /v1/classify, GET /healthz, GET /metrics, and a page "
                               "at / to try it from a phone (no TensorFlow needed).")
    add = p.add_argument
    add("model", metavar="EXPORT_DIR_OR_MODEL",
        help="an export folder with manifest.json, or a .tflite/.onnx file")
    add("--host", default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 = every interface)")
    add("--port", type=_port, default=8000, help="TCP port; 0 = a free one, printed at start (default: 8000)")
    add("--workers", type=cliutil.positive_int, default=1, metavar="N",
        help="server processes sharing the socket, each with its own copy of the model: one "
        "process's HTTP work uses one core, so N = the cores for throughput (default: 1)")
    add("--token", default=None,
        help=f"require 'Authorization: Bearer TOKEN' on every route but /healthz (default: ${TOKEN_ENV}; "
        "prefer the variable: a command line is visible to other users)")
    add("--max-body", type=_size, default=DEFAULT_MAX_BODY, metavar="SIZE",
        help="largest request body, e.g. 8M or 512k; larger ones get 413 (default: 8M)")
    add("--header-timeout", type=cliutil.positive_float, default=HEADER_TIMEOUT, metavar="SECONDS",
        help="close a connection whose request headers have not all arrived this long after it "
        "opened or after its last answer (idle sockets, slowloris) (default: %(default)g)")
    add("--body-timeout", type=cliutil.positive_float, default=BODY_TIMEOUT, metavar="SECONDS",
        help="answer 408 to a request whose body has not all arrived this long after its "
        "headers (default: %(default)g)")
    add_model_options(p, helps={
        "threads": "requests decoded and classified at once per process, in worker threads, each "
                   "calling the engine with one thread (default: one per CPU)"})
    add("--access-log", action="store_true", help="log one line per request on stderr (default: off)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fmnist-serve``: 0 after SIGTERM/SIGINT drained it, 2 when it cannot start."""
    args = build_parser().parse_args(argv)
    # --threads sizes the request pool here; the engine gets one thread a call (Service.load)
    options = replace(model_options(args), threads=None)
    config = ServeConfig(args.model, host=args.host, port=args.port, threads=args.threads,
                         workers=args.workers, token=args.token or os.environ.get(TOKEN_ENV) or None,
                         max_body=args.max_body, options=options, invert=args.invert,
                         limits=decode_limits(args), header_timeout=args.header_timeout,
                         body_timeout=args.body_timeout, access_log=args.access_log)
    from .server import serve

    return cliutil.run(PROG, lambda: serve(config, quiet_signals=True))


if __name__ == "__main__":
    sys.exit(main())
