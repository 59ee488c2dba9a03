"""``HeaderDeadline``: uvicorn's HTTP protocol with a deadline for each request's headers (see .guards)."""

from __future__ import annotations

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from .config import HEADER_TIMEOUT


class HeaderDeadline(AutoHTTPProtocol):
    """uvicorn's HTTP protocol, closing a connection whose request headers are late.

    ``header_timeout`` is set on the class by :func:`protocol` (uvicorn makes the instances).
    A request's cycle object exists once its headers are complete (h11 and httptools alike),
    so the deadline compares the cycle when it was set with the cycle when it fires.
    """

    header_timeout = HEADER_TIMEOUT

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def _arm(self) -> None:
        self.loop.call_later(self.header_timeout, self._expire, self.cycle)

    def _expire(self, cycle) -> None:
        if self.cycle is cycle and not self.transport.is_closing():
            self.transport.close()


def protocol(header_timeout: float) -> type:
    """The HeaderDeadline class with ``header_timeout`` (a subclass per value, module-level named)."""
    if header_timeout == HeaderDeadline.header_timeout:
        return HeaderDeadline
    return type("HeaderDeadline", (HeaderDeadline,), {"header_timeout": header_timeout})
