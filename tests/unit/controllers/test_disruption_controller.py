"""The disruption controller's sync: the status it writes for a budget from the pods and their
controllers in its informers, and failing safe when it cannot tell.

The objects are made in the unit tests' real API server (`testcluster`), the informers are
filled by hand with what it answered and never started; a `Recorder` around the real client
notes the writes (the Events go to the server). The whole loop, with evictions and
`kubectl drain`, is in tests/integration/test_disruption.py.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from testcluster import Recorder, TestCluster

from kubelite.api import meta
from kubelite.client.api import Resource
from kubelite.client.informer import Informer, key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.controllers.disruption import DisruptionController

Obj = dict[str, Any]

RESOURCES = {
    "Deployment": Resource("apps", "v1", "deployments", kind="Deployment"),
    "ReplicaSet": Resource("apps", "v1", "replicasets", kind="ReplicaSet"),
    "StatefulSet": Resource("apps", "v1", "statefulsets", kind="StatefulSet"),
    "ReplicationController": Resource(
        "", "v1", "replicationcontrollers", kind="ReplicationController"
    ),
    "Pod": Resource("", "v1", "pods", kind="Pod"),
    "PodDisruptionBudget": Resource(
        "policy", "v1", "poddisruptionbudgets", kind="PodDisruptionBudget"
    ),
}


@dataclass
class Cluster:
    """The test's objects, made in the server; `uid-<name>` in what a test writes down stands
    for the uid the server gave the object of that name (a name never made keeps it)."""

    kube: TestCluster
    uids: dict[str, str] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.kube.namespace

    async def make(self, kind: str, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        md = obj["metadata"]
        md.pop("uid", None)
        md["namespace"] = self.namespace
        for ref in md.get("ownerReferences") or ():
            ref["uid"] = self.uids.get(ref["uid"], ref["uid"])
        stored = await self.kube.create_with_status(RESOURCES[kind], obj)
        self.uids[f"uid-{md['name']}"] = stored["metadata"]["uid"]
        return stored


@pytest.fixture
def cluster(kube: TestCluster) -> Cluster:
    return Cluster(kube)


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
    labels = {"workload": name}
    spec: Obj = {
        "replicas": replicas,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
        },
    }
    if kind == "ReplicationController":
        spec["selector"] = labels
    if kind == "StatefulSet":
        spec["serviceName"] = name
    api_version = "v1" if kind == "ReplicationController" else "apps/v1"
    return {"apiVersion": api_version, "kind": kind, "metadata": md, "spec": spec}


def pod(name: str, owner: Obj | None, *, ready: bool = True) -> Obj:
    md: Obj = {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": {"app": "web"}}
    if owner is not None:
        md["ownerReferences"] = [owner]
    condition = {"type": "Ready", "status": "True" if ready else "False"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": md,
        "spec": {"containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running", "conditions": [condition]},
    }


def budget(**spec: Any) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "default", "generation": 1, "uid": "uid-pdb"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
        "status": {
            "disruptionsAllowed": 0,
            "currentHealthy": 0,
            "desiredHealthy": 0,
            "expectedPods": 0,
        },
    }


async def made(cluster: Cluster, informer: Informer, *objects: Obj) -> list[Obj]:
    """`objects` made in the server and delivered by `informer`."""
    stored = [await cluster.make(obj["kind"], obj) for obj in objects]
    cache(informer, *stored)
    return stored


def controller(client: Recorder) -> DisruptionController:
    return DisruptionController(client, SharedInformerFactory(client))  # type: ignore[arg-type]


async def synced_status(dc: DisruptionController, client: Recorder, namespace: str) -> Obj:
    await dc.sync(f"{namespace}/web")
    await asyncio.gather(*dc.recorder._posting)  # let the Events go out
    (write,) = client.writes
    assert (write.plural, write.subresource) == ("poddisruptionbudgets", "status")
    body = write.sent
    assert (body["apiVersion"], body["kind"]) == ("policy/v1", "PodDisruptionBudget")
    return body["status"]


async def test_a_percentage_counts_from_the_deployment_above_the_pods_replica_set(
    cluster: Cluster,
) -> None:
    client = Recorder(cluster.kube.client)
    dc = controller(client)
    deployment_ref = owner_ref("Deployment", "web")
    await made(cluster, dc.deployments, workload("Deployment", "web", 4))
    await made(cluster, dc.replica_sets, workload("ReplicaSet", "web-abc", 2, deployment_ref))
    rs_ref = owner_ref("ReplicaSet", "web-abc")
    await made(cluster, dc.pods, pod("a", rs_ref), pod("b", rs_ref), pod("c", rs_ref, ready=False))
    await made(cluster, dc.budgets, budget(minAvailable="50%"))
    status = await synced_status(dc, client, cluster.namespace)
    # Four expected (the Deployment's replicas, not the ReplicaSet's two), half of them wanted.
    assert {k: status[k] for k in ("expectedPods", "desiredHealthy", "currentHealthy")} == {
        "expectedPods": 4,
        "desiredHealthy": 2,
        "currentHealthy": 2,
    }
    assert status["disruptionsAllowed"] == 0
    assert status["observedGeneration"] == 1
    assert status["conditions"][0]["reason"] == "InsufficientPods"
    stored = await cluster.kube.get(RESOURCES["PodDisruptionBudget"], "web")
    assert stored["status"] == status


async def test_max_unavailable_sums_the_scales_of_every_controller(cluster: Cluster) -> None:
    client = Recorder(cluster.kube.client)
    dc = controller(client)
    await made(cluster, dc.stateful_sets, workload("StatefulSet", "db", 3))
    await made(cluster, dc.replication_controllers, workload("ReplicationController", "old", 2))
    pods = [pod(f"db-{i}", owner_ref("StatefulSet", "db")) for i in range(3)]
    pods += [pod(f"old-{i}", owner_ref("ReplicationController", "old", "v1")) for i in range(2)]
    await made(cluster, dc.pods, *pods)
    await made(cluster, dc.budgets, budget(maxUnavailable=1))
    status = await synced_status(dc, client, cluster.namespace)
    assert (status["expectedPods"], status["desiredHealthy"], status["currentHealthy"]) == (5, 4, 5)
    assert status["disruptionsAllowed"] == 1
    assert status["conditions"][0]["reason"] == "SufficientPods"


async def test_an_integer_min_available_needs_no_controller(cluster: Cluster) -> None:
    client = Recorder(cluster.kube.client)
    dc = controller(client)
    await made(cluster, dc.pods, pod("a", None), pod("b", None))
    await made(cluster, dc.budgets, budget(minAvailable=1))
    status = await synced_status(dc, client, cluster.namespace)
    assert (status["expectedPods"], status["disruptionsAllowed"]) == (2, 1)


async def test_a_pod_whose_controller_cannot_be_found_fails_safe(cluster: Cluster) -> None:
    client = Recorder(cluster.kube.client)
    dc = controller(client)
    await made(cluster, dc.pods, pod("a", owner_ref("ReplicaSet", "missing")))
    await made(cluster, dc.budgets, budget(maxUnavailable="10%"))
    status = await synced_status(dc, client, cluster.namespace)
    assert status["disruptionsAllowed"] == 0
    (condition,) = status["conditions"]
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False",
        "SyncFailed",
        'found no controllers for pod "a"',
    )
    reasons = {e["reason"] for e in await cluster.kube.events()}
    assert "CalculateExpectedPodCountFailed" in reasons


async def test_a_controller_of_an_unknown_kind_fails_safe_with_the_mapping_error(
    cluster: Cluster,
) -> None:
    client = Recorder(cluster.kube.client)
    dc = controller(client)
    await made(cluster, dc.pods, pod("a", owner_ref("Widget", "w", "example.com/v1")))
    await made(cluster, dc.budgets, budget(minAvailable="50%"))
    status = await synced_status(dc, client, cluster.namespace)
    assert status["conditions"][0]["message"] == (
        'no matches for kind "Widget" in version "example.com/v1"'
    )


async def test_unmanaged_pods_are_reported_and_counted_with_no_scale(cluster: Cluster) -> None:
    client = Recorder(cluster.kube.client)
    dc = controller(client)
    await made(cluster, dc.pods, pod("a", None))
    await made(cluster, dc.budgets, budget(maxUnavailable=1))
    status = await synced_status(dc, client, cluster.namespace)
    assert (status["expectedPods"], status["disruptionsAllowed"]) == (0, 0)
    (event,) = [e for e in await cluster.kube.events() if e["reason"] == "UnmanagedPods"]
    assert event["type"] == "Warning"
    assert "selector: &LabelSelector{MatchLabels:map[string]string{app: web,}" in event["message"]


async def test_a_recent_eviction_is_not_counted_healthy_and_is_looked_at_again(
    cluster: Cluster,
) -> None:
    client = Recorder(cluster.kube.client)
    dc = controller(client)
    await made(cluster, dc.pods, pod("a", None), pod("b", None))
    pdb = budget(minAvailable=1)
    pdb["status"]["disruptedPods"] = {"a": meta.format_time(meta.now())}
    await made(cluster, dc.budgets, pdb)
    again = await dc.sync(f"{cluster.namespace}/web")
    (write,) = client.writes
    body = write.sent
    assert body["status"]["currentHealthy"] == 1
    assert body["status"]["disruptionsAllowed"] == 0
    assert list(body["status"]["disruptedPods"]) == ["a"]
    assert again is not None and 100 < again <= 120


async def test_an_up_to_date_status_is_not_written(cluster: Cluster) -> None:
    client = Recorder(cluster.kube.client)
    dc = controller(client)
    await made(cluster, dc.pods, pod("a", None), pod("b", None))
    await made(cluster, dc.budgets, budget(minAvailable=1))
    await synced_status(dc, client, cluster.namespace)
    cache(dc.budgets, await cluster.kube.get(RESOURCES["PodDisruptionBudget"], "web"))
    client.writes.clear()
    await dc.sync(f"{cluster.namespace}/web")
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


async def test_a_stale_disruption_target_on_a_pod_still_running_is_set_false(
    cluster: Cluster,
) -> None:
    client = Recorder(cluster.kube.client)
    dc = controller(client)
    await made(
        cluster,
        dc.pods,
        marked("stale", 180),
        marked("recent", 30),
        marked("kubelet", 600, "TerminationByKubelet"),
    )
    ns = cluster.namespace
    assert await dc.sync_stale_pod(f"{ns}/kubelet") is None
    wait = await dc.sync_stale_pod(f"{ns}/recent")
    assert wait is not None and 80 < wait <= 90
    assert client.writes == []
    assert await dc.sync_stale_pod(f"{ns}/stale") is None
    (write,) = client.writes
    assert (write.plural, write.subresource) == ("pods", "status")
    for body in (write.sent, await cluster.kube.get(RESOURCES["Pod"], "stale")):
        target = next(c for c in body["status"]["conditions"] if c["type"] == "DisruptionTarget")
        assert target["status"] == "False"
        assert "reason" not in target
