"""Bound pods are started with one status write, deleted pods confirmed, old ones picked up.

Against the unit tests' real API server (`testcluster`): the pods are made there, on a hollow
node that needs no Node object, and `Calls` notes the requests."""

from __future__ import annotations

import copy
from typing import Any

from testcluster import TestCluster

from conftest import Calls, FakeClock
from kubelite.hollow.lifecycle import PODS, PodLifecycle
from kubelite.hollow.nodes import HollowNode

Obj = dict[str, Any]


def _lifecycle(client: Calls, clock: FakeClock) -> PodLifecycle:
    node = HollowNode.numbered("hollow-node-", 2, 110)
    return PodLifecycle(client, {node.name: node}, clock=clock)  # type: ignore[arg-type]


def _pod(node: str = "hollow-node-2", **status: Any) -> Obj:
    return {
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "u-1",
            "resourceVersion": "5",
            "labels": {"app": "web"},
        },
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "image": "nginx", "args": ["-g"]}],
            "restartPolicy": "Always",
        },
        "status": {"phase": "Pending", "qosClass": "BestEffort", **status},
    }


async def _made(kube: TestCluster, pod: Obj) -> Obj:
    """`pod` made in the test's namespace, with its status; one with a deletionTimestamp
    deleted (it is on a node: the deletion waits for its kubelet, the lifecycle)."""
    pod = copy.deepcopy(pod)
    md = pod["metadata"]
    deleting = md.pop("deletionTimestamp", None)
    for system in ("uid", "resourceVersion", "namespace"):
        md.pop(system)
    made = await kube.create_with_status(PODS, pod)
    if deleting:
        await kube.client.delete(PODS, "web", namespace=kube.namespace)
        made = await kube.get(PODS, "web")
        assert made["metadata"]["deletionTimestamp"]
    return made


async def _cache(lifecycle: PodLifecycle, kube: TestCluster, pod: Obj) -> Obj:
    """Make the pod and put it in the informer's cache as a watch event would."""
    made = await _made(kube, pod)
    lifecycle.informer._cache[f"{kube.namespace}/web"] = lifecycle._trim(made)
    return made


def _path(kube: TestCluster) -> str:
    return PODS.path(namespace=kube.namespace, name="web")


def test_only_what_the_lifecycle_reads_is_cached(client: Calls, clock: FakeClock) -> None:
    lifecycle = _lifecycle(client, clock)
    trimmed = lifecycle._trim(_pod())
    assert trimmed["spec"] == {
        "nodeName": "hollow-node-2",
        "containers": [{"name": "c", "image": "nginx"}],
    }
    assert "labels" not in trimmed["metadata"]
    elsewhere = lifecycle._trim(_pod(node="real-node"))
    assert elsewhere == {
        "metadata": {"name": "web", "namespace": "default", "resourceVersion": "5"},
        "spec": {"nodeName": "real-node"},
    }


async def test_a_bound_pod_is_started_with_one_status_write(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    lifecycle = _lifecycle(client, clock)
    made = await _cache(lifecycle, kube, _pod())
    await lifecycle.sync(f"{kube.namespace}/web")
    (call,) = client.calls
    assert (call.method, call.path) == ("PATCH", _path(kube) + "/status")
    assert call.content_type == "application/merge-patch+json"
    assert call.body["metadata"] == {"uid": made["metadata"]["uid"]}
    status = call.body["status"]
    assert status["phase"] == "Running"
    assert status["hostIP"] == "198.18.0.3"
    assert status["podIP"] == "100.64.2.1"  # the first address of node 2's /24
    stored = (await kube.get(PODS, "web"))["status"]
    assert (stored["phase"], stored["podIP"]) == ("Running", "100.64.2.1")
    assert lifecycle.started == 1


async def test_a_host_network_pod_gets_the_node_address(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    lifecycle = _lifecycle(client, clock)
    pod = _pod()
    pod["spec"]["hostNetwork"] = True
    await _cache(lifecycle, kube, pod)
    await lifecycle.sync(f"{kube.namespace}/web")
    assert client.calls[0].body["status"]["podIP"] == "198.18.0.3"
    assert len(lifecycle.addresses["hollow-node-2"]) == 0


async def test_a_running_pod_is_left_alone_and_keeps_its_address(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    lifecycle = _lifecycle(client, clock)
    await _cache(lifecycle, kube, _pod(phase="Running", podIP="100.64.2.9"))
    await lifecycle.sync(f"{kube.namespace}/web")
    assert client.calls == []
    key = f"{kube.namespace}/web"
    assert lifecycle.addresses["hollow-node-2"].address_of(key) == "100.64.2.9"


async def test_a_pod_being_deleted_is_confirmed_with_a_zero_grace_delete(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    lifecycle = _lifecycle(client, clock)
    pod = _pod(phase="Running", podIP="100.64.2.1")
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:30Z"
    made = await _cache(lifecycle, kube, pod)
    await lifecycle.sync(f"{kube.namespace}/web")
    (call,) = client.calls
    assert (call.method, call.path) == ("DELETE", _path(kube))
    uid = made["metadata"]["uid"]
    assert call.options == {"grace_period_seconds": 0, "preconditions": {"uid": uid}}
    assert await kube.names(PODS) == []


async def test_a_gone_pod_gives_its_address_back(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    lifecycle = _lifecycle(client, clock)
    await _cache(lifecycle, kube, _pod())
    await lifecycle.sync(f"{kube.namespace}/web")
    del lifecycle.informer._cache[f"{kube.namespace}/web"]
    await lifecycle.sync(f"{kube.namespace}/web")
    assert len(lifecycle.addresses["hollow-node-2"]) == 0


async def test_pods_of_other_nodes_and_finished_pods_are_not_touched(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    lifecycle = _lifecycle(client, clock)
    await _cache(lifecycle, kube, _pod(node="real-node"))
    await lifecycle.sync(f"{kube.namespace}/web")
    await kube.client.delete(PODS, "web", namespace=kube.namespace, grace_period_seconds=0)
    await _cache(lifecycle, kube, _pod(phase="Succeeded"))
    await lifecycle.sync(f"{kube.namespace}/web")
    assert client.calls == []


async def test_a_pod_deleted_before_its_status_write_releases_its_address(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    lifecycle = _lifecycle(client, clock)
    await _cache(lifecycle, kube, _pod())
    # Gone from the server, not yet from the cache: the status write meets a 404.
    await kube.client.delete(PODS, "web", namespace=kube.namespace, grace_period_seconds=0)
    await lifecycle.sync(f"{kube.namespace}/web")
    assert [c.method for c in client.calls] == ["PATCH"]
    assert lifecycle.started == 0
    assert len(lifecycle.addresses["hollow-node-2"]) == 0


def test_events_of_pods_on_other_nodes_are_not_queued(client: Calls, clock: FakeClock) -> None:
    lifecycle = _lifecycle(client, clock)
    lifecycle._on_event("ADDED", lifecycle._trim(_pod(node="real-node")))
    assert len(lifecycle.queue) == 0
    lifecycle._on_event("ADDED", lifecycle._trim(_pod()))
    assert len(lifecycle.queue) == 1


async def test_a_readiness_gate_turning_true_rewrites_only_the_conditions(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    lifecycle = _lifecycle(client, clock)
    pod = _pod(phase="Running", podIP="100.64.2.4")
    pod["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}]
    pod["status"]["conditions"] = [
        {"type": "example.com/lb", "status": "True"},
        {"type": "Ready", "status": "False", "reason": "ReadinessGatesNotReady"},
    ]
    await _cache(lifecycle, kube, pod)
    await lifecycle.sync(f"{kube.namespace}/web")
    (call,) = client.calls
    assert list(call.body["status"]) == ["conditions"]  # container start times are kept
    ready = next(c for c in call.body["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    stored = (await kube.get(PODS, "web"))["status"]["conditions"]
    assert next(c for c in stored if c["type"] == "Ready")["status"] == "True"
