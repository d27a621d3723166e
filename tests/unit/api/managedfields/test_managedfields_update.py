"""Update entries: what creates, updates and patches record in managedFields."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kubelite.api import schema
from kubelite.api.managedfields import apply, update

SCHEMA = schema.load()
POD = SCHEMA.for_kind("", "v1", "Pod")
DEPLOYMENT = SCHEMA.for_kind("apps", "v1", "Deployment")
T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T10:01:00Z"
T2 = "2024-05-01T10:02:00Z"
NGINX = 'k:{"name":"nginx"}'

Obj = dict[str, Any]


def write(
    old: Obj | None,
    new: Obj,
    manager: str,
    *,
    time: str = T0,
    subresource: str = "",
    node: Any = POD,
    api_version: str = "v1",
) -> Obj:
    """Record the write and return `new` with its managedFields."""
    update(
        old,
        new,
        manager=manager,
        node=node,
        api_version=api_version,
        time=time,
        subresource=subresource,
        reset_fields=("spec",) if subresource == "status" else ("status",),
    )
    return new


def changed(obj: Obj, change: Any) -> Obj:
    new = copy.deepcopy(obj)
    change(new)
    return new


def entries(obj: Obj) -> list[tuple[str, str, str | None]]:
    return [(e["manager"], e["operation"], e.get("time")) for e in obj["metadata"]["managedFields"]]


def owned(obj: Obj, manager: str) -> Obj:
    return next(e for e in obj["metadata"]["managedFields"] if e["manager"] == manager)["fieldsV1"]


def created_pod() -> Obj:
    """A pod as a ReplicaSet controller creates it, defaults applied."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-5d8f7-abcde",
            "generateName": "web-5d8f7-",
            "namespace": "default",
            "uid": "0b0e6b1c-58a4-4c1e-9d7e-3a8f0b1c2d3e",
            "creationTimestamp": "2024-05-01T10:00:00Z",
            "labels": {"app": "web", "pod-template-hash": "5d8f7"},
        },
        "spec": {
            "containers": [
                {
                    "name": "nginx",
                    "image": "nginx:1.27",
                    "imagePullPolicy": "IfNotPresent",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                }
            ],
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "terminationGracePeriodSeconds": 30,
            "volumes": [{"name": "cache", "emptyDir": {}}],
        },
    }


def test_a_create_records_what_the_creator_set_as_kubernetes_does() -> None:
    pod = write(None, created_pod(), "kube-controller-manager")
    assert pod["metadata"]["managedFields"] == [
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "apiVersion": "v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": pod["metadata"]["managedFields"][0]["fieldsV1"],
        }
    ]
    # New maps and lists are owned as nodes ("."), but not spec or spec.containers, which every
    # Pod has; metadata.name, uid and creationTimestamp are never owned.
    assert json.dumps(owned(pod, "kube-controller-manager"), separators=(",", ":")) == (
        '{"f:metadata":{"f:generateName":{},"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{}}},'
        '"f:spec":{"f:containers":{"k:{\\"name\\":\\"nginx\\"}":{".":{},"f:image":{},'
        '"f:imagePullPolicy":{},"f:name":{},"f:ports":{".":{},'
        '"k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},"f:containerPort":{},'
        '"f:protocol":{}}},"f:resources":{},"f:terminationMessagePath":{},'
        '"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:restartPolicy":{},'
        '"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{},'
        '"f:volumes":{".":{},"k:{\\"name\\":\\"cache\\"}":{".":{},"f:emptyDir":{},"f:name":{}}}}}'
    )


def test_a_created_deployment_owns_its_template_but_not_the_structs_every_deployment_has() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx"}]},
            },
        },
    }
    write(None, deployment, "kubectl-create", node=DEPLOYMENT, api_version="apps/v1")
    assert owned(deployment, "kubectl-create") == {
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}}, "f:type": {}},
            "f:template": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:containers": {
                        NGINX: {".": {}, "f:image": {}, "f:name": {}, "f:resources": {}}
                    }
                },
            },
        }
    }


def test_an_update_takes_the_fields_it_changed_from_their_owner() -> None:
    live = apply(
        None,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web"},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]},
        },
        manager="kubectl",
        force=False,
        node=POD,
        api_version="v1",
        time=T0,
    )
    edited = write(
        live, changed(live, lambda p: p["spec"]["containers"][0].update(image="x")), "editor"
    )
    assert owned(edited, "kubectl") == {
        "f:spec": {"f:containers": {NGINX: {".": {}, "f:name": {}}}}
    }
    assert owned(edited, "editor") == {"f:spec": {"f:containers": {NGINX: {"f:image": {}}}}}


def test_updates_by_one_manager_accumulate_in_one_entry() -> None:
    pod = write(None, created_pod(), "controller")
    pod = write(pod, changed(pod, lambda p: p["metadata"]["labels"].update(a="1")), "me", time=T1)
    pod = write(pod, changed(pod, lambda p: p["metadata"]["labels"].update(b="2")), "me", time=T2)
    assert entries(pod) == [("controller", "Update", T0), ("me", "Update", T2)]
    assert owned(pod, "me") == {"f:metadata": {"f:labels": {"f:a": {}, "f:b": {}}}}


def test_a_write_that_changes_nothing_records_nothing() -> None:
    pod = write(None, created_pod(), "controller")
    again = write(pod, copy.deepcopy(pod), "someone-else", time=T1)
    assert entries(again) == [("controller", "Update", T0)]


def test_a_removed_field_is_owned_by_nobody() -> None:
    pod = write(None, created_pod(), "controller")
    pod = write(pod, changed(pod, lambda p: p["metadata"]["labels"].pop("app")), "me", time=T1)
    assert owned(pod, "controller")["f:metadata"]["f:labels"] == {
        ".": {},
        "f:pod-template-hash": {},
    }
    assert entries(pod) == [("controller", "Update", T0)]


def test_status_writes_are_recorded_under_their_subresource() -> None:
    pod = write(None, created_pod(), "controller")

    def run(p: Obj) -> None:
        p["status"] = {"phase": "Running", "podIP": "10.0.0.5"}

    pod = write(pod, changed(pod, run), "kubelet", time=T1, subresource="status")
    kubelet = pod["metadata"]["managedFields"][1]
    assert kubelet["subresource"] == "status"
    assert list(kubelet) == [
        "manager",
        "operation",
        "apiVersion",
        "time",
        "fieldsType",
        "fieldsV1",
        "subresource",
    ]
    assert kubelet["fieldsV1"] == {"f:status": {"f:phase": {}, "f:podIP": {}}}


def test_the_main_resource_does_not_own_status() -> None:
    pod = write(None, {**created_pod(), "status": {"phase": "Pending"}}, "controller")
    assert "f:status" not in owned(pod, "controller")


def test_an_untracked_object_stays_untracked_by_updates() -> None:
    pod = created_pod()
    new = write(pod, changed(pod, lambda p: p["metadata"]["labels"].update(a="1")), "me")
    assert "managedFields" not in new["metadata"]


@pytest.mark.parametrize("reset", [[], [{}]])
def test_a_client_may_clear_managed_fields(reset: list[Any]) -> None:
    pod = write(None, created_pod(), "controller")
    new = changed(pod, lambda p: p["metadata"].update(managedFields=reset))
    assert "managedFields" not in write(pod, new, "me", time=T1)["metadata"]


def test_a_client_may_rewrite_managed_fields() -> None:
    pod = write(None, created_pod(), "controller")
    new = copy.deepcopy(pod)
    new["metadata"]["managedFields"][0]["manager"] = "renamed"
    assert entries(write(pod, new, "me", time=T1)) == [("renamed", "Update", T0)]


def test_a_subresource_write_keeps_the_stored_managed_fields() -> None:
    pod = write(None, created_pod(), "controller")
    new = changed(pod, lambda p: p["metadata"].update(managedFields=[]))
    assert entries(write(pod, new, "kubelet", time=T1, subresource="status")) == [
        ("controller", "Update", T0)
    ]


def test_entries_sort_apply_first_then_by_time() -> None:
    pod = write(None, created_pod(), "zeta")
    pod = write(
        pod, changed(pod, lambda p: p["metadata"]["labels"].update(a="1")), "alpha", time=T1
    )
    pod = apply(
        pod,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": pod["metadata"]["name"]},
            "spec": {"restartPolicy": "Always"},
        },
        manager="kubectl",
        force=False,
        node=POD,
        api_version="v1",
        time=T2,
    )
    assert [e[0] for e in entries(pod)] == ["kubectl", "zeta", "alpha"]


def test_more_than_ten_updaters_merge_the_oldest_into_ancient_changes() -> None:
    pod = write(None, created_pod(), "creator", time="2024-05-01T09:00:00Z")
    for n in range(11):
        label = f"l{n}"
        pod = write(
            pod,
            changed(pod, lambda p, label=label: p["metadata"]["labels"].update({label: "x"})),
            f"manager-{n:02}",
            time=f"2024-05-01T10:{n:02}:00Z",
        )
    managers = [e[0] for e in entries(pod)]
    assert len(managers) == 10
    assert managers[0] == "ancient-changes"
    assert (
        "creator" not in managers and "manager-00" not in managers and "manager-01" not in managers
    )
    ancient = owned(pod, "ancient-changes")
    assert {"f:l0", "f:l1", "f:app"} <= set(ancient["f:metadata"]["f:labels"])
