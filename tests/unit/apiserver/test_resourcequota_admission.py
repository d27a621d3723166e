"""ResourceQuota admission against the real API server: what it refuses, with Kubernetes'
messages, what it charges to the quota's status, and that concurrent creates cannot both take
the last of a quota. No quota controller runs here: each test writes the quota's status as
the controller would have."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from testcluster import TestCluster

from kubelite.api.resources import CONFIG_MAPS, PODS, SERVICES, Resource
from kubelite.client.errors import APIError

Obj = dict[str, Any]

QUOTAS = Resource("", "v1", "resourcequotas", kind="ResourceQuota")


def pod(name: str, cpu: str | None = "500m", *, limits: Obj | None = None) -> Obj:
    resources: Obj = {}
    if cpu is not None:
        resources["requests"] = {"cpu": cpu}
    if limits is not None:
        resources["limits"] = limits
    container = {"name": "app", "image": "busybox", "resources": resources}
    return {"metadata": {"name": name}, "spec": {"containers": [container]}}


async def make_quota(
    kube: TestCluster, name: str, hard: Obj, used: Obj | None = None, **spec: Any
) -> Obj:
    """A quota with the status the controller would give it: its limits, and `used`."""
    body = {"metadata": {"name": name}, "spec": {"hard": hard, **spec}}
    zero = {k: "0" for k in hard}
    body["status"] = {"hard": copy.deepcopy(hard), "used": {**zero, **(used or {})}}
    return await kube.create_with_status(QUOTAS, body)


async def used(kube: TestCluster, name: str) -> Obj:
    return dict((await kube.get(QUOTAS, name))["status"]["used"])


async def refusal(kube: TestCluster, resource: Resource, obj: Obj) -> APIError:
    with pytest.raises(APIError) as caught:
        await kube.create(resource, obj)
    assert caught.value.code == 403
    return caught.value


async def test_creates_are_charged_to_the_quota_status(kube: TestCluster) -> None:
    await make_quota(kube, "q", {"pods": "2", "requests.cpu": "1"})
    await kube.create(PODS, pod("a"))
    assert await used(kube, "q") == {"pods": "1", "requests.cpu": "500m"}
    await kube.create(PODS, pod("b"))
    assert await used(kube, "q") == {"pods": "2", "requests.cpu": "1"}


async def test_a_dry_run_is_checked_but_not_charged(kube: TestCluster) -> None:
    await make_quota(kube, "q", {"pods": "1"})
    await kube.client.create(PODS, pod("a"), namespace=kube.namespace, dry_run=True)
    assert await used(kube, "q") == {"pods": "0"}
    await make_quota(kube, "full", {"pods": "1"}, used={"pods": "1"})
    with pytest.raises(APIError) as caught:
        await kube.client.create(PODS, pod("b"), namespace=kube.namespace, dry_run=True)
    assert caught.value.code == 403


async def test_a_create_beyond_the_quota_is_refused_with_what_was_exceeded(
    kube: TestCluster,
) -> None:
    await make_quota(kube, "q", {"pods": "2"}, {"pods": "2"})
    error = await refusal(kube, PODS, pod("x"))
    assert error.message == (
        'pods "x" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2'
    )
    assert await used(kube, "q") == {"pods": "2"}


async def test_only_the_exceeded_resources_are_named(kube: TestCluster) -> None:
    await make_quota(kube, "q", {"pods": "5", "requests.cpu": "1"}, {"requests.cpu": "800m"})
    error = await refusal(kube, PODS, pod("x"))
    assert error.message.endswith(
        "exceeded quota: q, requested: requests.cpu=500m, used: requests.cpu=800m, "
        "limited: requests.cpu=1"
    )


async def test_a_container_without_a_tracked_compute_resource_is_refused(
    kube: TestCluster,
) -> None:
    await make_quota(kube, "compute", {"requests.cpu": "1", "limits.cpu": "2"})
    error = await refusal(kube, PODS, pod("x", cpu=None))
    assert error.message == (
        'pods "x" is forbidden: failed quota: compute: must specify limits.cpu for: app; '
        "requests.cpu for: app"
    )


async def test_a_quota_without_usage_for_a_limit_refuses_as_status_unknown(
    kube: TestCluster,
) -> None:
    body = {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "3", "requests.cpu": "1"}}}
    body["status"] = {"hard": {"pods": "3", "requests.cpu": "1"}, "used": {"pods": "0"}}
    await kube.create_with_status(QUOTAS, body)
    error = await refusal(kube, PODS, pod("x"))
    assert error.message == (
        'pods "x" is forbidden: status unknown for quota: q, resources: pods,requests.cpu'
    )


async def test_a_quota_the_controller_has_not_seen_limits_nothing_yet(kube: TestCluster) -> None:
    await kube.create(QUOTAS, {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "0"}}})
    await kube.create(PODS, pod("a"))
    assert (await kube.get(QUOTAS, "q"))["status"] == {}


async def test_scoped_quotas_count_only_the_pods_in_their_scope(kube: TestCluster) -> None:
    await make_quota(kube, "best-effort", {"pods": "1"}, scopes=["BestEffort"])
    await kube.create(PODS, pod("burstable-a"))
    await kube.create(PODS, pod("burstable-b"))
    assert await used(kube, "best-effort") == {"pods": "0"}
    await kube.create(PODS, pod("free", cpu=None))
    error = await refusal(kube, PODS, pod("over", cpu=None))
    assert "exceeded quota: best-effort" in error.message


async def test_object_counts_and_legacy_names_are_charged(kube: TestCluster) -> None:
    await make_quota(kube, "counts", {"configmaps": "1", "count/configmaps": "5"})
    await kube.create(CONFIG_MAPS, {"metadata": {"name": "one"}})
    assert await used(kube, "counts") == {"configmaps": "1", "count/configmaps": "1"}
    error = await refusal(kube, CONFIG_MAPS, {"metadata": {"name": "two"}})
    assert error.message == (
        'configmaps "two" is forbidden: exceeded quota: counts, requested: configmaps=1, '
        "used: configmaps=1, limited: configmaps=1"
    )


async def test_a_service_update_is_charged_what_it_adds(kube: TestCluster) -> None:
    await make_quota(kube, "svc", {"services": "5", "services.nodeports": "1"})
    created = await kube.create(
        SERVICES, {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    )
    assert await used(kube, "svc") == {"services": "1", "services.nodeports": "0"}
    created["spec"]["type"] = "NodePort"
    await kube.client.update(SERVICES, created)
    assert await used(kube, "svc") == {"services": "1", "services.nodeports": "1"}


async def test_concurrent_creates_cannot_both_take_the_last_of_a_quota(
    kube: TestCluster,
) -> None:
    await make_quota(kube, "q", {"pods": "3"})
    results = await asyncio.gather(
        *(kube.create(PODS, pod(f"p{i}")) for i in range(8)), return_exceptions=True
    )
    admitted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, APIError)]
    assert len(admitted) == 3
    assert len(refused) == 5
    assert all(e.code == 403 and "exceeded quota: q" in e.message for e in refused)
    assert await used(kube, "q") == {"pods": "3"}
