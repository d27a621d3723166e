"""The pure parts of the API client: resource paths and names, query parameters, warnings."""

from __future__ import annotations

import pytest

from kubelite.client import Resource
from kubelite.client.api import _params, _warning_text

PODS = Resource("", "v1", "pods", kind="Pod", singular="pod", short_names=("po",))
DEPLOYMENTS = Resource("apps", "v1", "deployments", kind="Deployment", singular="deployment")
NODES = Resource("", "v1", "nodes", kind="Node", namespaced=False)


@pytest.mark.parametrize(
    ("resource", "kwargs", "path"),
    [
        (PODS, {}, "/api/v1/pods"),
        (PODS, {"namespace": "default"}, "/api/v1/namespaces/default/pods"),
        (PODS, {"namespace": "ns", "name": "web"}, "/api/v1/namespaces/ns/pods/web"),
        (
            PODS,
            {"namespace": "ns", "name": "web", "subresource": "status"},
            "/api/v1/namespaces/ns/pods/web/status",
        ),
        (DEPLOYMENTS, {"namespace": "ns"}, "/apis/apps/v1/namespaces/ns/deployments"),
        (NODES, {"namespace": "ignored", "name": "n1"}, "/api/v1/nodes/n1"),
        (PODS, {"namespace": "ns", "name": "a/b"}, "/api/v1/namespaces/ns/pods/a%2Fb"),
    ],
)
def test_paths(resource: Resource, kwargs: dict, path: str):
    assert resource.path(**kwargs) == path


@pytest.mark.parametrize("name", ["pods", "pod", "po", "pod"])
def test_a_resource_answers_to_its_names(name: str):
    assert PODS.matches(name)


def test_names_and_versions():
    assert not PODS.matches("deployments")
    assert DEPLOYMENTS.matches("deployment")
    assert DEPLOYMENTS.api_version == "apps/v1" and PODS.api_version == "v1"
    assert DEPLOYMENTS.group_resource == "deployments.apps" and PODS.group_resource == "pods"


def test_params_leave_out_what_was_not_given():
    assert _params(watch=True, limit=500, labelSelector=None, dryRun=False) == {
        "watch": "true",
        "limit": "500",
    }


@pytest.mark.parametrize(
    ("header", "text"),
    [
        ('299 - "unknown field \\"spec.x\\""', 'unknown field "spec.x"'),
        (
            '299 - "metadata.finalizers: \\"a\\": prefer a domain-qualified name"',
            ('metadata.finalizers: "a": prefer a domain-qualified name'),
        ),
        ("not a warning header", "not a warning header"),
    ],
)
def test_warning_headers(header: str, text: str):
    assert _warning_text(header) == text
