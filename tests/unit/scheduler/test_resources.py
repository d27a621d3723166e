"""Pod requests as kube-scheduler counts them (resource.PodRequests)."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.scheduler.framework.resources import (
    DEFAULT_MEMORY_REQUEST,
    pod_non_zero_requests,
    pod_requests,
    resource_of,
)


def container(cpu: str | None = None, memory: str | None = None, **extra: Any) -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": "c", "resources": {"requests": requests}, **extra}


def pod(containers: list[dict], init: list[dict] | None = None, **spec: Any) -> dict:
    return {"spec": {"containers": containers, "initContainers": init or [], **spec}}


@pytest.mark.parametrize(
    ("spec", "cpu", "memory"),
    [
        # App containers add up.
        (pod([container("100m", "1Gi"), container("200m", "1Gi")]), 300, 2 << 30),
        # An init container heavier than the app containers sets the request.
        (pod([container("100m")], [container("1")]), 1000, 0),
        # A lighter one does not.
        (pod([container("2")], [container("1")]), 2000, 0),
        # A sidecar adds to the app containers, and to every init container after it.
        (
            pod(
                [container("1")],
                [container("500m", restartPolicy="Always"), container("800m")],
            ),
            1500,
            0,
        ),
        (
            pod(
                [container("100m")],
                [container("500m", restartPolicy="Always"), container("800m")],
            ),
            1300,
            0,
        ),
        # Overhead comes on top.
        (
            pod([container("1", "1Gi")], overhead={"cpu": "250m", "memory": "1Mi"}),
            1250,
            (1 << 30) + (1 << 20),
        ),
    ],
)
def test_pod_requests(spec: dict, cpu: int, memory: int) -> None:
    got = pod_requests(spec)
    assert (got.milli_cpu, got.memory) == (cpu, memory)


def test_scoring_counts_missing_requests_as_the_floors() -> None:
    got = pod_non_zero_requests(pod([container(), container("50m")]))
    assert (got.milli_cpu, got.memory) == (150, 2 * DEFAULT_MEMORY_REQUEST)
    assert pod_requests(pod([container(), container("50m")])).milli_cpu == 50


def test_node_allocatable_with_extended_resources() -> None:
    got = resource_of({"cpu": "3500m", "memory": "1Ki", "pods": "110", "example.com/gpu": "2"})
    assert (got.milli_cpu, got.memory, got.allowed_pod_number) == (3500, 1024, 110)
    assert got.scalar == {"example.com/gpu": 2}
