"""The 1.37 pod fields of features that are off by default: dropped on write unless the stored
object already uses them (dropDisabledPodFields), on pods and on workloads' pod templates."""

from __future__ import annotations

import copy
from typing import Any

from kubelite.api.strategies.apps import DeploymentStrategy
from kubelite.api.strategies.batch import CronJobStrategy
from kubelite.api.strategies.pod_gates import (
    drop_disabled_spec_fields,
    drop_disabled_status_fields,
)
from kubelite.api.strategies.pods import PodStrategy


def gated_spec() -> dict[str, Any]:
    """A spec that sets every gated field once."""
    probe = {"httpGet": {"port": 80, "protocol": "HTTP2"}}
    return {
        "evictionResponders": [{"name": "r"}],
        "schedulingGroup": {"podGroupName": "g"},
        "containers": [
            {
                "name": "c",
                "image": "busybox",
                "readinessProbe": probe,
                "livenessProbe": {"grpc": {"port": 9000, "mode": "TLS"}},
                "lifecycle": {"preStop": {"httpGet": {"port": 80, "protocol": "HTTP2"}}},
                "volumeMounts": [{"name": "d", "mountPath": "/d", "bindMountOptions": ["noexec"]}],
            }
        ],
        "volumes": [
            {"name": "d", "emptyDir": {"mode": 493}},
            {
                "name": "cm",
                "configMap": {
                    "name": "cm",
                    "defaultUser": 1000,
                    "items": [{"key": "k", "path": "k", "user": 1000}],
                },
            },
            {
                "name": "p",
                "projected": {
                    "defaultUser": 1000,
                    "sources": [
                        {"serviceAccountToken": {"path": "t", "user": 1000}},
                        {"secret": {"name": "s", "items": [{"key": "k", "path": "k", "user": 1}]}},
                    ],
                },
            },
        ],
    }


def leaves(spec: dict[str, Any]) -> set[str]:
    """Every key anywhere in `spec`, to tell which gated names are left."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                found.add(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(spec)
    return found


GATED = {"evictionResponders", "schedulingGroup", "bindMountOptions", "defaultUser", "user"}


def test_a_new_spec_loses_every_gated_field() -> None:
    spec = gated_spec()
    drop_disabled_spec_fields(spec, None)
    assert not (leaves(spec) & GATED)
    container = spec["containers"][0]
    assert container["readinessProbe"] == {"httpGet": {"port": 80}}
    assert container["livenessProbe"] == {"grpc": {"port": 9000}}
    assert container["lifecycle"]["preStop"] == {"httpGet": {"port": 80}}
    assert spec["volumes"][0] == {"name": "d", "emptyDir": {}}


def test_an_update_keeps_the_gated_fields_the_stored_spec_already_uses() -> None:
    old = gated_spec()
    new = copy.deepcopy(old)
    drop_disabled_spec_fields(new, old)
    assert new == old


def test_a_field_in_use_does_not_let_an_other_gated_field_in() -> None:
    old = gated_spec()
    del old["schedulingGroup"]
    new = copy.deepcopy(gated_spec())
    drop_disabled_spec_fields(new, old)
    assert "schedulingGroup" not in new
    assert new["evictionResponders"] == [{"name": "r"}]


def test_the_kubelets_status_loses_gated_fields() -> None:
    status = {
        "phase": "Running",
        "volumeHealth": [{"name": "d"}],
        "nodeAllocatableResourceClaimStatuses": [],
        "containerStatuses": [
            {"name": "c", "volumeMounts": [{"name": "d", "mountPath": "/d", "volumeStatus": {}}]}
        ],
    }
    drop_disabled_status_fields(status, {"phase": "Pending"})
    assert status == {
        "phase": "Running",
        "containerStatuses": [{"name": "c", "volumeMounts": [{"name": "d", "mountPath": "/d"}]}],
    }


def test_a_pod_create_drops_them() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": gated_spec()}
    PodStrategy().prepare_for_create(pod)
    assert not (leaves(pod["spec"]) & GATED)


def test_a_workload_template_drops_them_on_create_and_update() -> None:
    deployment = {
        "metadata": {"name": "d", "namespace": "ns"},
        "spec": {"template": {"metadata": {}, "spec": gated_spec()}},
    }
    strategy = DeploymentStrategy()
    strategy.prepare_for_create(deployment)
    assert not (leaves(deployment["spec"]) & GATED)
    updated = copy.deepcopy(deployment)
    updated["spec"]["template"]["spec"]["schedulingGroup"] = {"podGroupName": "g"}
    strategy.prepare_for_update(updated, deployment)
    assert "schedulingGroup" not in updated["spec"]["template"]["spec"]


def test_a_cron_jobs_pod_template_drops_them() -> None:
    cron_job = {
        "metadata": {"name": "c", "namespace": "ns"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": gated_spec()}}}},
    }
    CronJobStrategy().prepare_for_create(cron_job)
    assert not (leaves(cron_job["spec"]) & GATED)
