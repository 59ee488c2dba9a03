"""The ASGI app of ``fmnist-serve``: routes, the token guard, metrics, JSON errors.

    POST /v1/classify   one image as the body, or a multipart form of several; ?top_k=, ?pixels=1
    GET  /healthz       ready once the model is loaded (no token needed)
    GET  /metrics       Prometheus text format
    GET  /              the page to try it from a phone
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import os
import time
from importlib import resources

from .config import MAX_FILES, MAX_TOP_K
from .guards import BODY_BUDGET_BODIES, LARGE_PIXELS, BodyBudget
from .metrics import CONTENT_TYPE, Metrics
from .service import RequestError, Service, Upload

RAW_TYPES = ("application/octet-stream", "")  # no Content-Type at all: take the bytes as a file
CHALLENGE = b'Bearer realm="fmnist-serve", Basic realm="fmnist-serve"'


def build_app(service: Service, metrics_dir: str | None = None):
    """The ASGI app answering for ``service``: Starlette routes inside the metrics and token layers.

    Embeddable in any ASGI server; it installs nothing in its host process. ``metrics_dir``:
    prometheus-client's multiprocess folder, when several processes serve (see .workers).
    """
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.routing import Route

    api = _Api(service, metrics_dir)
    routes = [Route("/", api.page, methods=["GET"]), Route("/healthz", api.healthz, methods=["GET"]),
              Route("/metrics", api.metrics_text, methods=["GET"]),
              Route("/v1/classify", api.classify, methods=["POST"])]
    app = Starlette(routes=routes, lifespan=api.lifespan,
                    exception_handlers={HTTPException: _http_error, RequestError: _request_error,
                                        500: _server_error})
    return Counted(Guard(app, service.config.token), api.metrics)


class _Api:
    def __init__(self, service: Service, metrics_dir: str | None) -> None:
        self.service, self.metrics = service, Metrics(service.model, metrics_dir)
        self.limiter = self.large = None  # anyio CapacityLimiters, made in the event loop at start-up
        self.bodies = BodyBudget(BODY_BUDGET_BODIES * service.config.max_body)
        self.html = resources.files(__package__).joinpath("page.html").read_bytes()

    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        """Start-up: the limiters of worker threads belong to the server's event loop."""
        import anyio

        self.limiter = anyio.CapacityLimiter(self.service.config.pool_size())
        self.large = anyio.CapacityLimiter(1)  # the large decodes' lane (see .guards)
        yield

    async def page(self, request):
        from starlette.responses import Response

        return Response(self.html, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})

    async def healthz(self, request):
        from starlette.responses import JSONResponse

        return JSONResponse({"status": "ready", "model": self.service.model, "pid": os.getpid()})

    async def metrics_text(self, request):
        from starlette.responses import Response

        return Response(self.metrics.render(), media_type=CONTENT_TYPE)

    async def classify(self, request):
        """Decode and classify in a worker thread; the loop only reads the body and answers."""
        import anyio
        from starlette.responses import JSONResponse

        start = time.perf_counter()
        top_k, show = _top_k(request.query_params.get("top_k")), _flag(request, "pixels")
        uploads, held = await _uploads(request, self.service.config, self.bodies)
        try:
            # headers only, here in the loop: 70 µs for a PNG, 3 ms for 8 MB of chunks
            lane = self.large if self.service.measure(uploads) >= LARGE_PIXELS else self.limiter
            answer = await anyio.to_thread.run_sync(self.service.classify, uploads, top_k, show,
                                                    limiter=lane)
        finally:
            self.bodies.give(held)
        times = answer["time_ms"]
        self.metrics.classified(len(uploads), times)
        times["server"] = round((time.perf_counter() - start) * 1000, 4)
        timing = ", ".join(f"{k};dur={v}" for k, v in times.items())
        return JSONResponse({"model": self.service.model, **answer},
                            headers={"Server-Timing": timing})


def _top_k(text: str | None) -> int:
    if text is None:
        return 1
    if not text.isdigit() or not 1 <= int(text) <= MAX_TOP_K:
        raise RequestError(400, f"top_k must be a whole number from 1 to {MAX_TOP_K}, got {text!r}")
    return int(text)


def _flag(request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


async def _uploads(request, config, bodies: BodyBudget) -> tuple[list[Upload], int]:
    """The request's images (the raw body, or each file of a multipart form) and the bytes held.

    The caller gives the held bytes back to ``bodies`` once the request is answered.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (kind.startswith("image/") or kind in RAW_TYPES or kind == "multipart/form-data"):
        raise RequestError(415, f"unsupported Content-Type {kind!r}: send one image as the body "
                           "(Content-Type image/png, image/jpeg, …) or files as multipart/form-data")
    body = await _body(request, config, bodies)
    try:
        if not body:
            raise RequestError(400, "empty request body: send an image (PNG, JPEG, …)")
        if kind != "multipart/form-data":
            return [Upload(request.query_params.get("name") or "image", body)], len(body)
        return await _form(request, body, config.max_body), len(body)
    except BaseException:
        bodies.give(len(body))
        raise


async def _body(request, config, bodies: BodyBudget) -> bytes:
    """The body, refused as soon as it passes --max-body (413), the budget (429) or the time (408)."""
    import anyio
    from starlette.requests import ClientDisconnect

    limit, held, size, chunks = config.max_body, 0, 0, []
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"request body of {int(declared):,} bytes is over the limit of "
                           f"{limit:,} (fmnist-serve --max-body)")
    try:
        with anyio.fail_after(config.body_timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise RequestError(413, f"request body is over the limit of {limit:,} bytes "
                                       "(fmnist-serve --max-body)")
                # over the budget, the rest is read and dropped: a 429 sent before the whole
                # body was read would reach the client as a connection reset (TCP's RST)
                if size == held + len(chunk) and bodies.take(len(chunk)):
                    held += len(chunk)
                    chunks.append(chunk)
    except BaseException as exc:
        bodies.give(held)
        if isinstance(exc, TimeoutError):
            raise RequestError(408, f"the body did not arrive within {config.body_timeout:g} s "
                               "(fmnist-serve --body-timeout)") from None
        if isinstance(exc, ClientDisconnect):
            raise RequestError(400, "the client went away before the body was complete") from None
        raise
    if held < size:
        bodies.give(held)
        raise RequestError(429, f"busy: {bodies.held:,} bytes of other uploads are held here; "
                           "retry in a second")
    return b"".join(chunks)


async def _form(request, body: bytes, limit: int) -> list[Upload]:
    from starlette.datastructures import UploadFile
    from starlette.formparsers import MultiPartException, MultiPartParser

    async def stream():
        yield body
        yield b""

    try:
        form = await MultiPartParser(request.headers, stream(), max_files=MAX_FILES,
                                     max_fields=MAX_FILES, max_part_size=limit).parse()
    except MultiPartException as exc:
        raise RequestError(400, f"unreadable multipart form: {exc}") from None
    try:
        uploads = [Upload(value.filename or key, await value.read())
                   for key, value in form.multi_items() if isinstance(value, UploadFile)]
    finally:
        await form.close()
    if not uploads:
        raise RequestError(400, "the multipart form holds no files: send images as file fields")
    return uploads


async def _http_error(request, exc):  # Starlette's 404/405/…: JSON like ours
    return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))


async def _request_error(request, exc: RequestError):
    # the body may be unread (408, 413): close rather than read what is left of it
    headers = {"Connection": "close"} if exc.status in (408, 413) else {}
    if exc.status == 429:
        headers["Retry-After"] = "1"
    return _error(exc.status, str(exc), headers)


async def _server_error(request, exc):
    return _error(500, "internal error (the server log has the details)")


def _error(status: int, message: str, headers=None):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


class Guard:
    """With a token, every route but /healthz needs ``Authorization: Bearer <token>``.

    HTTP Basic with the token as password is taken too, so a phone's browser can use the page:
    it prompts for Basic credentials, never for a Bearer token, and then sends them on the
    page's own requests.
    """

    def __init__(self, app, token: str | None) -> None:
        self.app, self.token = app, token.encode() if token else None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or self.token is None or scope["path"] == "/healthz":
            return await self.app(scope, receive, send)
        header = dict(scope["headers"]).get(b"authorization", b"")
        if self._allowed(header):
            return await self.app(scope, receive, send)
        message = "missing token: send Authorization: Bearer <token>" if not header else "wrong token"
        await _send_json(send, 401, {"error": message, "status": 401}, [(b"www-authenticate", CHALLENGE)])

    def _allowed(self, header: bytes) -> bool:
        scheme, _, value = header.partition(b" ")
        if scheme.lower() == b"basic":
            try:
                value = base64.b64decode(value.strip(), validate=True).partition(b":")[2]
            except ValueError:
                return False
        elif scheme.lower() != b"bearer":
            return False
        return hmac.compare_digest(value.strip(), self.token)


class Counted:
    """Counts every HTTP answer (route, method, status, duration) into ``metrics``."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), 500

        async def sending(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.observe(scope["path"], scope["method"], status, time.perf_counter() - start)


async def _send_json(send, status: int, payload: dict, headers: list) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})
