"""The QoS class of a pod, as ComputePodQOS decides it."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.qos import BEST_EFFORT, BURSTABLE, GUARANTEED, compute_qos_class, qos_class


def _container(
    requests: dict[str, str] | None = None, limits: dict[str, str] | None = None
) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": "c", "image": "busybox", "resources": resources}


def _pod(*containers: dict[str, Any], init: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": list(containers)}
    if init:
        spec["initContainers"] = init
    return {"spec": spec}


FULL = {"cpu": "500m", "memory": "128Mi"}


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (_pod(_container()), BEST_EFFORT),
        (_pod(_container(requests={"cpu": "0"})), BEST_EFFORT),
        (_pod(_container(requests={"ephemeral-storage": "1Gi"})), BEST_EFFORT),
        (_pod(_container(requests=FULL, limits=FULL)), GUARANTEED),
        (
            _pod(_container(requests=FULL, limits=FULL), _container(requests=FULL, limits=FULL)),
            GUARANTEED,
        ),
        (
            _pod(
                _container(requests={"cpu": "1"}, limits={"cpu": "1000m", "memory": "1Gi"}),
                init=None,
            ),
            BURSTABLE,
        ),
        (_pod(_container(requests={"cpu": "100m"})), BURSTABLE),
        (_pod(_container(limits={"cpu": "1"})), BURSTABLE),
        (_pod(_container(requests={"cpu": "250m", "memory": "128Mi"}, limits=FULL)), BURSTABLE),
        (_pod(_container(requests=FULL, limits=FULL), _container()), BURSTABLE),
        (
            _pod(
                _container(requests=FULL, limits=FULL),
                init=[_container(requests=FULL, limits=FULL)],
            ),
            GUARANTEED,
        ),
        (_pod(_container(), init=[_container(requests={"memory": "64Mi"})]), BURSTABLE),
    ],
)
def test_qos_class_follows_requests_and_limits(pod: dict[str, Any], expected: str) -> None:
    assert compute_qos_class(pod) == expected


def test_pod_level_resources_decide_the_class_as_their_gate_is_on_in_1_37() -> None:
    pod = _pod(_container())
    pod["spec"]["resources"] = {"requests": FULL, "limits": FULL}
    assert compute_qos_class(pod) == GUARANTEED


def test_the_stored_class_wins_over_a_recomputation() -> None:
    pod = _pod(_container())
    pod["status"] = {"qosClass": GUARANTEED}
    assert qos_class(pod) == GUARANTEED
