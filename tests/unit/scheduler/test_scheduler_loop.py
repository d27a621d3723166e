"""The scheduler's loop survives what goes wrong with one pod."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from sched_objects import make_node, make_pod

from kubelite.scheduler.framework.runtime import Framework, Weighted
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo
from kubelite.scheduler.schedule_one import Algorithm
from kubelite.scheduler.scheduler import Scheduler


class RecordingClient:
    """Stands in for the API client: records the writes the scheduler makes."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.patched: list[dict[str, Any]] = []

    async def create(self, resource: Any, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        self.created.append(body)
        return {
            **body,
            "metadata": {**body.get("metadata", {}), "name": "e1", "namespace": "default"},
        }

    async def patch(self, resource: Any, name: str, patch: Any, **kwargs: Any) -> dict[str, Any]:
        self.patched.append(patch)
        return {}


class Broken:
    name = "Broken"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Any:
        raise RuntimeError("boom")


async def test_a_plugin_that_raises_fails_the_pod_not_the_loop() -> None:
    client = RecordingClient()
    scheduler = Scheduler(client)  # type: ignore[arg-type]
    scheduler.cache.add_node(make_node("n1"))
    framework = Framework([Weighted(Broken())], scheduler_name="default-scheduler")  # type: ignore[list-item]
    scheduler.algorithm = Algorithm(framework, scheduler.cache, rng=random.Random(1))
    pod = make_pod("p")
    pod["metadata"]["resourceVersion"] = "7"
    scheduler.pods._cache["default/p"] = pod
    scheduler.queue.add(pod)
    queued = await scheduler.queue.pop()
    assert queued is not None
    scheduler.schedule_one(queued)
    await asyncio.gather(*scheduler._tasks)
    assert scheduler.queue.counts()["backoff"] == 1
    (event,) = client.created
    assert (event["reason"], event["type"]) == ("FailedScheduling", "Warning")
    assert event["message"] == "scheduler error: boom"
    (patch,) = client.patched
    (condition,) = patch["status"]["conditions"]
    assert (condition["reason"], condition["status"]) == ("SchedulerError", "False")


def test_only_new_pods_and_label_changes_wake_parked_pods() -> None:
    """A bound pod's status writes (every kubelet's) must not send parked pods round again."""
    scheduler = Scheduler(RecordingClient())  # type: ignore[arg-type]
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


async def test_a_pod_made_again_under_its_name_replaces_the_old_one() -> None:
    """Deleted and created again while the watch was away: the informer says MODIFIED with a
    pending pod whose uid is new. The old one's hold on its node goes; the new one schedules."""
    client = RecordingClient()
    scheduler = Scheduler(client)  # type: ignore[arg-type]
    scheduler._on_node("ADDED", make_node("n1", cpu="1"))
    old = make_pod("p", cpu="1", node="n1")
    scheduler._on_pod("ADDED", old)
    new = make_pod("p", cpu="1")
    new["metadata"]["uid"] = "uid-new"
    new["metadata"]["resourceVersion"] = "9"
    scheduler._on_pod("MODIFIED", new)
    node = scheduler.cache.get("n1")
    assert node is not None and node.requested.milli_cpu == 0
    queued = await scheduler.queue.pop()
    assert queued is not None and queued.info.uid == "uid-new"
    scheduler.schedule_one(queued)
    assert scheduler.cache.is_assumed("default/p")
    await asyncio.gather(*scheduler._tasks)
