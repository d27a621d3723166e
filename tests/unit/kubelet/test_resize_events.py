"""The kubelet's resize events: reasons and messages as Kubernetes 1.37 writes them (the
expected strings are pkg/kubelet/events/resize_test.go's)."""

from __future__ import annotations

from kubelite.kubelet import resize_events as ev
from kubelite.kubelet.allocation.manager import AllocationManager


def resources(cpu_req: int = 0, cpu_lim: int = 0, mem_req: int = 0, mem_lim: int = 0) -> dict:
    """mkRequirements: millicores of CPU, bytes of memory; zero amounts are left out."""
    out: dict = {"requests": {}, "limits": {}}
    if cpu_req:
        out["requests"]["cpu"] = f"{cpu_req}m"
    if cpu_lim:
        out["limits"]["cpu"] = f"{cpu_lim}m"
    if mem_req:
        out["requests"]["memory"] = str(mem_req)
    if mem_lim:
        out["limits"]["memory"] = str(mem_lim)
    return out


def one_container() -> dict:
    return {"spec": {"containers": [{"name": "c0", "resources": resources(100, 100, 100, 100)}]}}


def several() -> dict:
    return {
        "spec": {
            "initContainers": [
                {"name": "c0", "restartPolicy": "Always", "resources": resources(100, 200)}
            ],
            "containers": [
                {"name": "c1", "resources": resources(mem_req=100, mem_lim=200)},
                {"name": "c2", "resources": resources(cpu_req=200, mem_req=100)},
            ],
        }
    }


SEVERAL = (
    '{"initContainers":[{"name":"c0","resources":{"limits":{"cpu":"200m"},'
    '"requests":{"cpu":"100m"}}}],"containers":[{"name":"c1","resources":{"limits":'
    '{"memory":"200"},"requests":{"memory":"100"}}},{"name":"c2","resources":{"requests":'
    '{"cpu":"200m","memory":"100"}}}]'
)


def test_completed_message() -> None:
    assert ev.completed_message(one_container(), 1) == (
        'Pod resize completed: {"containers":[{"name":"c0","resources":{"limits":'
        '{"cpu":"100m","memory":"100"},"requests":{"cpu":"100m","memory":"100"}}}],'
        '"generation":1}'
    )
    assert ev.completed_message(several(), 2) == f'Pod resize completed: {SEVERAL},"generation":2}}'
    best_effort = {"spec": {"containers": [{"name": "c0"}]}}
    assert ev.completed_message(best_effort, 3) == (
        'Pod resize completed: {"containers":[{"name":"c0","resources":{}}],"generation":3}'
    )


def test_started_and_error_messages() -> None:
    assert ev.started_message(several(), 2) == f'Pod resize started: {SEVERAL},"generation":2}}'
    assert ev.error_message(one_container(), 1, "some error occurred") == (
        'Pod resize error: {"containers":[{"name":"c0","resources":{"limits":'
        '{"cpu":"100m","memory":"100"},"requests":{"cpu":"100m","memory":"100"}}}],'
        '"generation":1,"error":"some error occurred"}'
    )


def test_pending_messages_and_reasons() -> None:
    message = ev.pending_message(
        several(), "Infeasible", "In-place resize of containers with swap is not supported", 2
    )
    assert message == (
        f'Pod resize Infeasible: {SEVERAL},"generation":2,'
        '"error":"In-place resize of containers with swap is not supported"}'
    )
    assert ev.pending_reason("Infeasible") == "ResizeInfeasible"
    assert ev.pending_reason("Deferred") == "ResizeDeferred"


def test_go_escapes_html_characters_in_the_json() -> None:
    assert ev.error_message(one_container(), 1, "a <b> & c").endswith(
        '"error":"a \\u003cb\\u003e \\u0026 c"}'
    )


def test_the_in_progress_condition_says_which_generation_completed() -> None:
    m = AllocationManager(None, capacity=lambda: {"cpu": "2"}, allocatable=lambda: {"cpu": "2"})
    pod = {"metadata": {"uid": "u", "generation": 3}, "spec": {"containers": []}}
    assert m.set_in_progress(pod)
    assert not m.set_in_progress(pod), "an unchanged condition is no news (no second event)"
    assert m.set_in_progress(pod, "Error", "boom"), "an error is"
    assert m.in_progress_generation("u") == 3
    assert m.clear_in_progress("u") and m.in_progress_generation("u") == 0
