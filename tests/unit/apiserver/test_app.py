"""The application's own paths: /version, health, /metrics, and what it answers elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from apiserver_fixtures import Api, Stores, build_application
from prometheus_client.parser import text_string_to_metric_families

from kubelite.api.schema import KUBERNETES_VERSION
from kubelite.apiserver.metrics import request_verb


async def test_version(api: Api) -> None:
    status, body = await api.json("GET", "/version", token=None)
    assert status == 200
    major, minor = KUBERNETES_VERSION.split(".")
    assert (body["major"], body["minor"]) == (major, minor)
    assert body["gitVersion"].startswith(f"v{KUBERNETES_VERSION}.")
    assert body["platform"].startswith("linux/")


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz", "/readyz/ping", "/healthz/"])
async def test_health(api: Api, path: str) -> None:
    response = await api.request("GET", path)
    assert (response.status, await response.text()) == (200, "ok")


@pytest.mark.parametrize(
    ("path", "code"),
    [("/healthz", 200), ("/livez", 200), ("/readyz", 200), ("/readyz/ping", 403)],
)
async def test_anyone_reads_the_health_paths_system_public_info_viewer_names(
    api: Api, path: str, code: int
) -> None:
    """Anonymous requests are authorized by the `system:public-info-viewer` ClusterRole, which
    names the three paths themselves and not the single checks below them."""
    response = await api.request("GET", path, token=None)
    assert response.status == code


async def test_verbose_readiness(api: Api) -> None:
    response = await api.request("GET", "/readyz", params={"verbose": "1"}, token=None)
    text = await response.text()
    assert response.status == 200
    assert "[+]etcd ok" in text
    assert text.endswith("readyz check passed\n")


async def test_not_ready_is_500_on_readyz_only(stores: Stores, tmp_path: Path) -> None:
    application, _ = build_application(stores, tmp_path)
    application.routes.ready = lambda: False
    client = TestClient(TestServer(application.build()))
    await client.start_server()
    try:
        assert (await client.get("/readyz")).status == 500
        verbose = await client.get("/readyz?verbose")
        assert "[-]informer-sync failed: reason withheld" in await verbose.text()
        assert (await client.get("/livez")).status == 200
    finally:
        await client.close()


@pytest.mark.parametrize("path", ["/", "/nope", "/openapi/v4", "/logs"])
async def test_other_paths_are_a_404_status(api: Api, path: str) -> None:
    status, body = await api.json("GET", path)
    assert (status, body["kind"], body["reason"]) == (404, "Status", "NotFound")


async def test_metrics_count_requests_by_verb_resource_and_code(api: Api) -> None:
    await api.json(
        "POST", "/api/v1/namespaces/default/configmaps", body={"metadata": {"name": "a"}}
    )
    await api.json("GET", "/api/v1/namespaces/default/configmaps")
    await api.json("GET", "/api/v1/namespaces/default/configmaps/missing")
    response = await api.request("GET", "/metrics")
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(await response.text())
        for s in family.samples
    }

    def count(verb: str, code: str) -> float:
        labels = {
            "verb": verb,
            "group": "",
            "resource": "configmaps",
            "subresource": "",
            "code": code,
        }
        return samples.get(("apiserver_request_total", tuple(sorted(labels.items()))), 0)

    assert count("POST", "201") == 1
    assert count("LIST", "200") == 1
    assert count("GET", "404") == 1
    assert samples[("kubelite_storage_revision", ())] == api.stores.store.revision


@pytest.mark.parametrize(
    ("verb", "method", "content_type", "label"),
    [
        ("list", "GET", "", "LIST"),
        ("watch", "GET", "", "WATCH"),
        ("get", "GET", "", "GET"),
        ("create", "POST", "application/json", "POST"),
        ("update", "PUT", "application/json", "PUT"),
        ("patch", "PATCH", "application/merge-patch+json", "PATCH"),
        ("patch", "PATCH", "application/apply-patch+yaml", "APPLY"),
        ("delete", "DELETE", "", "DELETE"),
        ("deletecollection", "DELETE", "", "DELETECOLLECTION"),
        ("xyz", "XYZ", "", "other"),
        ("options", "OPTIONS", "", "other"),
    ],
)
def test_verb_labels(verb: str, method: str, content_type: str, label: str) -> None:
    assert request_verb(verb, method, content_type) == label


async def test_unknown_resources_do_not_create_metric_series(api: Api) -> None:
    for i in range(20):
        await api.request("GET", f"/api/v1/made-up-{i}", token=None)
        await api.request("GET", f"/apis/group-{i}.example/v1/things")
    text = await (await api.request("GET", "/metrics")).text()
    assert "made-up-" not in text
    assert "group-1.example" not in text


async def test_other_methods_are_counted_as_other(api: Api) -> None:
    """Methods besides Kubernetes' verbs are one `other` label, as kube-apiserver counts them,
    not a series each."""
    for method in ("OPTIONS", "PROPFIND", "MKCOL", "LOCK", "SEARCH", "REPORT"):
        response = await api.request(method, "/api/v1/namespaces/default/configmaps")
        assert 400 <= response.status < 500
    text = await (await api.request("GET", "/metrics")).text()
    verbs = {
        s.labels["verb"]
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "apiserver_request_total"
    }
    assert verbs == {"other"}
