"""ResourceQuota's strategy: what a quota may limit, its scopes, and that its spec and its
status are written apart (ValidateResourceQuota and the resourcequota strategy.go)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.strategies.resourcequota import ResourceQuotaStrategy

Obj = dict[str, Any]
QUOTAS = ResourceQuotaStrategy()


def quota(**spec: Any) -> Obj:
    obj: Obj = {"metadata": {"name": "q", "namespace": "default"}, "spec": spec}
    QUOTAS.default(obj)
    return obj


def stored(obj: Obj) -> Obj:
    obj["metadata"].update(uid="q-1", resourceVersion="2", creationTimestamp="2025-06-01T12:00:00Z")
    return obj


def errors_of(obj: Obj) -> list[str]:
    return [str(e) for e in QUOTAS.validate(obj)]


def test_a_quota_of_standard_and_qualified_names_is_valid() -> None:
    hard = {
        "pods": "10",
        "requests.cpu": "1",
        "limits.memory": "1Gi",
        "count/deployments.apps": "5",
        "requests.nvidia.com/gpu": "2",
        "gold.storageclass.storage.k8s.io/requests.storage": "10Gi",
        "requests.hugepages-2Mi": "1Gi",
    }
    assert errors_of(quota(hard=hard)) == []


@pytest.mark.parametrize(
    ("hard", "expected"),
    [
        (
            {"limits.pods": "1"},
            [
                "spec.hard[limits.pods]: Invalid value: limits.pods: must be a standard resource "
                "type or fully qualified",
                "spec.hard[limits.pods]: Invalid value: limits.pods: must be a standard resource "
                "for quota",
            ],
        ),
        (
            {"storage": "1Gi"},
            ["spec.hard[storage]: Invalid value: storage: must be a standard resource for quota"],
        ),
        (
            {"cpu": "-1"},
            ['spec.hard[cpu]: Invalid value: "-1": must be greater than or equal to 0'],
        ),
        (
            {"pods": "1500m"},
            ["spec.hard[pods]: Invalid value: 1500m: must be an integer"],
        ),
    ],
)
def test_what_a_quota_may_not_limit(hard: Obj, expected: list[str]) -> None:
    assert errors_of(quota(hard=hard)) == expected


def test_hard_amounts_are_canonical() -> None:
    assert quota(hard={"cpu": "1000m", "memory": "0.5Gi"})["spec"]["hard"] == {
        "cpu": "1",
        "memory": "512Mi",
    }


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"hard": {"pods": "1"}, "scopes": ["Sometimes"]},
            [
                'spec.scopes: Invalid value: []core.ResourceQuotaScope{"Sometimes"}: '
                "unsupported scope"
            ],
        ),
        (
            {"hard": {"services": "1"}, "scopes": ["Terminating"]},
            [
                'spec.scopes: Invalid value: []core.ResourceQuotaScope{"Terminating"}: '
                "unsupported scope applied to resource"
            ],
        ),
        (
            # BestEffort pods request nothing: only their count can be limited.
            {"hard": {"requests.cpu": "1"}, "scopes": ["BestEffort"]},
            [
                'spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort"}: '
                "unsupported scope applied to resource"
            ],
        ),
        (
            {"hard": {"pods": "1"}, "scopes": ["Terminating", "NotTerminating"]},
            [
                "spec.scopes: Invalid value: "
                '[]core.ResourceQuotaScope{"Terminating", "NotTerminating"}: conflicting scopes'
            ],
        ),
        (
            {
                "hard": {"pods": "1"},
                "scopeSelector": {
                    "matchExpressions": [
                        {"scopeName": "BestEffort", "operator": "In", "values": ["x"]},
                        {"scopeName": "PriorityClass", "operator": "In"},
                        {"scopeName": "PriorityClass", "operator": "Exists", "values": ["a"]},
                        {"scopeName": "PriorityClass", "operator": "Near"},
                    ]
                },
            },
            [
                'spec.scopeSelector.matchExpressions.operator: Invalid value: "In": must be '
                "'Exists' when scope is any of ResourceQuotaScopeTerminating, "
                "ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, "
                "ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
                "spec.scopeSelector.matchExpressions.values: Required value: must be at least "
                "one value when `operator` is 'In' or 'NotIn' for scope selector",
                'spec.scopeSelector.matchExpressions.values: Invalid value: []string{"a"}: must '
                "be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
                'spec.scopeSelector.matchExpressions.operator: Invalid value: "Near": not a '
                "valid selector operator",
            ],
        ),
        (
            {
                "hard": {"services": "1"},
                "scopeSelector": {
                    "matchExpressions": [{"scopeName": "PriorityClass", "operator": "Exists"}]
                },
            },
            [
                "spec.scopeSelector.matchExpressions: Invalid value: core.ScopeSelector{"
                "MatchExpressions:[]core.ScopedResourceSelectorRequirement{"
                'core.ScopedResourceSelectorRequirement{ScopeName:"PriorityClass", '
                'Operator:"Exists", Values:[]string(nil)}}}: unsupported scope applied to '
                "resource"
            ],
        ),
    ],
)
def test_scope_rules(spec: Obj, expected: list[str]) -> None:
    assert errors_of(quota(**spec)) == expected


def test_a_new_quota_starts_with_an_empty_status() -> None:
    obj = quota(hard={"pods": "1"})
    obj["status"] = {"hard": {"pods": "1"}, "used": {"pods": "5"}}
    QUOTAS.prepare_for_create(obj)
    assert obj["status"] == {}


def test_the_main_resource_keeps_the_status_and_status_keeps_the_spec() -> None:
    old = stored(quota(hard={"pods": "1"}))
    old["status"] = {"hard": {"pods": "1"}, "used": {"pods": "0"}}
    new = copy.deepcopy(old)
    new["spec"]["hard"] = {"pods": "2"}
    new["status"]["used"] = {"pods": "9"}
    QUOTAS.prepare_for_update(new, old)
    assert new["spec"]["hard"] == {"pods": "2"}
    assert new["status"] == old["status"]

    status_write = copy.deepcopy(old)
    status_write["spec"]["hard"] = {"pods": "7"}
    status_write["status"]["used"] = {"pods": "1"}
    QUOTAS.prepare_for_status_update(status_write, old)
    assert status_write["spec"] == old["spec"]
    assert status_write["status"]["used"] == {"pods": "1"}


def test_scopes_are_immutable() -> None:
    old = stored(quota(hard={"pods": "1"}, scopes=["BestEffort"]))
    new = copy.deepcopy(old)
    new["spec"]["scopes"] = ["NotBestEffort"]
    assert [str(e) for e in QUOTAS.validate_update(new, old)] == [
        'spec.scopes: Invalid value: []core.ResourceQuotaScope{"NotBestEffort"}: field is immutable'
    ]


def test_a_status_write_is_checked_like_the_spec() -> None:
    old = stored(quota(hard={"pods": "1"}))
    new = copy.deepcopy(old)
    new["status"] = {"hard": {"pods": "1"}, "used": {"pods": "-1", "bogus": "1"}}
    assert [str(e) for e in QUOTAS.validate_status_update(new, old)] == [
        "status.used[bogus]: Invalid value: bogus: must be a standard resource type or fully "
        "qualified",
        "status.used[bogus]: Invalid value: bogus: must be a standard resource for quota",
        'status.used[pods]: Invalid value: "-1": must be greater than or equal to 0',
    ]
