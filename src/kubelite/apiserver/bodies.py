"""Reading request bodies within Kubernetes' size limit."""

from __future__ import annotations

from aiohttp import web

from kubelite.api import errors

# Kubernetes refuses request bodies above 3 MiB (the apiserver's MaxRequestBodyBytes).
MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024


async def read_body(request: web.Request) -> bytes:
    """The request body, refused with 413 past the limit."""
    length = request.content_length
    if length is not None and length > MAX_REQUEST_BODY_BYTES:
        raise errors.request_entity_too_large(MAX_REQUEST_BODY_BYTES)
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_REQUEST_BODY_BYTES:
            raise errors.request_entity_too_large(MAX_REQUEST_BODY_BYTES)
        chunks.append(chunk)
