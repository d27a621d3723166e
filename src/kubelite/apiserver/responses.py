"""HTTP responses: objects, lists, `Status` errors and warnings, as Kubernetes sends them."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from kubelite.api.errors import StatusError
from kubelite.apiserver import negotiation
from kubelite.apiserver.negotiation import Target

JSON_CONTENT_TYPE = "application/json"


def _headers(content_type: str, warnings: list[str] | None) -> list[tuple[str, str]]:
    headers = [("Content-Type", content_type), ("Cache-Control", "no-cache, private")]
    for text in warnings or ():
        # RFC 7234 warn-code 299 with the agent "-", as the API server sends them.
        headers.append(("Warning", "299 - " + orjson.dumps(text).decode()))
    return headers


def body(
    value: Any,
    *,
    status: int = 200,
    target: Target = negotiation.JSON_TARGET,
    warnings: list[str] | None = None,
) -> web.Response:
    return web.Response(
        body=negotiation.dump(value, target),
        status=status,
        headers=_headers(target.content_type, warnings),
    )


def raw_list(
    kind: str, api_version: str, list_meta: dict[str, Any], items: list[bytes]
) -> web.Response:
    """A JSON list whose items are already encoded."""
    head = orjson.dumps({"kind": kind, "apiVersion": api_version, "metadata": list_meta})
    payload = b"".join((head[:-1], b',"items":[', b",".join(items), b"]}"))
    return web.Response(body=payload, status=200, headers=_headers(JSON_CONTENT_TYPE, None))


def error(exc: StatusError, warnings: list[str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(exc.to_status()),
        status=exc.code,
        headers=_headers(JSON_CONTENT_TYPE, warnings),
    )


def success_status(name: str, group: str, kind: str, uid: str) -> dict[str, Any]:
    """The `Status` a delete returns for kinds that do not return the deleted object."""
    details: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    if uid:
        details["uid"] = uid
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }
