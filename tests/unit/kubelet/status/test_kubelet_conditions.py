"""The kubelet's pod conditions: which, in what order, with which reasons and messages, and
when their lastTransitionTime moves."""

from __future__ import annotations

from typing import Any

import pytest
from kubelet_status_builders import (
    EARLIER_TEXT,
    NOW,
    NOW_TEXT,
    exited,
    observed,
    pod,
    running,
    sandbox,
)

from kubelite.kubelet.status import ContainerRuntimeState, PodRuntimeState, generate_pod_status


def generate(p: dict[str, Any], o: Any, old: dict[str, Any] | None = None) -> dict[str, Any]:
    return generate_pod_status(p, o, now=NOW, old_status=old)


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def brief(c: dict[str, Any]) -> tuple[str, str, str]:
    return c["status"], c.get("reason", ""), c.get("message", "")


def test_the_kubelet_writes_its_conditions_in_kubernetes_order() -> None:
    status = generate(pod(["app"]), observed({"app": running("app")}))
    assert [c["type"] for c in status["conditions"]] == [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ]


def test_a_running_ready_pod_has_every_condition_true_without_reasons() -> None:
    status = generate(pod(["app"]), observed({"app": running("app")}))
    for c in status["conditions"]:
        assert c == {
            "type": c["type"],
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": NOW_TEXT,
        }


@pytest.mark.parametrize(
    ("sandbox_ready", "expected"), [(True, "True"), (False, "False"), (None, "False")]
)
def test_ready_to_start_containers_follows_the_sandbox(
    sandbox_ready: bool | None, expected: str
) -> None:
    status = generate(pod(["app"]), observed(sandbox_ready=sandbox_ready))
    assert conditions(status)["PodReadyToStartContainers"]["status"] == expected


def test_a_sandbox_without_an_ip_is_not_ready_to_start_containers_unless_host_network() -> None:
    no_ip = PodRuntimeState(sandboxes=(sandbox(ip=""),))
    assert conditions(generate(pod(["app"]), no_ip))["PodReadyToStartContainers"]["status"] == (
        "False"
    )
    host = pod(["app"], hostNetwork=True)
    assert conditions(generate(host, no_ip))["PodReadyToStartContainers"]["status"] == "True"


def test_containers_not_ready_names_the_unready_ones_in_spec_order() -> None:
    o = observed(
        {"b": running("b"), "c": ContainerRuntimeState(running("c"), readiness_probe=False)}
    )
    status = generate(pod(["c", "a", "b"]), o)
    expected = ("False", "ContainersNotReady", "containers with unready status: [c a]")
    assert brief(conditions(status)["ContainersReady"]) == expected
    assert brief(conditions(status)["Ready"]) == expected


def test_sidecars_count_among_the_containers_that_must_be_ready() -> None:
    o = observed(
        {
            "app": running("app"),
            "proxy": ContainerRuntimeState(running("proxy"), readiness_probe=False),
        }
    )
    status = generate(pod(["app"], sidecars=["proxy"]), o)
    assert brief(conditions(status)["ContainersReady"]) == (
        "False",
        "ContainersNotReady",
        "containers with unready status: [proxy]",
    )


def test_initialized_lists_the_init_containers_not_done() -> None:
    o = observed({"first": exited("first", 0), "second": running("second")})
    status = generate(pod(["app"], init=["first", "second", "third"]), o)
    assert brief(conditions(status)["Initialized"]) == (
        "False",
        "ContainersNotInitialized",
        "containers with incomplete status: [second third]",
    )


def test_a_sidecar_counts_as_initialized_once_started() -> None:
    spec = pod(["app"], init=["setup"], sidecars=["proxy"])
    starting = ContainerRuntimeState(running("proxy"), startup_probe=False)
    o = observed({"setup": exited("setup", 0), "proxy": starting})
    assert brief(conditions(generate(spec, o))["Initialized"]) == (
        "False",
        "ContainersNotInitialized",
        "containers with incomplete status: [proxy]",
    )
    o = observed({"setup": exited("setup", 0), "proxy": running("proxy")})
    assert conditions(generate(spec, o))["Initialized"]["status"] == "True"


def test_a_pod_stays_initialized_while_its_sidecar_restarts_after_the_apps_ran() -> None:
    spec = pod(["app"], sidecars=["proxy"])
    crashed = ContainerRuntimeState(exited("proxy", 1), waiting_reason="CrashLoopBackOff")
    status = generate(spec, observed({"proxy": crashed, "app": running("app")}))
    assert conditions(status)["Initialized"]["status"] == "True"
    assert status["phase"] == "Running"


def test_a_succeeded_pod_is_initialized_and_not_ready_with_pod_completed() -> None:
    o = observed({"app": exited("app", 0)}, sandbox_ready=False)
    status = generate(pod(["app"], restart_policy="Never"), o)
    assert status["phase"] == "Succeeded"
    c = conditions(status)
    assert brief(c["Initialized"]) == ("True", "PodCompleted", "")
    assert brief(c["Ready"]) == ("False", "PodCompleted", "")
    assert brief(c["ContainersReady"]) == ("False", "PodCompleted", "")


def test_a_failed_pod_is_not_ready_with_pod_failed() -> None:
    o = observed({"app": exited("app", 1)}, sandbox_ready=False)
    status = generate(pod(["app"], restart_policy="Never"), o)
    assert status["phase"] == "Failed"
    assert brief(conditions(status)["Ready"]) == ("False", "PodFailed", "")
    assert brief(conditions(status)["ContainersReady"]) == ("False", "PodFailed", "")


GATE = "example.com/load-balancer"


def gated(gate_status: str | None) -> dict[str, Any]:
    spec = pod(["app"], readinessGates=[{"conditionType": GATE}])
    if gate_status is not None:
        spec["status"]["conditions"] = [
            {"type": GATE, "status": gate_status, "lastTransitionTime": EARLIER_TEXT}
        ]
    return spec


def test_a_readiness_gate_without_its_condition_holds_ready_false() -> None:
    status = generate(gated(None), observed({"app": running("app")}))
    assert brief(conditions(status)["Ready"]) == (
        "False",
        "ReadinessGatesNotReady",
        f'corresponding condition of pod readiness gate "{GATE}" does not exist.',
    )
    assert conditions(status)["ContainersReady"]["status"] == "True"


def test_a_readiness_gate_whose_condition_is_false_holds_ready_false() -> None:
    status = generate(gated("False"), observed({"app": running("app")}))
    assert brief(conditions(status)["Ready"]) == (
        "False",
        "ReadinessGatesNotReady",
        f'the status of pod readiness gate "{GATE}" is not "True", but False',
    )


def test_a_readiness_gate_whose_condition_is_true_lets_the_pod_be_ready() -> None:
    status = generate(gated("True"), observed({"app": running("app")}))
    assert conditions(status)["Ready"]["status"] == "True"


def test_conditions_others_own_come_first_and_are_kept_as_they_are() -> None:
    spec = gated("True")
    spec["status"]["conditions"].append(
        {"type": "Ready", "status": "False", "lastTransitionTime": EARLIER_TEXT}
    )
    status = generate(spec, observed({"app": running("app")}))
    assert status["conditions"][0] == {
        "type": GATE,
        "status": "True",
        "lastTransitionTime": EARLIER_TEXT,
    }
    assert [c["type"] for c in status["conditions"]].count("Ready") == 1


def test_last_transition_time_is_kept_while_a_condition_holds_and_moves_when_it_flips() -> None:
    old = {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": EARLIER_TEXT},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": EARLIER_TEXT},
            {"type": "Initialized", "status": "True", "lastTransitionTime": EARLIER_TEXT},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": EARLIER_TEXT},
        ],
    }
    probing = ContainerRuntimeState(running("app"), readiness_probe=False)
    status = generate(pod(["app"], status=old), observed({"app": probing}))
    c = conditions(status)
    assert c["Ready"]["lastTransitionTime"] == NOW_TEXT
    assert c["ContainersReady"]["lastTransitionTime"] == NOW_TEXT
    assert c["Initialized"]["lastTransitionTime"] == EARLIER_TEXT
    assert c["PodScheduled"]["lastTransitionTime"] == EARLIER_TEXT
    assert c["PodReadyToStartContainers"]["lastTransitionTime"] == NOW_TEXT


def test_the_kubelets_own_last_status_decides_transition_times_over_the_api_servers() -> None:
    api = {"conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": EARLIER_TEXT}]}
    cached = {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "X"}]}
    status = generate(pod(["app"], status=api), observed({"app": running("app")}), cached)
    assert conditions(status)["Ready"]["lastTransitionTime"] == "X"


def test_the_status_and_the_kubelets_conditions_name_the_generation_synced() -> None:
    """KEP-5067 (GA in 1.35): the kubelet reports which spec generation its status reflects;
    conditions other writers own keep their own observedGeneration."""
    p = pod(["app"])
    p["metadata"]["generation"] = 3
    p["status"]["conditions"] = [
        {"type": "DisruptionTarget", "status": "True", "observedGeneration": 2}
    ]
    status = generate(p, observed({"app": running("app")}))
    assert status["observedGeneration"] == 3
    by_type = conditions(status)
    assert by_type["DisruptionTarget"]["observedGeneration"] == 2
    for name in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady"):
        assert by_type[name]["observedGeneration"] == 3
    assert by_type["PodScheduled"]["observedGeneration"] == 3


def test_a_pod_without_a_generation_gets_no_observed_generation() -> None:
    """A static pod's own object has no generation (the KEP leaves mirror pods unmarked)."""
    status = generate(pod(["app"]), observed({"app": running("app")}))
    assert "observedGeneration" not in status
    assert all("observedGeneration" not in c for c in status["conditions"])


def test_pod_level_resource_status_is_written_only_for_a_pod_that_sets_them() -> None:
    """PodStatus.resources and allocatedResources describe `spec.resources`; a pod without
    pod-level resources gets neither, even though the kubelet allocated its containers."""
    plain = pod(["app"])
    status = generate(plain, observed({"app": running("app")}, allocated_pod=plain))
    assert "resources" not in status and "allocatedResources" not in status
    sized = pod(["app"], resources={"requests": {"cpu": "100m"}, "limits": {"cpu": "200m"}})
    status = generate(sized, observed({"app": running("app")}, allocated_pod=sized))
    assert status["resources"]["limits"]["cpu"] == "200m"
    assert status["allocatedResources"] == {"cpu": "100m"}
