"""A plain init container's RestartContainer resize policy (refused since 1.36,
kubernetes#137458), and the ratchet that lets a pod stored with one be updated and resized."""

from __future__ import annotations

import copy
from typing import Any

from kubelite.api.strategies.pod_resize import PodResizeStrategy
from kubelite.api.strategies.pods import PodStrategy
from kubelite.api.validation.pods.init_resize_policy import MESSAGE

Pod = dict[str, Any]
PODS = PodStrategy()
REFUSAL = 'spec.initContainers[0].resizePolicy: Invalid value: "RestartContainer": ' + MESSAGE


def _pod(init_restart: str | None = None, resize_restart: str = "RestartContainer") -> Pod:
    init: Pod = {
        "name": "setup",
        "image": "busybox",
        "resizePolicy": [{"resourceName": "cpu", "restartPolicy": resize_restart}],
    }
    if init_restart:
        init["restartPolicy"] = init_restart
    resources = {"requests": {"cpu": "100m"}, "limits": {"cpu": "100m"}}
    pod: Pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "resourceVersion": "3"},
        "spec": {
            "initContainers": [init],
            "containers": [{"name": "c", "image": "nginx", "resources": resources}],
        },
    }
    PODS.default(pod)
    PODS.prepare_for_create(pod)
    return pod


def _create_problems(pod: Pod) -> list[str]:
    return [str(e) for e in PODS.validate(pod)]


def test_a_plain_init_container_may_not_ask_for_a_restart_on_resize() -> None:
    assert REFUSAL in _create_problems(_pod())
    assert _create_problems(_pod(resize_restart="NotRequired")) == []
    assert _create_problems(_pod(init_restart="Always")) == []


def test_a_pod_stored_with_one_may_still_be_updated() -> None:
    stored = _pod()
    updated = copy.deepcopy(stored)
    updated["metadata"]["labels"] = {"app": "web"}
    PODS.prepare_for_update(updated, stored)
    assert [str(e) for e in PODS.validate_update(updated, stored)] == []


def test_a_pod_stored_with_one_may_still_be_resized() -> None:
    stored = _pod()
    stored["spec"]["nodeName"] = ""
    resize = PodResizeStrategy()
    body = copy.deepcopy(stored)
    body["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "200m"},
        "limits": {"cpu": "200m"},
    }
    resize.default(body)
    resize.prepare_for_update(body, stored)
    assert [str(e) for e in resize.validate_update(body, stored)] == []


def test_an_update_that_adds_one_is_refused() -> None:
    stored = _pod(resize_restart="NotRequired")
    updated = copy.deepcopy(stored)
    updated["spec"]["initContainers"][0]["resizePolicy"][0]["restartPolicy"] = "RestartContainer"
    PODS.prepare_for_update(updated, stored)
    assert REFUSAL in [str(e) for e in PODS.validate_update(updated, stored)]
