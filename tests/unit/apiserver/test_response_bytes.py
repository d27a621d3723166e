"""The bytes of the API server's answers, as kube-apiserver writes them.

Clients compare them: the official Python client's `create_from_yaml` puts an error's body in its
exception text, and its own tests compare that text with kube-apiserver's, byte for byte. Go writes
a struct's fields in declaration order (metav1.Status: kind, apiVersion, metadata, status,
message, reason, details, code), leaves out empty `omitempty` fields, and its json.Encoder ends
every value with a newline.
"""

from __future__ import annotations

import orjson
from apiserver_fixtures import Api, read_watch_lines

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        },
    },
}
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


async def test_a_not_found_error_has_go_field_order_and_a_newline(api: Api) -> None:
    reply = await api.request("GET", "/api/v1/namespaces/default/pods/nope")
    assert reply.status == 404
    assert await reply.read() == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"pods \\"nope\\" not found","reason":"NotFound",'
        b'"details":{"name":"nope","kind":"pods"},"code":404}\n'
    )


async def test_an_already_exists_error_is_kube_apiservers_bytes(api: Api) -> None:
    """The very text kubernetes-client/python's e2e test of create_from_yaml expects."""
    assert (await api.request("POST", DEPLOYMENTS, body=DEPLOYMENT)).status == 201
    reply = await api.request("POST", DEPLOYMENTS, body=DEPLOYMENT)
    assert reply.status == 409
    assert await reply.read() == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"deployments.apps \\"web\\" already exists","reason":"AlreadyExists",'
        b'"details":{"name":"web","group":"apps","kind":"deployments"},"code":409}\n'
    )


async def test_an_invalid_error_orders_details_and_causes_as_go_does(api: Api) -> None:
    bad = {"metadata": {"name": "x"}, "data": {"bad key!": "v"}}
    reply = await api.request("POST", "/api/v1/namespaces/default/configmaps", body=bad)
    assert reply.status == 422
    body = await reply.read()
    assert body.endswith(b"}\n")
    status = orjson.loads(body)
    assert list(status) == [
        "kind", "apiVersion", "metadata", "status", "message", "reason", "details", "code"
    ]  # fmt: skip
    assert list(status["details"]) == ["name", "kind", "causes"]
    assert [list(c) for c in status["details"]["causes"]] == [["reason", "message", "field"]]


async def test_a_delete_answers_a_success_status_without_a_code(api: Api) -> None:
    """The generic store's finalizeDelete sets no code, so Go leaves it out."""
    created = orjson.loads(await (await api.request("POST", DEPLOYMENTS, body=DEPLOYMENT)).read())
    reply = await api.request("DELETE", f"{DEPLOYMENTS}/web")
    assert reply.status == 200
    uid = created["metadata"]["uid"]
    assert await reply.read() == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success",'
        b'"details":{"name":"web","group":"apps","kind":"deployments","uid":"%s"}}\n' % uid.encode()
    )


async def test_objects_lists_and_tables_end_with_a_newline(api: Api) -> None:
    await api.request("POST", DEPLOYMENTS, body=DEPLOYMENT)
    table = "application/json;as=Table;v=v1;g=meta.k8s.io"
    partial = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
    for path, accept in [
        (f"{DEPLOYMENTS}/web", ""),
        (DEPLOYMENTS, ""),
        (f"{DEPLOYMENTS}?labelSelector=app", ""),  # a list that is not served raw
        (DEPLOYMENTS, table),
        (f"{DEPLOYMENTS}/web", table),
        (DEPLOYMENTS, partial),
        ("/api", ""),
        ("/apis", ""),
        ("/apis/apps", ""),
        ("/apis/apps/v1", ""),
    ]:
        reply = await api.request("GET", path, headers={"Accept": accept} if accept else None)
        assert reply.status == 200, path
        body = await reply.read()
        assert body.endswith(b"}\n") and not body.endswith(b"\n\n"), (path, accept)


async def test_version_is_indented_as_write_raw_json_writes_it(api: Api) -> None:
    body = await (await api.request("GET", "/version")).read()
    assert body.startswith(b'{\n  "major": "1",\n')
    assert body.endswith(b"}")


async def test_a_retry_after_seconds_is_also_a_retry_after_header(api: Api) -> None:
    reply = await api.request("GET", DEPLOYMENTS, params={"resourceVersion": "99999999"})
    assert reply.status == 504
    assert reply.headers["Retry-After"] == "1"
    status = orjson.loads(await reply.read())
    assert list(status["details"]) == ["causes", "retryAfterSeconds"]


async def test_watch_events_are_one_line_each(api: Api) -> None:
    reply = await api.request("GET", DEPLOYMENTS, params={"watch": "1"})
    await api.request("POST", DEPLOYMENTS, body=DEPLOYMENT)
    line = await reply.content.readline()
    assert line.endswith(b"}\n") and line.count(b"\n") == 1
    reply.close()
    await api.request("DELETE", f"{DEPLOYMENTS}/web")
    await api.stores.store.compact(api.stores.store.revision - 1)
    expired = await api.request("GET", DEPLOYMENTS, params={"watch": "1", "resourceVersion": "1"})
    (event,) = await read_watch_lines(expired, 1)
    assert event["type"] == "ERROR"
    assert list(event["object"]) == [
        "kind", "apiVersion", "metadata", "status", "message", "reason", "code"
    ]  # fmt: skip
