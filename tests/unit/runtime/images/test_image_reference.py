"""Reference parsing and Docker normalization, as distribution/reference does it."""

from __future__ import annotations

import pytest

from kubelite.runtime.errors import InvalidImageReference
from kubelite.runtime.images.reference import familiar, normalize, parse

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("nginx", "docker.io/library/nginx:latest"),
        ("nginx:1.25", "docker.io/library/nginx:1.25"),
        ("user/app", "docker.io/user/app:latest"),
        ("docker.io/nginx", "docker.io/library/nginx:latest"),
        ("index.docker.io/library/nginx:1", "docker.io/library/nginx:1"),
        ("docker.io/user/app:v2", "docker.io/user/app:v2"),
        ("host:5000/x:tag", "host:5000/x:tag"),
        ("host:5000/x", "host:5000/x:latest"),
        ("localhost/app", "localhost/app:latest"),
        ("localhost:5000/a/b/c:1", "localhost:5000/a/b/c:1"),
        ("quay.io/org/img:v1.2.3-rc_1", "quay.io/org/img:v1.2.3-rc_1"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
        ("[::1]:5000/app", "[::1]:5000/app:latest"),
        (f"nginx@{DIGEST}", f"docker.io/library/nginx@{DIGEST}"),
        # ParseDockerRef: with both a tag and a digest, the digest wins.
        (f"nginx:1.25@{DIGEST}", f"docker.io/library/nginx@{DIGEST}"),
        (f"host:5000/x@{DIGEST}", f"host:5000/x@{DIGEST}"),
        ("a__b/c--d.e_f", "docker.io/a__b/c--d.e_f:latest"),
        ("Example.com/app", "Example.com/app:latest"),
    ],
)
def test_normalize(name: str, normalized: str) -> None:
    assert normalize(name) == normalized


@pytest.mark.parametrize(
    "name",
    [
        "",
        " nginx",
        "Nginx",
        "user/App",
        "nginx:",
        "nginx:-bad",
        "nginx@sha256:abc",
        "nginx@sha256:" + "g" * 64,
        "nginx@" + "ab" * 32,
        "a//b",
        "-app",
        "app-",
        "host:port/app",
        "a" * 256,
        "nginx:" + "t" * 129,
    ],
)
def test_invalid_references_are_refused(name: str) -> None:
    with pytest.raises(InvalidImageReference) as caught:
        parse(name)
    assert caught.value.image == name


def test_parts() -> None:
    ref = parse("host:5000/team/app:1")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == ("host:5000", "team/app", "1", "")
    assert ref.name == "host:5000/team/app"
    assert ref.object == "1"
    pinned = parse(f"app@{DIGEST}")
    assert pinned.object == DIGEST and pinned.tag == ""


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("docker.io/library/nginx:1", "nginx:1"),
        ("docker.io/user/app:latest", "user/app:latest"),
        ("localhost:5000/app:2", "localhost:5000/app:2"),
    ],
)
def test_familiar(name: str, short: str) -> None:
    assert familiar(name) == short
