"""Events recorded as Kubernetes components record them: repeats counted, floods combined."""

from __future__ import annotations

import asyncio
import json

from cluster import Cluster

from kubelite.client.api import APIClient, Resource
from kubelite.client.events import (
    COMBINED_PREFIX,
    MAX_SIMILAR_EVENTS,
    NORMAL,
    WARNING,
    EventRecorder,
)
from kubelite.client.kubeconfig import load_config

PODS = Resource("", "v1", "pods", kind="Pod")


def _run(cluster: Cluster, coroutine_factory):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        async with APIClient(load_config(kubeconfig=str(cluster.kubeconfig))) as client:
            return await coroutine_factory(client)

    return asyncio.run(main())


def _pod(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def test_a_repeated_event_is_counted_not_duplicated(cluster: Cluster, namespace: str):
    async def scenario(client: APIClient) -> list[dict]:
        pod = await client.create(PODS, _pod("counted"), namespace=namespace)
        recorder = EventRecorder(client, "kubelet", "node-1")
        for _ in range(3):
            await recorder.event(pod, WARNING, "BackOff", "Back-off restarting failed container")
        await recorder.event(pod, NORMAL, "Pulled", 'Container image "busybox" already present')
        return (await client.list(Resource("", "v1", "events", kind="Event"), namespace=namespace))[
            "items"
        ]

    events = _run(cluster, scenario)
    by_reason = {e["reason"]: e for e in events}
    assert sorted(by_reason) == ["BackOff", "Pulled"] and len(events) == 2
    backoff = by_reason["BackOff"]
    assert backoff["count"] == 3
    assert backoff["lastTimestamp"] >= backoff["firstTimestamp"]
    assert backoff["source"] == {"component": "kubelet", "host": "node-1"}
    assert backoff["involvedObject"]["name"] == "counted"
    assert backoff["metadata"]["name"].startswith("counted.")
    described = cluster.kubectl("describe", "pod", "counted", "-n", namespace).stdout
    assert "(x3 over" in described


def test_many_similar_events_are_combined(cluster: Cluster, namespace: str):
    async def scenario(client: APIClient) -> list[dict]:
        pod = await client.create(PODS, _pod("noisy"), namespace=namespace)
        recorder = EventRecorder(client, "default-scheduler")
        for i in range(MAX_SIMILAR_EVENTS + 3):
            await recorder.event(pod, WARNING, "FailedScheduling", f"attempt {i} failed")
        return (await client.list(Resource("", "v1", "events", kind="Event"), namespace=namespace))[
            "items"
        ]

    events = _run(cluster, scenario)
    combined = [e for e in events if e["message"].startswith(COMBINED_PREFIX)]
    assert len(events) == MAX_SIMILAR_EVENTS + 1
    assert len(combined) == 1 and combined[0]["count"] == 3
    assert json.dumps(combined[0]["message"]).endswith('attempt 12 failed"')
