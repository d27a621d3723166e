"""Request paths as Kubernetes' RequestInfoFactory reads them (`request_info.parse`)."""

from __future__ import annotations

import pytest

from kubelite.apiserver.request_info import parse

# method, path, watch param -> is_resource, verb, group, version, namespace, resource, name, sub
# method, path, `watch` query parameter, then what Kubernetes reads from them:
# "verb group/version namespace resource name subresource" ("-" for none).
CASES = [
    # core group, namespaced collection and item
    ("GET", "/api/v1/namespaces/default/pods", "", "list v1 default pods - -"),
    ("GET", "/api/v1/namespaces/default/pods/web", "", "get v1 default pods web -"),
    ("POST", "/api/v1/namespaces/default/pods", "", "create v1 default pods - -"),
    ("PUT", "/api/v1/namespaces/default/pods/web", "", "update v1 default pods web -"),
    ("PATCH", "/api/v1/namespaces/default/pods/web", "", "patch v1 default pods web -"),
    ("DELETE", "/api/v1/namespaces/default/pods/web", "", "delete v1 default pods web -"),
    ("DELETE", "/api/v1/namespaces/default/pods", "", "deletecollection v1 default pods - -"),
    ("HEAD", "/api/v1/namespaces/default/pods/web", "", "get v1 default pods web -"),
    # subresources
    ("GET", "/api/v1/namespaces/default/pods/web/status", "", "get v1 default pods web status"),
    (
        "POST",
        "/api/v1/namespaces/default/pods/web/binding",
        "",
        "create v1 default pods web binding",
    ),
    # cluster-scoped, and namespaced resources across all namespaces
    ("GET", "/api/v1/nodes", "", "list v1 - nodes - -"),
    ("GET", "/api/v1/nodes/n1/status", "", "get v1 - nodes n1 status"),
    ("GET", "/api/v1/pods", "", "list v1 - pods - -"),
    # named groups
    (
        "GET",
        "/apis/apps/v1/namespaces/ns/deployments/d/scale",
        "",
        "get apps/v1 ns deployments d scale",
    ),
    ("GET", "/apis/apps/v1/deployments", "", "list apps/v1 - deployments - -"),
    # a namespace itself: `namespaces/x` and its status and finalize subresources ...
    ("GET", "/api/v1/namespaces", "", "list v1 - namespaces - -"),
    ("GET", "/api/v1/namespaces/x", "", "get v1 x namespaces x -"),
    ("PUT", "/api/v1/namespaces/x/status", "", "update v1 x namespaces x status"),
    ("PUT", "/api/v1/namespaces/x/finalize", "", "update v1 x namespaces x finalize"),
    # ... versus resources inside namespace x
    ("GET", "/api/v1/namespaces/x/pods", "", "list v1 x pods - -"),
    ("GET", "/api/v1/namespaces/x/configmaps/status", "", "get v1 x configmaps status -"),
    # watches: the parameter, and the legacy /watch/ prefix
    ("GET", "/api/v1/namespaces/default/pods", "true", "watch v1 default pods - -"),
    ("GET", "/api/v1/namespaces/default/pods", "1", "watch v1 default pods - -"),
    ("GET", "/api/v1/namespaces/default/pods", "false", "list v1 default pods - -"),
    ("GET", "/api/v1/watch/namespaces/default/pods", "", "watch v1 default pods - -"),
    ("GET", "/api/v1/watch/pods", "", "watch v1 - pods - -"),
    ("GET", "/api/v1/watch/namespaces/default/pods/web", "", "watch v1 default pods web -"),
    (
        "GET",
        "/apis/apps/v1/watch/namespaces/ns/deployments",
        "",
        "watch apps/v1 ns deployments - -",
    ),
    # ?watch=true on a single object stays a get, as in Kubernetes
    ("GET", "/api/v1/namespaces/default/pods/web", "true", "get v1 default pods web -"),
    # trailing slashes and doubled slashes do not change the meaning
    ("GET", "/api/v1/namespaces/default/pods/", "", "list v1 default pods - -"),
]

NON_RESOURCE = [
    ("GET", "/"),
    ("GET", "/api"),
    ("GET", "/api/v1"),
    ("GET", "/apis"),
    ("GET", "/apis/apps"),
    ("GET", "/apis/apps/v1"),
    ("GET", "/version"),
    ("GET", "/healthz"),
    ("GET", "/openapi/v3/api/v1"),
]


@pytest.mark.parametrize(("method", "path", "watch", "expected"), CASES)
def test_path_parts(method: str, path: str, watch: str, expected: str) -> None:
    info = parse(method, path, watch or None)  # "": no `watch` parameter
    got = " ".join(
        part or "-"
        for part in (
            info.verb,
            info.group_version,
            info.namespace,
            info.resource,
            info.name,
            info.subresource,
        )
    )
    assert info.is_resource
    assert got == expected


@pytest.mark.parametrize(("method", "path"), NON_RESOURCE)
def test_discovery_and_other_paths_are_not_resource_requests(method: str, path: str) -> None:
    assert parse(method, path).is_resource is False


def test_group_version_joins_group_and_version() -> None:
    assert parse("GET", "/apis/apps/v1/deployments").group_version == "apps/v1"
    assert parse("GET", "/api/v1/pods").group_version == "v1"


def test_parts_keep_what_follows_the_resource() -> None:
    """Handlers refuse paths deeper than resource/name/subresource by looking at `parts`."""
    info = parse("GET", "/api/v1/namespaces/default/pods/web/status/extra")
    assert info.parts == ["pods", "web", "status", "extra"]
    assert parse("GET", "/api/v1/namespaces/x/status").parts == ["namespaces", "x", "status"]
