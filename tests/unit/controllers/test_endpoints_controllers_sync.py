"""The Endpoints and EndpointSlice controllers' syncs against their caches: which requests a
sync makes. The informers are filled by hand and never started; `FakeClient` records writes.
The whole loop against a real server is in tests/integration/test_service_endpoints.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from endpoints_fixtures import node, pod, service

from kubelite.client.api import Resource
from kubelite.client.errors import APIError, APINotFoundError
from kubelite.client.informer import Informer, key_of
from kubelite.client.workqueue import RetryLater
from kubelite.controllers.endpoints import EndpointsController
from kubelite.controllers.endpointslice import EndpointSliceController

Obj = dict[str, Any]


class FakeClient:
    def __init__(self) -> None:
        self.writes: list[tuple[str, str, Obj | str]] = []

    async def create(self, resource: Resource, body: Obj, **_: Any) -> Obj:
        self.writes.append(("create", resource.plural, body))
        return {
            **body,
            "metadata": {**body["metadata"], "uid": "new", "generation": 1, "name": "x"},
        }

    async def update(self, resource: Resource, body: Obj, **_: Any) -> Obj:
        self.writes.append(("update", resource.plural, body))
        generation = int(body["metadata"].get("generation") or 1) + 1
        return {**body, "metadata": {**body["metadata"], "generation": generation}}

    async def delete(self, resource: Resource, name: str, **_: Any) -> Obj:
        self.writes.append(("delete", resource.plural, name))
        raise APINotFoundError({"code": 404, "reason": "NotFound"})


def cache(informer: Informer, *objects: Obj) -> None:
    for obj in objects:
        informer._store(key_of(obj), obj)


async def test_endpoints_are_created_with_the_trigger_time_then_left_alone() -> None:
    client = FakeClient()
    controller = EndpointsController(client)  # type: ignore[arg-type]
    cache(controller.services, service())
    cache(controller.pods, pod("a", "10.42.0.1"), pod("other", labels={"app": "db"}))
    await controller.sync("ns/web")
    ((verb, plural, body),) = client.writes
    assert (verb, plural) == ("create", "endpoints")
    assert isinstance(body, dict)
    assert body["metadata"]["annotations"] == {
        # A Service seen for the first time reports its creation.
        "endpoints.kubernetes.io/last-change-trigger-time": "2025-01-01T00:00:00Z"
    }
    assert [a["ip"] for a in body["subsets"][0]["addresses"]] == ["10.42.0.1"]
    cache(controller.endpoints, {**body, "metadata": {**body["metadata"], "resourceVersion": "2"}})
    await controller.sync("ns/web")
    assert len(client.writes) == 1


async def test_a_deleted_service_takes_its_endpoints() -> None:
    client = FakeClient()
    controller = EndpointsController(client)  # type: ignore[arg-type]
    await controller.sync("ns/web")
    assert client.writes == [("delete", "endpoints", "web")]


@pytest.mark.parametrize(
    "svc",
    [service(selector={}), service(type="ExternalName", externalName="example.com")],
)
async def test_selectorless_and_external_name_services_are_left_alone(svc: Obj) -> None:
    client = FakeClient()
    controller = EndpointsController(client)  # type: ignore[arg-type]
    cache(controller.services, svc)
    cache(controller.pods, pod("a"))
    await controller.sync("ns/web")
    assert client.writes == []


async def test_pod_updates_that_move_no_endpoint_queue_nothing() -> None:
    controller = EndpointsController(FakeClient())  # type: ignore[arg-type]
    cache(controller.services, service())
    old = pod("a")
    restarted = {**old, "status": {**old["status"], "containerStatuses": [{"restartCount": 1}]}}
    controller._on_pod("MODIFIED", restarted, old)
    assert len(controller.queue) == 0
    controller._on_pod("MODIFIED", pod("a", ready=False), old)
    assert len(controller.queue) == 1


async def test_a_slice_cache_behind_the_controllers_own_write_waits() -> None:
    client = FakeClient()
    controller = EndpointSliceController(client)  # type: ignore[arg-type]
    cache(controller.services, service())
    cache(controller.pods, pod("a"))
    cache(controller.nodes, node())
    await controller.sync("ns/web")
    ((verb, _, body),) = client.writes
    assert verb == "create"
    assert isinstance(body, dict)
    # The created slice is not in the cache yet: no second slice for the same pod.
    with pytest.raises(RetryLater):
        await controller.sync("ns/web")
    stored = {**body, "metadata": {**body["metadata"], "name": "web-x", "uid": "new"}}
    cache(controller.slices, {**stored, "metadata": {**stored["metadata"], "generation": 0}})
    with pytest.raises(RetryLater):
        await controller.sync("ns/web")
    cache(controller.slices, {**stored, "metadata": {**stored["metadata"], "generation": 1}})
    await controller.sync("ns/web")
    assert len(client.writes) == 1


class RefusingClient(FakeClient):
    """Refuses every write but events, which it records."""

    async def create(self, resource: Resource, body: Obj, **_: Any) -> Obj:
        if resource.plural == "events":
            self.writes.append(("create", "events", body))
            return body
        raise APIError({"code": 422, "reason": "Invalid", "message": "no"})


async def test_a_refused_write_is_retried_and_reported_as_kubernetes_does() -> None:
    client = RefusingClient()
    endpoints = EndpointsController(client)  # type: ignore[arg-type]
    slices = EndpointSliceController(client)  # type: ignore[arg-type]
    for controller in (endpoints, slices):
        cache(controller.services, service())
    cache(slices.nodes, node())
    with pytest.raises(APIError):
        await endpoints.sync("ns/web")
    with pytest.raises(APIError):
        await slices.sync("ns/web")
    await asyncio.sleep(0.05)
    reasons = [body["reason"] for _, plural, body in client.writes if plural == "events"]
    assert reasons == ["FailedToCreateEndpoint", "FailedToUpdateEndpointSlices"]
