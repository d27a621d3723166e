"""Deployments, ReplicaSets, StatefulSets, DaemonSets: defaults, selector rules, generations.

The templates here are complete (containers, restartPolicy Always), so that what is tested is the
workload's own behaviour, not the pod spec defaults and rules inside it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.strategies.apps import (
    DaemonSetStrategy,
    DeploymentStrategy,
    ReplicaSetStrategy,
    StatefulSetStrategy,
)
from kubelite.api.strategy import Strategy

Obj = dict[str, Any]

MISMATCH = (
    'spec.template.metadata.labels: Invalid value: map[string]string{"app":"db"}: `selector` '
    "does not match template `labels`"
)


def workload(kind: str, **spec: Any) -> Obj:
    body: Obj = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "restartPolicy": "Always",
                "containers": [{"name": "web", "image": "nginx:1.27"}],
            },
        },
    }
    body.update(spec)
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "web", "namespace": "default"},
        "spec": body,
    }


def created(strategy: Strategy, obj: Obj) -> Obj:
    strategy.default(obj)
    strategy.prepare_for_create(obj)
    return obj


def errors(strategy: Strategy, obj: Obj) -> list[str]:
    return [str(e) for e in strategy.validate(obj)]


def stored(strategy: Strategy, obj: Obj) -> Obj:
    obj = created(strategy, obj)
    obj["metadata"].update(uid="w-1", resourceVersion="9", creationTimestamp="2025-06-01T12:00:00Z")
    return obj


# --- defaults -----------------------------------------------------------------------------------


def test_deployment_defaults() -> None:
    spec = created(DeploymentStrategy(), workload("Deployment"))["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600


def test_recreate_deployment_gets_no_rolling_parameters() -> None:
    spec = created(DeploymentStrategy(), workload("Deployment", strategy={"type": "Recreate"}))[
        "spec"
    ]
    assert spec["strategy"] == {"type": "Recreate"}


def test_replica_set_defaults_one_replica() -> None:
    assert created(ReplicaSetStrategy(), workload("ReplicaSet"))["spec"]["replicas"] == 1


def test_stateful_set_defaults() -> None:
    spec = created(StatefulSetStrategy(), workload("StatefulSet", serviceName="web"))["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": 0, "maxUnavailable": 1},
    }
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    assert spec["replicas"] == 1
    assert spec["revisionHistoryLimit"] == 10


def test_daemon_set_defaults() -> None:
    spec = created(DaemonSetStrategy(), workload("DaemonSet"))["spec"]
    assert spec["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert spec["revisionHistoryLimit"] == 10


@pytest.mark.parametrize(
    ("strategy", "kind"),
    [
        (DeploymentStrategy(), "Deployment"),
        (ReplicaSetStrategy(), "ReplicaSet"),
        (StatefulSetStrategy(), "StatefulSet"),
        (DaemonSetStrategy(), "DaemonSet"),
    ],
)
def test_new_workloads_are_valid_and_start_at_generation_one(strategy: Strategy, kind: str) -> None:
    obj = created(
        strategy, workload(kind, serviceName="web") if kind == "StatefulSet" else workload(kind)
    )
    assert errors(strategy, obj) == []
    assert obj["metadata"]["generation"] == 1
    assert obj["status"] == {}


# --- selector and template ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "kind"),
    [
        (DeploymentStrategy(), "Deployment"),
        (ReplicaSetStrategy(), "ReplicaSet"),
        (StatefulSetStrategy(), "StatefulSet"),
        (DaemonSetStrategy(), "DaemonSet"),
    ],
)
def test_selector_must_match_template_labels(strategy: Strategy, kind: str) -> None:
    obj = created(strategy, workload(kind))
    obj["spec"]["template"]["metadata"]["labels"] = {"app": "db"}
    assert MISMATCH in errors(strategy, obj)


def test_missing_selector_is_required_and_matches_nothing() -> None:
    obj = created(DeploymentStrategy(), workload("Deployment"))
    del obj["spec"]["selector"]
    assert errors(DeploymentStrategy(), obj) == [
        "spec.selector: Required value",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
        "`selector` does not match template `labels`",
    ]


@pytest.mark.parametrize(
    ("strategy", "kind", "noun"),
    [
        (DeploymentStrategy(), "Deployment", "deployment"),
        # Kubernetes' ReplicaSet message says deployment too.
        (ReplicaSetStrategy(), "ReplicaSet", "deployment"),
        (StatefulSetStrategy(), "StatefulSet", "statefulset"),
        (DaemonSetStrategy(), "DaemonSet", "daemonset"),
    ],
)
def test_empty_selector_is_invalid(strategy: Strategy, kind: str, noun: str) -> None:
    obj = created(strategy, workload(kind, selector={}))
    assert errors(strategy, obj) == [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: "
        f"empty selector is invalid for {noun}"
    ]


def test_selector_expressions_are_validated() -> None:
    bad = {"matchExpressions": [{"key": "app", "operator": "In", "values": []}]}
    obj = created(DeploymentStrategy(), workload("Deployment", selector=bad))
    errs = errors(DeploymentStrategy(), obj)
    assert errs[0] == (
        "spec.selector.matchExpressions[0].values: Required value: must be specified when "
        "`operator` is 'In' or 'NotIn'"
    )
    assert errs[1].endswith(": invalid label selector")


def test_template_must_restart_always() -> None:
    obj = created(DeploymentStrategy(), workload("Deployment"))
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert errors(DeploymentStrategy(), obj) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'
    ]


@pytest.mark.parametrize(
    ("replicas", "expected"),
    [(0, []), (-1, ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"])],
)
def test_replicas_may_be_zero_but_not_negative(replicas: int, expected: list[str]) -> None:
    obj = created(DeploymentStrategy(), workload("Deployment", replicas=replicas))
    assert errors(DeploymentStrategy(), obj) == expected


@pytest.mark.parametrize(
    ("rolling", "expected"),
    [
        (
            {"maxUnavailable": 0, "maxSurge": 0},
            ["...maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"],
        ),
        (
            {"maxUnavailable": "120%", "maxSurge": 1},
            ["...maxUnavailable: Invalid value: 120%: must not be greater than 100%"],
        ),
        (
            {"maxUnavailable": "lots", "maxSurge": 1},
            [
                "...maxUnavailable: Invalid value: lots: a valid percent string must be a numeric "
                "string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation "
                "is '[0-9]+%')"
            ],
        ),
    ],
)
def test_rolling_update_parameters(rolling: dict[str, Any], expected: list[str]) -> None:
    obj = created(DeploymentStrategy(), workload("Deployment"))
    obj["spec"]["strategy"]["rollingUpdate"] = rolling
    prefix = "spec.strategy.rollingUpdate."
    assert errors(DeploymentStrategy(), obj) == [e.replace("...", prefix) for e in expected]


def test_progress_deadline_must_exceed_min_ready() -> None:
    obj = created(DeploymentStrategy(), workload("Deployment", minReadySeconds=600))
    assert errors(DeploymentStrategy(), obj) == [
        "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"
    ]


def test_stateful_set_names_are_dns_labels() -> None:
    obj = created(StatefulSetStrategy(), workload("StatefulSet", serviceName="web"))
    obj["metadata"]["name"] = "web.v2"
    assert [e.field for e in StatefulSetStrategy().validate(obj)] == ["metadata.name"]


def test_stateful_set_pod_management_policy() -> None:
    obj = created(StatefulSetStrategy(), workload("StatefulSet", podManagementPolicy="Random"))
    assert errors(StatefulSetStrategy(), obj) == [
        "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'"
    ]


def test_daemon_set_rolling_update_needs_exactly_one_of_surge_and_unavailable() -> None:
    obj = created(DaemonSetStrategy(), workload("DaemonSet"))
    obj["spec"]["updateStrategy"]["rollingUpdate"] = {"maxUnavailable": 1, "maxSurge": 1}
    assert errors(DaemonSetStrategy(), obj) == [
        "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when "
        "maxUnavailable is non-zero"
    ]


# --- updates ------------------------------------------------------------------------------------


def test_selector_is_immutable() -> None:
    old = stored(DeploymentStrategy(), workload("Deployment"))
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "x"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    DeploymentStrategy().prepare_for_update(new, old)
    assert [str(e) for e in DeploymentStrategy().validate_update(new, old)] == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", '
        '"tier":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable'
    ]


def test_scaling_bumps_generation_but_a_label_change_does_not() -> None:
    strategy = DeploymentStrategy()
    old = stored(strategy, workload("Deployment"))
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 3
    strategy.prepare_for_update(scaled, old)
    assert scaled["metadata"]["generation"] == 2
    labelled = copy.deepcopy(old)
    labelled["metadata"]["labels"] = {"team": "a"}
    strategy.prepare_for_update(labelled, old)
    assert labelled["metadata"]["generation"] == 1


def test_deployment_annotation_change_is_a_new_generation() -> None:
    strategy = DeploymentStrategy()
    old = stored(strategy, workload("Deployment"))
    new = copy.deepcopy(old)
    new["metadata"]["annotations"] = {"kubernetes.io/change-cause": "bump"}
    strategy.prepare_for_update(new, old)
    assert new["metadata"]["generation"] == 2


def test_deployment_status_write_keeps_labels_but_takes_annotations() -> None:
    strategy = DeploymentStrategy()
    old = stored(strategy, workload("Deployment"))
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"x": "y"}
    new["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "1"}
    new["status"] = {"replicas": 1, "readyReplicas": 2}
    strategy.prepare_for_status_update(new, old)
    assert "labels" not in new["metadata"]
    assert new["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}
    assert [str(e) for e in strategy.validate_status_update(new, old)] == [
        "status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"
    ]


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet"])
def test_terminating_replicas_is_kept_and_may_not_be_negative(kind: str) -> None:
    """status.terminatingReplicas (DeploymentReplicaSetTerminatingReplicas, on in 1.37)."""
    strategy = DeploymentStrategy() if kind == "Deployment" else ReplicaSetStrategy()
    old = stored(strategy, workload(kind))
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 1, "terminatingReplicas": 2}
    strategy.prepare_for_status_update(new, old)
    assert new["status"]["terminatingReplicas"] == 2
    assert strategy.validate_status_update(new, old) == []
    new["status"]["terminatingReplicas"] = -1
    assert [str(e) for e in strategy.validate_status_update(new, old)] == [
        "status.terminatingReplicas: Invalid value: -1: must be greater than or equal to 0"
    ]


def test_stateful_set_forbids_changing_other_spec_fields() -> None:
    strategy = StatefulSetStrategy()
    old = stored(strategy, workload("StatefulSet", serviceName="web"))
    new = copy.deepcopy(old)
    new["spec"]["serviceName"] = "other"
    strategy.prepare_for_update(new, old)
    assert [str(e) for e in strategy.validate_update(new, old)] == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
        "'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
        "'minReadySeconds' are forbidden"
    ]
    new["spec"]["serviceName"] = "web"
    new["spec"]["replicas"] = 5
    assert strategy.validate_update(new, old) == []


def test_daemon_set_counts_template_generations() -> None:
    strategy = DaemonSetStrategy()
    old = stored(strategy, workload("DaemonSet"))
    annotation = "deprecated.daemonset.template.generation"
    assert old["metadata"]["annotations"][annotation] == "1"
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    strategy.prepare_for_update(new, old)
    assert new["metadata"]["annotations"][annotation] == "2"
    assert new["metadata"]["generation"] == 2
    same = copy.deepcopy(new)
    same["metadata"]["annotations"][annotation] = "7"
    strategy.prepare_for_update(same, new)
    assert same["metadata"]["annotations"][annotation] == "2"


def test_collision_count_may_not_go_down() -> None:
    strategy = DeploymentStrategy()
    old = stored(strategy, workload("Deployment"))
    old["status"] = {"collisionCount": 2}
    new = copy.deepcopy(old)
    new["status"] = {"collisionCount": 1}
    assert [str(e) for e in strategy.validate_status_update(new, old)] == [
        "status.collisionCount: Invalid value: 1: cannot be decremented"
    ]
