"""The disruption controller's sync: the status it writes for a budget from the pods and their
controllers in its informers, and failing safe when it cannot tell.

The informers are filled by hand and never started; `FakeClient` records the writes (and the
Events) the controller makes. The whole loop against a real server, with evictions and
`kubectl drain`, is in tests/integration/test_disruption.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from kubelite.api import meta
from kubelite.client.api import Resource
from kubelite.client.errors import APINotFoundError, UnknownResourceError
from kubelite.client.informer import Informer, key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.controllers.disruption import DisruptionController

Obj = dict[str, Any]


class FakeClient:
    """The calls the controller makes; status writes and Events are recorded."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, Obj]] = []
        self.events: list[Obj] = []

    async def update(
        self, resource: Resource, body: Obj, *, namespace: str | None, subresource: str | None
    ) -> Obj:
        self.writes.append((f"{resource.plural}/{subresource}", body))
        return body

    async def create(self, resource: Resource, body: Obj, **_: Any) -> Obj:
        assert resource.plural == "events"
        self.events.append(body)
        return {**body, "metadata": {"name": "e", "namespace": "default"}}

    async def resource_for_kind(self, api_version: str, kind: str) -> Resource:
        if (api_version, kind) == ("apps/v1", "ReplicaSet"):
            return Resource("apps", "v1", "replicasets", kind="ReplicaSet")
        raise UnknownResourceError(f'no matches for kind "{kind}" in version "{api_version}"')

    async def get(self, resource: Resource, name: str, **_: Any) -> Obj:
        raise APINotFoundError({"code": 404, "reason": "NotFound"})

    async def request(self, method: str, path: str) -> Obj:
        assert (method, path) == ("GET", "/apis/apps/v1")
        return {"resources": [{"name": "replicasets/scale", "kind": "Scale"}]}


def cache(informer: Informer, *objects: Obj) -> None:
    for obj in objects:
        informer._store(key_of(obj), obj)


def owner_ref(kind: str, name: str, api_version: str = "apps/v1") -> Obj:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": f"uid-{name}",
        "controller": True,
    }


def workload(kind: str, name: str, replicas: int, owner: Obj | None = None) -> Obj:
    md: Obj = {"name": name, "namespace": "default", "uid": f"uid-{name}"}
    if owner is not None:
        md["ownerReferences"] = [owner]
    return {"metadata": md, "spec": {"replicas": replicas}}


def pod(name: str, owner: Obj | None, *, ready: bool = True) -> Obj:
    md: Obj = {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": {"app": "web"}}
    if owner is not None:
        md["ownerReferences"] = [owner]
    condition = {"type": "Ready", "status": "True" if ready else "False"}
    return {"metadata": md, "status": {"phase": "Running", "conditions": [condition]}}


def budget(**spec: Any) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "default", "generation": 1, "uid": "uid-pdb"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
        "status": {
            "disruptionsAllowed": 0,
            "currentHealthy": 0,
            "desiredHealthy": 0,
            "expectedPods": 0,
        },
    }


def controller(client: FakeClient) -> DisruptionController:
    return DisruptionController(client, SharedInformerFactory(client))  # type: ignore[arg-type]


async def synced_status(dc: DisruptionController, client: FakeClient) -> Obj:
    await dc.sync("default/web")
    await asyncio.sleep(0)  # let the Events go out
    ((where, body),) = client.writes
    assert where == "poddisruptionbudgets/status"
    assert (body["apiVersion"], body["kind"]) == ("policy/v1", "PodDisruptionBudget")
    return body["status"]


async def test_a_percentage_counts_from_the_deployment_above_the_pods_replica_set() -> None:
    client = FakeClient()
    dc = controller(client)
    deployment_ref = owner_ref("Deployment", "web")
    cache(dc.deployments, workload("Deployment", "web", 4))
    cache(dc.replica_sets, workload("ReplicaSet", "web-abc", 2, deployment_ref))
    rs_ref = owner_ref("ReplicaSet", "web-abc")
    cache(dc.pods, pod("a", rs_ref), pod("b", rs_ref), pod("c", rs_ref, ready=False))
    cache(dc.budgets, budget(minAvailable="50%"))
    status = await synced_status(dc, client)
    # Four expected (the Deployment's replicas, not the ReplicaSet's two), half of them wanted.
    assert {k: status[k] for k in ("expectedPods", "desiredHealthy", "currentHealthy")} == {
        "expectedPods": 4,
        "desiredHealthy": 2,
        "currentHealthy": 2,
    }
    assert status["disruptionsAllowed"] == 0
    assert status["observedGeneration"] == 1
    assert status["conditions"][0]["reason"] == "InsufficientPods"


async def test_max_unavailable_sums_the_scales_of_every_controller() -> None:
    client = FakeClient()
    dc = controller(client)
    cache(
        dc.stateful_sets,
        workload("StatefulSet", "db", 3),
    )
    cache(dc.replication_controllers, workload("ReplicationController", "old", 2))
    pods = [pod(f"db-{i}", owner_ref("StatefulSet", "db")) for i in range(3)]
    pods += [pod(f"old-{i}", owner_ref("ReplicationController", "old", "v1")) for i in range(2)]
    cache(dc.pods, *pods)
    cache(dc.budgets, budget(maxUnavailable=1))
    status = await synced_status(dc, client)
    assert (status["expectedPods"], status["desiredHealthy"], status["currentHealthy"]) == (5, 4, 5)
    assert status["disruptionsAllowed"] == 1
    assert status["conditions"][0]["reason"] == "SufficientPods"


async def test_an_integer_min_available_needs_no_controller() -> None:
    client = FakeClient()
    dc = controller(client)
    cache(dc.pods, pod("a", None), pod("b", None))
    cache(dc.budgets, budget(minAvailable=1))
    status = await synced_status(dc, client)
    assert (status["expectedPods"], status["disruptionsAllowed"]) == (2, 1)


async def test_a_pod_whose_controller_cannot_be_found_fails_safe() -> None:
    client = FakeClient()
    dc = controller(client)
    cache(dc.pods, pod("a", owner_ref("ReplicaSet", "missing")))
    cache(dc.budgets, budget(maxUnavailable="10%"))
    status = await synced_status(dc, client)
    assert status["disruptionsAllowed"] == 0
    (condition,) = status["conditions"]
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False",
        "SyncFailed",
        'found no controllers for pod "a"',
    )
    reasons = {e["reason"] for e in client.events}
    assert "CalculateExpectedPodCountFailed" in reasons


async def test_a_controller_of_an_unknown_kind_fails_safe_with_the_mapping_error() -> None:
    client = FakeClient()
    dc = controller(client)
    cache(dc.pods, pod("a", owner_ref("Widget", "w", "example.com/v1")))
    cache(dc.budgets, budget(minAvailable="50%"))
    status = await synced_status(dc, client)
    assert status["conditions"][0]["message"] == (
        'no matches for kind "Widget" in version "example.com/v1"'
    )


async def test_unmanaged_pods_are_reported_and_counted_with_no_scale() -> None:
    client = FakeClient()
    dc = controller(client)
    cache(dc.pods, pod("a", None))
    cache(dc.budgets, budget(maxUnavailable=1))
    status = await synced_status(dc, client)
    assert (status["expectedPods"], status["disruptionsAllowed"]) == (0, 0)
    (event,) = [e for e in client.events if e["reason"] == "UnmanagedPods"]
    assert event["type"] == "Warning"
    assert "selector: &LabelSelector{MatchLabels:map[string]string{app: web,}" in event["message"]


async def test_a_recent_eviction_is_not_counted_healthy_and_is_looked_at_again() -> None:
    client = FakeClient()
    dc = controller(client)
    cache(dc.pods, pod("a", None), pod("b", None))
    pdb = budget(minAvailable=1)
    pdb["status"]["disruptedPods"] = {"a": meta.format_time(meta.now())}
    cache(dc.budgets, pdb)
    again = await dc.sync("default/web")
    ((_, body),) = client.writes
    assert body["status"]["currentHealthy"] == 1
    assert body["status"]["disruptionsAllowed"] == 0
    assert list(body["status"]["disruptedPods"]) == ["a"]
    assert again is not None and 100 < again <= 120


async def test_an_up_to_date_status_is_not_written() -> None:
    client = FakeClient()
    dc = controller(client)
    cache(dc.pods, pod("a", None), pod("b", None))
    cache(dc.budgets, budget(minAvailable=1))
    status = await synced_status(dc, client)
    cache(dc.budgets, {**budget(minAvailable=1), "status": status})
    client.writes.clear()
    await dc.sync("default/web")
    assert client.writes == []


def marked(name: str, seconds_ago: float, reason: str = "EvictionByEvictionAPI") -> Obj:
    obj = pod(name, None)
    when = meta.now() - dt.timedelta(seconds=seconds_ago)
    obj["status"]["conditions"].append(
        {
            "type": "DisruptionTarget",
            "status": "True",
            "lastTransitionTime": meta.format_time(when),
            "reason": reason,
            "message": "Eviction API: evicting",
        }
    )
    return obj


async def test_a_stale_disruption_target_on_a_pod_still_running_is_set_false() -> None:
    client = FakeClient()
    dc = controller(client)
    cache(
        dc.pods,
        marked("stale", 180),
        marked("recent", 30),
        marked("kubelet", 600, "TerminationByKubelet"),
    )
    assert await dc.sync_stale_pod("default/kubelet") is None
    wait = await dc.sync_stale_pod("default/recent")
    assert wait is not None and 80 < wait <= 90
    assert client.writes == []
    assert await dc.sync_stale_pod("default/stale") is None
    ((where, body),) = client.writes
    assert where == "pods/status"
    target = next(c for c in body["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert target["status"] == "False"
    assert "reason" not in target
