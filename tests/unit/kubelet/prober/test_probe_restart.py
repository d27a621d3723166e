"""A kubelet restart keeps what the pod status said of running containers (KEP-4781, 1.35
#134746 with ChangeContainerStatusOnKubeletRestart off): no reset to not-ready before the
readiness probe speaks, no startup probe run again for a container that had started."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from probe_doubles import Events, ExecRuntime, fail, make_pod, ok, wait_until

from kubelite.kubelet.prober import FAILURE, SUCCESS, ProbeManager, ProbeUpdate
from kubelite.kubelet.prober.manager import KUBELET_RESTART_GRACE_PERIOD

Obj = dict[str, Any]
PERIOD = 0.01
# A container that started an hour before this kubelet did: it ran under the previous one.
BEFORE = time.time() - 3600


def exec_probe(word: str, **settings: Any) -> Obj:
    return {"exec": {"command": [word]}, "periodSeconds": PERIOD, **settings}


def app(**probes: Obj) -> Obj:
    return {"name": "app", **{f"{kind}Probe": spec for kind, spec in probes.items()}}


def with_status(pod: Obj, *, started: bool, ready: bool, cid: str = "c1") -> Obj:
    """The pod as the API server has it from the previous kubelet."""
    pod["status"] = {
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        "containerStatuses": [
            {
                "name": "app",
                "containerID": f"kubelite://{cid}",
                "started": started,
                "ready": ready,
                "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
            }
        ],
    }
    return pod


class Harness:
    def __init__(self) -> None:
        self.runtime = ExecRuntime()
        self.updates: list[ProbeUpdate] = []
        self.manager = ProbeManager(self.runtime, record=Events(), pod_ip=lambda uid: "127.0.0.1")
        self.manager.on_change(self.updates.append)

    def start(self, pod: Obj, started_at: float = BEFORE, cid: str = "c1") -> None:
        self.manager.container_started(pod, "app", cid, int(started_at * 1e9))


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    try:
        yield h
    finally:
        await h.manager.close()


async def test_a_ready_container_stays_ready_until_readiness_reaches_its_threshold(
    harness: Harness,
) -> None:
    harness.runtime.answers = {"ready": [fail()]}
    pod = with_status(
        make_pod(app(readiness=exec_probe("ready", failureThreshold=3))), started=True, ready=True
    )
    harness.start(pod)
    m = harness.manager
    # No initial Failure is published: the container is as ready as the pod was.
    assert m.result("c1", "readiness") is None
    assert (m.started("c1"), m.ready("c1")) == (True, True)
    await wait_until(lambda: harness.runtime.count("ready") >= 1)
    assert m.ready("c1") is True
    await wait_until(lambda: m.result("c1", "readiness") == FAILURE)
    assert harness.runtime.count("ready") == 3
    assert m.ready("c1") is False
    assert [u.result for u in harness.updates if u.kind == "readiness"] == [FAILURE]


async def test_the_readiness_probe_then_decides_as_usual(harness: Harness) -> None:
    harness.runtime.answers = {"ready": [ok()]}
    pod = with_status(make_pod(app(readiness=exec_probe("ready"))), started=True, ready=True)
    harness.start(pod)
    await wait_until(lambda: harness.manager.result("c1", "readiness") == SUCCESS)
    assert harness.manager.ready("c1") is True


async def test_a_container_of_a_not_ready_pod_is_not_ready_before_its_probe(
    harness: Harness,
) -> None:
    harness.runtime.answers = {"ready": [fail()]}
    pod = with_status(
        make_pod(app(readiness=exec_probe("ready", failureThreshold=100))),
        started=True,
        ready=False,
    )
    harness.start(pod)
    assert harness.manager.ready("c1") is False


async def test_a_started_container_keeps_its_start_and_its_startup_probe_is_not_rerun(
    harness: Harness,
) -> None:
    harness.runtime.answers = {"start": [fail()], "live": [ok()], "ready": [ok()]}
    container = app(
        startup=exec_probe("start", failureThreshold=1),
        liveness=exec_probe("live"),
        readiness=exec_probe("ready"),
    )
    harness.start(with_status(make_pod(container), started=True, ready=True))
    m = harness.manager
    assert m.started("c1") is True
    assert m.ready("c1") is True
    # Liveness and readiness run at once; the startup probe never does.
    await wait_until(lambda: harness.runtime.count("live") >= 2 and m.ready("c1"))
    await asyncio.sleep(5 * PERIOD)
    assert harness.runtime.count("start") == 0
    assert m.result("c1", "startup") is None
    assert m.started("c1") is True


async def test_a_container_still_in_its_startup_period_stays_unstarted(harness: Harness) -> None:
    harness.runtime.answers = {"start": [fail(), ok()]}
    container = app(startup=exec_probe("start", failureThreshold=5), readiness=exec_probe("ready"))
    harness.start(with_status(make_pod(container), started=False, ready=False))
    m = harness.manager
    assert (m.started("c1"), m.ready("c1")) == (False, False)
    await wait_until(lambda: m.result("c1", "startup") == SUCCESS)
    assert harness.runtime.count("start") == 2
    await wait_until(lambda: m.ready("c1"))


async def test_a_start_said_of_another_container_instance_is_not_inherited(
    harness: Harness,
) -> None:
    # The status names the container that ran before this one (#141342).
    harness.runtime.answers = {"start": [fail()]}
    container = app(startup=exec_probe("start", failureThreshold=100))
    harness.start(with_status(make_pod(container), started=True, ready=True, cid="old"))
    assert harness.manager.started("c1") is False
    await wait_until(lambda: harness.runtime.count("start") >= 1)


async def test_a_container_started_after_the_kubelet_gets_initial_results(
    harness: Harness,
) -> None:
    pod = with_status(
        make_pod(
            app(readiness=exec_probe("ready", failureThreshold=100), liveness=exec_probe("live"))
        ),
        started=True,
        ready=True,
    )
    harness.runtime.answers = {"ready": [fail()], "live": [ok()]}
    # Within the grace period before the kubelet's start: a new container, not a kept one.
    harness.start(pod, started_at=harness.manager.start - KUBELET_RESTART_GRACE_PERIOD / 2)
    m = harness.manager
    assert m.result("c1", "readiness") == FAILURE
    assert m.result("c1", "liveness") == SUCCESS
    assert m.ready("c1") is False


async def test_a_kept_container_gets_no_initial_liveness_result(harness: Harness) -> None:
    harness.runtime.answers = {"live": [ok()]}
    pod = with_status(
        make_pod(app(liveness=exec_probe("live", initialDelaySeconds=3600 * 24))),
        started=True,
        ready=True,
    )
    harness.start(pod, started_at=time.time() - 60)
    assert harness.manager.result("c1", "liveness") is None
