"""`/openapi/v2`: the Swagger 2.0 document, for kubectl 1.27 and 1.28.

Those kubectl versions read only OpenAPI v2, and only as protocol buffers (gnostic's
`openapi.v2.Document`). From it they learn that PATCH takes `fieldValidation` (so they leave
unknown-field checks to the server) and the patch merge keys of list fields (for client-side
apply). The document is the same paths and definitions as `/openapi/v3`, in Swagger 2.0 form, and
encoded here with a small protobuf writer: the message and field numbers are those of gnostic's
`OpenAPIv2.proto`; JSON is served too for clients that ask for it.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml

from kubelite.api.kinds import Registry
from kubelite.api.types import Obj
from kubelite.apiserver.openapi import OpenAPI

PROTOBUF_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
_V3_REF = "#/components/schemas/"
_V2_REF = "#/definitions/"


# --- protobuf wire format ---------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _str(number: int, value: str) -> bytes:
    return _bytes_field(number, value.encode()) if value else b""


def _bool(number: int, value: bool) -> bytes:
    return _varint(number << 3) + b"\x01" if value else b""


def _msg(number: int, payload: bytes) -> bytes:
    return _bytes_field(number, payload)


def _named_any(number: int, name: str, value: Any) -> bytes:
    """A vendor extension: NamedAny{name, Any{yaml}}."""
    text = yaml.safe_dump(value, default_flow_style=False)
    return _msg(number, _str(1, name) + _msg(2, _str(2, text)))


# --- Swagger 2.0 from the v3 document ---------------------------------------------------------


def _to_v2(value: Any) -> Any:
    """A v3 schema fragment in v2 form: refs re-pointed, allOf wrappers undone."""
    if isinstance(value, list):
        return [_to_v2(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "allOf" in value and len(value["allOf"]) == 1 and "$ref" in value["allOf"][0]:
        merged = {k: v for k, v in value.items() if k != "allOf"}
        merged["$ref"] = value["allOf"][0]["$ref"]
        value = merged
    out = {k: _to_v2(v) for k, v in value.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith(_V3_REF):
        out["$ref"] = _V2_REF + ref[len(_V3_REF) :]
    return out


def _v2_operation(op: Obj) -> Obj:
    params = [
        {
            "name": p["name"],
            "in": p["in"],
            "description": p.get("description", ""),
            "type": p.get("schema", {}).get("type", "string"),
            "uniqueItems": True,
        }
        for p in op.get("parameters", [])
    ]
    out = {k: v for k, v in op.items() if k.startswith("x-") or k in ("operationId", "tags")}
    out["parameters"] = params
    out["consumes"] = ["*/*"]
    out["produces"] = ["application/json", "application/yaml"]
    out["responses"] = {"200": {"description": "OK"}}
    return out


def swagger(openapi: OpenAPI, registry: Registry) -> Obj:
    paths: Obj = {}
    definitions: Obj = {}
    for group, versions in registry.group_versions().items():
        for version in versions:
            body, _ = openapi.document(OpenAPI.path_of(group, version))
            doc = orjson.loads(body)
            for path, item in doc["paths"].items():
                paths[path] = {method: _v2_operation(op) for method, op in item.items()}
            for name, definition in doc["components"]["schemas"].items():
                definitions[name] = _to_v2(definition)
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": openapi.version},
        "paths": paths,
        "definitions": definitions,
    }


# --- protobuf encoding of the Swagger document ------------------------------------------------

_OPERATION_FIELDS = {"get": 2, "put": 3, "post": 4, "delete": 5, "patch": 8}


def _query_parameter(param: Obj) -> bytes:
    sub = (
        _str(2, param["in"])
        + _str(3, param.get("description", ""))
        + _str(4, param["name"])
        + _str(6, param.get("type", "string"))
        + _bool(20, bool(param.get("uniqueItems")))
    )
    non_body = _msg(3, sub)  # NonBodyParameter.query_parameter_sub_schema
    parameter = _msg(2, non_body)  # Parameter.non_body_parameter
    return _msg(1, parameter)  # ParametersItem.parameter


def _operation(op: Obj) -> bytes:
    out = b"".join(_str(1, t) for t in op.get("tags", []))
    out += _str(5, op.get("operationId", ""))
    out += b"".join(_str(6, p) for p in op.get("produces", []))
    out += b"".join(_str(7, c) for c in op.get("consumes", []))
    out += b"".join(_msg(8, _query_parameter(p)) for p in op.get("parameters", []))
    out += b"".join(_named_any(13, k, v) for k, v in op.items() if k.startswith("x-"))
    return out


def _schema(value: Obj) -> bytes:
    out = _str(1, value.get("$ref", ""))
    out += _str(2, value.get("format", ""))
    out += _str(4, value.get("description", ""))
    out += b"".join(_str(19, r) for r in value.get("required", []))
    extra = value.get("additionalProperties")
    if isinstance(extra, dict):
        out += _msg(21, _msg(1, _schema(extra)))
    elif isinstance(extra, bool):
        # AdditionalPropertiesItem.boolean, written even when false (it is a oneof member).
        out += _msg(21, _varint(2 << 3) + (b"\x01" if extra else b"\x00"))
    typ = value.get("type")
    if typ:
        types = typ if isinstance(typ, list) else [typ]
        out += _msg(22, b"".join(_str(1, t) for t in types))
    items = value.get("items")
    if isinstance(items, dict):
        out += _msg(23, _msg(1, _schema(items)))
    for sub in value.get("allOf", []):
        out += _msg(24, _schema(sub))
    props = value.get("properties")
    if isinstance(props, dict):
        named = b"".join(
            _msg(1, _str(1, name) + _msg(2, _schema(prop))) for name, prop in props.items()
        )
        out += _msg(25, named)
    out += b"".join(_named_any(31, k, v) for k, v in value.items() if k.startswith("x-"))
    return out


def encode(doc: Obj) -> bytes:
    out = _str(1, doc["swagger"])
    out += _msg(2, _str(1, doc["info"]["title"]) + _str(2, doc["info"]["version"]))
    paths = b""
    for path, item in doc["paths"].items():
        ops = b"".join(
            _msg(_OPERATION_FIELDS[m], _operation(op))
            for m, op in item.items()
            if m in _OPERATION_FIELDS
        )
        paths += _msg(2, _str(1, path) + _msg(2, ops))
    out += _msg(8, paths)
    definitions = b"".join(
        _msg(1, _str(1, name) + _msg(2, _schema(d))) for name, d in doc["definitions"].items()
    )
    out += _msg(9, definitions)
    return out


class SwaggerDocument:
    """The v2 document in both encodings, built on first use."""

    def __init__(self, openapi: OpenAPI, registry: Registry) -> None:
        self.openapi = openapi
        self.registry = registry
        self._json: bytes | None = None
        self._proto: bytes | None = None

    def json(self) -> bytes:
        if self._json is None:
            self._json = orjson.dumps(swagger(self.openapi, self.registry))
        return self._json

    def protobuf(self) -> bytes:
        if self._proto is None:
            self._proto = encode(orjson.loads(self.json()))
        return self._proto
