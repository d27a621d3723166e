"""The Pod row of `kubectl get pods`: STATUS, READY and RESTARTS as Kubernetes' printPod (1.33)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api import meta
from kubelite.api.printers import printer_for
from kubelite.api.printers.pods import pod_cells, pod_row_conditions, summarize

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
Obj = dict[str, Any]


def ago(seconds: int) -> str:
    return meta.format_time(NOW - dt.timedelta(seconds=seconds))


def running(name: str = "app", *, ready: bool = True, started: bool = True) -> Obj:
    return {
        "name": name,
        "ready": ready,
        "started": started,
        "restartCount": 0,
        "state": {"running": {"startedAt": ago(600)}},
    }


def waiting(reason: str, name: str = "app") -> Obj:
    return {
        "name": name,
        "ready": False,
        "started": False,
        "restartCount": 0,
        "state": {"waiting": {"reason": reason}},
    }


def terminated(name: str = "app", *, reason: str = "", exit_code: int = 0, signal: int = 0) -> Obj:
    state: Obj = {"exitCode": exit_code, "finishedAt": ago(30)}
    if reason:
        state["reason"] = reason
    if signal:
        state["signal"] = signal
    return {
        "name": name,
        "ready": False,
        "started": False,
        "restartCount": 0,
        "state": {"terminated": state},
    }


def restarted(status: Obj, count: int, finished_seconds_ago: int | None) -> Obj:
    status = dict(status, restartCount=count)
    if finished_seconds_ago is not None:
        status["lastState"] = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "finishedAt": ago(finished_seconds_ago),
            }
        }
    return status


def condition(type_: str, status: str = "True", reason: str = "") -> Obj:
    return {"type": type_, "status": status, **({"reason": reason} if reason else {})}


def make_pod(
    statuses: tuple[Obj, ...] = (),
    *,
    init_statuses: tuple[Obj, ...] = (),
    app_names: tuple[str, ...] | None = None,
    init_names: tuple[str, ...] | None = None,
    sidecars: tuple[str, ...] = (),
    phase: str = "Running",
    conditions: tuple[Obj, ...] = (),
    reason: str = "",
    deleting: bool = False,
) -> Obj:
    """A pod whose spec lists the containers its statuses name, unless told otherwise."""
    app_names = app_names or tuple(s["name"] for s in statuses) or ("app",)
    if init_names is None:
        init_names = tuple(s["name"] for s in init_statuses)
    init_specs = []
    for name in init_names:
        spec: Obj = {"name": name, "image": "busybox"}
        if name in sidecars:
            spec["restartPolicy"] = "Always"
        init_specs.append(spec)
    status: Obj = {"phase": phase, "conditions": list(conditions)}
    if reason:
        status["reason"] = reason
    if statuses:
        status["containerStatuses"] = list(statuses)
    if init_statuses:
        status["initContainerStatuses"] = list(init_statuses)
    metadata: Obj = {"name": "web", "namespace": "default", "creationTimestamp": ago(3600)}
    if deleting:
        metadata["deletionTimestamp"] = ago(5)
    pod: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": [{"name": n, "image": "nginx"} for n in app_names]},
        "status": status,
    }
    if init_specs:
        pod["spec"]["initContainers"] = init_specs
    return pod


READY = condition("Ready")
NOT_READY = condition("Ready", "False")
INITIALIZED = condition("Initialized")

STATUS_CASES = [
    # The phase, or the reason the pod was given.
    pytest.param(make_pod(phase="Pending"), "Pending", id="pending-phase"),
    pytest.param(make_pod((running(),), conditions=(READY,)), "Running", id="running"),
    pytest.param(make_pod(phase="Failed", reason="Evicted"), "Evicted", id="status-reason"),
    pytest.param(make_pod(phase="Running", reason="NodeLost"), "NodeLost", id="node-lost"),
    pytest.param(
        make_pod(
            phase="Pending", conditions=(condition("PodScheduled", "False", "SchedulingGated"),)
        ),
        "SchedulingGated",
        id="scheduling-gated",
    ),
    # Init containers: the first one not done speaks for the pod.
    pytest.param(
        make_pod(
            (waiting("PodInitializing"),),
            init_statuses=(running("init-a"), waiting("PodInitializing", "init-b")),
            phase="Pending",
        ),
        "Init:0/2",
        id="init-first-of-two-running",
    ),
    pytest.param(
        make_pod(
            init_statuses=(terminated("init-a", reason="Completed"), running("init-b")),
            phase="Pending",
        ),
        "Init:1/2",
        id="init-second-of-two-running",
    ),
    pytest.param(
        make_pod(
            init_statuses=(waiting("PodInitializing", "init-a"),),
            init_names=("init-a", "init-b"),
            phase="Pending",
        ),
        "Init:0/2",
        id="init-waiting-pod-initializing-shows-progress",
    ),
    pytest.param(
        make_pod(
            init_statuses=(terminated("init-a", reason="Error", exit_code=1),), phase="Pending"
        ),
        "Init:Error",
        id="init-error",
    ),
    pytest.param(
        make_pod(init_statuses=(waiting("CrashLoopBackOff", "init-a"),), phase="Pending"),
        "Init:CrashLoopBackOff",
        id="init-crash-loop",
    ),
    pytest.param(
        make_pod(init_statuses=(terminated("init-a", exit_code=3),), phase="Pending"),
        "Init:ExitCode:3",
        id="init-exit-code",
    ),
    pytest.param(
        make_pod(init_statuses=(terminated("init-a", exit_code=137, signal=9),), phase="Pending"),
        "Init:Signal:9",
        id="init-signal",
    ),
    pytest.param(
        make_pod(
            (waiting("PodInitializing"),),
            init_statuses=(terminated("init-a", reason="Completed"),),
            phase="Pending",
        ),
        "PodInitializing",
        id="init-done-app-not-started",
    ),
    # App containers.
    pytest.param(
        make_pod((waiting("ContainerCreating"),), phase="Pending"),
        "ContainerCreating",
        id="container-creating",
    ),
    pytest.param(
        make_pod((waiting("CrashLoopBackOff"),), conditions=(NOT_READY,)),
        "CrashLoopBackOff",
        id="crash-loop",
    ),
    pytest.param(
        make_pod((waiting("ErrImagePull"),), phase="Pending"), "ErrImagePull", id="err-image-pull"
    ),
    pytest.param(
        make_pod((waiting("ImagePullBackOff"),), phase="Pending"),
        "ImagePullBackOff",
        id="image-pull-back-off",
    ),
    pytest.param(
        make_pod((terminated(reason="Completed"),), phase="Succeeded"),
        "Completed",
        id="completed",
    ),
    pytest.param(
        make_pod((terminated(reason="Error", exit_code=1),), phase="Failed"), "Error", id="error"
    ),
    pytest.param(
        make_pod((terminated(reason="OOMKilled", exit_code=137),), phase="Failed"),
        "OOMKilled",
        id="oom-killed",
    ),
    pytest.param(
        make_pod((terminated(exit_code=2),), phase="Failed"), "ExitCode:2", id="exit-code"
    ),
    pytest.param(
        make_pod((terminated(exit_code=143, signal=15),), phase="Failed"),
        "Signal:15",
        id="signal",
    ),
    pytest.param(
        make_pod((waiting("CrashLoopBackOff", "a"), running("b")), conditions=(NOT_READY,)),
        "CrashLoopBackOff",
        id="first-container-wins-over-running",
    ),
    pytest.param(
        make_pod(
            (waiting("ImagePullBackOff", "a"), waiting("ContainerCreating", "b")), phase="Pending"
        ),
        "ImagePullBackOff",
        id="first-container-wins-over-later",
    ),
    pytest.param(
        make_pod((terminated("a", reason="Completed"), running("b")), conditions=(READY,)),
        "Running",
        id="completed-with-one-running-is-running",
    ),
    pytest.param(
        make_pod((terminated("a", reason="Completed"), running("b")), conditions=(NOT_READY,)),
        "NotReady",
        id="completed-with-one-running-not-ready",
    ),
    # Sidecars: started ones are done as far as initialization goes.
    pytest.param(
        make_pod(
            (running(),),
            init_statuses=(running("proxy"),),
            sidecars=("proxy",),
            conditions=(INITIALIZED, READY),
        ),
        "Running",
        id="sidecar-started",
    ),
    pytest.param(
        make_pod(
            (waiting("PodInitializing"),),
            init_statuses=(running("proxy", ready=False, started=False),),
            sidecars=("proxy",),
            phase="Pending",
        ),
        "Init:0/1",
        id="sidecar-not-started",
    ),
    pytest.param(
        make_pod(
            (waiting("PodInitializing"),),
            init_statuses=(running("proxy"), running("migrate")),
            sidecars=("proxy",),
            phase="Pending",
        ),
        "Init:1/2",
        id="init-after-started-sidecar",
    ),
    pytest.param(
        make_pod(
            (running(),),
            init_statuses=(waiting("CrashLoopBackOff", "proxy"),),
            sidecars=("proxy",),
            conditions=(INITIALIZED,),
        ),
        "Init:CrashLoopBackOff",
        id="crashed-sidecar-of-initialized-pod-with-running-app",
    ),
    pytest.param(
        make_pod(
            (waiting("CrashLoopBackOff"),),
            init_statuses=(waiting("CrashLoopBackOff", "proxy"),),
            sidecars=("proxy",),
            conditions=(INITIALIZED,),
        ),
        "CrashLoopBackOff",
        id="initialized-pod-app-container-state-wins",
    ),
    # Deletion.
    pytest.param(
        make_pod((running(),), conditions=(READY,), deleting=True),
        "Terminating",
        id="terminating",
    ),
    pytest.param(
        make_pod((terminated(reason="Completed"),), phase="Succeeded", deleting=True),
        "Completed",
        id="finished-pod-being-deleted-keeps-status",
    ),
    pytest.param(
        make_pod((running(),), reason="NodeLost", deleting=True),
        "Unknown",
        id="node-lost-being-deleted",
    ),
]


@pytest.mark.parametrize(("pod", "expected"), STATUS_CASES)
def test_status_column(pod: Obj, expected: str) -> None:
    assert summarize(pod).status == expected
    assert pod_cells(pod, NOW)[2] == expected


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        pytest.param(make_pod((running(),)), "1/1", id="one-ready"),
        pytest.param(make_pod((running("a"), running("b", ready=False))), "1/2", id="one-of-two"),
        pytest.param(make_pod(phase="Pending", app_names=("a", "b")), "0/2", id="no-statuses"),
        pytest.param(
            make_pod((terminated(reason="Completed"),), phase="Succeeded"),
            "0/1",
            id="completed-is-not-ready",
        ),
        pytest.param(
            make_pod(
                (running(),),
                init_statuses=(terminated("migrate", reason="Completed"), running("proxy")),
                sidecars=("proxy",),
            ),
            "2/2",
            id="sidecar-counts-regular-init-does-not",
        ),
        pytest.param(
            make_pod(
                (waiting("PodInitializing"),),
                init_statuses=(running("proxy", ready=False, started=False),),
                sidecars=("proxy",),
                phase="Pending",
            ),
            "0/2",
            id="sidecar-not-started",
        ),
        pytest.param(
            make_pod(
                (running(),),
                init_statuses=(waiting("CrashLoopBackOff", "proxy"),),
                sidecars=("proxy",),
                conditions=(INITIALIZED,),
            ),
            "1/2",
            id="crashed-sidecar-of-initialized-pod",
        ),
    ],
)
def test_ready_column(pod: Obj, expected: str) -> None:
    assert pod_cells(pod, NOW)[1] == expected


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        pytest.param(make_pod((running(),)), "0", id="none"),
        pytest.param(
            make_pod((restarted(running(), 5, 120),)), "5 (2m ago)", id="with-last-restart"
        ),
        pytest.param(make_pod((restarted(running(), 2, None),)), "2", id="time-unknown"),
        pytest.param(
            make_pod((restarted(running("a"), 1, 3600), restarted(running("b"), 2, 90))),
            "3 (90s ago)",
            id="latest-of-all-containers",
        ),
        pytest.param(
            make_pod(
                (waiting("PodInitializing"),),
                init_statuses=(restarted(waiting("CrashLoopBackOff", "init-a"), 4, 300),),
                phase="Pending",
            ),
            "4 (5m ago)",
            id="init-restarts-while-initializing",
        ),
        pytest.param(
            make_pod(
                (running(),),
                init_statuses=(restarted(terminated("init-a", reason="Completed"), 4, 300),),
            ),
            "0",
            id="finished-init-restarts-forgotten",
        ),
        pytest.param(
            make_pod(
                (restarted(running(), 1, 600),),
                init_statuses=(restarted(running("proxy"), 2, 60),),
                sidecars=("proxy",),
            ),
            "3 (60s ago)",
            id="sidecar-restarts-count",
        ),
    ],
)
def test_restarts_column(pod: Obj, expected: str) -> None:
    assert pod_cells(pod, NOW)[3] == expected


def test_wide_cells() -> None:
    pod = make_pod((running(),))
    pod["spec"].update(
        nodeName="node-1",
        readinessGates=[{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}],
    )
    pod["status"].update(
        podIP="10.42.0.7",
        podIPs=[{"ip": "10.42.0.7"}, {"ip": "fd00::7"}],
        nominatedNodeName="node-2",
        conditions=[condition("example.com/lb"), condition("example.com/dns", "False")],
    )
    assert pod_cells(pod, NOW) == [
        "web",
        "1/1",
        "Running",
        "0",
        "60m",
        "10.42.0.7",
        "node-1",
        "node-2",
        "1/2",
    ]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param({}, "<none>", id="unset"),
        pytest.param({"podIPs": [{"ip": "10.0.0.1"}]}, "10.0.0.1", id="pod-ips-only"),
        pytest.param({"podIP": "10.0.0.2"}, "10.0.0.2", id="pod-ip-only"),
    ],
)
def test_ip_cell(status: Obj, expected: str) -> None:
    pod = make_pod()
    pod["status"].update(status)
    assert pod_cells(pod, NOW)[5] == expected


def test_unscheduled_pod_shows_none() -> None:
    cells = pod_cells(make_pod(phase="Pending"), NOW)
    assert cells[5:] == ["<none>", "<none>", "<none>", "<none>"]


def test_readiness_gate_without_condition_is_not_passed() -> None:
    pod = make_pod((running(),))
    pod["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}]
    assert pod_cells(pod, NOW)[8] == "0/1"


def test_pod_without_status() -> None:
    pod = {"metadata": {"name": "bare"}, "spec": {"containers": [{"name": "c"}]}}
    assert pod_cells(pod, NOW) == [
        "bare",
        "0/1",
        "",
        "0",
        "<unknown>",
        "<none>",
        "<none>",
        "<none>",
        "<none>",
    ]


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("Succeeded", [("Completed", "True", "Succeeded", "The pod has completed successfully.")]),
        ("Failed", [("Completed", "True", "Failed", "The pod failed.")]),
        ("Running", []),
    ],
)
def test_row_conditions_mark_finished_pods(
    phase: str, expected: list[tuple[str, str, str, str]]
) -> None:
    conditions = pod_row_conditions(make_pod(phase=phase))
    assert [(c["type"], c["status"], c["reason"], c["message"]) for c in conditions] == expected


def test_columns_as_kubernetes_defines_them() -> None:
    printer = printer_for("", "Pod")
    assert [(c.name, c.type, c.priority) for c in printer.columns] == [
        ("Name", "string", 0),
        ("Ready", "string", 0),
        ("Status", "string", 0),
        ("Restarts", "string", 0),
        ("Age", "string", 0),
        ("IP", "string", 1),
        ("Node", "string", 1),
        ("Nominated Node", "string", 1),
        ("Readiness Gates", "string", 1),
    ]
    assert printer.columns[0].format == "name"
    assert printer.conditions is pod_row_conditions
