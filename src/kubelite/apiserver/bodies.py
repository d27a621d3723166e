"""Reading request bodies within Kubernetes' size limit and the request's deadline."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from kubelite.api import errors

# Kubernetes refuses request bodies above 3 MiB (the apiserver's MaxRequestBodyBytes).
MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024
# Set on a request whose body stream broke: its answer closes the connection.
CLOSE_CONNECTION = web.RequestKey("close_connection", bool)
# The event loop's time by which the body must have arrived (see `connections`); none if unset.
DEADLINE = web.RequestKey("body_deadline", float)
# The body once read: the audit log records it after the handler (which consumed the stream).
BODY = web.RequestKey("body", bytes)


class BodyTimeout(errors.StatusError):
    """The 504 kube-apiserver's timeout filter answers a request past --request-timeout."""

    def __init__(self) -> None:
        super().__init__(
            504,
            errors.REASON_TIMEOUT,
            "Timeout: request did not complete within the allotted timeout",
        )


async def read_body(request: web.Request) -> bytes:
    """The request body, refused with 413 past the limit, and with 504 if it has not all come
    by the request's deadline: aiohttp would wait for a stalled body forever. The connection
    closes after that answer, as the rest of the body may still come."""
    cached: bytes | None = request.get(BODY)
    if cached is not None:
        return cached
    length = request.content_length
    if length is not None and length > MAX_REQUEST_BODY_BYTES:
        raise errors.request_entity_too_large(MAX_REQUEST_BODY_BYTES)
    if request.content.is_eof():
        # The whole body came with the head (nearly every request does): reading it cannot
        # stall, so no timer is set up for it. That timer is a measurable share of a create.
        body = request[BODY] = await _read(request)
        return body
    try:
        async with asyncio.timeout_at(request.get(DEADLINE)):
            body = request[BODY] = await _read(request)
            return body
    except TimeoutError:
        request[CLOSE_CONNECTION] = True
        raise BodyTimeout() from None


async def _read(request: web.Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = await request.content.read(64 * 1024)
        except RequestPayloadError as exc:
            # aiohttp decompresses a body sent with Content-Encoding gzip or deflate; one that is
            # not what its header says is the client's mistake. The rest of the stream cannot be
            # read either, so the connection closes after the answer instead of draining it.
            request[CLOSE_CONNECTION] = True
            encoding = request.headers.get("Content-Encoding", "")
            raise errors.bad_request(
                f"the request body could not be read as its Content-Encoding ({encoding}) "
                f"says: {str(exc).strip()}"
            ) from None
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_REQUEST_BODY_BYTES:
            raise errors.request_entity_too_large(MAX_REQUEST_BODY_BYTES)
        chunks.append(chunk)
