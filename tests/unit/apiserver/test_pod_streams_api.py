"""pods/attach and pods/portforward at the API server: what is refused before any kubelet is
asked (the streams themselves are tested end to end, tests/e2e/kubelet/test_pod_streams.py)."""

from __future__ import annotations

import pytest
from apiserver_fixtures import Api

PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture
async def unscheduled(api: Api) -> Api:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    status, _ = await api.json("POST", PODS, body=body)
    assert status == 201
    return api


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("sub", ["attach?stdin=true", "portforward", "exec?command=sh"])
async def test_a_pod_without_a_node_has_nothing_to_stream(
    unscheduled: Api, method: str, sub: str
) -> None:
    status, body = await unscheduled.json(method, f"{PODS}/p/{sub}")
    assert (status, body["reason"]) == (400, "BadRequest")
    assert body["message"] == "pod p does not have a host assigned"


async def test_attach_names_the_pods_containers(unscheduled: Api) -> None:
    status, body = await unscheduled.json("POST", f"{PODS}/p/attach?container=nope")
    assert (status, body["message"]) == (400, "container nope is not valid for pod p")


async def test_streams_of_a_missing_pod_are_not_found(api: Api) -> None:
    status, body = await api.json("POST", f"{PODS}/absent/portforward")
    assert (status, body["reason"]) == (404, "NotFound")
    assert body["message"] == 'pods "absent" not found'


@pytest.mark.parametrize(
    ("ports", "code", "message"),
    [
        ("x", 400, 'strconv.ParseInt: parsing "x": invalid syntax'),
        ("80,0", 422, "ports: Invalid value: 0: must be between 1 and 65535, inclusive"),
    ],
)
async def test_port_forward_ports_are_checked(
    unscheduled: Api, ports: str, code: int, message: str
) -> None:
    status, body = await unscheduled.json("GET", f"{PODS}/p/portforward?ports={ports}")
    assert status == code
    assert message in body["message"]


async def test_discovery_lists_the_stream_subresources(api: Api) -> None:
    _, body = await api.json("GET", "/api/v1")
    verbs = {r["name"]: r["verbs"] for r in body["resources"]}
    assert verbs["pods/attach"] == ["create", "get"]
    assert verbs["pods/portforward"] == ["create", "get"]


async def test_a_websocket_port_forward_needs_ports(unscheduled: Api) -> None:
    headers = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}
    headers |= {"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    status, body = await unscheduled.json("GET", f"{PODS}/p/portforward", headers=headers)
    assert (status, body["message"]) == (400, 'query parameter "port" is required')
