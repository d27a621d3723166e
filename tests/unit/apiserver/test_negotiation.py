"""Accept negotiation: JSON, YAML, Table and PartialObjectMetadata(List), and 406 otherwise."""

from __future__ import annotations

import orjson
import pytest
import yaml
from apiserver_fixtures import Api

from kubelite.api import errors
from kubelite.apiserver import negotiation
from kubelite.apiserver.negotiation import Target, negotiate

TABLE_V1 = "application/json;as=Table;v=v1;g=meta.k8s.io"
TABLE_V1BETA1 = "application/json;as=Table;v=v1beta1;g=meta.k8s.io"
PARTIAL = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"
PARTIAL_LIST = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
PROTOBUF = "application/vnd.kubernetes.protobuf"
# What `kubectl get` sends.
KUBECTL_GET = f"{TABLE_V1},{TABLE_V1BETA1},application/json"

# Accept header, whether the request is for a list -> the form served.
NEGOTIATED = [
    ("", False, Target(negotiation.JSON)),
    ("*/*", False, Target(negotiation.JSON)),
    ("application/*", True, Target(negotiation.JSON)),
    ("application/json", True, Target(negotiation.JSON)),
    ("application/yaml", False, Target(negotiation.YAML)),
    (TABLE_V1, True, Target(negotiation.TABLE, "v1")),
    (TABLE_V1BETA1, False, Target(negotiation.TABLE, "v1beta1")),
    (KUBECTL_GET, True, Target(negotiation.TABLE, "v1")),
    (PARTIAL, False, Target(negotiation.PARTIAL, "v1")),
    (PARTIAL_LIST, True, Target(negotiation.PARTIAL_LIST, "v1")),
    # A transformation the server cannot make is skipped for the next offer.
    ("application/json;as=Table;v=v2;g=meta.k8s.io,application/json", True, Target("json")),
    ("application/json;as=Table;v=v1;g=other.io,application/json", True, Target("json")),
    # kubectl offers protobuf first and JSON as a fallback: JSON is served.
    (f"{PROTOBUF},application/json", False, Target(negotiation.JSON)),
    (f"{PROTOBUF};as=Table;v=v1;g=meta.k8s.io,{TABLE_V1}", True, Target("table", "v1")),
    pytest.param(
        "application/yaml;q=0.5, application/json",
        False,
        Target(negotiation.JSON),
        id="quality-values",
    ),
]


@pytest.mark.parametrize(("accept", "is_list", "expected"), NEGOTIATED)
def test_negotiated_form(accept: str, is_list: bool, expected: Target) -> None:
    assert negotiate(accept, is_list=is_list) == expected


@pytest.mark.parametrize(
    ("accept", "is_list"),
    [
        (PROTOBUF, False),
        ("text/html", False),
        ("application/json;as=Table;v=v2;g=meta.k8s.io", True),
        # PartialObjectMetadata of a list and PartialObjectMetadataList of one object
        (PARTIAL, True),
        (PARTIAL_LIST, False),
    ],
)
def test_nothing_acceptable_is_406(accept: str, is_list: bool) -> None:
    with pytest.raises(errors.StatusError) as err:
        negotiate(accept, is_list=is_list)
    assert (err.value.code, err.value.reason) == (406, "NotAcceptable")


@pytest.mark.parametrize(
    ("target", "content_type"),
    [
        (Target(negotiation.JSON), "application/json"),
        (Target(negotiation.YAML), "application/yaml"),
        (Target(negotiation.TABLE, "v1"), TABLE_V1),
        (Target(negotiation.TABLE, "v1beta1"), TABLE_V1BETA1),
        (Target(negotiation.PARTIAL, "v1"), PARTIAL),
        (Target(negotiation.PARTIAL_LIST, "v1"), PARTIAL_LIST),
    ],
)
def test_content_type_names_the_form(target: Target, content_type: str) -> None:
    assert target.content_type == content_type


@pytest.mark.parametrize("value", ["sometimes", "object", "metadata"])
def test_unknown_include_object_is_400(value: str) -> None:
    with pytest.raises(errors.StatusError) as err:
        negotiation.check_include_object(value)
    assert err.value.code == 400
    assert f'"{value}"' in err.value.message


# --- over HTTP ------------------------------------------------------------------------------

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
}
PODS = "/api/v1/namespaces/default/pods"


async def _with_pod(api: Api) -> None:
    status, body = await api.json("POST", PODS, body=POD)
    assert status == 201, body


async def test_get_as_table_has_pod_columns_and_metadata_rows(api: Api) -> None:
    await _with_pod(api)
    response = await api.request("GET", f"{PODS}/web", headers={"Accept": KUBECTL_GET})
    assert response.status == 200
    assert response.headers["Content-Type"] == TABLE_V1
    table = orjson.loads(await response.read())
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names[:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert {"IP", "Node", "Nominated Node", "Readiness Gates"} <= set(names)
    [row] = table["rows"]
    assert row["cells"][0] == "web"
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["apiVersion"] == "meta.k8s.io/v1"
    assert row["object"]["metadata"]["labels"] == {"app": "web"}
    assert "spec" not in row["object"]
    assert table["metadata"]["resourceVersion"] == row["object"]["metadata"]["resourceVersion"]


async def test_list_as_v1beta1_table(api: Api) -> None:
    await _with_pod(api)
    response = await api.request("GET", PODS, headers={"Accept": TABLE_V1BETA1})
    table = orjson.loads(await response.read())
    assert table["apiVersion"] == "meta.k8s.io/v1beta1"
    assert table["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"
    assert table["metadata"]["resourceVersion"] == str(api.stores.store.revision)


@pytest.mark.parametrize(
    ("include", "check"),
    [
        ("Object", lambda o: o["kind"] == "Pod" and o["spec"]["containers"][0]["image"] == "nginx"),
        ("None", lambda o: o is None),
        ("Metadata", lambda o: o["kind"] == "PartialObjectMetadata"),
    ],
)
async def test_table_include_object(api: Api, include: str, check: object) -> None:
    await _with_pod(api)
    response = await api.request(
        "GET", PODS, headers={"Accept": TABLE_V1}, params={"includeObject": include}
    )
    table = orjson.loads(await response.read())
    assert check(table["rows"][0]["object"])  # type: ignore[operator]


async def test_partial_object_metadata_of_one_object(api: Api) -> None:
    await _with_pod(api)
    response = await api.request("GET", f"{PODS}/web", headers={"Accept": PARTIAL})
    assert response.headers["Content-Type"] == PARTIAL
    body = orjson.loads(await response.read())
    assert set(body) == {"kind", "apiVersion", "metadata"}
    assert (body["kind"], body["metadata"]["name"]) == ("PartialObjectMetadata", "web")


async def test_partial_object_metadata_list(api: Api) -> None:
    await _with_pod(api)
    response = await api.request("GET", PODS, headers={"Accept": PARTIAL_LIST})
    body = orjson.loads(await response.read())
    assert (body["kind"], body["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
    assert body["metadata"]["resourceVersion"] == str(api.stores.store.revision)
    [item] = body["items"]
    assert item["kind"] == "PartialObjectMetadata"
    assert item["metadata"]["name"] == "web"
    assert "spec" not in item


async def test_yaml_response(api: Api) -> None:
    await _with_pod(api)
    response = await api.request("GET", f"{PODS}/web", headers={"Accept": "application/yaml"})
    assert response.headers["Content-Type"] == "application/yaml"
    pod = yaml.safe_load(await response.read())
    assert pod["kind"] == "Pod"
    assert pod["metadata"]["name"] == "web"


@pytest.mark.parametrize("accept", [PROTOBUF, "text/html"])
async def test_unacceptable_accept_is_a_406_status(api: Api, accept: str) -> None:
    await _with_pod(api)
    status, body = await api.json("GET", f"{PODS}/web", headers={"Accept": accept})
    assert status == 406
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "NotAcceptable", 406)


async def test_create_answers_in_the_negotiated_form(api: Api) -> None:
    """Writes answer in the negotiated form too, as Kubernetes transforms every response."""
    response = await api.request("POST", PODS, body=POD, headers={"Accept": TABLE_V1})
    assert response.status == 201
    table = orjson.loads(await response.read())
    assert table["kind"] == "Table"
    assert table["rows"][0]["cells"][0] == "web"
