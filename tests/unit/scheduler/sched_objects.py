"""Pods and nodes for scheduler tests, as the API would hand them over."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def make_pod(
    name: str,
    *,
    cpu: str | None = None,
    memory: str | None = None,
    node: str = "",
    priority: int | None = None,
    namespace: str = "default",
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> Obj:
    requests = {}
    if cpu is not None:
        requests["cpu"] = cpu
    if memory is not None:
        requests["memory"] = memory
    container: Obj = {"name": "c", "image": "busybox"}
    if requests:
        container["resources"] = {"requests": requests}
    body: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{namespace}-{name}",
            "labels": labels or {},
        },
        "spec": {"containers": [container], "schedulerName": "default-scheduler", **spec},
        "status": {"phase": "Pending"},
    }
    if node:
        body["spec"]["nodeName"] = node
    if priority is not None:
        body["spec"]["priority"] = priority
    return body


def make_node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> Obj:
    allocatable = {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {"capacity": dict(allocatable), "allocatable": allocatable},
    }
