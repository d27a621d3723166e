"""Sends of one Event take turns: the same event posted twice in quick succession (a
controller retrying, an informer handler firing twice) is one Event with count 2, as
client-go's broadcaster, which sends one event at a time, leaves it; not two Events, and not
two patches of the same count. Against the unit tests' real API server."""

from __future__ import annotations

import asyncio

from testcluster import TestCluster

from kubelite.api.resources import EVENTS
from kubelite.client.events import EventRecorder


async def test_the_same_event_posted_twice_at_once_is_one_event_counted_twice(
    kube: TestCluster,
) -> None:
    recorder = EventRecorder(kube.client, "cidrAllocator")
    node = {"kind": "Node", "metadata": {"name": f"{kube.namespace}-n", "uid": "u-1"}}
    first, second = await asyncio.gather(
        recorder.event(node, "Warning", "CIDRNotAvailable", "no CIDR left"),
        recorder.event(node, "Warning", "CIDRNotAvailable", "no CIDR left"),
    )
    assert first is not None and second is not None
    # A Node's Events go to `default`, as Kubernetes puts a cluster-scoped object's.
    listed = await kube.client.list(EVENTS, namespace="default")
    mine = [e for e in listed["items"] if e["involvedObject"]["name"] == f"{kube.namespace}-n"]
    assert len(mine) == 1, mine
    assert mine[0]["count"] == 2
    # Nothing is kept for a key once its sends are done.
    assert recorder._turns == {}


async def test_different_events_do_not_wait_for_each_other(kube: TestCluster) -> None:
    recorder = EventRecorder(kube.client, "test")
    pods = [
        {"kind": "Pod", "metadata": {"name": f"p{i}", "namespace": kube.namespace, "uid": f"u{i}"}}
        for i in range(3)
    ]
    sent = await asyncio.gather(*(recorder.event(p, "Normal", "Pulled", "done") for p in pods))
    assert sorted(e["involvedObject"]["name"] for e in sent if e) == ["p0", "p1", "p2"]
