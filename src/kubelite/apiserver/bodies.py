"""Reading request bodies within Kubernetes' size limit."""

from __future__ import annotations

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from kubelite.api import errors

# Kubernetes refuses request bodies above 3 MiB (the apiserver's MaxRequestBodyBytes).
MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024
# Set on a request whose body stream broke: its answer closes the connection.
CLOSE_CONNECTION = web.RequestKey("close_connection", bool)


async def read_body(request: web.Request) -> bytes:
    """The request body, refused with 413 past the limit."""
    length = request.content_length
    if length is not None and length > MAX_REQUEST_BODY_BYTES:
        raise errors.request_entity_too_large(MAX_REQUEST_BODY_BYTES)
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
