"""`/openapi/v3`: the index with hashes, and documents kubectl can validate and merge with."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from apiserver_fixtures import Api

from kubelite.api.kinds import REGISTRY
from kubelite.apiserver.openapi import OpenAPI
from kubelite.apiserver.version import version_info

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return OpenAPI(REGISTRY, version_info()["gitVersion"])


def document(openapi: OpenAPI, path: str) -> Obj:
    body, _ = openapi.document(path)
    return orjson.loads(body)


GROUP_VERSIONS = [
    OpenAPI.path_of(group, version)
    for group, versions in REGISTRY.group_versions().items()
    for version in versions
]


def refs(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str):
            found.add(ref)
        for item in value.values():
            found |= refs(item)
    elif isinstance(value, list):
        for item in value:
            found |= refs(item)
    return found


async def test_index_lists_every_group_version_with_its_hash(api: Api, openapi: OpenAPI) -> None:
    status, index = await api.json("GET", "/openapi/v3")
    assert status == 200
    assert set(index["paths"]) == set(GROUP_VERSIONS)
    assert {"api/v1", "apis/apps/v1"} <= set(index["paths"])
    for path, entry in index["paths"].items():
        url = urlsplit(entry["serverRelativeURL"])
        assert url.path == f"/openapi/v3/{path}"
        [digest] = parse_qs(url.query)["hash"]
        assert digest == openapi.document(path)[1]


async def test_a_document_fetched_by_its_hash_is_immutable(api: Api) -> None:
    _, index = await api.json("GET", "/openapi/v3")
    url = index["paths"]["api/v1"]["serverRelativeURL"]
    digest = parse_qs(urlsplit(url).query)["hash"][0]
    response = await api.request("GET", url)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Etag"] == f'"{digest}"'
    assert response.headers["Cache-Control"] == "public, immutable"
    doc = orjson.loads(await response.read())
    assert doc["openapi"].startswith("3.0")
    stale = await api.request("GET", "/openapi/v3/api/v1?hash=0000")
    assert stale.headers["Cache-Control"] == "no-cache, private"
    assert await stale.read() == await response.read()


@pytest.mark.parametrize(
    "path", ["/openapi/v3/apis/nope/v1", "/openapi/v3/api/v9", "/openapi/v3/x"]
)
async def test_unknown_documents_are_404(api: Api, path: str) -> None:
    response = await api.request("GET", path)
    assert response.status == 404


@pytest.mark.parametrize("path", GROUP_VERSIONS)
def test_every_ref_resolves_inside_its_document(openapi: OpenAPI, path: str) -> None:
    doc = document(openapi, path)
    schemas = doc["components"]["schemas"]
    for ref in refs(doc):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref[len("#/components/schemas/") :] in schemas, ref


@pytest.mark.parametrize(
    "resource",
    [r for r in REGISTRY.resources if "patch" in r.verbs],
    ids=lambda r: f"{r.group or 'core'}/{r.plural}",
)
def test_each_kind_has_a_patch_with_field_validation(openapi: OpenAPI, resource: Any) -> None:
    """What kubectl looks for before it leaves unknown-field checks to the server."""
    doc = document(openapi, OpenAPI.path_of(resource.group, resource.version))
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    patches = [
        op["patch"]
        for path, op in doc["paths"].items()
        if "patch" in op
        and op["patch"]["x-kubernetes-group-version-kind"] == gvk
        and not path.endswith(("/status", "/resize"))
    ]
    assert len(patches) == 1
    [patch] = patches
    params = {p["name"]: p for p in patch["parameters"]}
    assert params["fieldValidation"]["in"] == "query"
    assert {"dryRun", "fieldManager", "force"} <= set(params)
    assert set(patch["requestBody"]["content"]) == {
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    }
    assert patch["x-kubernetes-action"] == "patch"


def test_paths_of_namespaced_and_cluster_kinds(openapi: OpenAPI) -> None:
    paths = document(openapi, "api/v1")["paths"]
    assert "/api/v1/namespaces/{namespace}/pods/{name}" in paths
    assert "/api/v1/namespaces/{namespace}/pods/{name}/status" in paths
    assert "/api/v1/nodes/{name}" in paths
    assert "/api/v1/namespaces/{namespace}/nodes" not in paths
    apps = document(openapi, "apis/apps/v1")["paths"]
    assert "/apis/apps/v1/namespaces/{namespace}/deployments/{name}" in apps


def test_list_fields_carry_their_merge_keys(openapi: OpenAPI) -> None:
    schemas = document(openapi, "api/v1")["components"]["schemas"]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    ports = schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"]
    assert ports["x-kubernetes-patch-merge-key"] == "containerPort"


def test_schemas_are_openapi_3_0(openapi: OpenAPI) -> None:
    schemas = document(openapi, "api/v1")["components"]["schemas"]
    assert schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"
    int_or_string = schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert (int_or_string["type"], int_or_string["format"]) == ("string", "int-or-string")

    def no_type_lists(value: Any) -> None:
        if isinstance(value, dict):
            assert not isinstance(value.get("type"), list), value
            for key, item in value.items():
                if key != "enum":
                    no_type_lists(item)
        elif isinstance(value, list):
            for item in value:
                no_type_lists(item)

    no_type_lists(schemas)
    # A $ref with siblings is wrapped in allOf, as OpenAPI 3.0 ignores $ref siblings.
    metadata = schemas["io.k8s.api.core.v1.Pod"]["properties"]["metadata"]
    assert metadata.get("$ref") or metadata["allOf"][0]["$ref"].endswith(".ObjectMeta")


@pytest.mark.parametrize("slashes", [1, 2, 7])
async def test_paths_with_extra_slashes_are_404(api: Api, slashes: int) -> None:
    """As kube-openapi looks the path up: `/openapi/v3//apis/apps/v1` names no document."""
    response = await api.request("GET", "/openapi/v3/" + "/" * slashes + "apis/apps/v1")
    assert response.status == 404


def test_documents_are_cached_by_group_version_not_by_spelling() -> None:
    """The cache is keyed on the path a client sends: spellings of one path must not each hold
    a copy of the document."""
    fresh = OpenAPI(REGISTRY, version_info()["gitVersion"])
    fresh.document("apis/apps/v1")
    for slashes in range(1, 50):
        with pytest.raises(KeyError):
            fresh.document("/" * slashes + "apis/apps/v1")
    assert len(fresh._docs) == 1


def test_documents_are_built_once(openapi: OpenAPI) -> None:
    first = openapi.document("api/v1")
    assert openapi.document("api/v1") is first
    assert openapi.index() == openapi.index()
