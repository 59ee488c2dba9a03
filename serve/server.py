"""``serve(config)``: load the model, bind the socket, run uvicorn until SIGTERM/SIGINT.

The order is the point: the model loads before anything listens, so a model that cannot load
is one error line and exit 2, never a server that answers 500s; and the socket is bound here,
so a port in use is one line too, not uvicorn's log and traceback.
"""

from __future__ import annotations

import signal
import socket
import sys

from .config import PROG, ServeConfig
from .sockets import bind

LOOPBACK = ("127.0.0.1", "::1", "localhost")
# In-flight requests get this long after SIGTERM; a phone photo answers in < 100 ms, so 10 s
# is generous, and systemd's default stop timeout (90 s) is never the one that fires.
DRAIN_SECONDS = 10


def serve(config: ServeConfig, log=None, quiet_signals: bool = False) -> int:
    """Serve ``config.model`` until the process gets SIGTERM or SIGINT; 0 after a clean drain.

    uvicorn catches SIGTERM/SIGINT while it runs, then restores the process's handlers and
    raises the signal again. ``quiet_signals`` (fmnist-serve's main, which owns its process)
    first sets those handlers to ignore it: a drained server then exits 0, not by the signal,
    which systemd would count as a failure. With ``config.workers`` > 1 this process only
    supervises (see :mod:`.workers`) and handles the two signals itself while it does.
    """
    from .service import Service
    from .workers import run_workers

    log = log or (lambda line: print(f"{PROG}: {line}", file=sys.stderr, flush=True))
    # in every case here first: a bad model is exit 2, unbound; workers warm up their own
    service = Service.load(config, warm=config.workers == 1)
    sock = bind(config.host, config.port, share=config.workers > 1)
    settings = {"lifespan": "on", "access_log": config.access_log, "log_level": "warning",
                "timeout_graceful_shutdown": DRAIN_SECONDS, "server_header": False}
    try:
        lines = _banner(service, config, sock)
        log(lines[0])
        if config.workers > 1:
            del service  # each worker loads its own
            code = run_workers(config, sock, settings, log,
                               on_ready=lambda: [log(line) for line in lines[1:]])
        else:
            for line in lines[1:]:
                log(line)
            code = _run_one(service, sock, settings, quiet_signals)
    finally:
        sock.close()
    log("stopped")
    return code


def _run_one(service, sock: socket.socket, settings: dict, quiet_signals: bool) -> int:
    import uvicorn

    from .app import build_app
    from .protocol import protocol

    server = uvicorn.Server(uvicorn.Config(build_app(service), **settings,
                                           http=protocol(service.config.header_timeout)))
    if quiet_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
    server.run(sockets=[sock])
    return 0 if server.started else 1


def _banner(service, config: ServeConfig, sock: socket.socket) -> list[str]:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    model = service.model
    lines = [f"{model['file']} ({model['format']}, {model['quantization']}) on {model['backend']}, "
             f"{config.workers} process(es) × {config.pool_size()} worker thread(s)",
             f"listening on http://{shown}:{port}/"
             + (" (token required)" if config.token else "")]
    if config.host not in LOOPBACK and not config.token:
        lines.append(f"warning: listening on {config.host} without a token: anyone on the network "
                     "can use this model (set --token or $FMNIST_SERVE_TOKEN)")
    return lines
