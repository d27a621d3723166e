"""`/openapi/v2`: the Swagger document kubectl 1.27 and 1.28 read, as gnostic protobuf.

The protobuf is read back here with a reader written for this test alone (not the server's
writer, nor kubelite's own wire module), following gnostic's `OpenAPIv2.proto` field numbers,
and compared with the JSON form of the same document.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
import pytest
import yaml
from apiserver_fixtures import Api

from kubelite.api.kinds import REGISTRY
from kubelite.apiserver import openapi_v2
from kubelite.apiserver.openapi import OpenAPI
from kubelite.apiserver.version import version_info

Obj = dict[str, Any]

# --- a tiny protobuf reader ---------------------------------------------------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


class Message:
    """A decoded message: field number -> list of raw values (int for varints, bytes else)."""

    def __init__(self, data: bytes) -> None:
        self.fields: dict[int, list[Any]] = defaultdict(list)
        pos = 0
        while pos < len(data):
            key, pos = _varint(data, pos)
            number, wire = key >> 3, key & 7
            if wire == 0:
                value, pos = _varint(data, pos)
            elif wire == 2:
                length, pos = _varint(data, pos)
                value = data[pos : pos + length]
                assert len(value) == length, "truncated field"
                pos += length
            elif wire == 1:
                value, pos = data[pos : pos + 8], pos + 8
            elif wire == 5:
                value, pos = data[pos : pos + 4], pos + 4
            else:
                raise AssertionError(f"wire type {wire} in field {number}")
            self.fields[number].append(value)
        assert pos == len(data)

    def string(self, number: int) -> str:
        values = self.fields.get(number, [])
        assert len(values) <= 1
        return values[0].decode() if values else ""

    def strings(self, number: int) -> list[str]:
        return [v.decode() for v in self.fields.get(number, [])]

    def message(self, number: int) -> Message | None:
        values = self.fields.get(number, [])
        assert len(values) <= 1
        return Message(values[0]) if values else None

    def messages(self, number: int) -> list[Message]:
        return [Message(v) for v in self.fields.get(number, [])]


# gnostic OpenAPIv2.proto
DOCUMENT_SWAGGER, DOCUMENT_INFO, DOCUMENT_PATHS, DOCUMENT_DEFINITIONS = 1, 2, 8, 9
PATHS_PATH = 2
PATH_ITEM_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "patch": 8}
OPERATION_TAGS, OPERATION_ID, OPERATION_PARAMETERS, OPERATION_EXTENSIONS = 1, 5, 8, 13
SCHEMA_REF, SCHEMA_DESCRIPTION, SCHEMA_TYPE, SCHEMA_ITEMS = 1, 4, 22, 23
SCHEMA_PROPERTIES, SCHEMA_EXTENSIONS = 25, 31


def named(message: Message, number: int) -> dict[str, Message]:
    """A repeated Named* field (name = 1, value = 2) as a dict."""
    out = {}
    for item in message.messages(number):
        value = item.message(2)
        assert value is not None
        out[item.string(1)] = value
    return out


def extensions(message: Message, number: int) -> dict[str, Any]:
    """Vendor extensions: NamedAny{name, Any{yaml = 2}} with the value decoded."""
    return {name: yaml.safe_load(value.string(2)) for name, value in named(message, number).items()}


def query_parameter(item: Message) -> Obj:
    """ParametersItem.parameter(1) -> Parameter.non_body_parameter(2) -> query sub-schema(3)."""
    parameter = item.message(1)
    assert parameter is not None
    non_body = parameter.message(2)
    assert non_body is not None
    query = non_body.message(3)
    assert query is not None
    return {"in": query.string(2), "name": query.string(4), "type": query.string(6)}


def decode_document(data: bytes) -> Obj:
    doc = Message(data)
    info = doc.message(DOCUMENT_INFO)
    paths_message = doc.message(DOCUMENT_PATHS)
    definitions_message = doc.message(DOCUMENT_DEFINITIONS)
    assert info is not None and paths_message is not None and definitions_message is not None
    paths: Obj = {}
    for path, item in named(paths_message, PATHS_PATH).items():
        methods: Obj = {}
        for method, number in PATH_ITEM_METHODS.items():
            op = item.message(number)
            if op is None:
                continue
            methods[method] = {
                "operationId": op.string(OPERATION_ID),
                "tags": op.strings(OPERATION_TAGS),
                "parameters": [query_parameter(p) for p in op.messages(OPERATION_PARAMETERS)],
                "extensions": extensions(op, OPERATION_EXTENSIONS),
            }
        paths[path] = methods
    return {
        "swagger": doc.string(DOCUMENT_SWAGGER),
        "info": {"title": info.string(1), "version": info.string(2)},
        "paths": paths,
        "definitions": named(definitions_message, 1),
    }


# --- the tests ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def swagger() -> openapi_v2.SwaggerDocument:
    return openapi_v2.SwaggerDocument(OpenAPI(REGISTRY, version_info()["gitVersion"]), REGISTRY)


@pytest.fixture(scope="module")
def decoded(swagger: openapi_v2.SwaggerDocument) -> Obj:
    return decode_document(swagger.protobuf())


@pytest.fixture(scope="module")
def as_json(swagger: openapi_v2.SwaggerDocument) -> Obj:
    return orjson.loads(swagger.json())


def test_header(decoded: Obj) -> None:
    assert decoded["swagger"] == "2.0"
    assert decoded["info"] == {"title": "Kubernetes", "version": version_info()["gitVersion"]}


def test_paths_and_definitions_match_the_json_form(decoded: Obj, as_json: Obj) -> None:
    assert set(decoded["paths"]) == set(as_json["paths"])
    assert set(decoded["definitions"]) == set(as_json["definitions"])
    for path, methods in as_json["paths"].items():
        assert set(decoded["paths"][path]) == set(methods), path
        for method, op in methods.items():
            got = decoded["paths"][path][method]
            assert got["operationId"] == op["operationId"]
            assert got["tags"] == op["tags"]
            assert [p["name"] for p in got["parameters"]] == [p["name"] for p in op["parameters"]]
            assert all(p["in"] == "query" for p in got["parameters"])
            expected = {k: v for k, v in op.items() if k.startswith("x-")}
            assert got["extensions"] == expected


@pytest.mark.parametrize(
    "resource",
    [r for r in REGISTRY.resources if "patch" in r.verbs],
    ids=lambda r: f"{r.group or 'core'}/{r.plural}",
)
def test_kubectl_finds_field_validation_on_each_kinds_patch(decoded: Obj, resource: Any) -> None:
    """kubectl's SupportsQueryParam walks paths -> patch -> the GVK extension -> parameters."""
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    found = [
        op["parameters"]
        for item in decoded["paths"].values()
        if (op := item.get("patch"))
        and op["extensions"].get("x-kubernetes-group-version-kind") == gvk
    ]
    assert found
    for params in found:
        field_validation = [p for p in params if p["name"] == "fieldValidation"]
        assert field_validation == [{"in": "query", "name": "fieldValidation", "type": "string"}]


def test_definitions_keep_merge_keys_and_refs(decoded: Obj) -> None:
    pod_spec = decoded["definitions"]["io.k8s.api.core.v1.PodSpec"]
    properties = named(pod_spec.message(SCHEMA_PROPERTIES), 1)  # type: ignore[arg-type]
    containers = properties["containers"]
    found = extensions(containers, SCHEMA_EXTENSIONS)
    assert found["x-kubernetes-patch-merge-key"] == "name"
    assert found["x-kubernetes-patch-strategy"] == "merge"
    type_item = containers.message(SCHEMA_TYPE)
    assert type_item is not None and type_item.strings(1) == ["array"]
    items = containers.message(SCHEMA_ITEMS)
    assert items is not None
    [item_schema] = items.messages(1)
    assert item_schema.string(SCHEMA_REF) == "#/definitions/io.k8s.api.core.v1.Container"
    pod = decoded["definitions"]["io.k8s.api.core.v1.Pod"]
    pod_properties = named(pod.message(SCHEMA_PROPERTIES), 1)  # type: ignore[arg-type]
    assert pod_properties["spec"].string(SCHEMA_REF) == "#/definitions/io.k8s.api.core.v1.PodSpec"


def test_every_v2_ref_resolves(as_json: Obj) -> None:
    definitions = as_json["definitions"]

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            ref = value.get("$ref")
            if ref is not None:
                assert ref.startswith("#/definitions/") and ref[14:] in definitions, ref
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(as_json)


async def test_served_as_protobuf_when_asked(api: Api) -> None:
    accept = f"{openapi_v2.PROTOBUF_TYPE},application/json"
    response = await api.request("GET", "/openapi/v2", headers={"Accept": accept})
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    doc = decode_document(await response.read())
    assert "/api/v1/namespaces/{namespace}/pods/{name}" in doc["paths"]
    plain = await api.request("GET", "/openapi/v2")
    assert plain.headers["Content-Type"] == "application/json"
    assert (await plain.json())["swagger"] == "2.0"
