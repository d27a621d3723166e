"""The Endpoints and EndpointSlice controllers' syncs against their caches: which requests a
sync makes. The informers are filled by hand, with what the unit tests' real API server
(`testcluster`) answered, and never started; a `Recorder` around the real client notes the
writes. The whole loop (informers, watches) is in tests/integration/test_service_endpoints.py."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from endpoints_fixtures import node, pod, service
from testcluster import Recorder, TestCluster, wait_for

from kubelite.api.resources import ENDPOINTS, NODES, PODS, SERVICES
from kubelite.client.api import Resource
from kubelite.client.errors import APIError
from kubelite.client.informer import Informer, key_of
from kubelite.client.workqueue import RetryLater
from kubelite.controllers.endpoints import EndpointsController
from kubelite.controllers.endpointslice import EndpointSliceController

Obj = dict[str, Any]
# When the fixtures' Services and pods were made.
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def cache(informer: Informer, *objects: Obj) -> None:
    for obj in objects:
        informer._store(key_of(obj), obj)


async def made(kube: TestCluster, resource: Resource, obj: Obj) -> Obj:
    """`obj` (a fixture's) created in the test's namespace, at T0, with its status. A
    Service's cluster IP is the server's to choose: the session's Services share its range."""
    obj = copy.deepcopy(obj)
    md = obj["metadata"]
    for system in ("uid", "creationTimestamp", "namespace"):
        md.pop(system, None)
    if resource is SERVICES:
        for allocated in ("clusterIP", "ipFamilies"):
            obj["spec"].pop(allocated, None)
    if resource is NODES:
        md["name"] = f"{kube.namespace}-{md['name']}"
    return await kube.create_with_status(resource, obj)


@pytest.fixture(autouse=True)
def _at_t0(kube: TestCluster) -> None:
    """The cluster's clock stands at T0, when the fixtures say things were made."""
    kube.freeze_time(T0)


async def test_endpoints_are_created_with_the_trigger_time_then_left_alone(
    kube: TestCluster,
) -> None:
    client = Recorder(kube.client)
    controller = EndpointsController(client)  # type: ignore[arg-type]
    cache(controller.services, await made(kube, SERVICES, service()))
    cache(
        controller.pods,
        await made(kube, PODS, pod("a", "10.42.0.1")),
        await made(kube, PODS, pod("other", labels={"app": "db"})),
    )
    await controller.sync(f"{kube.namespace}/web")
    (write,) = client.writes
    assert (write.verb, write.plural) == ("create", "endpoints")
    body = write.sent
    assert body["metadata"]["annotations"] == {
        # A Service seen for the first time reports its creation.
        "endpoints.kubernetes.io/last-change-trigger-time": "2025-01-01T00:00:00Z"
    }
    assert [a["ip"] for a in body["subsets"][0]["addresses"]] == ["10.42.0.1"]
    stored = await kube.get(ENDPOINTS, "web")
    assert stored["subsets"] == body["subsets"]
    cache(controller.endpoints, stored)
    await controller.sync(f"{kube.namespace}/web")
    assert len(client.writes) == 1


async def test_a_deleted_service_takes_its_endpoints(kube: TestCluster) -> None:
    client = Recorder(kube.client)
    controller = EndpointsController(client)  # type: ignore[arg-type]
    # Gone already: the server's 404 is what the delete was for.
    await controller.sync(f"{kube.namespace}/web")
    assert [(w.verb, w.plural, w.name) for w in client.asked] == [("delete", "endpoints", "web")]
    assert client.writes == []


@pytest.mark.parametrize(
    "svc",
    [service(selector={}), service(type="ExternalName", externalName="example.com")],
)
async def test_selectorless_and_external_name_services_are_left_alone(
    kube: TestCluster, svc: Obj
) -> None:
    client = Recorder(kube.client)
    controller = EndpointsController(client)  # type: ignore[arg-type]
    if svc["spec"].get("type") == "ExternalName":
        svc = copy.deepcopy(svc)
        del svc["spec"]["ports"]
    cache(controller.services, await made(kube, SERVICES, svc))
    cache(controller.pods, await made(kube, PODS, pod("a")))
    await controller.sync(f"{kube.namespace}/web")
    assert client.asked == []
    assert await kube.list(ENDPOINTS) == []


async def test_pod_updates_that_move_no_endpoint_queue_nothing(kube: TestCluster) -> None:
    """The handlers alone: no request."""
    controller = EndpointsController(kube.client)
    cache(controller.services, service())
    old = pod("a")
    restarted = {**old, "status": {**old["status"], "containerStatuses": [{"restartCount": 1}]}}
    controller._on_pod("MODIFIED", restarted, old)
    assert len(controller.queue) == 0
    controller._on_pod("MODIFIED", pod("a", ready=False), old)
    assert len(controller.queue) == 1


async def test_a_slice_cache_behind_the_controllers_own_write_waits(kube: TestCluster) -> None:
    client = Recorder(kube.client)
    controller = EndpointSliceController(client)  # type: ignore[arg-type]
    the_node = await made(kube, NODES, node())
    cache(controller.nodes, the_node)
    cache(controller.services, await made(kube, SERVICES, service()))
    a = pod("a", node=the_node["metadata"]["name"])
    cache(controller.pods, await made(kube, PODS, a))
    key = f"{kube.namespace}/web"
    await controller.sync(key)
    (write,) = client.writes
    assert write.verb == "create"
    # The created slice is not in the cache yet: no second slice for the same pod.
    with pytest.raises(RetryLater):
        await controller.sync(key)
    (stored,) = await kube.list(Resource("discovery.k8s.io", "v1", "endpointslices"))
    assert stored["metadata"]["generation"] == 1
    cache(controller.slices, {**stored, "metadata": {**stored["metadata"], "generation": 0}})
    with pytest.raises(RetryLater):
        await controller.sync(key)
    cache(controller.slices, stored)
    await controller.sync(key)
    assert len(client.writes) == 1


async def test_a_refused_write_is_retried_and_reported_as_kubernetes_does(
    kube: TestCluster,
) -> None:
    client = Recorder(kube.client)
    # Every write but the Events is refused.
    refusal = APIError({"code": 422, "reason": "Invalid", "message": "no"})
    for verb in ("create", "update", "delete"):
        client.refuse[verb] = refusal
    endpoints = EndpointsController(client)  # type: ignore[arg-type]
    slices = EndpointSliceController(client)  # type: ignore[arg-type]
    svc = await made(kube, SERVICES, service())
    for controller in (endpoints, slices):
        cache(controller.services, svc)
    cache(slices.nodes, await made(kube, NODES, node()))
    with pytest.raises(APIError):
        await endpoints.sync(f"{kube.namespace}/web")
    with pytest.raises(APIError):
        await slices.sync(f"{kube.namespace}/web")

    async def two_events() -> bool:
        return len(await kube.events()) == 2

    await wait_for(two_events, what="the two Events")
    reasons = [e["reason"] for e in await kube.events()]
    assert reasons == ["FailedToCreateEndpoint", "FailedToUpdateEndpointSlices"]


def _ready_at(p: Obj, when: str) -> Obj:
    p = copy.deepcopy(p)
    p["status"]["conditions"][0]["lastTransitionTime"] = when
    return p


async def test_a_write_lost_to_a_conflict_keeps_its_trigger_time_for_the_retry(
    kube: TestCluster,
) -> None:
    """The Endpoints cache is behind the server (an informer lagging its store): the update
    fails with 409, and the retry still carries when the pod became ready. Upstream's tracker
    would have recorded the change as published and dropped the annotation."""
    client = Recorder(kube.client)
    controller = EndpointsController(client)  # type: ignore[arg-type]
    key = f"{kube.namespace}/web"
    cache(controller.services, await made(kube, SERVICES, service()))
    a = await made(kube, PODS, pod("a", "10.42.0.1"))
    cache(controller.pods, a)
    await controller.sync(key)
    first = await kube.get(ENDPOINTS, "web")
    # Someone else's write moves the stored Endpoints past the cached copy.
    moved = {**first, "metadata": {**first["metadata"], "labels": {"x": "y"}}}
    await kube.client.update(ENDPOINTS, moved, namespace=kube.namespace)
    cache(controller.endpoints, first)
    b = await made(kube, PODS, pod("b", "10.42.0.2"))
    cache(controller.pods, _ready_at(b, "2025-01-01T00:00:30Z"))
    with pytest.raises(APIError) as refused:
        await controller.sync(key)
    assert refused.value.code == 409
    cache(controller.endpoints, await kube.get(ENDPOINTS, "web"))
    await controller.sync(key)
    updated = await kube.get(ENDPOINTS, "web")
    assert sorted(a["ip"] for a in updated["subsets"][0]["addresses"]) == [
        "10.42.0.1",
        "10.42.0.2",
    ]
    assert updated["metadata"]["annotations"] == {
        "endpoints.kubernetes.io/last-change-trigger-time": "2025-01-01T00:00:30Z"
    }


async def test_a_slice_write_that_fails_keeps_its_trigger_time_for_the_retry(
    kube: TestCluster,
) -> None:
    client = Recorder(kube.client)
    controller = EndpointSliceController(client)  # type: ignore[arg-type]
    key = f"{kube.namespace}/web"
    the_node = await made(kube, NODES, node())
    cache(controller.nodes, the_node)
    cache(controller.services, await made(kube, SERVICES, service()))
    client.refuse["create"] = APIError({"code": 500, "reason": "InternalError", "message": "x"})
    a = await made(kube, PODS, pod("a", node=the_node["metadata"]["name"]))
    cache(controller.pods, a)
    with pytest.raises(APIError):
        await controller.sync(key)
    del client.refuse["create"]
    await controller.sync(key)
    (created,) = client.written("create", "endpointslices")
    # The Service, seen for the first time by the failed sync, still reports its creation.
    assert created["metadata"]["annotations"] == {
        "endpoints.kubernetes.io/last-change-trigger-time": "2025-01-01T00:00:00Z"
    }
