"""PodRequests and PodLimits (`kubelite.api.podresources`), as Kubernetes' component-helpers
count them, and the scheduler counting the same way in its own integers."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.podresources import pod_limits, pod_requests
from kubelite.api.quantity import Quantity
from kubelite.scheduler.framework.resources import pod_requests as scheduler_requests


def _c(cpu: str, *, sidecar: bool = False, key: str = "requests") -> Any:
    """A container asking for (or limited to) `cpu`; a sidecar restarts always."""
    container: dict[str, Any] = {"name": f"c{cpu}", "resources": {key: {"cpu": cpu}}}
    if sidecar:
        container["restartPolicy"] = "Always"
    return container


def _pod(containers: list[Any], inits: list[Any] | None = None, overhead: Any = None) -> Any:
    spec: dict[str, Any] = {"containers": containers, "initContainers": inits or []}
    if overhead:
        spec["overhead"] = overhead
    return {"spec": spec}


@pytest.mark.parametrize(
    ("pod", "cpu"),
    [
        # App containers add up.
        (_pod([_c("1"), _c("500m")]), "1500m"),
        # An init container only raises the total to its own needs.
        (_pod([_c("1")], [_c("3")]), "3"),
        (_pod([_c("2")], [_c("1")]), "2"),
        # A sidecar adds to the app containers...
        (_pod([_c("1")], [_c("1", sidecar=True)]), "2"),
        # ...and runs under the init containers after it, not those before it.
        (_pod([_c("1")], [_c("1", sidecar=True), _c("3")]), "4"),
        (_pod([_c("1")], [_c("3"), _c("1", sidecar=True)]), "3"),
        # The overhead comes on top.
        (_pod([_c("1")], overhead={"cpu": "250m"}), "1250m"),
    ],
)
def test_pod_requests(pod: Any, cpu: str) -> None:
    assert pod_requests(pod)["cpu"] == Quantity.from_json(cpu)
    assert scheduler_requests(pod).milli_cpu == Quantity.from_json(cpu).milli_value()


def test_limits_count_alike_and_take_the_overhead_only_where_something_limits() -> None:
    pod = _pod(
        [_c("1", key="limits")],
        [_c("1", sidecar=True, key="limits")],
        overhead={"cpu": "100m", "memory": "64Mi"},
    )
    limits = pod_limits(pod)
    assert limits["cpu"] == Quantity.from_json("2100m")
    assert "memory" not in limits
    assert pod_requests(pod)["memory"] == Quantity.from_json("64Mi")
