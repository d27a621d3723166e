"""The REST verbs over HTTP: status codes, bodies, field validation, subresources, patches."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from apiserver_fixtures import Api

Obj = dict[str, Any]

CMS = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


def pod(name: str, *containers: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": c, "image": f"{c}:1"} for c in containers or ("c",)]},
    }


def deployment(name: str) -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


async def created(api: Api, path: str, body: Obj) -> Obj:
    status, obj = await api.json("POST", path, body=body)
    assert status == 201, obj
    return obj


# --- verbs and their answers ------------------------------------------------------------------


async def test_create_get_update_list_delete(api: Api) -> None:
    cm = await created(api, CMS, {"metadata": {"name": "a"}, "data": {"k": "1"}})
    status, got = await api.json("GET", f"{CMS}/a")
    assert (status, got) == (200, cm)
    got["data"] = {"k": "2"}
    status, updated = await api.json("PUT", f"{CMS}/a", body=got)
    assert status == 200 and updated["data"] == {"k": "2"}
    assert int(updated["metadata"]["resourceVersion"]) > int(cm["metadata"]["resourceVersion"])
    status, listing = await api.json("GET", CMS)
    assert (listing["kind"], listing["apiVersion"]) == ("ConfigMapList", "v1")
    assert [i["metadata"]["name"] for i in listing["items"]] == ["a"]
    assert listing["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]
    # Kinds that do not return the deleted object answer a Success Status.
    status, deleted = await api.json("DELETE", f"{CMS}/a")
    assert status == 200
    assert deleted == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": "a", "kind": "configmaps", "uid": cm["metadata"]["uid"]},
    }
    status, missing = await api.json("GET", f"{CMS}/a")
    assert (status, missing["reason"], missing["message"]) == (
        404,
        "NotFound",
        'configmaps "a" not found',
    )


async def test_deleting_a_pod_answers_the_pod(api: Api) -> None:
    await created(api, PODS, pod("p"))
    status, body = await api.json("DELETE", f"{PODS}/p", body={"propagationPolicy": "Background"})
    assert status == 200
    assert (body["kind"], body["metadata"]["name"]) == ("Pod", "p")


async def test_stale_update_is_a_409_status(api: Api) -> None:
    cm = await created(api, CMS, {"metadata": {"name": "a"}})
    await api.json("PUT", f"{CMS}/a", body=dict(cm, data={"k": "new"}))
    status, body = await api.json("PUT", f"{CMS}/a", body=dict(cm, data={"k": "old"}))
    assert (status, body["reason"]) == (409, "Conflict")
    assert body["details"] == {"name": "a", "kind": "configmaps"}


async def test_concurrent_puts_without_a_resource_version_all_apply(api: Api) -> None:
    await created(api, CMS, {"metadata": {"name": "a"}})
    answers = await asyncio.gather(
        *(
            api.json("PUT", f"{CMS}/a", body={"metadata": {"name": "a"}, "data": {"k": str(i)}})
            for i in range(5)
        )
    )
    assert [status for status, _ in answers] == [200] * 5


async def test_create_of_a_taken_name(api: Api) -> None:
    await created(api, CMS, {"metadata": {"name": "a"}})
    status, body = await api.json("POST", CMS, body={"metadata": {"name": "a"}})
    assert (status, body["reason"], body["message"]) == (
        409,
        "AlreadyExists",
        'configmaps "a" already exists',
    )


async def test_an_invalid_object_is_422_with_causes(api: Api) -> None:
    bad = pod("p")
    del bad["spec"]["containers"][0]["image"]
    status, body = await api.json("POST", PODS, body=bad)
    assert (status, body["reason"]) == (422, "Invalid")
    assert body["message"] == 'Pod "p" is invalid: spec.containers[0].image: Required value'
    assert body["details"]["causes"][0]["field"] == "spec.containers[0].image"


async def test_deletecollection_with_a_selector(api: Api) -> None:
    for name, tier in [("a", "web"), ("b", "db"), ("c", "web")]:
        await created(api, CMS, {"metadata": {"name": name, "labels": {"tier": tier}}})
    status, body = await api.json("DELETE", CMS, params={"labelSelector": "tier=web"})
    assert status == 200
    assert [i["metadata"]["name"] for i in body["items"]] == ["a", "c"]
    _, listing = await api.json("GET", CMS)
    assert [i["metadata"]["name"] for i in listing["items"]] == ["b"]


# --- paths that name nothing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/bogus"),
        ("GET", "/apis/apps/v1/pods"),
        ("GET", "/api/v1/namespaces/default/nodes"),
        ("GET", f"{PODS}/p/unknown"),
        ("GET", f"{PODS}/p/status/extra"),
        ("GET", f"{PODS}/p/proxy"),
    ],
)
async def test_unknown_paths_are_404(api: Api, method: str, path: str) -> None:
    await created(api, PODS, pod("p"))
    status, body = await api.json(method, path)
    assert (status, body["kind"], body["reason"]) == (404, "Status", "NotFound")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"{CMS}/a"),
        ("PUT", CMS),
        ("PATCH", CMS),
        ("POST", f"{PODS}/p/status"),
        ("GET", f"{PODS}/p/binding"),
        ("POST", "/api/v1/configmaps"),
        ("DELETE", "/api/v1/configmaps"),
    ],
)
async def test_methods_a_path_does_not_serve_are_405(api: Api, method: str, path: str) -> None:
    await created(api, CMS, {"metadata": {"name": "a", "namespace": "default"}})
    await created(api, PODS, pod("p"))
    status, body = await api.json(method, path, body={"metadata": {"name": "a"}})
    assert (status, body.get("reason")) == (405, "MethodNotAllowed")


# --- bodies -----------------------------------------------------------------------------------


async def test_field_validation_modes(api: Api) -> None:
    body = {"metadata": {"name": "a"}, "bogus": 1, "data": {"k": "v"}}
    response = await api.request("POST", CMS, body=body, params={"fieldValidation": "Strict"})
    answer = await response.json()
    assert (response.status, answer["reason"]) == (400, "BadRequest")
    assert answer["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'unknown field "bogus"'
    )
    response = await api.request("POST", CMS, body=body)  # Warn is the default
    assert response.status == 201
    assert response.headers.getall("Warning") == ['299 - "unknown field \\"bogus\\""']
    assert "bogus" not in await response.json()
    body["metadata"]["name"] = "b"
    response = await api.request("POST", CMS, body=body, params={"fieldValidation": "Ignore"})
    assert response.status == 201
    assert "Warning" not in response.headers


async def test_duplicate_fields_in_a_json_body(api: Api) -> None:
    raw = b'{"metadata":{"name":"a","name":"b"}}'
    response = await api.request("POST", CMS, raw=raw, params={"fieldValidation": "Strict"})
    assert response.status == 400
    assert (await response.json())["message"].endswith('duplicate field "metadata.name"')
    response = await api.request("POST", CMS, raw=raw)
    assert response.status == 201
    assert (await response.json())["metadata"]["name"] == "b"


async def test_yaml_request_bodies(api: Api) -> None:
    raw = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  k: v\n"
    response = await api.request("POST", CMS, raw=raw, content_type="application/yaml")
    assert response.status == 201
    assert (await response.json())["data"] == {"k": "v"}


REPEATED_YAML = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: y\ndata:\n  k: v\n"


async def test_repeated_keys_in_a_yaml_body_under_each_field_validation(api: Api) -> None:
    """Kubernetes' strict YAML decoding (json.go unmarshal): a 400 under Strict, one warning
    a line under Warn, nothing at all under Ignore; the last value is kept."""
    response = await api.request(
        "POST",
        CMS,
        raw=REPEATED_YAML,
        content_type="application/yaml",
        params={"fieldValidation": "Strict"},
    )
    assert response.status == 400
    answer = await response.json()
    assert (answer["code"], answer["reason"]) == (400, "BadRequest")
    assert answer["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'yaml: unmarshal errors:\n  line 5: key "name" already set in map'
    )
    response = await api.request("POST", CMS, raw=REPEATED_YAML, content_type="application/yaml")
    assert response.status == 201
    assert response.headers.getall("Warning") == [
        '299 - "line 5: key \\"name\\" already set in map"'
    ]
    assert (await response.json())["metadata"]["name"] == "y"
    response = await api.request(
        "PUT",
        f"{CMS}/y",
        raw=REPEATED_YAML,
        content_type="application/yaml",
        params={"fieldValidation": "Ignore"},
    )
    assert response.status == 200
    assert "Warning" not in response.headers


async def test_repeated_keys_in_a_yaml_apply_patch_under_each_field_validation(api: Api) -> None:
    """The apply patcher's own check (handlers/patch.go): its 400 under Strict names
    yaml.UnmarshalStrict's error; Warn warns a line at a time; Ignore says nothing."""
    params = {"fieldManager": "m", "fieldValidation": "Strict"}
    response = await api.request(
        "PATCH", f"{CMS}/y", raw=REPEATED_YAML, content_type=APPLY, params=params
    )
    assert response.status == 400
    answer = await response.json()
    assert (answer["code"], answer["reason"]) == (400, "BadRequest")
    assert answer["message"] == (
        "error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n"
        '  line 5: key "name" already set in map'
    )
    response = await api.request(
        "PATCH", f"{CMS}/y", raw=REPEATED_YAML, content_type=APPLY, params={"fieldManager": "m"}
    )
    assert response.status == 201
    assert response.headers.getall("Warning") == [
        '299 - "line 5: key \\"name\\" already set in map"'
    ]
    params = {"fieldManager": "m", "fieldValidation": "Ignore"}
    response = await api.request(
        "PATCH", f"{CMS}/y", raw=REPEATED_YAML, content_type=APPLY, params=params
    )
    assert response.status == 200
    assert "Warning" not in response.headers


@pytest.mark.parametrize(
    ("raw", "content_type", "code", "message"),
    [
        (b"", "application/json", 400, "the request body is empty: an object is required"),
        (
            b'{"apiVersion":"apps/v1","metadata":{"name":"z"}}',
            "application/json",
            400,
            "the API version in the data (apps/v1) does not match the expected API version (v1)",
        ),
        (
            b'{"kind":"Pod","metadata":{"name":"z"}}',
            "application/json",
            400,
            "the kind in the data (Pod) does not match the expected kind (ConfigMap)",
        ),
        (b"<a/>", "application/xml", 415, None),
        (
            b"x" * (3 * 1024 * 1024 + 1),
            "application/json",
            413,
            "Request entity too large: limit is 3145728",
        ),
    ],
)
async def test_bodies_that_cannot_be_taken(
    api: Api, raw: bytes, content_type: str, code: int, message: str | None
) -> None:
    response = await api.request("POST", CMS, raw=raw, content_type=content_type)
    body = await response.json()
    assert (response.status, body["code"]) == (code, code)
    if message is not None:
        assert body["message"] == message


# --- patches ----------------------------------------------------------------------------------


async def test_strategic_merge_patch_merges_containers_by_name(api: Api) -> None:
    await created(api, PODS, pod("p", "a", "b"))
    patch = {"spec": {"containers": [{"name": "b", "image": "b:2"}]}}
    status, body = await api.json("PATCH", f"{PODS}/p", body=patch, content_type=STRATEGIC)
    assert status == 200
    assert [(c["name"], c["image"]) for c in body["spec"]["containers"]] == [
        ("a", "a:1"),
        ("b", "b:2"),
    ]


async def test_merge_and_json_patches(api: Api) -> None:
    await created(api, CMS, {"metadata": {"name": "a"}, "data": {"x": "1", "y": "2"}})
    status, body = await api.json(
        "PATCH", f"{CMS}/a", body={"data": {"x": None, "z": "3"}}, content_type=MERGE
    )
    assert (status, body["data"]) == (200, {"y": "2", "z": "3"})
    ops = [{"op": "add", "path": "/metadata/labels", "value": {"l": "v"}}]
    status, body = await api.json("PATCH", f"{CMS}/a", body=ops, content_type=JSON_PATCH)
    assert (status, body["metadata"]["labels"]) == (200, {"l": "v"})


async def test_a_patch_naming_a_stale_resource_version_is_a_conflict(api: Api) -> None:
    cm = await created(api, CMS, {"metadata": {"name": "a"}})
    await api.json("PATCH", f"{CMS}/a", body={"data": {"k": "1"}}, content_type=MERGE)
    stale = {"metadata": {"resourceVersion": cm["metadata"]["resourceVersion"]}, "data": {"k": "2"}}
    status, body = await api.json("PATCH", f"{CMS}/a", body=stale, content_type=MERGE)
    assert (status, body["reason"]) == (409, "Conflict")


async def test_patch_of_a_missing_object_is_404_and_unknown_patch_types_415(api: Api) -> None:
    status, body = await api.json("PATCH", f"{CMS}/missing", body={"data": {}}, content_type=MERGE)
    assert (status, body["message"]) == (404, 'configmaps "missing" not found')
    await created(api, CMS, {"metadata": {"name": "a"}})
    status, body = await api.json("PATCH", f"{CMS}/a", body={}, content_type="application/json")
    assert (status, body["reason"]) == (415, "UnsupportedMediaType")


async def test_server_side_apply_creates_tracks_and_conflicts(api: Api) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "ap"},
        "data": {"k": "1"},
    }
    status, body = await api.json(
        "PATCH", f"{CMS}/ap", body=config, content_type=APPLY, params={"fieldManager": "one"}
    )
    assert status == 201
    [entry] = body["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("one", "Apply")
    assert entry["fieldsV1"] == {"f:data": {"f:k": {}}}

    config["data"] = {"k": "2"}
    status, body = await api.json(
        "PATCH", f"{CMS}/ap", body=config, content_type=APPLY, params={"fieldManager": "two"}
    )
    assert (status, body["reason"]) == (409, "Conflict")
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "one": .data.k'
    assert body["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "one"', "field": ".data.k"}
    ]
    status, body = await api.json(
        "PATCH",
        f"{CMS}/ap",
        body=config,
        content_type=APPLY,
        params={"fieldManager": "two", "force": "true"},
    )
    assert (status, body["data"]) == (200, {"k": "2"})
    assert [m["manager"] for m in body["metadata"]["managedFields"]] == ["two"]


async def test_apply_needs_a_field_manager(api: Api) -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ap"}}
    status, body = await api.json("PATCH", f"{CMS}/ap", body=config, content_type=APPLY)
    assert status in (400, 422)
    assert "fieldManager: Required value: is required for apply patch" in body["message"]


async def test_updates_record_their_manager(api: Api) -> None:
    body = {"metadata": {"name": "a"}, "data": {"k": "v"}}
    status, cm = await api.json(
        "POST", CMS, body=body, params={"fieldManager": "kubectl-client-side-apply"}
    )
    assert status == 201
    [entry] = cm["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("kubectl-client-side-apply", "Update")
    assert entry["fieldsV1"] == {"f:data": {".": {}, "f:k": {}}}


async def test_a_no_op_put_keeps_the_resource_version(api: Api) -> None:
    cm = await created(api, CMS, {"metadata": {"name": "a"}, "data": {"k": "v"}})
    revision = api.stores.store.revision
    status, same = await api.json("PUT", f"{CMS}/a", body=cm)
    assert status == 200
    assert same["metadata"]["resourceVersion"] == cm["metadata"]["resourceVersion"]
    assert api.stores.store.revision == revision


async def test_dry_run_writes_nothing(api: Api) -> None:
    revision = api.stores.store.revision
    status, body = await api.json(
        "POST", CMS, body={"metadata": {"name": "a"}}, params={"dryRun": "All"}
    )
    assert status == 201 and body["metadata"]["name"] == "a"
    assert api.stores.store.revision == revision
    assert (await api.json("GET", f"{CMS}/a"))[0] == 404


# --- subresources -----------------------------------------------------------------------------


async def test_status_subresource_changes_only_the_status(api: Api) -> None:
    await created(api, PODS, pod("p"))
    patch = {"status": {"phase": "Running"}, "spec": {"nodeName": "sneaky"}}
    status, body = await api.json("PATCH", f"{PODS}/p/status", body=patch, content_type=MERGE)
    assert status == 200
    assert body["status"]["phase"] == "Running"
    assert "nodeName" not in body["spec"]
    # And the main resource ignores status.
    status, body = await api.json(
        "PATCH", f"{PODS}/p", body={"status": {"phase": "Failed"}}, content_type=MERGE
    )
    assert body["status"]["phase"] == "Running"


async def test_binding_assigns_a_node_once(api: Api) -> None:
    await created(api, PODS, pod("p"))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "p"},
        "target": {"kind": "Node", "name": "n1"},
    }
    status, body = await api.json("POST", f"{PODS}/p/binding", body=binding)
    assert (status, body) == (
        201,
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
    )
    _, bound = await api.json("GET", f"{PODS}/p")
    assert bound["spec"]["nodeName"] == "n1"
    scheduled = [c for c in bound["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert scheduled and scheduled[0]["status"] == "True"
    binding["target"]["name"] = "n2"
    status, body = await api.json("POST", f"{PODS}/p/binding", body=binding)
    assert (status, body["message"]) == (
        409,
        'Operation cannot be fulfilled on pods/binding "p": pod p is already assigned to node "n1"',
    )


async def test_eviction_deletes_gracefully(api: Api) -> None:
    bound = pod("p")
    bound["spec"]["nodeName"] = "n1"
    await created(api, PODS, bound)
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p"}}
    status, _ = await api.json("POST", f"{PODS}/p/eviction", body=eviction)
    assert status == 201
    _, evicted = await api.json("GET", f"{PODS}/p")
    assert evicted["metadata"]["deletionGracePeriodSeconds"] == 30


async def test_scale_reads_and_writes_replicas(api: Api) -> None:
    await created(api, DEPLOYMENTS, deployment("d"))
    status, scale = await api.json("GET", f"{DEPLOYMENTS}/d/scale")
    assert status == 200
    assert (scale["kind"], scale["apiVersion"], scale["spec"]) == (
        "Scale",
        "autoscaling/v1",
        {"replicas": 1},
    )
    assert scale["status"]["selector"] == "app=d"
    status, scale = await api.json(
        "PATCH", f"{DEPLOYMENTS}/d/scale", body={"spec": {"replicas": 3}}, content_type=MERGE
    )
    assert (status, scale["spec"]["replicas"]) == (200, 3)
    _, dep = await api.json("GET", f"{DEPLOYMENTS}/d")
    assert dep["spec"]["replicas"] == 3
    assert dep["metadata"]["generation"] == 2
    status, body = await api.json(
        "PATCH", f"{DEPLOYMENTS}/d/scale", body={"spec": {"replicas": -1}}, content_type=MERGE
    )
    assert (status, body["reason"]) == (422, "Invalid")


async def test_namespace_delete_and_finalize(api: Api) -> None:
    await api.stores.namespace("gone")
    status, ns = await api.json("DELETE", "/api/v1/namespaces/gone")
    assert (status, ns["kind"], ns["status"]["phase"]) == (200, "Namespace", "Terminating")
    status, body = await api.json(
        "POST", "/api/v1/namespaces/gone/configmaps", body={"metadata": {"name": "x"}}
    )
    assert (status, body["reason"]) == (403, "Forbidden")
    ns["spec"]["finalizers"] = []
    status, body = await api.json("PUT", "/api/v1/namespaces/gone/finalize", body=ns)
    assert status == 200
    assert (await api.json("GET", "/api/v1/namespaces/gone"))[0] == 404
