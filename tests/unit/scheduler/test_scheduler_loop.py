"""The scheduler's loop survives what goes wrong with one pod.

Against the unit tests' real API server (`testcluster`): the pods and nodes are made there,
and a `Recorder` around the real client notes the scheduler's writes."""

from __future__ import annotations

import asyncio
import copy
import random
from typing import Any

from sched_objects import make_node, make_pod
from testcluster import Recorder, TestCluster, wait_for

from kubelite.api.resources import NODES, PODS
from kubelite.scheduler.framework.runtime import Framework, Weighted
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo
from kubelite.scheduler.schedule_one import Algorithm
from kubelite.scheduler.scheduler import Scheduler


async def made_pod(kube: TestCluster, pod: dict[str, Any]) -> dict[str, Any]:
    """`pod` made in the test's namespace (the server gives it its uid)."""
    pod = copy.deepcopy(pod)
    for system in ("uid", "namespace"):
        pod["metadata"].pop(system)
    return await kube.create(PODS, pod)


class Broken:
    name = "Broken"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Any:
        raise RuntimeError("boom")


async def test_a_plugin_that_raises_fails_the_pod_not_the_loop(kube: TestCluster) -> None:
    client = Recorder(kube.client)
    scheduler = Scheduler(client)  # type: ignore[arg-type]
    scheduler.cache.add_node(make_node("n1"))
    framework = Framework([Weighted(Broken())], scheduler_name="default-scheduler")  # type: ignore[list-item]
    scheduler.algorithm = Algorithm(framework, scheduler.cache, rng=random.Random(1))
    pod = await made_pod(kube, make_pod("p"))
    scheduler.pods._cache[f"{kube.namespace}/p"] = pod
    scheduler.queue.add(pod)
    queued = await scheduler.queue.pop()
    assert queued is not None
    scheduler.schedule_one(queued)
    await asyncio.gather(*scheduler._tasks)
    assert scheduler.queue.counts()["backoff"] == 1

    async def posted() -> bool:
        return len(await kube.events()) == 1

    await wait_for(posted, what="the Event")
    (event,) = await kube.events()
    assert (event["reason"], event["type"]) == ("FailedScheduling", "Warning")
    assert event["message"] == "scheduler error: boom"
    (patch,) = client.written("patch", "pods", "status")
    (condition,) = patch["status"]["conditions"]
    assert (condition["reason"], condition["status"]) == ("SchedulerError", "False")
    (stored,) = (await kube.get(PODS, "p"))["status"]["conditions"]
    assert (stored["reason"], stored["status"]) == ("SchedulerError", "False")


def test_only_new_pods_and_label_changes_wake_parked_pods(kube: TestCluster) -> None:
    """A bound pod's status writes (every kubelet's) must not send parked pods round again.
    (The handlers alone: no request.)"""
    scheduler = Scheduler(kube.client)
    woken: list[str] = []
    scheduler.queue.move_all = woken.append  # type: ignore[method-assign]
    bound = make_pod("a", node="n1", labels={"app": "x"})
    scheduler._on_pod("ADDED", bound)
    running = make_pod("a", node="n1", labels={"app": "x"})
    running["status"] = {"phase": "Running"}
    scheduler._on_pod("MODIFIED", running)
    relabelled = make_pod("a", node="n1", labels={"app": "y"})
    relabelled["status"] = {"phase": "Running"}
    scheduler._on_pod("MODIFIED", relabelled)
    assert woken == ["Pod/Add", "Pod/Update"]


async def test_a_pod_made_again_under_its_name_replaces_the_old_one(kube: TestCluster) -> None:
    """Deleted and created again while the watch was away: the informer says MODIFIED with a
    pending pod whose uid is new. The old one's hold on its node goes; the new one schedules."""
    client = Recorder(kube.client)
    scheduler = Scheduler(client)  # type: ignore[arg-type]
    node_name = f"{kube.namespace}-n1"
    node = await kube.create(NODES, make_node(node_name, cpu="1"))
    scheduler._on_node("ADDED", node)
    old = make_pod("p", cpu="1", node=node_name, namespace=kube.namespace)
    scheduler._on_pod("ADDED", old)
    new = await made_pod(kube, make_pod("p", cpu="1"))
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    scheduler._on_pod("MODIFIED", new)
    cached = scheduler.cache.get(node_name)
    assert cached is not None and cached.requested.milli_cpu == 0
    queued = await scheduler.queue.pop()
    assert queued is not None and queued.info.uid == new["metadata"]["uid"]
    scheduler.schedule_one(queued)
    assert scheduler.cache.is_assumed(f"{kube.namespace}/p")
    await asyncio.gather(*scheduler._tasks)
    (binding,) = client.written("create", "pods", "binding")
    assert binding["target"]["name"] == node_name
    assert (await kube.get(PODS, "p"))["spec"]["nodeName"] == node_name
