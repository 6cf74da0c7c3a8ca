"""One bounded request on the wire: a total deadline, a body cap, the write event.

``fetch`` is the only place a request is sent (the HTTP layer, the token endpoint and
the ``probe`` command use it), so every body is bounded and every write is paced the same
way; ``WriteEvents`` gives test transports the trace event the network transport emits.
"""

from __future__ import annotations

import asyncio
import math
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from rcsqualify import __version__
from rcsqualify.remote.failures import Unrecognized

USER_AGENT = f"rcsqualify/{__version__}"


@dataclass(frozen=True)
class Raw:
    status: int
    headers: httpx.Headers
    content: bytes




def is_json_type(headers: httpx.Headers) -> bool:
    ctype = headers.get("content-type", "").lower()
    return "json" in ctype


def content_label(raw: Raw) -> str:
    ctype = raw.headers.get("content-type", "").split(";")[0].strip().lower()
    if "html" in ctype:
        return "html"
    if "json" in ctype:
        return "json"
    if ctype.startswith("text/"):
        return "text"
    return "no content type" if not ctype else "other"


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from a valid ``Retry-After`` (number or HTTP date); None when invalid."""
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, seconds)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


async def fetch(client: httpx.AsyncClient, method: str, url: str, *, timeout: float,
                max_body: int, on_write: Callable[[], Awaitable[None]] | None = None,
                on_written: Callable[[], None] | None = None, **kwargs: Any) -> Raw:
    """One request with a total deadline and a body cap.

    ``on_write`` runs right before the request line is written (httpcore's trace
    event); the deadline is suspended while it waits, so a wait for a pacing slot is
    never counted as the server's slowness. ``on_written`` runs once the request
    headers have left (the next trace event), or when the request failed before: the
    moment the request was actually written, as close to the socket as httpx tells.
    """
    loop = asyncio.get_running_loop()
    pending = [False]  # on_write ran and on_written did not yet

    def written() -> None:
        if pending[0]:
            pending[0] = False
            if on_written is not None:
                on_written()

    async with asyncio.timeout(timeout) as deadline:
        extensions: dict[str, Any] = {}
        if on_write is not None:
            async def trace(name: str, info: Mapping[str, Any]) -> None:
                if name.endswith("send_request_headers.started"):
                    deadline.reschedule(None)
                    await on_write()
                    pending[0] = True
                    deadline.reschedule(loop.time() + timeout)
                elif name.endswith("send_request_headers.complete"):
                    written()

            extensions["trace"] = trace
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("Accept-Encoding", "gzip, deflate")  # what we can bound
        request = client.build_request(method, url, extensions=extensions, headers=headers,
                                       **kwargs)
        try:
            response = await client.send(request, stream=True)
        finally:
            written()  # a transport without the event, or a failed write
        try:
            body = await _bounded_body(response, max_body)
        except Unrecognized as exc:
            exc.status = response.status_code  # "HTTP 200 answer over …", not "HTTP 0"
            raise
        finally:
            await response.aclose()
    return Raw(response.status_code, response.headers, body)


async def _bounded_body(response: httpx.Response, max_body: int) -> bytes:
    """The whole body, decoded, never more than ``max_body`` bytes in memory: gzip and
    deflate are inflated step by step with a cap (httpx would inflate a whole chunk,
    which a hostile server can make a gigabyte); any other encoding is refused."""
    if response.is_stream_consumed or hasattr(response, "_content"):
        # built in memory (httpx test transports): nothing left to stream
        if len(response.content) > max_body:
            raise Unrecognized("body_too_large")
        return response.content
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    inflate: Any = None
    if encoding in ("gzip", "x-gzip"):
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        inflate = zlib.decompressobj()
    elif encoding not in ("", "identity"):
        raise Unrecognized("unsupported_encoding")
    out = bytearray()
    async for chunk in response.aiter_raw():
        data = chunk
        while data:
            if inflate is None:
                piece, data = data, b""
            else:
                try:
                    piece = inflate.decompress(data, max_body + 1 - len(out))
                except zlib.error as exc:
                    raise Unrecognized("bad_encoding") from exc
                data = inflate.unconsumed_tail
            out += piece
            if len(out) > max_body:
                raise Unrecognized("body_too_large")
            if inflate is not None and not piece:
                break
    return bytes(out)


class WriteEvents(httpx.AsyncBaseTransport):
    """Gives transports that emit no httpcore trace (httpx's MockTransport and
    ASGITransport, in tests) the same ``send_request_headers`` event, so they are
    paced exactly like the network transport."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        trace = request.extensions.get("trace")
        if trace is not None:
            await trace("http11.send_request_headers.started", {})
            await trace("http11.send_request_headers.complete", {})
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

