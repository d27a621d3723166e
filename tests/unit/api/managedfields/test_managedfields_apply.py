"""Server-side apply: merging, pruning, conflicts and the Apply entries it records."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kubelite.api import schema
from kubelite.api.errors import StatusError
from kubelite.api.managedfields import ApplyConflictError, apply, update

POD = schema.load().for_kind("", "v1", "Pod")
T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T10:01:00Z"
T2 = "2024-05-01T10:02:00Z"
NGINX = 'k:{"name":"nginx"}'
POD_RESETS = ("status",)

Obj = dict[str, Any]


def pod(*, labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    """An applied configuration of the pod `web`."""
    metadata: Obj = {"name": "web", "namespace": "default"}
    if labels is not None:
        metadata["labels"] = labels
    config: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata}
    if spec:
        config["spec"] = spec
    return config


def nginx(**fields: Any) -> Obj:
    return {"name": "nginx", "image": "nginx:1.27", **fields}


def run(live: Obj | None, config: Obj, manager: str, *, force: bool = False, time: str = T0) -> Obj:
    return apply(
        live,
        config,
        manager=manager,
        force=force,
        node=POD,
        api_version="v1",
        time=time,
        reset_fields=POD_RESETS,
    )


def entries(obj: Obj) -> dict[str, Obj]:
    """The managedFields entries by manager."""
    return {e["manager"]: e for e in obj["metadata"].get("managedFields", [])}


def owned(obj: Obj, manager: str) -> Obj:
    return entries(obj)[manager]["fieldsV1"]


def test_first_apply_creates_the_object_with_one_apply_entry() -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "simple-pod"},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}]},
    }
    result = run(None, config, "kubectl")
    assert result["metadata"]["managedFields"] == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:spec": {"f:containers": {NGINX: {".": {}, "f:image": {}, "f:name": {}}}}
            },
        }
    ]
    # The raw JSON, as the API server serves it: "." first, then the fields sorted.
    assert json.dumps(
        result["metadata"]["managedFields"][0]["fieldsV1"], separators=(",", ":")
    ) == (
        '{"f:spec":{"f:containers":{"k:{\\"name\\":\\"nginx\\"}":{".":{},"f:image":{},"f:name":{}}}}}'
    )
    assert result["spec"] == config["spec"]


def test_applied_labels_are_owned_key_by_key() -> None:
    result = run(None, pod(labels={"app": "web"}, containers=[nginx()]), "kubectl")
    assert owned(result, "kubectl")["f:metadata"] == {"f:labels": {"f:app": {}}}


def test_apply_changes_neither_argument() -> None:
    live = run(None, pod(containers=[nginx()]), "kubectl")
    config = pod(labels={"a": "1"}, containers=[nginx(image="nginx:1.28")])
    before = (copy.deepcopy(live), copy.deepcopy(config))
    run(live, config, "kubectl", time=T1)
    assert (live, config) == before


@pytest.mark.parametrize(
    ("first", "second", "expected_spec", "expected_labels"),
    [
        pytest.param(
            pod(labels={"app": "web", "tier": "front"}, containers=[nginx()]),
            pod(labels={"app": "web"}, containers=[nginx()]),
            {"containers": [nginx()]},
            {"app": "web"},
            id="a label no longer applied is removed",
        ),
        pytest.param(
            pod(containers=[nginx(), {"name": "sidecar", "image": "busybox"}]),
            pod(containers=[nginx()]),
            {"containers": [nginx()]},
            None,
            id="a container no longer applied is removed",
        ),
        pytest.param(
            pod(containers=[nginx(command=["nginx", "-g", "daemon off;"])]),
            pod(containers=[nginx()]),
            {"containers": [nginx()]},
            None,
            id="a field no longer applied is removed from its container",
        ),
        pytest.param(
            pod(containers=[nginx()], nodeSelector={"disktype": "ssd"}),
            pod(containers=[nginx()]),
            {"containers": [nginx()]},
            None,
            id="an atomic map no longer applied is removed whole",
        ),
    ],
)
def test_reapplying_without_a_field_removes_it(
    first: Obj, second: Obj, expected_spec: Obj, expected_labels: dict[str, str] | None
) -> None:
    live = run(None, first, "kubectl")
    result = run(live, second, "kubectl", time=T1)
    assert result["spec"] == expected_spec
    assert result["metadata"].get("labels") == expected_labels
    assert (
        result["metadata"]["managedFields"][0]["fieldsV1"]
        == run(None, second, "kubectl")["metadata"]["managedFields"][0]["fieldsV1"]
    )


def test_a_map_or_list_emptied_by_reapplying_is_dropped_not_kept_empty() -> None:
    """1.36 kept `{}`/`[]` here (structured-merge-diff #306, via kubernetes#135391); 1.37 pins
    structured-merge-diff v6.4.2, which reverts it (kubernetes#140294, structured-merge-diff
    #331/#334): RemoveItems turns the emptied container into null again, which is dropped. An
    applied `{}` is still owned."""
    live = run(None, pod(labels={"app": "web"}, containers=[nginx()]), "kubectl")
    result = run(live, pod(labels={}, containers=[nginx()]), "kubectl", time=T1)
    assert "labels" not in result["metadata"]
    assert owned(result, "kubectl")["f:metadata"] == {"f:labels": {}}
    live = run(None, pod(containers=[nginx()], volumes=[{"name": "v", "emptyDir": {}}]), "kubectl")
    result = run(live, pod(containers=[nginx()], volumes=[]), "kubectl", time=T1)
    assert "volumes" not in result["spec"]


def test_a_field_another_manager_also_owns_is_kept_when_no_longer_applied() -> None:
    live = run(None, pod(labels={"app": "web"}, containers=[nginx()]), "kubectl")
    live = run(live, pod(labels={"app": "web"}), "ci", time=T1)
    result = run(live, pod(containers=[nginx()]), "kubectl", time=T2)
    assert result["metadata"]["labels"] == {"app": "web"}
    assert "f:metadata" not in owned(result, "kubectl")
    assert owned(result, "ci") == {"f:metadata": {"f:labels": {"f:app": {}}}}


def test_a_field_an_updater_changed_is_kept_when_the_applier_drops_it() -> None:
    live = run(None, pod(containers=[nginx()], restartPolicy="Always"), "kubectl")
    edited = copy.deepcopy(live)
    edited["spec"]["restartPolicy"] = "Never"
    update(live, edited, manager="kubectl-edit", node=POD, api_version="v1", time=T1)
    result = run(edited, pod(containers=[nginx()]), "kubectl", time=T2)
    assert result["spec"]["restartPolicy"] == "Never"


def test_two_managers_applying_the_same_value_share_it_without_conflict() -> None:
    live = run(None, pod(containers=[nginx()]), "alice")
    result = run(live, pod(containers=[nginx()]), "bob", time=T1)
    shared = {"f:spec": {"f:containers": {NGINX: {".": {}, "f:image": {}, "f:name": {}}}}}
    assert owned(result, "alice") == shared
    assert owned(result, "bob") == shared


def test_a_different_value_for_a_field_another_applier_owns_conflicts() -> None:
    live = run(None, pod(containers=[nginx()]), "alice")
    with pytest.raises(ApplyConflictError) as caught:
        run(live, pod(containers=[nginx(image="nginx:1.28")]), "bob", time=T1)
    assert caught.value.conflicts == [("alice", '.spec.containers[name="nginx"].image')]
    assert str(caught.value) == (
        'Apply failed with 1 conflict: conflict with "alice": .spec.containers[name="nginx"].image'
    )


def test_a_conflict_with_an_updater_names_its_api_version() -> None:
    live = run(None, pod(containers=[nginx()]), "kubectl")
    edited = copy.deepcopy(live)
    edited["spec"]["containers"][0]["image"] = "nginx:1.26"
    update(live, edited, manager="kubectl-client-side-apply", node=POD, api_version="v1", time=T1)
    with pytest.raises(ApplyConflictError) as caught:
        run(edited, pod(containers=[nginx()]), "kubectl", time=T2)
    assert str(caught.value) == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: '
        '.spec.containers[name="nginx"].image'
    )


def test_force_takes_the_value_and_the_ownership() -> None:
    live = run(None, pod(containers=[nginx()], restartPolicy="Always"), "alice")
    result = run(live, pod(containers=[nginx(image="nginx:1.28")]), "bob", force=True, time=T1)
    assert result["spec"]["containers"] == [nginx(image="nginx:1.28")]
    assert owned(result, "alice") == {
        "f:spec": {"f:containers": {NGINX: {".": {}, "f:name": {}}}, "f:restartPolicy": {}}
    }
    assert owned(result, "bob") == {
        "f:spec": {"f:containers": {NGINX: {".": {}, "f:image": {}, "f:name": {}}}}
    }


def test_several_conflicts_are_listed_by_manager() -> None:
    live = run(None, pod(containers=[nginx()], restartPolicy="Always"), "alice")
    live = run(live, pod(labels={"team": "a"}), "carol", time=T1)
    config = pod(labels={"team": "b"}, containers=[nginx(image="x")], restartPolicy="Never")
    with pytest.raises(ApplyConflictError) as caught:
        run(live, config, "bob", time=T2)
    assert str(caught.value) == (
        "Apply failed with 3 conflicts: "
        'conflicts with "alice":\n'
        "- .spec.restartPolicy\n"
        '- .spec.containers[name="nginx"].image\n'
        'conflicts with "carol":\n'
        "- .metadata.labels.team"
    )


def test_containers_are_matched_by_name() -> None:
    live = run(None, pod(containers=[nginx()]), "alice")
    result = run(live, pod(containers=[{"name": "sidecar", "image": "busybox"}]), "bob", time=T1)
    assert [c["name"] for c in result["spec"]["containers"]] == ["nginx", "sidecar"]
    assert owned(result, "bob")["f:spec"]["f:containers"] == {
        'k:{"name":"sidecar"}': {".": {}, "f:image": {}, "f:name": {}}
    }


def test_ports_are_matched_by_number_and_protocol() -> None:
    config = pod(containers=[nginx(ports=[{"containerPort": 53}])])
    live = run(None, config, "alice")
    udp = pod(containers=[nginx(ports=[{"containerPort": 53, "protocol": "UDP"}])])
    result = run(live, udp, "bob", time=T1)
    assert result["spec"]["containers"][0]["ports"] == [
        {"containerPort": 53},
        {"containerPort": 53, "protocol": "UDP"},
    ]
    # Without a protocol the port is keyed as TCP, as Kubernetes defaults it.
    assert owned(result, "alice")["f:spec"]["f:containers"][NGINX]["f:ports"] == {
        'k:{"containerPort":53,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}
    }


def test_labels_are_shared_key_by_key() -> None:
    live = run(None, pod(labels={"app": "web"}, containers=[nginx()]), "alice")
    live = run(live, pod(labels={"team": "payments"}), "bob", time=T1)
    assert live["metadata"]["labels"] == {"app": "web", "team": "payments"}
    result = run(live, pod(containers=[nginx()]), "alice", time=T2)
    assert result["metadata"]["labels"] == {"team": "payments"}


def test_an_atomic_map_conflicts_as_a_whole() -> None:
    live = run(None, pod(containers=[nginx()], nodeSelector={"disktype": "ssd"}), "alice")
    with pytest.raises(ApplyConflictError) as caught:
        run(live, pod(nodeSelector={"zone": "a"}), "bob", time=T1)
    assert caught.value.conflicts == [("alice", ".spec.nodeSelector")]
    result = run(live, pod(nodeSelector={"zone": "a"}), "bob", force=True, time=T1)
    assert result["spec"]["nodeSelector"] == {"zone": "a"}
    assert "f:nodeSelector" not in owned(result, "alice")["f:spec"]


def test_an_object_without_managed_fields_is_adopted_before_the_first_apply() -> None:
    live = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "uid": "1"},
        "spec": {"containers": [nginx(image="nginx:1.26")]},
    }
    with pytest.raises(ApplyConflictError) as caught:
        run(live, pod(containers=[nginx()]), "kubectl")
    assert str(caught.value) == (
        'Apply failed with 1 conflict: conflict with "before-first-apply" using v1: '
        '.spec.containers[name="nginx"].image'
    )
    result = run(live, pod(containers=[nginx()]), "kubectl", force=True)
    assert [(e["manager"], e["operation"]) for e in result["metadata"]["managedFields"]] == [
        ("kubectl", "Apply"),
        ("before-first-apply", "Update"),
    ]


def test_a_no_op_apply_keeps_the_entry_time() -> None:
    live = run(None, pod(containers=[nginx()]), "kubectl")
    result = run(live, pod(containers=[nginx()]), "kubectl", time=T1)
    assert entries(result)["kubectl"]["time"] == T0


def test_status_is_neither_applied_nor_owned_on_the_main_resource() -> None:
    config = {**pod(containers=[nginx()]), "status": {"phase": "Running"}}
    result = run(None, config, "kubectl")
    assert "f:status" not in owned(result, "kubectl")


def test_kubectl_takes_over_from_client_side_apply_without_conflicts() -> None:
    last_applied = pod(containers=[nginx()])
    live = copy.deepcopy(last_applied)
    live["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(last_applied) + "\n"
    }
    update(None, live, manager="kubectl-client-side-apply", node=POD, api_version="v1", time=T0)
    result = run(live, pod(containers=[nginx(image="nginx:1.28")]), "kubectl", time=T1)
    assert result["spec"]["containers"] == [nginx(image="nginx:1.28")]
    assert result["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/last-applied-configuration": (
            '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default"},'
            '"spec":{"containers":[{"image":"nginx:1.28","name":"nginx"}]}}\n'
        )
    }
    # Another manager gets no such pass.
    with pytest.raises(ApplyConflictError):
        run(live, pod(containers=[nginx(image="nginx:1.28")]), "helm", time=T1)


@pytest.mark.parametrize(
    ("config", "code", "message"),
    [
        (
            {**pod(), "metadata": {"name": "web", "managedFields": []}},
            400,
            "metadata.managedFields must be nil",
        ),
        ({**pod(), "kind": "Service"}, 400, "invalid object type: /v1, Kind=Service"),
        ({**pod(), "apiVersion": "apps/v1"}, 400, "invalid object type: apps/v1, Kind=Pod"),
        (
            # Kubernetes 1.33 answers 500 (kubernetes/kubernetes#122480); a 400 as #139255 has it.
            pod(containers=[{"image": "nginx"}]),
            400,
            "failed to create typed patch object (default/web; /v1, Kind=Pod): .spec.containers: "
            'element 0: associative list with keys has an element that omits key field "name" '
            "(and doesn't have default value)",
        ),
    ],
)
def test_configurations_kubernetes_refuses(config: Obj, code: int, message: str) -> None:
    with pytest.raises(StatusError) as caught:
        run(None, config, "kubectl")
    assert (caught.value.code, caught.value.message) == (code, message)
