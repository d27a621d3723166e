"""Bound pods are started with one status write, deleted pods confirmed, old ones picked up."""

from __future__ import annotations

from typing import Any

from conftest import FakeClient, FakeClock, api_error

from kubelite.hollow.lifecycle import PodLifecycle
from kubelite.hollow.nodes import HollowNode

Obj = dict[str, Any]

POD_PATH = "/api/v1/namespaces/default/pods/web"


def _lifecycle(client: FakeClient, clock: FakeClock) -> PodLifecycle:
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


def _cache(lifecycle: PodLifecycle, pod: Obj) -> None:
    """Put a pod in the informer's cache as a watch event would."""
    lifecycle.informer._cache["default/web"] = lifecycle._trim(pod)


def test_only_what_the_lifecycle_reads_is_cached(client: FakeClient, clock: FakeClock) -> None:
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
    client: FakeClient, clock: FakeClock
) -> None:
    lifecycle = _lifecycle(client, clock)
    _cache(lifecycle, _pod())
    await lifecycle.sync("default/web")
    (call,) = client.calls
    assert (call.method, call.path) == ("PATCH", POD_PATH + "/status")
    assert call.content_type == "application/merge-patch+json"
    assert call.body["metadata"] == {"uid": "u-1"}
    status = call.body["status"]
    assert status["phase"] == "Running"
    assert status["hostIP"] == "198.18.0.3"
    assert status["podIP"] == "100.64.2.1"  # the first address of node 2's /24
    assert lifecycle.started == 1


async def test_a_host_network_pod_gets_the_node_address(
    client: FakeClient, clock: FakeClock
) -> None:
    lifecycle = _lifecycle(client, clock)
    pod = _pod()
    pod["spec"]["hostNetwork"] = True
    _cache(lifecycle, pod)
    await lifecycle.sync("default/web")
    assert client.calls[0].body["status"]["podIP"] == "198.18.0.3"
    assert len(lifecycle.addresses["hollow-node-2"]) == 0


async def test_a_running_pod_is_left_alone_and_keeps_its_address(
    client: FakeClient, clock: FakeClock
) -> None:
    lifecycle = _lifecycle(client, clock)
    _cache(lifecycle, _pod(phase="Running", podIP="100.64.2.9"))
    await lifecycle.sync("default/web")
    assert client.calls == []
    assert lifecycle.addresses["hollow-node-2"].address_of("default/web") == "100.64.2.9"


async def test_a_pod_being_deleted_is_confirmed_with_a_zero_grace_delete(
    client: FakeClient, clock: FakeClock
) -> None:
    lifecycle = _lifecycle(client, clock)
    pod = _pod(phase="Running", podIP="100.64.2.1")
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:30Z"
    _cache(lifecycle, pod)
    await lifecycle.sync("default/web")
    (call,) = client.calls
    assert (call.method, call.path) == ("DELETE", POD_PATH)
    assert call.options == {"grace_period_seconds": 0, "preconditions": {"uid": "u-1"}}


async def test_a_gone_pod_gives_its_address_back(client: FakeClient, clock: FakeClock) -> None:
    lifecycle = _lifecycle(client, clock)
    _cache(lifecycle, _pod())
    await lifecycle.sync("default/web")
    del lifecycle.informer._cache["default/web"]
    await lifecycle.sync("default/web")
    assert len(lifecycle.addresses["hollow-node-2"]) == 0


async def test_pods_of_other_nodes_and_finished_pods_are_not_touched(
    client: FakeClient, clock: FakeClock
) -> None:
    lifecycle = _lifecycle(client, clock)
    _cache(lifecycle, _pod(node="real-node"))
    await lifecycle.sync("default/web")
    _cache(lifecycle, _pod(phase="Succeeded"))
    await lifecycle.sync("default/web")
    assert client.calls == []


async def test_a_pod_deleted_before_its_status_write_releases_its_address(
    client: FakeClient, clock: FakeClock
) -> None:
    lifecycle = _lifecycle(client, clock)
    client.reply("PATCH", POD_PATH + "/status", api_error(404, "NotFound"))
    _cache(lifecycle, _pod())
    await lifecycle.sync("default/web")
    assert lifecycle.started == 0
    assert len(lifecycle.addresses["hollow-node-2"]) == 0


def test_events_of_pods_on_other_nodes_are_not_queued(client: FakeClient, clock: FakeClock) -> None:
    lifecycle = _lifecycle(client, clock)
    lifecycle._on_event("ADDED", lifecycle._trim(_pod(node="real-node")))
    assert len(lifecycle.queue) == 0
    lifecycle._on_event("ADDED", lifecycle._trim(_pod()))
    assert len(lifecycle.queue) == 1


async def test_a_readiness_gate_turning_true_rewrites_only_the_conditions(
    client: FakeClient, clock: FakeClock
) -> None:
    lifecycle = _lifecycle(client, clock)
    pod = _pod(phase="Running", podIP="100.64.2.4")
    pod["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}]
    pod["status"]["conditions"] = [
        {"type": "example.com/lb", "status": "True"},
        {"type": "Ready", "status": "False", "reason": "ReadinessGatesNotReady"},
    ]
    _cache(lifecycle, pod)
    await lifecycle.sync("default/web")
    (call,) = client.calls
    assert list(call.body["status"]) == ["conditions"]  # container start times are kept
    ready = next(c for c in call.body["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
