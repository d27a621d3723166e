"""Discovery: `/api`, `/apis`, and the resource lists kubectl learns the server from."""

from __future__ import annotations

from typing import Any

import pytest
from apiserver_fixtures import Api

from kubelite.api.kinds import REGISTRY
from kubelite.apiserver.discovery import Discovery

ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
STATUS = ["get", "patch", "update"]


def entry(listing: dict[str, Any], name: str) -> dict[str, Any]:
    found = [r for r in listing["resources"] if r["name"] == name]
    assert len(found) == 1, name
    return found[0]


async def test_api_versions(api: Api) -> None:
    status, body = await api.json("GET", "/api")
    assert status == 200
    assert body == {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}
        ],
    }


async def test_group_list_and_groups(api: Api) -> None:
    status, body = await api.json("GET", "/apis")
    assert status == 200
    assert (body["kind"], body["apiVersion"]) == ("APIGroupList", "v1")
    groups = {g["name"]: g for g in body["groups"]}
    assert {"apps", "coordination.k8s.io", "events.k8s.io"} <= set(groups)
    assert groups["apps"]["versions"] == [{"groupVersion": "apps/v1", "version": "v1"}]
    assert groups["apps"]["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    assert "kind" not in groups["apps"]
    status, apps = await api.json("GET", "/apis/apps")
    assert status == 200
    assert (apps["kind"], apps["name"]) == ("APIGroup", "apps")
    assert apps["versions"] == groups["apps"]["versions"]


@pytest.mark.parametrize("path", ["/apis/nope", "/apis/apps/v2", "/api/v2", "/apis/nope/v1"])
async def test_unknown_groups_and_versions_are_404(api: Api, path: str) -> None:
    status, body = await api.json("GET", path)
    assert (status, body["reason"]) == (404, "NotFound")


async def test_core_resources(api: Api) -> None:
    status, listing = await api.json("GET", "/api/v1")
    assert status == 200
    assert (listing["kind"], listing["apiVersion"], listing["groupVersion"]) == (
        "APIResourceList",
        "v1",
        "v1",
    )
    names = [r["name"] for r in listing["resources"]]
    assert names == sorted(names)
    pods = entry(listing, "pods")
    assert pods == {
        "name": "pods",
        "singularName": "pod",
        "namespaced": True,
        "kind": "Pod",
        "verbs": ALL,
        "shortNames": ["po"],
        "categories": ["all"],
    }
    assert entry(listing, "pods/status")["verbs"] == STATUS
    assert entry(listing, "pods/status")["kind"] == "Pod"
    binding = entry(listing, "pods/binding")
    assert (binding["kind"], binding["verbs"], binding["namespaced"]) == (
        "Binding",
        ["create"],
        True,
    )
    assert "group" not in binding
    eviction = entry(listing, "pods/eviction")
    assert (eviction["group"], eviction["version"], eviction["kind"]) == (
        "policy",
        "v1",
        "Eviction",
    )
    assert eviction["verbs"] == ["create"]

    namespaces = entry(listing, "namespaces")
    assert (namespaces["namespaced"], namespaces["shortNames"]) == (False, ["ns"])
    assert entry(listing, "namespaces/finalize")["verbs"] == ["update"]
    assert entry(listing, "namespaces/status")["verbs"] == STATUS

    short = {r["name"]: r.get("shortNames") for r in listing["resources"]}
    assert short["services"] == ["svc"]
    assert short["nodes"] == ["no"]
    assert short["events"] == ["ev"]
    assert short["configmaps"] == ["cm"]
    assert short["endpoints"] == ["ep"]
    assert short["serviceaccounts"] == ["sa"]
    assert short["secrets"] is None
    assert entry(listing, "services")["categories"] == ["all"]
    assert "categories" not in entry(listing, "configmaps")
    assert entry(listing, "endpoints")["singularName"] == "endpoints"


async def test_apps_resources_with_scale(api: Api) -> None:
    status, listing = await api.json("GET", "/apis/apps/v1")
    assert status == 200
    assert listing["groupVersion"] == "apps/v1"
    for name, short in [
        ("deployments", "deploy"),
        ("replicasets", "rs"),
        ("statefulsets", "sts"),
        ("daemonsets", "ds"),
    ]:
        resource = entry(listing, name)
        assert resource["shortNames"] == [short]
        assert resource["categories"] == ["all"]
        assert resource["verbs"] == ALL
    scale = entry(listing, "deployments/scale")
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert "daemonsets/scale" not in [r["name"] for r in listing["resources"]]


async def test_events_in_two_groups(api: Api) -> None:
    _, listing = await api.json("GET", "/apis/events.k8s.io/v1")
    events = entry(listing, "events")
    assert (events["kind"], events["namespaced"], events["shortNames"]) == ("Event", True, ["ev"])


async def test_aggregated_discovery_is_answered_with_the_plain_document(api: Api) -> None:
    accept = (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
        "application/json"
    )
    response = await api.request("GET", "/apis", headers={"Accept": accept})
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert (await response.json())["kind"] == "APIGroupList"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_discovery_is_read_only(api: Api, method: str) -> None:
    status, body = await api.json(method, "/api/v1", body={})
    assert (status, body["reason"]) == (405, "MethodNotAllowed")


def test_documents_are_built_once() -> None:
    discovery = Discovery(REGISTRY)
    assert discovery.resource_list("", "v1") is discovery.resource_list("", "v1")


async def test_namespaces_have_no_deletecollection(api: Api) -> None:
    _, listing = await api.json("GET", "/api/v1")
    assert entry(listing, "namespaces")["verbs"] == [v for v in ALL if v != "deletecollection"]


async def test_pod_log_and_exec_are_discoverable(api: Api) -> None:
    _, listing = await api.json("GET", "/api/v1")
    assert entry(listing, "pods/log")["verbs"] == ["get"]
    assert entry(listing, "pods/exec")["verbs"] == ["create", "get"]
