"""The pods/resize strategy: what a resize body may change, and the generation it bumps."""

from __future__ import annotations

import copy
from typing import Any

from kubelite.api.strategies.pod_resize import PodResizeStrategy
from kubelite.api.strategies.pods import PodStrategy

Pod = dict[str, Any]
PODS = PodStrategy()
RESIZE = PodResizeStrategy()

GUARANTEED = {
    "requests": {"cpu": "100m", "memory": "64Mi"},
    "limits": {"cpu": "100m", "memory": "64Mi"},
}


def _stored(**spec: Any) -> Pod:
    """A pod as the store holds it after its creation, with a status the kubelet wrote."""
    pod: Pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "0b1c",
            "resourceVersion": "7",
            "labels": {"app": "web"},
            "annotations": {"note": "kept"},
            "finalizers": ["example.com/hold"],
        },
        "spec": {
            "containers": [{"name": "c", "image": "nginx", "resources": copy.deepcopy(GUARANTEED)}],
            "nodeName": "node-a",
            **spec,
        },
    }
    PODS.default(pod)
    PODS.prepare_for_create(pod)
    pod["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    return pod


def _resized(stored: Pod, change: Any) -> Pod:
    """The body a client sends, changed by `change`, through the resize strategy."""
    body = copy.deepcopy(stored)
    change(body)
    RESIZE.default(body)
    RESIZE.prepare_for_update(body, stored)
    return body


def _set_cpu(value: str) -> Any:
    def change(pod: Pod) -> None:
        resources = pod["spec"]["containers"][0]["resources"]
        resources["requests"]["cpu"] = resources["limits"]["cpu"] = value

    return change


def test_a_resize_changes_the_resources_and_bumps_the_generation() -> None:
    stored = _stored()
    resized = _resized(stored, _set_cpu("200m"))
    assert resized["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "200m"
    assert resized["metadata"]["generation"] == stored["metadata"]["generation"] + 1
    assert RESIZE.validate_update(resized, stored) == []


def test_a_resize_that_changes_nothing_keeps_the_generation() -> None:
    stored = _stored()
    resized = _resized(stored, _set_cpu("100m"))
    assert resized["metadata"]["generation"] == stored["metadata"]["generation"]


def test_everything_but_resources_and_resize_policy_is_put_back_silently() -> None:
    stored = _stored()

    def change(pod: Pod) -> None:
        _set_cpu("300m")(pod)
        container = pod["spec"]["containers"][0]
        container["image"] = "nginx:2"
        container["resizePolicy"] = [{"resourceName": "cpu", "restartPolicy": "NotRequired"}]
        pod["spec"]["activeDeadlineSeconds"] = 30
        pod["spec"]["nodeName"] = "node-b"
        pod["metadata"]["labels"] = {"app": "other"}
        pod["metadata"]["annotations"] = {}
        pod["metadata"]["finalizers"] = []
        pod["status"] = {"phase": "Failed", "qosClass": "BestEffort"}

    resized = _resized(stored, change)
    container = resized["spec"]["containers"][0]
    assert container["image"] == "nginx"
    assert container["resources"]["requests"]["cpu"] == "300m"
    assert container["resizePolicy"] == [{"resourceName": "cpu", "restartPolicy": "NotRequired"}]
    assert "activeDeadlineSeconds" not in resized["spec"]
    assert resized["spec"]["nodeName"] == "node-a"
    assert resized["metadata"]["labels"] == {"app": "web"}
    assert resized["metadata"]["annotations"] == {"note": "kept"}
    assert resized["metadata"]["finalizers"] == ["example.com/hold"]
    assert resized["status"] == stored["status"]


def test_a_container_without_resources_in_the_body_asks_for_none() -> None:
    # Go's zero ResourceRequirements: the stored requests and limits are removed, and refused.
    stored = _stored()
    resized = _resized(stored, lambda pod: pod["spec"]["containers"][0].pop("resources"))
    assert resized["spec"]["containers"][0]["resources"] == {}
    problems = [str(e) for e in RESIZE.validate_update(resized, stored)]
    assert (
        "spec.containers[0].resources.requests: Forbidden: resource requests cannot be removed"
        in problems
    )
    assert (
        "spec.containers[0].resources.limits: Forbidden: resource limits cannot be removed"
        in problems
    )


def test_init_container_resources_change_too() -> None:
    stored = _stored(
        initContainers=[
            {
                "name": "setup",
                "image": "busybox",
                "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "100m"}},
            }
        ]
    )

    def change(pod: Pod) -> None:
        init = pod["spec"]["initContainers"][0]
        init["resources"]["requests"]["cpu"] = "50m"
        init["image"] = "busybox:2"

    resized = _resized(stored, change)
    init = resized["spec"]["initContainers"][0]
    assert init["resources"]["requests"]["cpu"] == "50m"
    assert init["image"] == "busybox"


def test_pod_level_resources_are_taken_from_the_body() -> None:
    # InPlacePodLevelResourcesVerticalScaling is on in 1.37: dropNonResizeUpdates keeps them.
    stored = _stored()
    # Set after creation: whether a create keeps them is PodLevelResources' business.
    stored["spec"]["resources"] = {"limits": {"cpu": "1"}}

    def change(pod: Pod) -> None:
        pod["spec"]["resources"] = {"limits": {"cpu": "2"}}

    resized = _resized(stored, change)
    assert resized["spec"]["resources"]["limits"] == {"cpu": "2"}


def test_an_added_container_leaves_the_body_for_validation_to_refuse() -> None:
    stored = _stored()

    def change(pod: Pod) -> None:
        extra = {"name": "extra", "image": "nginx", "resources": copy.deepcopy(GUARANTEED)}
        pod["spec"]["containers"].append(extra)

    resized = _resized(stored, change)
    assert [c["name"] for c in resized["spec"]["containers"]] == ["c", "extra"]
    assert [str(e) for e in RESIZE.validate_update(resized, stored)] == [
        "spec: Forbidden: only cpu and memory resources are mutable"
    ]


def test_a_renamed_container_is_refused() -> None:
    stored = _stored()
    resized = _resized(stored, lambda pod: pod["spec"]["containers"][0].update(name="d"))
    assert resized["spec"]["containers"][0]["name"] == "d"
    assert "spec: Forbidden: only cpu and memory resources are mutable" in [
        str(e) for e in RESIZE.validate_update(resized, stored)
    ]


def test_the_pod_strategy_still_refuses_a_resource_change_through_an_ordinary_update() -> None:
    stored = _stored()
    body = copy.deepcopy(stored)
    _set_cpu("200m")(body)
    PODS.default(body)
    PODS.prepare_for_update(body, stored)
    [problem] = PODS.validate_update(body, stored)
    assert str(problem).startswith(
        "spec: Forbidden: pod updates may not change fields other than "
        "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
        "`spec.tolerations` (only additions to existing tolerations),"
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
        "negative)\n"
    )
