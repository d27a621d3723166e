"""The probe manager with real workers on tiny periods: thresholds, delays, startup gating,
readiness defaults, events, and workers that start and stop with their containers."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from probe_doubles import (
    Events,
    ExecRuntime,
    Server,
    closed_port,
    fail,
    make_pod,
    ok,
    wait_until,
)

from kubelite.kubelet.prober import FAILURE, SUCCESS, ProbeManager, ProbeUpdate
from kubelite.runtime.errors import NotFound

Obj = dict[str, Any]

PERIOD = 0.01


def exec_probe(word: str, **settings: Any) -> Obj:
    return {"exec": {"command": [word]}, "periodSeconds": PERIOD, **settings}


def app(**probes: Obj) -> Obj:
    return {"name": "app", **{f"{kind}Probe": spec for kind, spec in probes.items()}}


class Harness:
    def __init__(self, runtime: ExecRuntime) -> None:
        self.runtime = runtime
        self.events = Events()
        self.ip_asked: list[str] = []
        self.updates: list[ProbeUpdate] = []
        self.manager = ProbeManager(runtime, record=self.events, pod_ip=self._pod_ip)
        self.manager.on_change(self.updates.append)

    def _pod_ip(self, uid: str) -> str:
        self.ip_asked.append(uid)
        return "127.0.0.1"

    def start(self, pod: Obj, cid: str = "c1", name: str = "app", started_at: float = 0) -> None:
        """Start a container, at `started_at` seconds since the epoch (default: now)."""
        started_ns = int((started_at or time.time()) * 1e9)
        self.manager.container_started(pod, name, cid, started_ns)

    def kinds_changed(self, kind: str) -> list[str]:
        return [u.result for u in self.updates if u.kind == kind]


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness(ExecRuntime())
    try:
        yield h
    finally:
        await h.manager.close()


async def test_liveness_starts_as_success_and_readiness_as_failure(harness: Harness) -> None:
    harness.runtime.answers = {"live": [ok()], "ready": [fail(), fail(), ok()]}
    harness.start(make_pod(app(liveness=exec_probe("live"), readiness=exec_probe("ready"))))
    m = harness.manager
    assert m.result("c1", "liveness") == SUCCESS
    assert m.result("c1", "readiness") == FAILURE
    assert m.started("c1") is True
    assert m.ready("c1") is False
    await wait_until(lambda: m.ready("c1"))
    assert harness.runtime.count("ready") == 3
    assert harness.kinds_changed("readiness") == [FAILURE, SUCCESS]


async def test_container_without_probes_is_started_and_ready_once_running(
    harness: Harness,
) -> None:
    m = harness.manager
    assert (m.started("c1"), m.ready("c1"), m.result("c1", "liveness")) == (None, False, None)
    harness.start(make_pod(app()))
    assert (m.started("c1"), m.ready("c1")) == (True, True)
    assert m.result("c1", "liveness") is None
    assert harness.runtime.calls == []


async def test_failure_threshold_needs_that_many_failures_in_a_row(harness: Harness) -> None:
    harness.runtime.answers = {"live": [fail(), ok(), fail(), fail(), fail()]}
    harness.start(make_pod(app(liveness=exec_probe("live", failureThreshold=3))))
    await wait_until(lambda: harness.manager.result("c1", "liveness") == FAILURE)
    assert harness.runtime.count("live") == 5
    assert harness.kinds_changed("liveness") == [SUCCESS, FAILURE]


async def test_liveness_failure_stops_probing_that_container(harness: Harness) -> None:
    harness.runtime.answers = {"live": [fail()]}
    harness.start(make_pod(app(liveness=exec_probe("live", failureThreshold=1))))
    await wait_until(lambda: harness.manager.result("c1", "liveness") == FAILURE)
    calls = harness.runtime.count("live")
    await asyncio.sleep(10 * PERIOD)
    assert harness.runtime.count("live") == calls == 1


async def test_readiness_success_threshold_and_it_keeps_probing(harness: Harness) -> None:
    harness.runtime.answers = {"ready": [ok(), fail(), ok(), ok(), fail(), ok()]}
    counts: list[int] = []
    harness.manager.on_change(lambda u: counts.append(harness.runtime.count("ready")))
    spec = exec_probe("ready", successThreshold=2, failureThreshold=1)
    harness.start(make_pod(app(readiness=spec)))
    await wait_until(lambda: len(harness.kinds_changed("readiness")) == 4)
    # failure at start; success after ok, ok (calls 3 and 4); failure at call 5; success at 7.
    assert harness.kinds_changed("readiness") == [FAILURE, SUCCESS, FAILURE, SUCCESS]
    assert counts == [0, 4, 5, 7]


async def test_nothing_is_probed_before_the_initial_delay(harness: Harness) -> None:
    started = time.time()
    harness.start(
        make_pod(app(liveness=exec_probe("live", initialDelaySeconds=0.1))), started_at=started
    )
    await asyncio.wait_for(harness.runtime.called.wait(), 2)
    assert time.time() - started >= 0.09


async def test_initial_delay_counts_from_the_container_start(harness: Harness) -> None:
    began = time.monotonic()
    pod = make_pod(app(liveness=exec_probe("live", initialDelaySeconds=30)))
    harness.start(pod, started_at=time.time() - 60)
    await asyncio.wait_for(harness.runtime.called.wait(), 2)
    assert time.monotonic() - began < 1


async def test_startup_probe_gates_liveness_and_readiness(harness: Harness) -> None:
    harness.runtime.answers = {"start": [fail(), fail(), ok()], "live": [ok()], "ready": [ok()]}
    container = app(
        startup=exec_probe("start", failureThreshold=5),
        liveness=exec_probe("live"),
        readiness=exec_probe("ready"),
    )
    harness.start(make_pod(container))
    m = harness.manager
    assert (m.started("c1"), m.ready("c1"), m.result("c1", "startup")) == (False, False, None)
    await wait_until(lambda: m.ready("c1") and harness.runtime.count("live") > 0)
    words = [cmd[0] for _, cmd, _ in harness.runtime.calls]
    last_startup = max(i for i, w in enumerate(words) if w == "start")
    assert words[: last_startup + 1] == ["start"] * 3
    assert m.started("c1") is True
    assert m.result("c1", "startup") == SUCCESS


async def test_startup_failure_is_published_and_liveness_never_runs(harness: Harness) -> None:
    harness.runtime.answers = {"start": [fail("not yet")]}
    container = app(startup=exec_probe("start", failureThreshold=2), liveness=exec_probe("live"))
    harness.start(make_pod(container))
    await wait_until(lambda: harness.manager.result("c1", "startup") == FAILURE)
    assert harness.runtime.count("start") == 2
    assert harness.runtime.count("live") == 0
    assert harness.manager.started("c1") is False
    assert harness.events.messages() == ["Startup probe failed: not yet"] * 2


async def test_errored_probe_is_retried_then_neither_counts_nor_resets(harness: Harness) -> None:
    gone = NotFound("container c1 not found")
    harness.runtime.answers = {"live": [fail("bad"), gone, gone, gone, fail("bad")]}
    harness.start(make_pod(app(liveness=exec_probe("live", failureThreshold=2))))
    await wait_until(lambda: harness.manager.result("c1", "liveness") == FAILURE)
    assert harness.runtime.count("live") == 5
    assert harness.events.messages() == [
        "Liveness probe failed: bad",
        "Liveness probe errored and resulted in unknown state: container c1 not found",
        "Liveness probe failed: bad",
    ]


async def test_exec_timeout_counts_as_failure_with_its_message(harness: Harness) -> None:
    harness.runtime.answers = {"sleep": [5.0]}
    spec = {
        "exec": {"command": ["sleep", "10"]},
        "periodSeconds": PERIOD,
        "timeoutSeconds": 0.02,
        "failureThreshold": 1,
    }
    harness.start(make_pod(app(liveness=spec)))
    await wait_until(lambda: harness.manager.result("c1", "liveness") == FAILURE)
    assert harness.events.seen == [
        (
            "Warning",
            "Unhealthy",
            'Liveness probe failed: command "sleep 10" timed out',
            "spec.containers{app}",
        )
    ]
    assert harness.runtime.calls[0][2] == 0.02


async def test_probe_timeout_defaults_to_one_second(harness: Harness) -> None:
    harness.start(make_pod(app(liveness={"exec": {"command": ["live"]}})))
    await asyncio.wait_for(harness.runtime.called.wait(), 2)
    assert harness.runtime.calls[0][2] == 1.0


async def test_sidecar_probes_run_and_events_name_the_init_container(harness: Harness) -> None:
    harness.runtime.answers = {"side": [fail("sidecar down")]}
    sidecar = {
        "name": "proxy",
        "restartPolicy": "Always",
        "livenessProbe": exec_probe("side", failureThreshold=1),
    }
    pod = make_pod(app(), init=(sidecar,))
    harness.start(pod, cid="s1", name="proxy")
    await wait_until(lambda: harness.manager.result("s1", "liveness") == FAILURE)
    assert harness.events.seen == [
        (
            "Warning",
            "Unhealthy",
            "Liveness probe failed: sidecar down",
            "spec.initContainers{proxy}",
        )
    ]


async def test_http_readiness_probes_the_pod_ip_and_reports_the_status(harness: Harness) -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500)

    async with Server({"/ready": broken}) as server:
        spec = {"httpGet": {"port": server.port, "path": "/ready"}, "periodSeconds": PERIOD}
        harness.start(make_pod(app(readiness=spec)))
        await wait_until(lambda: len(harness.events.seen) >= 1)
        await harness.manager.close()
    assert harness.events.seen[0] == (
        "Warning",
        "Unhealthy",
        "Readiness probe failed: HTTP probe failed with statuscode: 500",
        "spec.containers{app}",
    )
    assert harness.ip_asked[0] == "uid-1"
    assert harness.manager.ready("c1") is False


async def test_http_redirect_elsewhere_is_a_warning_event_and_a_success(
    harness: Harness,
) -> None:
    async def away(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://localhost:1/")

    async with Server({"/": away}) as server:
        spec = {"httpGet": {"port": server.port}, "periodSeconds": PERIOD}
        harness.start(make_pod(app(readiness=spec)))
        await wait_until(lambda: harness.manager.ready("c1"))
        await harness.manager.close()
    reason, message = harness.events.seen[0][1:3]
    assert reason == "ProbeWarning"
    assert message.startswith("Readiness probe warning: Probe terminated redirects")


async def test_tcp_startup_probe_to_a_closed_port(harness: Harness) -> None:
    port = closed_port()
    spec = {"tcpSocket": {"port": port}, "periodSeconds": PERIOD, "failureThreshold": 1}
    harness.start(make_pod(app(startup=spec)))
    await wait_until(lambda: harness.manager.result("c1", "startup") == FAILURE)
    assert harness.events.messages() == [
        f"Startup probe failed: dial tcp 127.0.0.1:{port}: connect: connection refused"
    ]


async def test_tcp_probe_by_port_name_to_a_listening_socket(harness: Harness) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        container = {
            "name": "app",
            "ports": [{"name": "db", "containerPort": listener.getsockname()[1]}],
            "readinessProbe": {"tcpSocket": {"port": "db"}, "periodSeconds": PERIOD},
        }
        harness.start(make_pod(container))
        await wait_until(lambda: harness.manager.ready("c1"))
        await harness.manager.close()


async def test_unknown_port_name_is_an_error_event_and_no_result(harness: Harness) -> None:
    spec = {"tcpSocket": {"port": "http"}, "periodSeconds": PERIOD}
    harness.start(make_pod(app(readiness=spec)))
    await wait_until(lambda: len(harness.events.seen) >= 2)
    assert harness.events.messages()[0] == (
        'Readiness probe errored and resulted in unknown state: strconv.Atoi: parsing "http": '
        "invalid syntax"
    )
    assert harness.kinds_changed("readiness") == [FAILURE]


async def test_deleting_the_pod_settles_startup_and_liveness_as_success(
    harness: Harness,
) -> None:
    harness.runtime.answers = {"start": [fail()]}
    pod = make_pod(app(startup=exec_probe("start", failureThreshold=1000)))
    harness.start(pod)
    await wait_until(lambda: harness.runtime.count("start") >= 2)
    deleting = {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    harness.manager.add_pod(deleting)
    await wait_until(lambda: harness.manager.result("c1", "startup") == SUCCESS)
    calls = harness.runtime.count("start")
    await asyncio.sleep(10 * PERIOD)
    assert harness.runtime.count("start") == calls


async def test_stopped_container_is_forgotten_and_no_longer_probed(harness: Harness) -> None:
    harness.start(make_pod(app(readiness=exec_probe("ready"))))
    await wait_until(lambda: harness.manager.ready("c1"))
    harness.manager.container_stopped("c1")
    calls = harness.runtime.count("ready")
    assert harness.manager.result("c1", "readiness") is None
    assert (harness.manager.ready("c1"), harness.manager.started("c1")) == (False, None)
    await asyncio.sleep(10 * PERIOD)
    assert harness.runtime.count("ready") == calls


async def test_a_restarted_container_replaces_the_old_instance(harness: Harness) -> None:
    pod = make_pod(app(liveness=exec_probe("live")))
    harness.start(pod, cid="c1")
    harness.start(pod, cid="c1")  # told twice: still one instance
    harness.start(pod, cid="c2")
    assert harness.manager.result("c1", "liveness") is None
    assert harness.manager.result("c2", "liveness") == SUCCESS
    await wait_until(lambda: harness.runtime.count("live") >= 2)
    assert {cid for cid, _, _ in harness.runtime.calls} == {"c2"}


async def test_removing_the_pod_stops_all_its_containers(harness: Harness) -> None:
    pod = make_pod(
        app(liveness=exec_probe("live")), {"name": "b", "livenessProbe": exec_probe("live")}
    )
    harness.start(pod, cid="c1", name="app")
    harness.start(pod, cid="c2", name="b")
    harness.manager.remove_pod("uid-1")
    assert harness.manager.result("c1", "liveness") is None
    assert harness.manager.result("c2", "liveness") is None


async def test_updates_carry_the_pod_uid(harness: Harness) -> None:
    harness.start(make_pod(app(readiness=exec_probe("ready")), uid="uid-9"))
    await wait_until(lambda: len(harness.updates) == 2)
    assert [(u.container_id, u.kind, u.result, u.pod_uid) for u in harness.updates] == [
        ("c1", "readiness", FAILURE, "uid-9"),
        ("c1", "readiness", SUCCESS, "uid-9"),
    ]


async def test_close_stops_every_worker(harness: Harness) -> None:
    harness.start(make_pod(app(liveness=exec_probe("live"), readiness=exec_probe("ready"))))
    await harness.manager.close()
    calls = len(harness.runtime.calls)
    await asyncio.sleep(5 * PERIOD)
    assert len(harness.runtime.calls) == calls
    with pytest.raises(RuntimeError):
        harness.start(make_pod(app()))
