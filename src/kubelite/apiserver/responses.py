"""HTTP responses: objects, lists, `Status` errors and warnings, as Kubernetes sends them.

Every JSON body ends with a newline, as kube-apiserver's: its JSON serializer writes objects
through Go's `json.Encoder`, whose `Encode` appends "\n", and its streaming list encoder ends a
list with "}\n" too (apimachinery's `runtime/serializer/json/json.go` and `collections.go`).
Objects, lists, Tables and `Status` bodies alike; watch events are one such line each.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import payload, web
from aiohttp.abc import AbstractStreamWriter

from kubelite.api.errors import StatusError, go_status
from kubelite.api.goformat import go_quote
from kubelite.apiserver import negotiation
from kubelite.apiserver.negotiation import Target

JSON_CONTENT_TYPE = "application/json"
# What Go's json.Encoder writes after each value.
NEWLINE = b"\n"


# Bodies larger than this are written a chunk at a time (see Response).
CHUNK = 256 << 10


class Response(web.Response):
    """A response that does not leave its body behind on the connection.

    A LIST of 10,000 pods (36 MB) over each connection of a client's pool left the server
    holding 70 MB per connection for as long as those stayed open, in two places:

    - aiohttp's connection loop keeps the last request and response of a keep-alive connection
      in its locals until the next request arrives: the body is let go once it is sent;
    - asyncio's TLS layer encrypts all that one write hands it into a memory buffer that keeps
      its largest size for the life of the connection: large bodies go out in chunks, each
      written once the socket has taken most of the last.
    """

    def __init__(self, *, body: bytes | None = None, **kwargs: Any) -> None:
        if body is not None and len(body) > CHUNK:
            super().__init__(body=_Chunked(body), **kwargs)
        else:
            super().__init__(body=body, **kwargs)

    async def write_eof(self, data: bytes = b"") -> None:
        try:
            await super().write_eof(data)
        finally:
            self.body = None


class _Chunked(payload.Payload):
    """Bytes written CHUNK at a time; each write waits while the transport is full."""

    _value: bytes

    def __init__(self, value: bytes) -> None:
        super().__init__(value, content_type=JSON_CONTENT_TYPE)
        self._size = len(value)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return self._value.decode(encoding, errors)

    async def write(self, writer: AbstractStreamWriter) -> None:
        view = memoryview(self._value)
        for start in range(0, len(view), CHUNK):
            await writer.write(view[start : start + CHUNK])


def _headers(content_type: str, warnings: list[str] | None) -> list[tuple[str, str]]:
    headers = [("Content-Type", content_type), ("Cache-Control", "no-cache, private")]
    for text in warnings or ():
        # RFC 7234 warn-code 299 with the agent "-", the text quoted as Go's strconv.Quote
        # does (apimachinery's NewWarningHeader): a control character a client put in a field
        # name (DEL too, which JSON leaves as it is) must not reach the header unescaped.
        headers.append(("Warning", "299 - " + go_quote(text)))
    return headers


def body(
    value: Any,
    *,
    status: int = 200,
    target: Target = negotiation.JSON_TARGET,
    warnings: list[str] | None = None,
) -> web.Response:
    return Response(
        body=negotiation.dump(value, target),
        status=status,
        headers=_headers(target.content_type, warnings),
    )


def raw_list(
    kind: str, api_version: str, list_meta: dict[str, Any], items: list[bytes]
) -> web.Response:
    """A JSON list whose items are already encoded."""
    head = orjson.dumps({"kind": kind, "apiVersion": api_version, "metadata": list_meta})
    payload = b"".join((head[:-1], b',"items":[', b",".join(items), b"]}\n"))
    return Response(body=payload, status=200, headers=_headers(JSON_CONTENT_TYPE, None))


def error(exc: StatusError, warnings: list[str] | None = None) -> web.Response:
    """A failure `Status`; one that says when to retry also says it in `Retry-After`, as
    ErrorNegotiated (`endpoints/handlers/responsewriters/writers.go`) does."""
    headers = _headers(JSON_CONTENT_TYPE, warnings)
    retry_after = (exc.details or {}).get("retryAfterSeconds") or 0
    if retry_after > 0:
        headers.append(("Retry-After", str(retry_after)))
    return Response(
        body=orjson.dumps(exc.to_status(), option=orjson.OPT_APPEND_NEWLINE),
        status=exc.code,
        headers=headers,
    )


def json_document(value: Any) -> web.Response:
    """A JSON body that is not a resource (discovery documents), ended as Go's encoder ends it."""
    return Response(
        body=orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE),
        content_type=JSON_CONTENT_TYPE,
    )


def success_status(name: str, group: str, kind: str, uid: str) -> dict[str, Any]:
    """The `Status` a delete returns for kinds that do not return the deleted object."""
    # The generic store's finalizeDelete sets no code: Go leaves the zero out.
    return go_status("Success", details={"name": name, "group": group, "kind": kind, "uid": uid})
