"""``--workers N``: N server processes accepting on one port, so HTTP work uses every core.

One process answers at most what one core's Python can parse, route and encode (its event
loop holds the GIL for that), whatever its thread pool does. N processes started with
``spawn`` (a fresh interpreter each: nothing forked from a process with engine threads) inherit
the bound socket or bind one of their own beside it (SO_REUSEPORT), and each loads the model;
the kernel spreads connections between the sockets by a hash of each connection's addresses.
One shared socket spread them badly: each worker's asyncio accepts every queued connection when
it wakes, so 8 keep-alive clients connecting at once landed [8], [1, 7] or [2, 6] on 2 workers
and the load test's 32 clients ran at one worker's requests/s in 1 of 3 runs. The
parent only supervises: SIGTERM/SIGINT go on to the workers, which drain, and the parent exits
0 once all have; a worker that dies on its own stops the rest (exit 1, systemd restarts it).
The workers leave the parent's process group, so a terminal's Ctrl-C, and systemd's stop with
``KillMode=mixed``, signal the parent alone.

/metrics then adds up every worker, through prometheus-client's multiprocess mode: each worker
writes its samples into a folder the parent creates and removes.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading

from .config import ServeConfig

METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client reads it when first imported


def run_workers(config: ServeConfig, sock, settings: dict, log, on_ready=lambda: None) -> int:
    """Start ``config.workers`` workers on ``sock``; 0 when all drained after a signal."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with tempfile.TemporaryDirectory(prefix="fmnist-serve-metrics-") as folder:
            ready = [context.Event() for _ in range(config.workers)]
            workers = [context.Process(target=worker_main, name=f"worker-{i}",
                                       args=(config, sock if i == 0 else sock.getsockname()[:2],
                                             settings, folder, r)) for i, r in enumerate(ready)]
            for worker in workers:
                worker.start()
            for event in ready:  # "listening" only once every worker has the socket and model
                while not (event.wait(0.2) or stop.is_set() or not all(w.is_alive() for w in workers)):
                    pass
            on_ready()
            while not stop.wait(0.2):
                dead = [w for w in workers if not w.is_alive()]
                if dead:
                    log(f"error: {dead[0].name} exited with {dead[0].exitcode}; stopping the others")
                    _stop(workers, 5)
                    return 1
            sock.close()  # new connections are refused once the workers have closed theirs too
            return _stop(workers, settings["timeout_graceful_shutdown"] + 5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop(workers, timeout: float) -> int:
    for worker in workers:
        if worker.is_alive():
            os.kill(worker.pid, signal.SIGTERM)
    for worker in workers:
        worker.join(timeout)
        if worker.is_alive():
            worker.kill()
            worker.join()
    return 0 if all(w.exitcode == 0 for w in workers) else 1


def worker_main(config: ServeConfig, sock, settings: dict, metrics_dir: str, ready) -> None:
    """One worker (in its own interpreter): load the model, serve ``sock`` until SIGTERM.

    ``sock``: the parent's socket, or the (host, port) it holds, to listen on a socket of its own.
    """
    import sys

    from .sockets import bind

    os.environ[METRICS_ENV] = metrics_dir  # before prometheus-client is imported, as it needs
    # Out of the terminal's process group: Ctrl-C reaches only the parent, which sends one SIGTERM
    # (a second signal makes uvicorn quit at once instead of draining).
    os.setpgrp()
    for sig in (signal.SIGTERM, signal.SIGINT):  # uvicorn re-raises them after draining: exit 0
        signal.signal(sig, lambda *_: None)
    import uvicorn

    from fmnist_edge.runtime.cliutil import own_process

    from .app import build_app
    from .protocol import protocol
    from .service import Service

    own_process()
    parent = os.getppid()
    _orphan_watch(parent)
    service = Service.load(config)
    if isinstance(sock, tuple):  # listening only once its model is loaded
        sock = bind(*sock, share=True, join=True)
    ready.set()
    server = uvicorn.Server(uvicorn.Config(build_app(service, metrics_dir=metrics_dir), **settings,
                                           http=protocol(config.header_timeout)))
    server.run(sockets=[sock])
    if os.getppid() != parent:  # killed, the parent removes nothing: every orphan tries, once drained
        import shutil

        shutil.rmtree(metrics_dir, ignore_errors=True)
    sys.exit(0 if server.started else 1)


def _orphan_watch(parent: int) -> None:
    """Drain and exit if the parent dies unasked (SIGKILL, a crash): outside its process group,
    nothing else would stop this worker."""
    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(1.0)
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()
