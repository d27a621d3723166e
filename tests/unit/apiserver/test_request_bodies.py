"""Request bodies as kube-apiserver reads them: gzip-compressed ones accepted, broken ones a 400.

kube-apiserver decompresses a body sent with `Content-Encoding: gzip`; one that says it is
compressed and is not is the client's mistake, answered with a Status, never a 500.
"""

from __future__ import annotations

import gzip
import zlib

import orjson
import pytest
from apiserver_fixtures import Api

PODS = "/api/v1/namespaces/default/pods"


def pod(name: str) -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
    )


@pytest.mark.parametrize(
    ("encoding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)]
)
async def test_a_compressed_body_is_read(api: Api, encoding: str, compress) -> None:
    name = f"packed-{encoding}"
    response = await api.request(
        "POST", PODS, raw=compress(pod(name)), headers={"Content-Encoding": encoding}
    )
    assert response.status == 201, await response.text()
    assert (await response.json())["metadata"]["name"] == name


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_body_that_is_not_what_its_encoding_says_is_a_bad_request(
    api: Api, encoding: str
) -> None:
    response = await api.request(
        "POST", PODS, raw=pod("plain"), headers={"Content-Encoding": encoding}
    )
    assert response.status == 400
    body = await response.json()
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "BadRequest", 400)
    assert encoding in body["message"]
    status, _ = await api.json("GET", f"{PODS}/plain")
    assert status == 404


# --- nesting --------------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("content_type", ["application/json", "application/yaml"])
@pytest.mark.parametrize("depth", [300, 10_000])
async def test_a_body_nested_too_deeply_is_a_bad_request(
    api: Api, content_type: str, depth: int
) -> None:
    # Nesting inside a pod's spec (an unknown field), and a bare nest as the whole body.
    inside = b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"deep"},"spec":{"x":%s}}' % (
        nested(depth)
    )
    for raw in (inside, nested(depth)):
        response = await api.request("POST", PODS, raw=raw, content_type=content_type)
        assert response.status == 400, await response.text()
        body = await response.json()
        assert (body["kind"], body["reason"]) == ("Status", "BadRequest")
        assert "depth" in body["message"]


async def test_a_merge_patch_nested_too_deeply_is_a_bad_request(api: Api) -> None:
    created = await api.request("POST", PODS, raw=pod("patched"))
    assert created.status == 201
    patch = b'{"metadata":{"labels":%s}}' % nested(10_000)
    response = await api.request(
        "PATCH", f"{PODS}/patched", raw=patch, content_type="application/merge-patch+json"
    )
    assert response.status == 400
    assert "depth" in (await response.json())["message"]


async def test_raw_data_nested_within_the_limit_is_stored(api: Api) -> None:
    # A ControllerRevision's data is free-form JSON: 200 levels are kept and read back whole.
    revision = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": "deep-but-fine"},
        "revision": 1,
        "data": {"a": orjson.loads(nested(200))},
    }
    status, created = await api.json(
        "POST", "/apis/apps/v1/namespaces/default/controllerrevisions", body=revision
    )
    assert status == 201, created
    value, depth = created["data"]["a"], 0
    while value:
        value, depth = value[0], depth + 1
    assert depth == 199


# --- numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        (
            b'"metadata":{"name":"big","generation":1180591620717411303424}',
            "number 1180591620717411303424 into Go struct field ObjectMeta.metadata.generation "
            "of type int64",
        ),
        (
            b'"metadata":{"name":"big"},"spec":{"terminationGracePeriodSeconds":'
            b"99999999999999999999999}",
            "Go struct field PodSpec.spec.terminationGracePeriodSeconds of type int64",
        ),
        (
            b'"metadata":{"name":"big"},"spec":{"containers":[{"name":"c","image":"i",'
            b'"ports":[{"containerPort":2147483648}]}]}',
            "number 2147483648 into Go struct field ContainerPort.spec.containers.ports."
            "containerPort of type int32",
        ),
    ],
)
async def test_a_number_beyond_its_fields_type_is_a_bad_request(
    api: Api, fields: bytes, named: str
) -> None:
    raw = b'{"apiVersion":"v1","kind":"Pod",' + fields + b"}"
    response = await api.request("POST", PODS, raw=raw)
    assert response.status == 400, await response.text()
    body = await response.json()
    assert body["message"].startswith('Pod in version "v1" cannot be handled as a Pod: json: ')
    assert named in body["message"]


async def test_a_scale_beyond_int32_is_a_bad_request(api: Api) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    status, _ = await api.json(
        "POST", "/apis/apps/v1/namespaces/default/deployments", body=deployment
    )
    assert status == 201
    scale = "/apis/apps/v1/namespaces/default/deployments/web/scale"
    for method, content_type in (
        ("PUT", "application/json"),
        ("PATCH", "application/merge-patch+json"),
    ):
        raw = b'{"spec":{"replicas":1180591620717411303424}}'
        if method == "PUT":
            raw = (
                b'{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web"},'
                + (raw[1:])
            )
        response = await api.request(method, scale, raw=raw, content_type=content_type)
        assert response.status == 400, await response.text()
        assert "ScaleSpec.spec.replicas of type int32" in (await response.json())["message"]


# --- text -----------------------------------------------------------------------------------


async def test_a_lone_surrogate_reads_as_go_reads_it_and_the_refusal_can_be_sent(
    api: Api,
) -> None:
    # `\ud800` alone is not a character: Go's decoder reads it as U+FFFD, so the name is simply
    # invalid (422) and the message naming it is valid UTF-8, where it used to be a 500.
    raw = (
        b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\\ud800"},'
        b'"spec":{"containers":[{"name":"c","image":"i"}]}}'
    )
    response = await api.request("POST", PODS, raw=raw)
    assert response.status == 422, await response.text()
    body = await response.json()
    assert "\ufffd" in body["message"]


async def test_a_lone_surrogate_in_a_value_is_stored_as_go_would_store_it(api: Api) -> None:
    raw = (
        b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"text",'
        b'"annotations":{"note":"a\\udc00b","pair":"\\ud83d\\ude00"}},'
        b'"spec":{"containers":[{"name":"c","image":"i","args":["\\ud800"]}]}}'
    )
    response = await api.request("POST", PODS, raw=raw)
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["metadata"]["annotations"] == {"note": "a\ufffdb", "pair": "\U0001f600"}
    assert created["spec"]["containers"][0]["args"] == ["\ufffd"]


async def test_bytes_that_are_not_utf8_read_as_go_reads_them(api: Api) -> None:
    # Go's JSON decoder reads each byte that begins no valid UTF-8 in a string as U+FFFD
    # (E2 82 cut short is two of them); the same bytes outside a string are a syntax error.
    raw = (
        b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bytes",'
        b'"annotations":{"note":"a\xffb\xe2\x82c\xed\xa0\x80"}},'
        b'"spec":{"containers":[{"name":"c","image":"i"}]}}'
    )
    response = await api.request("POST", PODS, raw=raw)
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["metadata"]["annotations"] == {"note": "a\ufffdb\ufffd\ufffdc" + "\ufffd" * 3}
    response = await api.request("POST", PODS, raw=raw.replace(b'"bytes"', b'"by\xfftes"'))
    assert response.status == 422, await response.text()
    response = await api.request("POST", PODS, raw=b"\xff" + raw)
    assert response.status == 400, await response.text()


# --- long URLs --------------------------------------------------------------------------------


async def test_a_label_selector_of_40_kib_is_served(api: Api) -> None:
    # kubectl get -l with many values: Kubernetes takes request lines up to 1 MiB.
    values = ",".join(f"value-{i:05d}" for i in range(3500))
    assert len(values) > 40_000
    status, listed = await api.json("GET", PODS, params={"labelSelector": f"app in ({values})"})
    assert status == 200, listed
    assert listed["kind"] == "PodList"
