"""The Pod readers every component shares (`kubelite.api.pods`): restart policies, sidecars and
the containers in the order they start."""

from __future__ import annotations

from kubelite.api import pods as podutil

SPEC = {
    "initContainers": [
        {"name": "setup"},
        {"name": "proxy", "restartPolicy": "Always"},
        {"name": "migrate"},
        {"name": "logs", "restartPolicy": "Always"},
    ],
    "containers": [{"name": "app"}, {"name": "worker"}],
}


def test_the_restart_policy_is_always_unless_set() -> None:
    assert podutil.restart_policy({}) == podutil.RESTART_POLICY_ALWAYS
    assert podutil.restart_policy({"restartPolicy": "Never"}) == podutil.RESTART_POLICY_NEVER


def test_a_sidecar_is_an_init_container_that_restarts_always() -> None:
    assert [c["name"] for c in podutil.sidecars(SPEC)] == ["proxy", "logs"]
    assert podutil.is_restartable_init_container({"restartPolicy": "Always"})
    assert not podutil.is_restartable_init_container({"restartPolicy": "OnFailure"})
    assert not podutil.is_restartable_init_container({})


def test_containers_come_in_the_order_they_start() -> None:
    names = [c["name"] for c in podutil.all_containers(SPEC)]
    assert names == ["setup", "proxy", "migrate", "logs", "app", "worker"]
    assert list(podutil.all_containers({})) == []


def test_status_parts_are_read_as_pointers() -> None:
    status = {"name": "app", "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 1}}}
    assert podutil.state_of(status, "running") == {}
    assert podutil.state_of(status, "waiting") is None
    assert podutil.last_terminated(status) == {"exitCode": 1}
    assert podutil.find_status([status], "app") is status
    assert podutil.find_status([status], "other") is None


def test_a_pod_is_ready_when_its_ready_condition_is_true() -> None:
    def pod(*conditions: dict[str, str]) -> dict[str, object]:
        return {"status": {"conditions": list(conditions)}}

    assert podutil.is_pod_ready(pod({"type": "Ready", "status": "True"}))
    assert not podutil.is_pod_ready(pod({"type": "Ready", "status": "False"}))
    assert not podutil.is_pod_ready(pod({"type": "ContainersReady", "status": "True"}))
    assert not podutil.is_pod_ready({})
    assert podutil.ready_condition(pod({"type": "Ready", "status": "True"})) == {
        "type": "Ready",
        "status": "True",
    }
