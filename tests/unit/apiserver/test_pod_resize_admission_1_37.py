"""Resizes of Kubernetes 1.37 against the real API server: the pod's own resources through
`pods/resize`, LimitRanger and ResourceQuota on a resize, and the RestartContainer resize policy
a plain init container may no longer have."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from testcluster import TestCluster

from kubelite.api.resources import PODS, Resource
from kubelite.client.errors import APIError

Obj = dict[str, Any]

QUOTAS = Resource("", "v1", "resourcequotas", kind="ResourceQuota")
LIMIT_RANGES = Resource("", "v1", "limitranges", kind="LimitRange")


def amounts(cpu: str, memory: str = "64Mi") -> Obj:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}}


def container_pod(name: str = "p", cpu: str = "100m") -> Obj:
    container = {"name": "c", "image": "busybox", "resources": amounts(cpu)}
    return {"metadata": {"name": name}, "spec": {"containers": [container]}}


def pod_level_pod(name: str = "p", cpu: str = "200m", memory: str = "128Mi") -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {
            "resources": {"limits": {"cpu": cpu, "memory": memory}},
            "containers": [{"name": "c", "image": "busybox"}],
        },
    }


async def resize(kube: TestCluster, name: str, spec: Obj) -> Obj:
    return await kube.client.patch(
        PODS, name, {"spec": spec}, namespace=kube.namespace, subresource="resize"
    )


async def refused(kube: TestCluster, name: str, spec: Obj) -> APIError:
    with pytest.raises(APIError) as caught:
        await resize(kube, name, spec)
    return caught.value


# --- the pod's own resources --------------------------------------------------------------------


async def test_the_pods_own_cpu_and_memory_can_be_resized(kube: TestCluster) -> None:
    created = await kube.create(PODS, pod_level_pod())
    # Defaulting made the requests the limits: the pod is Guaranteed, and stays so.
    assert created["spec"]["resources"]["requests"] == {"cpu": "200m", "memory": "128Mi"}
    resized = await resize(kube, "p", {"resources": amounts("400m", "256Mi")})
    assert resized["spec"]["resources"] == amounts("400m", "256Mi")
    assert resized["metadata"]["generation"] == created["metadata"]["generation"] + 1


async def test_only_the_pods_cpu_and_memory_may_change(kube: TestCluster) -> None:
    await kube.create(PODS, pod_level_pod())
    wanted = amounts("200m", "128Mi")
    wanted["limits"]["hugepages-2Mi"] = "2Mi"
    wanted["requests"]["hugepages-2Mi"] = "2Mi"
    error = await refused(kube, "p", {"resources": wanted})
    assert error.code == 422
    assert "spec: Forbidden: only cpu and memory resources are mutable" in error.message


async def test_a_resize_of_the_pods_own_resources_keeps_its_qos_class(kube: TestCluster) -> None:
    await kube.create(PODS, pod_level_pod())
    error = await refused(kube, "p", {"resources": {"limits": {"cpu": "400m"}}})
    assert error.code == 422
    assert "Pod QOS Class may not change as a result of resizing" in error.message


# --- LimitRanger ------------------------------------------------------------------------------


async def test_limit_ranger_checks_a_resize_against_the_container_bounds(
    kube: TestCluster,
) -> None:
    await kube.create(PODS, container_pod())
    await kube.create(
        LIMIT_RANGES,
        {
            "metadata": {"name": "bounds"},
            "spec": {"limits": [{"type": "Container", "max": {"cpu": "500m"}}]},
        },
    )
    error = await refused(kube, "p", {"containers": [{"name": "c", "resources": amounts("800m")}]})
    assert (error.code, error.message) == (
        403,
        'pods "p" is forbidden: maximum cpu usage per Container is 500m, but limit is 800m',
    )
    resized = await resize(kube, "p", {"containers": [{"name": "c", "resources": amounts("400m")}]})
    assert resized["spec"]["containers"][0]["resources"] == amounts("400m")


async def test_limit_ranger_checks_the_pods_own_resources_against_pod_bounds(
    kube: TestCluster,
) -> None:
    await kube.create(PODS, pod_level_pod())
    await kube.create(
        LIMIT_RANGES,
        {
            "metadata": {"name": "bounds"},
            "spec": {"limits": [{"type": "Pod", "max": {"memory": "200Mi"}}]},
        },
    )
    error = await refused(kube, "p", {"resources": amounts("400m", "256Mi")})
    assert (error.code, error.message) == (
        403,
        'pods "p" is forbidden: maximum memory usage per Pod is 200Mi, but limit is 256Mi',
    )


async def test_a_resize_gets_the_defaults_without_the_annotation(kube: TestCluster) -> None:
    """LimitRanger mutates a resize too; Kubernetes' resize strategy then drops its note."""
    body = container_pod()
    body["spec"]["containers"].append({"name": "side", "image": "busybox"})
    await kube.create(PODS, body)
    await kube.create(
        LIMIT_RANGES,
        {
            "metadata": {"name": "defaults"},
            "spec": {"limits": [{"type": "Container", "defaultRequest": {"cpu": "10m"}}]},
        },
    )
    resized = await resize(kube, "p", {"containers": [{"name": "c", "resources": amounts("200m")}]})
    assert resized["spec"]["containers"][1]["resources"] == {"requests": {"cpu": "10m"}}
    assert "kubernetes.io/limit-ranger" not in (resized["metadata"].get("annotations") or {})


# --- ResourceQuota ------------------------------------------------------------------------------


async def make_quota(kube: TestCluster, hard: Obj, used: Obj) -> None:
    body = {
        "metadata": {"name": "q"},
        "spec": {"hard": hard},
        "status": {"hard": copy.deepcopy(hard), "used": used},
    }
    await kube.create_with_status(QUOTAS, body)


async def quota_used(kube: TestCluster) -> Obj:
    return dict((await kube.get(QUOTAS, "q"))["status"]["used"])


async def test_a_resize_is_charged_what_it_adds(kube: TestCluster) -> None:
    await kube.create(PODS, container_pod(cpu="100m"))
    await make_quota(kube, {"requests.cpu": "300m"}, {"requests.cpu": "100m"})
    await resize(kube, "p", {"containers": [{"name": "c", "resources": amounts("200m")}]})
    assert await quota_used(kube) == {"requests.cpu": "200m"}
    error = await refused(kube, "p", {"containers": [{"name": "c", "resources": amounts("400m")}]})
    assert (error.code, error.message) == (
        403,
        'pods "p" is forbidden: exceeded quota: q, requested: requests.cpu=200m, '
        "used: requests.cpu=200m, limited: requests.cpu=300m",
    )
    # A shrink adds nothing: it is not refused, and what it frees the controller gives back.
    await resize(kube, "p", {"containers": [{"name": "c", "resources": amounts("50m")}]})
    assert await quota_used(kube) == {"requests.cpu": "200m"}


async def test_a_pod_level_resize_is_charged_too(kube: TestCluster) -> None:
    await kube.create(PODS, pod_level_pod())
    await make_quota(kube, {"limits.memory": "200Mi"}, {"limits.memory": "128Mi"})
    error = await refused(kube, "p", {"resources": amounts("400m", "256Mi")})
    assert error.message == (
        'pods "p" is forbidden: exceeded quota: q, requested: limits.memory=128Mi, '
        "used: limits.memory=128Mi, limited: limits.memory=200Mi"
    )


# --- init containers' resize policy ----------------------------------------------------------


def with_init(restart_policy: str | None, resize_restart: str) -> Obj:
    body = container_pod()
    init: Obj = {
        "name": "setup",
        "image": "busybox",
        "resizePolicy": [{"resourceName": "memory", "restartPolicy": resize_restart}],
    }
    if restart_policy:
        init["restartPolicy"] = restart_policy
    body["spec"]["initContainers"] = [init]
    return body


async def test_a_plain_init_container_may_not_be_restarted_on_resize(kube: TestCluster) -> None:
    with pytest.raises(APIError) as caught:
        await kube.create(PODS, with_init(None, "RestartContainer"))
    assert caught.value.code == 422
    assert caught.value.message == (
        'Pod "p" is invalid: spec.initContainers[0].resizePolicy: Invalid value: '
        "\"RestartContainer\": must be 'NotRequired' for init containers without "
        "restartPolicy=Always"
    )
    # NotRequired, or a sidecar, is fine.
    await kube.create(PODS, with_init(None, "NotRequired") | {"metadata": {"name": "q"}})
    await kube.create(PODS, with_init("Always", "RestartContainer") | {"metadata": {"name": "r"}})
