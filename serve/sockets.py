"""The listening socket of fmnist-serve: TCP_NODELAY-ready, and shared by ``--workers`` safely."""

from __future__ import annotations

import socket

from fmnist_edge.runtime.errors import FmnistError


def bind(host: str, port: int, share: bool = False, join: bool = False) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: a free port); FmnistError when refused.

    Made with ``IPPROTO_TCP`` spelled out: asyncio sets TCP_NODELAY only on sockets whose
    ``proto`` says TCP, and ``socket.create_server``'s say 0. Without it every answer waited
    for the client's delayed ACK: 48 ms a request at one client instead of ~3 ms (measured).
    ``share``: SO_REUSEPORT, so ``--workers`` can each listen on a socket of their own (see
    workers.py); a port some other socket holds is still refused (:func:`refuse_taken`), except
    when a worker ``join``s its own server's socket.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart while in TIME_WAIT
        if share:
            if port and not join:
                refuse_taken(family, host, port)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise FmnistError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def refuse_taken(family, host: str, port: int) -> None:
    """OSError when a socket already listens on the port, even one with SO_REUSEPORT.

    A second fmnist-serve of the same user would otherwise join the first one's group and the
    kernel would send clients to either, two models answering at random on one address.
    """
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
