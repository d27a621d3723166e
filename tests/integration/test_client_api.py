"""kubelite's async API client against a real kubelite server: every verb, discovery, watch."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cluster import Cluster

from kubelite.client import (
    APIAlreadyExistsError,
    APIClient,
    APIClientError,
    APIConflictError,
    APIConnectionError,
    APIInvalidError,
    APINotFoundError,
    ClientConfig,
    PatchType,
    Resource,
    UnknownResourceError,
    WatchEvent,
    load_config,
)

CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap")
PODS = Resource("", "v1", "pods", kind="Pod")


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[APIClient]:
    async with APIClient(load_config(kubeconfig=str(cluster.kubeconfig))) as c:
        yield c


def configmap(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("po", ("", "v1", "pods")),
        ("pods", ("", "v1", "pods")),
        ("Pod", ("", "v1", "pods")),
        ("pod.v1", ("", "v1", "pods")),
        ("deploy", ("apps", "v1", "deployments")),
        ("deployments.apps", ("apps", "v1", "deployments")),
        ("deployment.v1.apps", ("apps", "v1", "deployments")),
        ("ev", ("", "v1", "events")),
        ("events.events.k8s.io", ("events.k8s.io", "v1", "events")),
        ("no", ("", "v1", "nodes")),
    ],
)
async def test_discovery_maps_names_to_resources(
    client: APIClient, name: str, expected: tuple[str, str, str]
):
    resource = await client.resource_for(name)
    assert (resource.group, resource.version, resource.plural) == expected


async def test_discovery_knows_scope_kinds_and_categories(client: APIClient):
    nodes = await client.resource_for("nodes")
    assert not nodes.namespaced and nodes.kind == "Node"
    deployment = await client.resource_for_kind("apps/v1", "Deployment")
    assert deployment.plural == "deployments" and "patch" in deployment.verbs
    assert [r.plural for r in await client.resources_in_category("all")][:3] == [
        "pods",
        "replicationcontrollers",
        "services",
    ]
    with pytest.raises(UnknownResourceError, match='doesn\'t have a resource type "nope"'):
        await client.resource_for("nope")
    with pytest.raises(UnknownResourceError, match='no matches for kind "Foo" in version "v1"'):
        await client.resource_for_kind("v1", "Foo")


async def test_create_get_update_delete(client: APIClient, namespace: str):
    created = await client.create(CONFIGMAPS, configmap("cm", a="1"), namespace=namespace)
    assert created["metadata"]["uid"] and created["metadata"]["namespace"] == namespace
    fetched = await client.get(CONFIGMAPS, "cm", namespace=namespace)
    assert fetched["data"] == {"a": "1"}
    fetched["data"]["a"] = "2"
    updated = await client.update(CONFIGMAPS, fetched)
    assert updated["data"] == {"a": "2"}
    # The first object's resourceVersion is stale now: the write must be refused.
    with pytest.raises(APIConflictError) as stale:
        await client.update(CONFIGMAPS, created)
    assert stale.value.reason == "Conflict"
    with pytest.raises(APIAlreadyExistsError):
        await client.create(CONFIGMAPS, configmap("cm"), namespace=namespace)
    await client.delete(CONFIGMAPS, "cm", namespace=namespace)
    with pytest.raises(APINotFoundError) as missing:
        await client.get(CONFIGMAPS, "cm", namespace=namespace)
    assert missing.value.message == 'configmaps "cm" not found'
    assert missing.value.status["details"]["name"] == "cm"


async def test_namespace_comes_from_the_body_on_create(client: APIClient, namespace: str):
    body = configmap("from-body")
    body["metadata"]["namespace"] = namespace
    await client.create(CONFIGMAPS, body)
    with pytest.raises(ValueError, match="namespace is required"):
        await client.get(CONFIGMAPS, "from-body")


async def test_the_four_patch_types(client: APIClient, namespace: str):
    await client.create(CONFIGMAPS, configmap("p", a="1"), namespace=namespace)
    merged = await client.patch(
        CONFIGMAPS, "p", {"data": {"b": "2"}}, patch_type=PatchType.MERGE, namespace=namespace
    )
    assert merged["data"] == {"a": "1", "b": "2"}
    strategic = await client.patch(CONFIGMAPS, "p", {"data": {"a": None}}, namespace=namespace)
    assert strategic["data"] == {"b": "2"}
    json_patched = await client.patch(
        CONFIGMAPS,
        "p",
        [{"op": "add", "path": "/data/c", "value": "3"}],
        patch_type=PatchType.JSON,
        namespace=namespace,
    )
    assert json_patched["data"] == {"b": "2", "c": "3"}
    applied = await client.patch(
        CONFIGMAPS,
        "p",
        configmap("p", d="4"),
        patch_type=PatchType.APPLY,
        namespace=namespace,
        field_manager="alice",
    )
    assert applied["data"]["d"] == "4"
    assert "alice" in {m["manager"] for m in applied["metadata"]["managedFields"]}
    with pytest.raises(APIConflictError, match="conflict"):
        await client.patch(
            CONFIGMAPS,
            "p",
            configmap("p", d="5"),
            patch_type=PatchType.APPLY,
            namespace=namespace,
            field_manager="bob",
        )
    forced = await client.patch(
        CONFIGMAPS,
        "p",
        configmap("p", d="5"),
        patch_type=PatchType.APPLY,
        namespace=namespace,
        field_manager="bob",
        force=True,
    )
    assert forced["data"]["d"] == "5"


async def test_dry_run_stores_nothing(client: APIClient, namespace: str):
    answer = await client.create(CONFIGMAPS, configmap("dry"), namespace=namespace, dry_run=True)
    assert answer["metadata"]["name"] == "dry"
    with pytest.raises(APINotFoundError):
        await client.get(CONFIGMAPS, "dry", namespace=namespace)


async def test_list_pages_selectors_and_tables(client: APIClient, namespace: str):
    for i in range(5):
        body = configmap(f"cm-{i}")
        body["metadata"]["labels"] = {"parity": "even" if i % 2 == 0 else "odd"}
        await client.create(CONFIGMAPS, body, namespace=namespace)
    paged = await client.list(CONFIGMAPS, namespace=namespace, limit=2)
    names = [item["metadata"]["name"] for item in paged["items"]]
    assert [n for n in names if n.startswith("cm-")] == [f"cm-{i}" for i in range(5)]
    assert paged["metadata"]["resourceVersion"] and "continue" not in paged["metadata"]
    even = await client.list(CONFIGMAPS, namespace=namespace, label_selector="parity=even")
    assert [i["metadata"]["name"] for i in even["items"]] == ["cm-0", "cm-2", "cm-4"]
    named = await client.list(CONFIGMAPS, namespace=namespace, field_selector="metadata.name=cm-3")
    assert [i["metadata"]["name"] for i in named["items"]] == ["cm-3"]
    table = await client.list(
        CONFIGMAPS, namespace=namespace, label_selector="parity=odd", table=True
    )
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert [row["cells"][0] for row in table["rows"]] == ["cm-1", "cm-3"]
    single = await client.get(CONFIGMAPS, "cm-1", namespace=namespace, table=True)
    assert single["rows"][0]["object"]["metadata"]["name"] == "cm-1"


async def _collect(events: AsyncIterator[WatchEvent], count: int) -> list[WatchEvent]:
    seen: list[WatchEvent] = []
    async for event in events:
        seen.append(event)
        if len(seen) == count:
            break
    return seen


async def test_watch_streams_changes_after_a_list(client: APIClient, namespace: str):
    listing = await client.list(CONFIGMAPS, namespace=namespace)
    events = client.watch(
        CONFIGMAPS,
        namespace=namespace,
        field_selector="metadata.name=w",
        resource_version=listing["metadata"]["resourceVersion"],
    )
    async with contextlib.aclosing(events):
        collecting = asyncio.create_task(_collect(events, 3))
        await client.create(CONFIGMAPS, configmap("w", a="1"), namespace=namespace)
        await client.create(CONFIGMAPS, configmap("other"), namespace=namespace)
        await client.patch(CONFIGMAPS, "w", {"data": {"a": "2"}}, namespace=namespace)
        await client.delete(CONFIGMAPS, "w", namespace=namespace)
        seen = await asyncio.wait_for(collecting, 20)
    assert [e.type for e in seen] == ["ADDED", "MODIFIED", "DELETED"]
    assert seen[1].object["data"] == {"a": "2"}
    assert {e.object["metadata"]["name"] for e in seen} == {"w"}


async def test_watch_of_tables(client: APIClient, namespace: str):
    listing = await client.list(CONFIGMAPS, namespace=namespace)
    events = client.watch(
        CONFIGMAPS,
        namespace=namespace,
        resource_version=listing["metadata"]["resourceVersion"],
        table=True,
    )

    async def first_row_named_t() -> Any:
        # The namespace's kube-root-ca.crt, published by a controller, may come first.
        async for event in events:
            if event.object["rows"][0]["cells"][0] == "t":
                return event
        return None

    async with contextlib.aclosing(events):
        collecting = asyncio.create_task(first_row_named_t())
        await client.create(CONFIGMAPS, configmap("t", a="1"), namespace=namespace)
        event = await asyncio.wait_for(collecting, 20)
    assert event.type == "ADDED" and event.object["kind"] == "Table"
    assert event.object["rows"][0]["cells"][:2] == ["t", 1]


async def test_lists_and_watches_of_metadata_only(client: APIClient, namespace: str):
    await client.create(CONFIGMAPS, configmap("m", a="1"), namespace=namespace)
    # Only "m": the controller manager puts kube-root-ca.crt in every namespace too.
    only_m = "metadata.name=m"
    listing = await client.list(
        CONFIGMAPS, namespace=namespace, metadata_only=True, field_selector=only_m
    )
    assert listing["kind"] == "PartialObjectMetadataList"
    (item,) = listing["items"]
    assert item["kind"] == "PartialObjectMetadata" and "data" not in item
    assert item["metadata"]["name"] == "m"
    events = client.watch(
        CONFIGMAPS,
        namespace=namespace,
        resource_version=listing["metadata"]["resourceVersion"],
        metadata_only=True,
        field_selector=only_m,
    )
    async with contextlib.aclosing(events):
        collecting = asyncio.create_task(_collect(events, 1))
        await client.patch(CONFIGMAPS, "m", {"data": {"a": "2"}}, namespace=namespace)
        (event,) = await asyncio.wait_for(collecting, 20)
    assert event.type == "MODIFIED" and event.object["kind"] == "PartialObjectMetadata"
    assert "data" not in event.object


async def test_invalid_objects_and_warnings(cluster: Cluster, namespace: str):
    warnings: list[str] = []
    config = load_config(kubeconfig=str(cluster.kubeconfig))
    async with APIClient(config, warning_handler=warnings.append) as client:
        body = configmap("warned")
        body["extra"] = "x"
        await client.create(CONFIGMAPS, body, namespace=namespace, field_validation="Warn")
        assert warnings == ['unknown field "extra"']
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c"}]},
        }
        with pytest.raises(APIInvalidError) as invalid:
            await client.create(PODS, pod, namespace=namespace)
    causes = invalid.value.details["causes"]
    assert {
        "reason": "FieldValueRequired",
        "message": "Required value",
        "field": "spec.containers[0].image",
    } in causes


async def test_a_client_without_credentials_is_refused(cluster: Cluster):
    config = load_config(kubeconfig=str(cluster.kubeconfig))
    anonymous = ClientConfig(
        server=config.server, certificate_authority_data=config.certificate_authority_data
    )
    async with APIClient(anonymous) as client:
        with pytest.raises(APIClientError) as refused:
            await client.list(PODS, namespace="default")
    assert refused.value.code in (401, 403)


async def test_an_unreachable_server_is_a_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with APIClient(ClientConfig(server=f"http://127.0.0.1:{port}")) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.version()
    assert caught.value.refused
    assert str(caught.value) == (
        f"The connection to the server 127.0.0.1:{port} was refused - "
        "did you specify the right host or port?"
    )


async def test_version(client: APIClient):
    version = await client.version()
    assert version["major"] == "1" and version["gitVersion"].startswith("v1.")
