"""What each resource costs in quota (`kubelite.api.quota.evaluators`) and the resource list
arithmetic admission does with it (`kubelite.api.quota.resources`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api.quantity import Quantity
from kubelite.api.quota import resources
from kubelite.api.quota.evaluators import (
    Evaluator,
    PersistentVolumeClaimEvaluator,
    PodEvaluator,
    ServiceEvaluator,
    calculate_usage,
    evaluator_for,
    evaluators_for_quota,
)

Obj = dict[str, Any]

NOW = dt.datetime(2025, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def container(name: str = "app", requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    res: Obj = {}
    if requests is not None:
        res["requests"] = requests
    if limits is not None:
        res["limits"] = limits
    return {"name": name, "image": "busybox", "resources": res}


def pod(*containers: Obj, init: tuple[Obj, ...] = (), **extra: Any) -> Obj:
    status = extra.pop("status", {})
    metadata = extra.pop("metadata", {"name": "p"})
    spec = {"containers": list(containers), "initContainers": list(init), **extra}
    return {"metadata": metadata, "spec": spec, "status": status}


def as_text(values: dict[str, Quantity]) -> dict[str, str]:
    return resources.to_json(values)


PODS = PodEvaluator(lambda: NOW)


def test_a_pod_counts_its_requests_limits_and_the_older_names() -> None:
    usage = PODS.usage(
        pod(
            container(
                requests={"cpu": "250m", "memory": "64Mi", "ephemeral-storage": "1Gi"},
                limits={"cpu": "1", "memory": "128Mi"},
            ),
            container("b", requests={"cpu": "250m", "example.com/gpu": "1"}),
        )
    )
    assert as_text(usage) == {
        "count/pods": "1",
        "pods": "1",
        "cpu": "500m",
        "requests.cpu": "500m",
        "memory": "64Mi",
        "requests.memory": "64Mi",
        "ephemeral-storage": "1Gi",
        "requests.ephemeral-storage": "1Gi",
        "limits.cpu": "1",
        "limits.memory": "128Mi",
        "requests.example.com/gpu": "1",
    }


def test_init_containers_raise_a_pod_to_what_the_heaviest_needs() -> None:
    usage = PODS.usage(
        pod(
            container(requests={"cpu": "1"}),
            init=(container("setup", requests={"cpu": "3"}),),
        )
    )
    assert str(usage["requests.cpu"]) == "3"


@pytest.mark.parametrize(
    ("status", "metadata", "counts"),
    [
        ({"phase": "Running"}, {}, True),
        ({"phase": "Succeeded"}, {}, False),
        ({"phase": "Failed"}, {}, False),
        # Deleting, within its grace period: still holds its resources.
        ({}, {"deletionTimestamp": "2025-05-01T11:59:50Z", "deletionGracePeriodSeconds": 30}, True),
        # Past its grace period (a lost node's pod): no longer charged.
        (
            {},
            {"deletionTimestamp": "2025-05-01T11:59:00Z", "deletionGracePeriodSeconds": 30},
            False,
        ),
    ],
)
def test_finished_pods_keep_only_their_object_count(
    status: Obj, metadata: Obj, counts: bool
) -> None:
    usage = PODS.usage(
        pod(container(requests={"cpu": "1"}), status=status, metadata={"name": "p", **metadata})
    )
    assert as_text(usage) == (
        {"count/pods": "1", "pods": "1", "cpu": "1", "requests.cpu": "1"}
        if counts
        else {"count/pods": "1"}
    )


def test_a_container_missing_a_tracked_resource_is_named_per_resource() -> None:
    obj = pod(
        container("app", requests={"cpu": "1"}),
        container("side"),
        init=(container("setup", limits={"memory": "1Gi"}),),
    )
    problem = PODS.constraints(["requests.cpu", "limits.memory", "pods", "count/pods"], obj)
    assert problem == "must specify limits.memory for: app,side; requests.cpu for: setup,side"
    assert PODS.constraints(["pods", "requests.storage"], obj) is None


@pytest.mark.parametrize(
    ("selector", "obj", "matches"),
    [
        ({"scopeName": "Terminating"}, pod(container(), activeDeadlineSeconds=10), True),
        ({"scopeName": "Terminating"}, pod(container()), False),
        ({"scopeName": "NotTerminating"}, pod(container()), True),
        ({"scopeName": "BestEffort"}, pod(container()), True),
        ({"scopeName": "BestEffort"}, pod(container(requests={"cpu": "1"})), False),
        ({"scopeName": "NotBestEffort"}, pod(container(limits={"memory": "1Gi"})), True),
        (
            {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]},
            pod(container(), priorityClassName="high"),
            True,
        ),
        (
            {"scopeName": "PriorityClass", "operator": "NotIn", "values": ["high"]},
            pod(container()),
            True,
        ),
        (
            {"scopeName": "PriorityClass", "operator": "Exists"},
            pod(container()),
            False,
        ),
        (
            {"scopeName": "PriorityClass", "operator": "DoesNotExist"},
            pod(container()),
            True,
        ),
        (
            {"scopeName": "CrossNamespacePodAffinity", "operator": "Exists"},
            pod(
                container(),
                affinity={
                    "podAntiAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {"weight": 1, "podAffinityTerm": {"namespaceSelector": {}}}
                        ]
                    }
                },
            ),
            True,
        ),
        (
            {"scopeName": "CrossNamespacePodAffinity", "operator": "Exists"},
            pod(
                container(),
                affinity={
                    "podAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": [
                            {"topologyKey": "zone", "labelSelector": {}}
                        ]
                    }
                },
            ),
            False,
        ),
    ],
)
def test_pod_scopes(selector: Obj, obj: Obj, matches: bool) -> None:
    assert PODS.matches_scope(selector, obj) is matches


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"ports": [{"port": 80}]}, {"services.nodeports": "0", "services.loadbalancers": "0"}),
        (
            {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]},
            {"services.nodeports": "2", "services.loadbalancers": "0"},
        ),
        (
            {"type": "LoadBalancer", "ports": [{"port": 80}]},
            {"services.nodeports": "1", "services.loadbalancers": "1"},
        ),
        (
            {
                "type": "LoadBalancer",
                "allocateLoadBalancerNodePorts": False,
                "ports": [{"port": 80, "nodePort": 30001}, {"port": 443}],
            },
            {"services.nodeports": "1", "services.loadbalancers": "1"},
        ),
    ],
)
def test_services_count_node_ports_and_load_balancers_by_type(spec: Obj, expected: Obj) -> None:
    usage = as_text(ServiceEvaluator().usage({"metadata": {"name": "s"}, "spec": spec}))
    assert usage == {"count/services": "1", "services": "1", **expected}


def test_claims_count_storage_overall_and_per_class_in_whole_bytes() -> None:
    claim = {
        "metadata": {"name": "c"},
        "spec": {"storageClassName": "gold", "resources": {"requests": {"storage": "1.5"}}},
        "status": {"allocatedResources": {"storage": "1Gi"}},
    }
    usage = as_text(PersistentVolumeClaimEvaluator().usage(claim))
    assert usage == {
        "persistentvolumeclaims": "1",
        "count/persistentvolumeclaims": "1",
        "gold.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
        "requests.storage": "1Gi",
        "gold.storageclass.storage.k8s.io/requests.storage": "1Gi",
    }
    names = ["requests.storage", "bronze.storageclass.storage.k8s.io/requests.storage", "pods"]
    assert PersistentVolumeClaimEvaluator().matching_resources(names) == names[:2]


def test_other_resources_are_counted_with_their_legacy_name() -> None:
    secrets = evaluator_for("secrets")
    assert as_text(secrets.usage({})) == {"count/secrets": "1", "secrets": "1"}
    deployments = evaluator_for("deployments.apps")
    assert as_text(deployments.usage({})) == {"count/deployments.apps": "1"}
    assert secrets.handles("CREATE", "", {}, None)
    assert not secrets.handles("UPDATE", "", {}, None)


def test_a_scoped_quota_never_matches_what_has_no_scopes() -> None:
    quota = {"spec": {"scopes": ["BestEffort"]}, "status": {"hard": {"services": "1"}}}
    assert not ServiceEvaluator().matches(quota, {"spec": {}})
    unscoped = {"spec": {}, "status": {"hard": {"services": "1"}}}
    assert ServiceEvaluator().matches(unscoped, {"spec": {}})


def test_calculate_usage_sums_what_the_quota_limits_of_objects_in_scope() -> None:
    hard = {"pods": "9", "requests.cpu": "9", "count/deployments.apps": "9", "secrets": "9"}
    objects = {
        "pods": [
            pod(container(requests={"cpu": "1"})),
            pod(container(requests={"cpu": "2"}), activeDeadlineSeconds=5),
            pod(container(requests={"cpu": "4"}), status={"phase": "Failed"}),
        ],
        "deployments.apps": [{"metadata": {"name": "d"}}],
    }
    evaluators: list[Evaluator] = evaluators_for_quota(hard, lambda: NOW)

    def objects_of(group_resource: str) -> list[Obj] | None:
        return objects.get(group_resource, [] if group_resource == "secrets" else None)

    usage = calculate_usage(hard, evaluators, objects_of, [], None)
    assert as_text(usage) == {
        "pods": "2",
        "requests.cpu": "3",
        "count/deployments.apps": "1",
        "secrets": "0",
    }
    scoped = calculate_usage(hard, evaluators, objects_of, ["NotTerminating"], None)
    assert as_text(scoped)["pods"] == "1"
    assert as_text(scoped)["requests.cpu"] == "1"


def test_resource_list_arithmetic() -> None:
    a = resources.parse({"cpu": "500m", "pods": "2"})
    b = resources.parse({"cpu": "750m", "memory": "1Gi"})
    assert as_text(resources.add(a, b)) == {"cpu": "1250m", "pods": "2", "memory": "1Gi"}
    assert as_text(resources.subtract_with_non_negative_result(b, a)) == {
        "cpu": "250m",
        "memory": "1Gi",
        "pods": "0",
    }
    assert as_text(resources.subtract_with_non_negative_result(a, b))["cpu"] == "0"
    assert resources.less_than_or_equal(a, resources.parse({"cpu": "1", "pods": "1"})) == (
        False,
        ["pods"],
    )
    assert resources.pretty_print(b) == "cpu=750m,memory=1Gi"
    assert resources.equals(resources.parse({"cpu": "1"}), resources.parse({"cpu": "1000m"}))
