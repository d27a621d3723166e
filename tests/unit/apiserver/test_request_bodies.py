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
