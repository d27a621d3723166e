"""The resource quota controller against the real API server: a quota's status gets its limits
and the namespace's usage, and usage goes down again when what it counted is deleted or
finishes, or the limits change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from testcluster import TestCluster, wait_for

from kubelite.api.resources import DEPLOYMENTS, PODS, SERVICES
from kubelite.controllers.resourcequota import RESOURCE_QUOTAS, ResourceQuotaController

Obj = dict[str, Any]


def pod(name: str, cpu: str = "250m", **spec: Any) -> Obj:
    container = {"name": "app", "image": "busybox", "resources": {"requests": {"cpu": cpu}}}
    return {"metadata": {"name": name}, "spec": {"containers": [container], **spec}}


def deployment(name: str) -> Obj:
    labels = {"app": name}
    template = {"metadata": {"labels": labels}, "spec": pod(name)["spec"]}
    return {
        "metadata": {"name": name},
        "spec": {"replicas": 0, "selector": {"matchLabels": labels}, "template": template},
    }


@pytest.fixture
async def controller(kube: TestCluster) -> AsyncIterator[ResourceQuotaController]:
    controller = ResourceQuotaController(kube.client)
    task = asyncio.create_task(controller.run())
    try:
        yield controller
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await controller.informers.stop()


async def status_becomes(kube: TestCluster, name: str, hard: Obj, used: Obj) -> None:
    async def reached() -> bool:
        status = (await kube.get(RESOURCE_QUOTAS, name)).get("status") or {}
        return status.get("hard") == hard and status.get("used") == used

    await wait_for(reached, what=f"quota {name} to have hard {hard} and used {used}")


async def test_a_new_quota_gets_its_limits_and_the_namespace_usage(
    kube: TestCluster, controller: ResourceQuotaController
) -> None:
    await kube.create(PODS, pod("a"))
    await kube.create(PODS, pod("b", cpu="1"))
    hard = {"pods": "10", "requests.cpu": "4", "cpu": "4", "count/pods": "10", "services": "2"}
    await kube.create(RESOURCE_QUOTAS, {"metadata": {"name": "q"}, "spec": {"hard": hard}})
    used = {"pods": "2", "requests.cpu": "1250m", "cpu": "1250m", "count/pods": "2"}
    await status_becomes(kube, "q", hard, {**used, "services": "0"})


async def test_deleting_a_pod_gives_its_quota_back(
    kube: TestCluster, controller: ResourceQuotaController
) -> None:
    hard = {"pods": "2"}
    await kube.create(RESOURCE_QUOTAS, {"metadata": {"name": "q"}, "spec": {"hard": hard}})
    await status_becomes(kube, "q", hard, {"pods": "0"})
    await kube.create(PODS, pod("a"))
    await kube.create(PODS, pod("b"))
    await status_becomes(kube, "q", hard, {"pods": "2"})
    await kube.client.delete(PODS, "a", namespace=kube.namespace)
    await status_becomes(kube, "q", hard, {"pods": "1"})
    await kube.create(PODS, pod("c"))
    await status_becomes(kube, "q", hard, {"pods": "2"})


async def test_a_finished_pod_no_longer_counts_but_its_object_does(
    kube: TestCluster, controller: ResourceQuotaController
) -> None:
    hard = {"pods": "5", "count/pods": "5"}
    await kube.create(RESOURCE_QUOTAS, {"metadata": {"name": "q"}, "spec": {"hard": hard}})
    await status_becomes(kube, "q", hard, {"pods": "0", "count/pods": "0"})
    made = await kube.create(PODS, pod("job"))
    await status_becomes(kube, "q", hard, {"pods": "1", "count/pods": "1"})
    made["status"] = {"phase": "Succeeded"}
    await kube.client.update(PODS, made, subresource="status")
    await status_becomes(kube, "q", hard, {"pods": "0", "count/pods": "1"})


async def test_changed_limits_are_recounted(
    kube: TestCluster, controller: ResourceQuotaController
) -> None:
    await kube.create(SERVICES, {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}})
    await kube.create(RESOURCE_QUOTAS, {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "1"}}})
    await status_becomes(kube, "q", {"pods": "1"}, {"pods": "0"})
    quota = await kube.get(RESOURCE_QUOTAS, "q")
    quota["spec"]["hard"] = {"services": "3", "services.loadbalancers": "1"}
    await kube.client.update(RESOURCE_QUOTAS, quota)
    await status_becomes(
        kube,
        "q",
        {"services": "3", "services.loadbalancers": "1"},
        {"services": "1", "services.loadbalancers": "0"},
    )


async def test_scoped_quotas_count_the_pods_in_their_scope(
    kube: TestCluster, controller: ResourceQuotaController
) -> None:
    await kube.create(PODS, pod("deadline", activeDeadlineSeconds=60))
    await kube.create(PODS, pod("forever"))
    hard = {"pods": "5"}
    for name, scope in (("terminating", "Terminating"), ("long", "NotTerminating")):
        body = {"metadata": {"name": name}, "spec": {"hard": hard, "scopes": [scope]}}
        await kube.create(RESOURCE_QUOTAS, body)
    selector = {"matchExpressions": [{"scopeName": "BestEffort", "operator": "Exists"}]}
    body = {"metadata": {"name": "none"}, "spec": {"hard": hard, "scopeSelector": selector}}
    await kube.create(RESOURCE_QUOTAS, body)
    await status_becomes(kube, "terminating", hard, {"pods": "1"})
    await status_becomes(kube, "long", hard, {"pods": "1"})
    await status_becomes(kube, "none", hard, {"pods": "0"})


async def test_any_resource_is_counted_once_a_quota_names_it(
    kube: TestCluster, controller: ResourceQuotaController
) -> None:
    await kube.create(DEPLOYMENTS, deployment("web"))
    await kube.create(DEPLOYMENTS, deployment("api"))
    hard = {"count/deployments.apps": "5", "count/widgets.example.com": "1"}
    await kube.create(RESOURCE_QUOTAS, {"metadata": {"name": "q"}, "spec": {"hard": hard}})
    # A resource the server does not serve is not counted at all.
    await status_becomes(kube, "q", hard, {"count/deployments.apps": "2"})
    await kube.client.delete(DEPLOYMENTS, "api", namespace=kube.namespace)
    await status_becomes(kube, "q", hard, {"count/deployments.apps": "1"})
