"""Requests the fuzzer (tests/integration/test_fuzz_api.py) found answered with a 500, each
answered now as Kubernetes answers it: a 400 Status that says what was wrong."""

from __future__ import annotations

import base64

import orjson
import pytest
from apiserver_fixtures import Api

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
PODS_P = "/api/v1/namespaces/default/pods/p"


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "token", [_token(b"[1,2,3]"), _token(b'"x"'), _token(b"5"), _token(b"null")]
)
async def test_a_continue_token_that_is_not_a_json_object_is_a_bad_request(
    api: Api, token: str
) -> None:
    status, body = await api.json("GET", CONFIGMAPS, params={"continue": token})
    assert (status, body["kind"], body["reason"]) == (400, "Status", "BadRequest")
    assert body["message"].startswith("continue key is not valid")


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ("x/../../kube-system/y", "continue key is not valid: ../kube-system/y"),
        ("a//b", "continue key is not valid: a/b"),
        ("/", "continue key is not valid: /"),
        ("", "continue key is not valid: encoded start key empty (version meta.k8s.io/v1)"),
    ],
)
async def test_a_continue_token_whose_start_key_leaves_the_resource_is_a_bad_request(
    api: Api, start: str, message: str
) -> None:
    """storage.DecodeContinue refuses a start key that path.Clean would change. (A key that
    starts with `..` is one Clean keeps: Kubernetes ranges over it as a plain string, as here.)"""
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": 1, "start": start})
    status, body = await api.json("GET", CONFIGMAPS, params={"continue": _token(raw)})
    assert (status, body["reason"], body["message"]) == (400, "BadRequest", message)


async def _apply(api: Api, document: bytes) -> tuple[int, dict[str, object]]:
    return await api.json(
        "PATCH",
        f"{CONFIGMAPS}/cm" if b"kind: Pod" not in document else PODS_P,
        raw=document,
        content_type="application/apply-patch+yaml",
        params={"fieldManager": "fuzz"},
    )


@pytest.mark.parametrize(
    "document",
    [b"&a [&b [&c [*a, *b, *c]]]", b"&a [1, *a]", b"- &a [x, [*a]]"],
)
async def test_a_yaml_anchor_that_contains_itself_is_a_bad_request(
    api: Api, document: bytes
) -> None:
    """go-yaml refuses an alias to the anchor it is inside; PyYAML builds a list holding
    itself, which no walk of the body ended (RecursionError, a 500)."""
    status, body = await _apply(api, document)
    assert (status, body["reason"]) == (400, "BadRequest"), body
    assert body["message"] == "error converting YAML to JSON: yaml: anchor value contains itself"


def laughs(levels: int) -> bytes:
    """A "billion laughs": each level is ten aliases of the one before."""
    lines = [b"apiVersion: v1", b"kind: ConfigMap", b"metadata: {name: cm}", b"l0: &l0 [a,a]"]
    for level in range(1, levels + 1):
        aliases = b",".join([b"*l%d" % (level - 1)] * 10)
        lines.append(b"l%d: &l%d [%s]" % (level, level, aliases))
    return b"\n".join(lines)


async def test_excessive_yaml_aliasing_is_a_bad_request(api: Api) -> None:
    """Nine levels expand to two billion nodes: refused as go-yaml refuses it, at once,
    rather than expanded by every walk of the body."""
    status, body = await _apply(api, laughs(9))
    assert (status, body["reason"]) == (400, "BadRequest"), body
    assert body["message"] == (
        "error converting YAML to JSON: yaml: document contains excessive aliasing"
    )


async def test_a_few_aliases_are_still_read(api: Api) -> None:
    document = (
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, labels: &l {a: b}, "
        b"annotations: *l}\ndata: {k: '*/5 * * * *'}"
    )
    status, body = await _apply(api, document)
    assert status == 201, body
    assert body["metadata"]["annotations"] == {"a": "b"}


async def test_a_surrogate_written_as_utf8_bytes_reads_as_replacement_characters(
    api: Api,
) -> None:
    """ED A0 80 is U+D800 encoded as UTF-8, which UTF-8 forbids. Python's json kept it as a lone
    surrogate, and the 422 naming the label could not be encoded (a 500); Go reads each of the
    three bytes as U+FFFD, and so the label is invalid with a message that can be sent."""
    body = (
        b'{"apiVersion":"v1","kind":"ConfigMap",'
        b'"metadata":{"name":"cm","labels":{"k":"a\xed\xa0\x80b"}}}'
    )
    status, answer = await api.json("POST", CONFIGMAPS, raw=body)
    assert (status, answer["reason"]) == (422, "Invalid"), answer
    assert 'metadata.labels: Invalid value: "a\ufffd\ufffd\ufffdb"' in answer["message"]


async def test_an_apply_patch_that_does_not_fit_the_schema_is_a_bad_request(api: Api) -> None:
    """Kubernetes 1.33 answers 500 with no reason here (kubernetes/kubernetes#122480)."""
    status, body = await _apply(
        api,
        b"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\n"
        b"spec: {containers: [{image: nginx}]}",
    )
    assert (status, body["reason"]) == (400, "BadRequest"), body
    assert body["message"].startswith("failed to create typed patch object (default/p;")


async def test_a_newline_in_a_path_is_routed_like_any_other_character(api: Api) -> None:
    """aiohttp's `{tail:.*}` stopped at a newline, and its router answered a plain-text 404."""
    status, body = await api.json("GET", f"{CONFIGMAPS}/a%0Ab")
    assert (status, body["kind"], body["reason"]) == (404, "Status", "NotFound")
    assert body["message"] == 'configmaps "a\\nb" not found'


async def test_a_control_character_in_an_unknown_field_is_escaped_in_its_warning(
    api: Api,
) -> None:
    """The warning for an unknown field named "a\\x7fb" went into the Warning header with the
    DEL as it was; aiohttp refused to write the header and dropped the connection."""
    body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"a\\u007fb":1}'
    response = await api.request("POST", CONFIGMAPS, raw=body, params={"fieldValidation": "Warn"})
    assert response.status == 201, await response.text()
    assert response.headers["Warning"] == '299 - "unknown field \\"a\\x7fb\\""'


@pytest.mark.parametrize(
    ("name", "value"),
    [("limit", str(2**70)), ("limit", str(2**63)), ("limit", str(-(2**63) - 1))],
)
async def test_an_integer_parameter_beyond_int64_is_a_bad_request(
    api: Api, name: str, value: str
) -> None:
    """A continue token with a `limit` of 2**70 reached SQLite, which cannot hold it."""
    token = _token(b'{"v":"meta.k8s.io/v1","rv":1,"start":"a"}')
    status, body = await api.json("GET", CONFIGMAPS, params={name: value, "continue": token})
    assert (status, body["reason"]) == (400, "BadRequest"), body
    assert body["message"] == f'invalid value for {name}: "{value}": must be an integer'
