"""pods/<name>/resize over HTTP: discovery, every verb and patch type, RBAC, and the status
fields the kubelet reports a resize with."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from apiserver_fixtures import VIEWER_TOKEN, Api

Obj = dict[str, Any]

PODS = "/api/v1/namespaces/default/pods"
RBAC = "/apis/rbac.authorization.k8s.io/v1/namespaces/default"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
QOS_REFUSAL = (
    'Pod "p" is invalid: spec: Invalid value: "Guaranteed": '
    "Pod QOS Class may not change as a result of resizing"
)


def _resources(cpu: str) -> Obj:
    return {"requests": {"cpu": cpu, "memory": "64Mi"}, "limits": {"cpu": cpu, "memory": "64Mi"}}


def _pod(name: str = "p") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx", "resources": _resources("100m")}]},
    }


async def _create(api: Api, name: str = "p") -> Obj:
    status, body = await api.json("POST", PODS, body=_pod(name))
    assert status == 201, body
    return body


def _cpu(pod: Obj) -> str:
    cpu: str = pod["spec"]["containers"][0]["resources"]["limits"]["cpu"]
    return cpu


async def test_discovery_lists_pods_resize_with_get_patch_update(api: Api) -> None:
    status, listing = await api.json("GET", "/api/v1")
    assert status == 200
    [entry] = [r for r in listing["resources"] if r["name"] == "pods/resize"]
    assert entry == {
        "name": "pods/resize",
        "singularName": "",
        "namespaced": True,
        "kind": "Pod",
        "verbs": ["get", "patch", "update"],
    }


async def test_get_answers_the_pod(api: Api) -> None:
    created = await _create(api)
    status, body = await api.json("GET", f"{PODS}/p/resize")
    assert status == 200
    assert body["kind"] == "Pod"
    assert body["metadata"]["uid"] == created["metadata"]["uid"]


@pytest.mark.parametrize(
    ("content_type", "patch"),
    [
        (MERGE, {"spec": {"containers": [{"name": "c", "resources": _resources("200m")}]}}),
        (STRATEGIC, {"spec": {"containers": [{"name": "c", "resources": _resources("200m")}]}}),
        (
            JSON_PATCH,
            [
                {
                    "op": "replace",
                    "path": "/spec/containers/0/resources/requests/cpu",
                    "value": "200m",
                },
                {
                    "op": "replace",
                    "path": "/spec/containers/0/resources/limits/cpu",
                    "value": "200m",
                },
            ],
        ),
    ],
    ids=["merge", "strategic", "json"],
)
async def test_each_patch_type_resizes_and_bumps_the_generation(
    api: Api, content_type: str, patch: Any
) -> None:
    created = await _create(api)
    status, body = await api.json(
        "PATCH", f"{PODS}/p/resize", body=patch, content_type=content_type
    )
    assert status == 200, body
    assert _cpu(body) == "200m"
    assert body["metadata"]["generation"] == created["metadata"]["generation"] + 1
    resize_entries = [e for e in body["metadata"]["managedFields"] if e.get("subresource")]
    assert [(e["operation"], e["subresource"]) for e in resize_entries] == [("Update", "resize")]
    _, stored = await api.json("GET", f"{PODS}/p")
    assert _cpu(stored) == "200m"


async def test_server_side_apply_through_resize(api: Api) -> None:
    await _create(api)
    config = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "resources": _resources("300m")}]},
    }
    status, body = await api.json(
        "PATCH",
        f"{PODS}/p/resize",
        body=config,
        content_type=APPLY,
        params={"fieldManager": "vpa", "force": "true"},
    )
    assert status == 200, body
    assert _cpu(body) == "300m"
    [entry] = [e for e in body["metadata"]["managedFields"] if e["manager"] == "vpa"]
    assert (entry["operation"], entry["subresource"]) == ("Apply", "resize")


async def test_put_resizes(api: Api) -> None:
    created = await _create(api)
    body = copy.deepcopy(created)
    body["spec"]["containers"][0]["resources"] = _resources("250m")
    status, answer = await api.json("PUT", f"{PODS}/p/resize", body=body)
    assert status == 200, answer
    assert _cpu(answer) == "250m"


async def test_a_missing_pod_is_404_and_never_created(api: Api) -> None:
    config = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ghost"}}
    for content_type, body in ((MERGE, {"spec": {}}), (APPLY, config)):
        status, answer = await api.json(
            "PATCH",
            f"{PODS}/ghost/resize",
            body=body,
            content_type=content_type,
            params={"fieldManager": "m"},
        )
        assert (status, answer["message"]) == (404, 'pods "ghost" not found')


async def test_other_fields_in_a_resize_are_ignored(api: Api) -> None:
    created = await _create(api)
    patch = {
        "metadata": {"labels": {"sneaky": "yes"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], "activeDeadlineSeconds": 5},
    }
    status, body = await api.json("PATCH", f"{PODS}/p/resize", body=patch, content_type=STRATEGIC)
    assert status == 200, body
    assert body["spec"]["containers"][0]["image"] == "nginx"
    assert "activeDeadlineSeconds" not in body["spec"]
    assert "labels" not in body["metadata"]
    assert body["metadata"]["generation"] == created["metadata"]["generation"]


async def test_a_qos_change_is_a_422(api: Api) -> None:
    await _create(api)
    patch = {"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "50m"}}}]}}
    status, body = await api.json("PATCH", f"{PODS}/p/resize", body=patch, content_type=STRATEGIC)
    assert (status, body["reason"], body["message"]) == (422, "Invalid", QOS_REFUSAL)
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "Guaranteed": Pod QOS Class may not change as a result '
            "of resizing",
            "field": "spec",
        }
    ]


async def test_the_pod_itself_still_refuses_a_resource_change(api: Api) -> None:
    await _create(api)
    patch = {"spec": {"containers": [{"name": "c", "resources": _resources("200m")}]}}
    status, body = await api.json("PATCH", f"{PODS}/p", body=patch, content_type=STRATEGIC)
    assert status == 422
    assert body["message"].startswith(
        'Pod "p" is invalid: spec: Forbidden: pod updates may not change fields other than '
    )


async def _grant_viewer(api: Api, resources: list[str]) -> None:
    role = {
        "metadata": {"name": "pod-patcher"},
        "rules": [{"apiGroups": [""], "resources": resources, "verbs": ["get", "patch"]}],
    }
    assert (await api.json("POST", f"{RBAC}/roles", body=role))[0] == 201
    binding = {
        "metadata": {"name": "pod-patcher"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-patcher"},
        "subjects": [{"kind": "User", "name": "viewer"}],
    }
    assert (await api.json("POST", f"{RBAC}/rolebindings", body=binding))[0] == 201


async def test_rbac_authorizes_resize_as_pods_resize(api: Api) -> None:
    await _create(api)
    await _grant_viewer(api, ["pods"])
    patch = {"spec": {"containers": [{"name": "c", "resources": _resources("200m")}]}}
    status, body = await api.json(
        "PATCH", f"{PODS}/p/resize", body=patch, content_type=STRATEGIC, token=VIEWER_TOKEN
    )
    assert (status, body["message"]) == (
        403,
        'pods "p" is forbidden: User "viewer" cannot patch resource "pods/resize" in API group '
        '"" in the namespace "default"',
    )


async def test_status_keeps_what_the_kubelet_reports_of_a_resize(api: Api) -> None:
    await _create(api)
    status_patch = {
        "status": {
            "conditions": [
                {
                    "type": "PodResizePending",
                    "status": "True",
                    "reason": "Deferred",
                    "message": "Node didn't have enough resource: cpu, requested: 200, used: 0, "
                    "capacity: 100",
                    "observedGeneration": 2,
                },
                {"type": "PodResizeInProgress", "status": "True", "observedGeneration": 2},
            ],
            "containerStatuses": [
                {
                    "name": "c",
                    "image": "nginx",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                    "allocatedResources": {"cpu": "100m", "memory": "64Mi"},
                    "resources": _resources("100m"),
                }
            ],
        }
    }
    status, body = await api.json(
        "PATCH", f"{PODS}/p/status", body=status_patch, content_type=MERGE
    )
    assert status == 200, body
    _, stored = await api.json("GET", f"{PODS}/p")
    [container] = stored["status"]["containerStatuses"]
    assert container["allocatedResources"] == {"cpu": "100m", "memory": "64Mi"}
    assert container["resources"] == _resources("100m")
    kinds = [(c["type"], c.get("reason")) for c in stored["status"]["conditions"]]
    assert kinds == [("PodResizePending", "Deferred"), ("PodResizeInProgress", None)]


# --- PodResizeValidator -------------------------------------------------------------------------


async def _node(api: Api, name: str, os_name: str = "linux", cpu: str = "1") -> None:
    node = {"metadata": {"name": name, "labels": {"kubernetes.io/os": os_name}}}
    assert (await api.json("POST", "/api/v1/nodes", body=node))[0] == 201
    allocatable = {"status": {"allocatable": {"cpu": cpu, "memory": "1Gi", "pods": "110"}}}
    status, body = await api.json(
        "PATCH", f"/api/v1/nodes/{name}/status", body=allocatable, content_type=MERGE
    )
    assert status == 200, body


async def _create_on(api: Api, node: str) -> None:
    pod = _pod()
    pod["spec"]["nodeName"] = node
    status, body = await api.json("POST", PODS, body=pod)
    assert status == 201, body


async def _resize_cpu(api: Api, cpu: str) -> tuple[int, Any]:
    patch = {"spec": {"containers": [{"name": "c", "resources": _resources(cpu)}]}}
    return await api.json("PATCH", f"{PODS}/p/resize", body=patch, content_type=STRATEGIC)


async def test_a_resize_beyond_the_nodes_allocatable_is_refused_at_once(api: Api) -> None:
    await _node(api, "n1", cpu="1")
    await _create_on(api, "n1")
    assert (await _resize_cpu(api, "900m"))[0] == 200
    status, body = await _resize_cpu(api, "1500m")
    assert (status, body["reason"], body["message"]) == (
        403,
        "Forbidden",
        'pods "p" is forbidden: Node didn\'t have enough allocatable resources: cpu, '
        "requested: 1500, allocatable: 1000",
    )
    _, stored = await api.json("GET", f"{PODS}/p")
    assert _cpu(stored) == "900m"


async def test_a_resize_on_a_node_that_is_not_linux_is_refused(api: Api) -> None:
    await _node(api, "w1", os_name="windows", cpu="8")
    await _create_on(api, "w1")
    status, body = await _resize_cpu(api, "200m")
    assert (status, body["message"]) == (
        403,
        'pods "p" is forbidden: pod resize is only supported on linux nodes, node "w1" is '
        '"windows"',
    )


async def test_a_resize_on_a_missing_node_is_refused(api: Api) -> None:
    await _create_on(api, "gone")
    status, body = await _resize_cpu(api, "200m")
    assert (status, body["message"]) == (403, 'pods "p" is forbidden: node "gone" not found')
    # A resize that changes nothing is no new generation, and is not checked.
    assert (await _resize_cpu(api, "100m"))[0] == 200
