"""ValidatePodResize: the field errors of a refused resize, as Kubernetes 1.37 words them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from kubelite.api.strategies.pod_resize import PodResizeStrategy
from kubelite.api.strategies.pods import PodStrategy

Pod = dict[str, Any]
PODS = PodStrategy()
RESIZE = PodResizeStrategy()


def _resources(cpu: str = "100m", memory: str = "64Mi") -> dict[str, Any]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}}


def _stored(pod_spec: dict[str, Any] | None = None, **metadata: Any) -> Pod:
    pod: Pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "resourceVersion": "3", **metadata},
        "spec": pod_spec
        or {"containers": [{"name": "c", "image": "nginx", "resources": _resources()}]},
    }
    PODS.default(pod)
    PODS.prepare_for_create(pod)
    return pod


def _problems(stored: Pod, change: Callable[[Pod], None]) -> list[str]:
    body = copy.deepcopy(stored)
    change(body)
    RESIZE.default(body)
    RESIZE.prepare_for_update(body, stored)
    return [str(e) for e in RESIZE.validate_update(body, stored)]


def _container(pod: Pod, i: int = 0, key: str = "containers") -> dict[str, Any]:
    container: dict[str, Any] = pod["spec"][key][i]
    return container


def test_cpu_and_memory_may_grow_and_shrink() -> None:
    stored = _stored()

    def change(pod: Pod) -> None:
        _container(pod)["resources"] = _resources(cpu="1", memory="32Mi")

    assert _problems(stored, change) == []


def test_equal_quantities_in_other_spellings_are_no_change() -> None:
    stored = _stored()

    def change(pod: Pod) -> None:
        _container(pod)["resources"] = _resources(cpu="0.1", memory="67108864")

    assert _problems(stored, change) == []


def test_a_change_of_qos_class_is_refused() -> None:
    stored = _stored()

    def change(pod: Pod) -> None:
        _container(pod)["resources"]["requests"]["cpu"] = "50m"

    assert _problems(stored, change) == [
        'spec: Invalid value: "Guaranteed": Pod QOS Class may not change as a result of resizing'
    ]


def test_a_best_effort_pod_may_not_gain_requests() -> None:
    stored = _stored({"containers": [{"name": "c", "image": "nginx"}]})

    def change(pod: Pod) -> None:
        _container(pod)["resources"] = {"requests": {"cpu": "100m"}}

    assert _problems(stored, change) == [
        'spec: Invalid value: "BestEffort": Pod QOS Class may not change as a result of resizing'
    ]


def test_resources_other_than_cpu_and_memory_are_immutable() -> None:
    stored = _stored()

    def change(pod: Pod) -> None:
        _container(pod)["resources"]["requests"]["ephemeral-storage"] = "1Gi"

    assert _problems(stored, change) == [
        "spec: Forbidden: only cpu and memory resources are mutable"
    ]


def test_the_resize_policy_is_immutable() -> None:
    stored = _stored()

    def change(pod: Pod) -> None:
        policy = [{"resourceName": "memory", "restartPolicy": "RestartContainer"}]
        _container(pod)["resizePolicy"] = policy

    assert _problems(stored, change) == [
        "spec: Forbidden: only cpu and memory resources are mutable"
    ]


def test_requests_and_limits_may_not_be_removed() -> None:
    stored = _stored(
        {
            "containers": [
                {
                    "name": "c",
                    "image": "nginx",
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "64Mi"},
                        "limits": {"memory": "128Mi"},
                    },
                }
            ]
        }
    )

    def change(pod: Pod) -> None:
        _container(pod)["resources"] = {"requests": {"cpu": "100m", "memory": "64Mi"}}

    assert _problems(stored, change) == [
        "spec.containers[0].resources.limits: Forbidden: resource limits cannot be removed"
    ]

    def drop_request(pod: Pod) -> None:
        del _container(pod)["resources"]["requests"]["cpu"]

    assert _problems(stored, drop_request) == [
        "spec.containers[0].resources.requests: Forbidden: resource requests cannot be removed"
    ]


@pytest.mark.parametrize("policy", ["NotRequired", "RestartContainer", None])
def test_memory_limits_may_shrink_whatever_the_resize_policy(policy: str | None) -> None:
    # Forbidden with NotRequired in 1.33 and 1.34; allowed since kubernetes#133012.
    container: dict[str, Any] = {
        "name": "c",
        "image": "nginx",
        "resources": {"requests": {"memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    }
    if policy:
        container["resizePolicy"] = [{"resourceName": "memory", "restartPolicy": policy}]
    stored = _stored({"containers": [container]})

    def change(pod: Pod) -> None:
        _container(pod)["resources"]["limits"]["memory"] = "128Mi"

    assert _problems(stored, change) == []


def test_a_memory_limit_may_be_added() -> None:
    stored = _stored(
        {
            "containers": [
                {"name": "c", "image": "nginx", "resources": {"requests": {"memory": "64Mi"}}}
            ]
        }
    )

    def change(pod: Pod) -> None:
        _container(pod)["resources"]["limits"] = {"memory": "128Mi"}

    assert _problems(stored, change) == []


def test_sidecars_resize_and_may_change_only_cpu_and_memory() -> None:
    sidecar = {
        "name": "log",
        "image": "busybox",
        "restartPolicy": "Always",
        "resources": _resources(),
    }
    stored = _stored(
        {
            "initContainers": [sidecar],
            "containers": [{"name": "c", "image": "nginx", "resources": _resources()}],
        }
    )

    def grow(pod: Pod) -> None:
        _container(pod, key="initContainers")["resources"] = _resources(cpu="200m")

    assert _problems(stored, grow) == []

    def other(pod: Pod) -> None:
        _container(pod, key="initContainers")["resources"]["limits"]["ephemeral-storage"] = "1Gi"

    assert _problems(stored, other) == [
        "spec: Forbidden: only cpu and memory resources for sidecar containers are mutable"
    ]


def test_non_sidecar_init_containers_resize_in_1_37() -> None:
    # InPlacePodVerticalScalingInitContainers: beta on in 1.36, GA and locked in 1.37.
    init = {"name": "setup", "image": "busybox", "resources": _resources()}
    stored = _stored(
        {
            "initContainers": [init],
            "containers": [{"name": "c", "image": "nginx", "resources": _resources()}],
        }
    )

    def grow(pod: Pod) -> None:
        _container(pod, key="initContainers")["resources"] = _resources(cpu="300m")

    assert _problems(stored, grow) == []

    def remove(pod: Pod) -> None:
        del _container(pod, key="initContainers")["resources"]["limits"]

    assert _problems(stored, remove) == [
        'spec: Invalid value: "Guaranteed": Pod QOS Class may not change as a result of resizing',
        "spec.initContainers[0].resources.limits: Forbidden: resource limits cannot be removed",
    ]


def test_static_pods_cannot_be_resized() -> None:
    stored = _stored(annotations={"kubernetes.io/config.mirror": "abc"})
    stored["spec"]["nodeName"] = "node-a"

    def change(pod: Pod) -> None:
        _container(pod)["resources"] = _resources(cpu="200m")

    assert _problems(stored, change) == ["[]: Forbidden: static pods cannot be resized"]


def test_windows_pods_cannot_be_resized() -> None:
    stored = _stored(
        {
            "os": {"name": "windows"},
            "containers": [{"name": "c", "image": "nginx", "resources": _resources()}],
        }
    )

    def change(pod: Pod) -> None:
        _container(pod)["resources"] = _resources(cpu="200m")

    assert _problems(stored, change) == ["[]: Forbidden: windows pods cannot be resized"]


def test_a_running_container_without_actual_resources_means_no_resize_support() -> None:
    stored = _stored()
    running = {"name": "c", "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}
    stored["status"]["containerStatuses"] = [running]

    def change(pod: Pod) -> None:
        _container(pod)["resources"] = _resources(cpu="200m")

    assert _problems(stored, change) == [
        "spec: Forbidden: Pod running on node without support for resize"
    ]
    running["resources"] = _resources()
    assert _problems(stored, change) == []


def test_the_new_spec_is_validated_as_any_pod_spec() -> None:
    stored = _stored()

    def change(pod: Pod) -> None:
        resources = _container(pod)["resources"]
        resources["requests"]["cpu"] = "2"
        resources["limits"]["cpu"] = "1"

    problems = _problems(stored, change)
    assert problems[0] == (
        'spec.containers[0].resources.requests: Invalid value: "2": '
        "must be less than or equal to cpu limit of 1"
    )
