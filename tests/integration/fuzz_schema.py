"""Requests generated from the OpenAPI v3 documents the server itself serves.

schemathesis reads each group-version's document (`/openapi/v3/api/v1`, `/openapi/v3/apis/
apps/v1`, ...) and makes, for every operation in it, hypothesis strategies of cases: positive
ones that follow the schema (bodies of the operation's kind, parameters of their types) and
negative ones that break it (a wrong type, a missing required field, bytes where JSON goes).
Each case becomes a `fuzz_wire.Request`, so it goes through the same client and the same
`judge` as the hostile shapes.

Two changes to what schemathesis draws, both to make its cases reach deeper than a 404:
the `namespace` path parameter is mostly the fuzzer's own namespace, and `name` mostly a seed
object's name. And two parameters are dropped: `watch` and `follow` turn an answer into a
stream that lasts until `timeoutSeconds`; the hostile shapes send those on purpose, with a
timeout. The deletecollection operations of cluster-scoped resources are left out: they would
delete the cluster's own objects (`_wipes_the_cluster`).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any

import schemathesis
from fuzz_shapes import World
from fuzz_wire import Client, Request
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

STREAMING_PARAMETERS = ("watch", "follow")


def load(client: Client) -> list[Any]:
    """Every operation of every OpenAPI v3 document the server lists at /openapi/v3."""
    index = client.send(Request("GET", "/openapi/v3")).json()
    assert isinstance(index, dict), index
    operations: list[Any] = []
    for path in sorted(index["paths"]):
        document = client.send(Request("GET", f"/openapi/v3/{path}")).json()
        assert isinstance(document, dict), path
        schema = schemathesis.openapi.from_dict(document)
        operations += [
            r.ok()
            for r in schema.get_all_operations()
            if isinstance(r, Ok) and not _wipes_the_cluster(r.ok())
        ]
    return operations


def _wipes_the_cluster(operation: Any) -> bool:
    """A deletecollection of a cluster-scoped resource (`DELETE .../clusterrolebindings`):
    with no selector it deletes every object of the kind, the cluster's own with them (the
    controllers' role bindings, the nodes), and the controllers then log, rightly, that they are
    forbidden. The same handler serves the namespaced collections, which stay in the draw."""
    path = str(operation.path)
    return (
        operation.method.upper() == "DELETE"
        and not path.endswith("}")
        and "{namespace}" not in path
    )


def to_request(case: Any, label: str) -> Request:
    """The schemathesis case as bytes for the fuzzers' own client (encoded as `requests`
    would encode it: parameters form-encoded, a JSON body with ASCII escapes)."""
    kwargs = case.as_transport_kwargs(base_url="https://kubelite")
    params = dict(kwargs.get("params") or {})
    for name in STREAMING_PARAMETERS:
        params.pop(name, None)
    target = urllib.parse.urlsplit(kwargs["url"]).path
    if params:
        target += "?" + urllib.parse.urlencode(params, doseq=True, errors="surrogatepass")
    headers: list[tuple[str | bytes, str | bytes]] = [
        (str(name), str(value).encode("utf-8", "surrogatepass"))
        for name, value in (kwargs.get("headers") or {}).items()
        if str(name).lower() not in ("connection", "accept-encoding", "user-agent")
    ]
    body = b""
    if "json" in kwargs:
        body = json.dumps(kwargs["json"]).encode()
        if not any(str(name).lower() == "content-type" for name, _ in headers):
            headers.append(("Content-Type", "application/json"))
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        body = data if isinstance(data, bytes) else str(data).encode("utf-8", "surrogatepass")
    return Request(str(kwargs["method"]), target, headers, body, shape=label)


def requests_strategy(operations: list[Any], world: World) -> st.SearchStrategy[Request]:
    """Requests drawn across every operation, in both of schemathesis' generation modes."""

    @st.composite
    def draw(draw_value: Callable[[st.SearchStrategy[Any]], Any]) -> Request:
        operation = draw_value(st.sampled_from(operations))
        mode = draw_value(st.sampled_from(list(GenerationMode)))
        overrides: dict[str, Any] = {}
        parameters = {p.name for p in operation.path_parameters}
        if "namespace" in parameters and draw_value(st.integers(0, 3)):
            overrides["namespace"] = world.namespace
        if "name" in parameters and draw_value(st.integers(0, 3)):
            plural = operation.path.split("/{name}")[0].rsplit("/", 1)[-1]
            overrides["name"] = world.seeds.get(plural, "seed")
        strategy = operation.as_strategy(mode, path_parameters=overrides or None)
        case = draw_value(strategy)
        return to_request(case, f"schema {mode.value} {operation.method.upper()}")

    return draw()
