"""Watch over HTTP: initial events, resuming, 410 as an ERROR event, bookmarks, forms."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from apiserver_fixtures import ADMIN_TOKEN, Api, Stores, build_application, read_watch_lines
from testcluster import WAIT, wait_for

from kubelite.apiserver.handlers import watch as watch_handler
from kubelite.apiserver.scope import WatchSettings

CMS = "/api/v1/namespaces/default/configmaps"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
# Bookmarks come often here, so that tests see them quickly.
BOOKMARK_INTERVAL = 0.3


@pytest.fixture
def watch_settings() -> WatchSettings:
    return WatchSettings(min_request_timeout=600, bookmark_interval=BOOKMARK_INTERVAL)


async def create(api: Api, name: str, **labels: str) -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {"name": name}, "data": {"k": "v"}}
    if labels:
        body["metadata"]["labels"] = labels
    status, obj = await api.json("POST", CMS, body=body)
    assert status == 201, obj
    return obj


async def open_watch(
    api: Api, *, headers: dict[str, str] | None = None, path: str = CMS, **params: str
) -> Any:
    response = await api.request("GET", path, params={"watch": "1", **params}, headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "application/json"
    return response


async def read_to_end(response: Any, timeout: float = WAIT) -> list[dict[str, Any]]:
    async with asyncio.timeout(timeout):
        body = await response.read()
    return [orjson.loads(line) for line in body.splitlines() if line.strip()]


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in events]


async def test_watch_without_a_resource_version_starts_with_the_current_objects(api: Api) -> None:
    await create(api, "a")
    await create(api, "b")
    response = await open_watch(api)
    try:
        initial = await read_watch_lines(response, 2)
        assert kinds(initial) == [("ADDED", "a"), ("ADDED", "b")]
        await create(api, "c")
        [added] = await read_watch_lines(response, 1)
    finally:
        response.close()
    assert kinds([added]) == [("ADDED", "c")]
    assert added["object"]["kind"] == "ConfigMap"


async def test_watch_from_a_list_resource_version_sees_only_later_changes(api: Api) -> None:
    await create(api, "a")
    _, listing = await api.json("GET", CMS)
    response = await open_watch(api, resourceVersion=listing["metadata"]["resourceVersion"])
    try:
        await create(api, "b")
        status, _ = await api.json("DELETE", f"{CMS}/a")
        assert status == 200
        events = await read_watch_lines(response, 2)
    finally:
        response.close()
    assert kinds(events) == [("ADDED", "b"), ("DELETED", "a")]


async def test_kubectl_delete_waits_with_a_name_field_selector(api: Api) -> None:
    await create(api, "a")
    await create(api, "other")
    _, listing = await api.json("GET", CMS, params={"fieldSelector": "metadata.name=a"})
    response = await open_watch(
        api,
        fieldSelector="metadata.name=a",
        resourceVersion=listing["metadata"]["resourceVersion"],
    )
    try:
        await api.json("DELETE", f"{CMS}/other")
        await api.json("DELETE", f"{CMS}/a")
        events = await read_watch_lines(response, 1)
    finally:
        response.close()
    assert kinds(events) == [("DELETED", "a")]


async def test_compacted_resource_version_is_one_error_event(api: Api) -> None:
    await create(api, "a")
    old = api.stores.store.revision
    await create(api, "b")
    await create(api, "c")
    await api.stores.store.compact(api.stores.store.revision - 1)
    response = await open_watch(api, resourceVersion=str(old))
    events = await read_to_end(response)
    assert len(events) == 1
    [error] = events
    assert error["type"] == "ERROR"
    status = error["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith(f"too old resource version: {old} (")
    assert api.watchers() == 0


async def test_watch_ends_at_timeout_seconds(api: Api) -> None:
    response = await open_watch(api, timeoutSeconds="1")
    await wait_for(lambda: api.watchers() == 1, what="the watch to register")
    events = await read_to_end(response, timeout=3)
    assert events == []
    await wait_for(lambda: api.watchers() == 0, what="the watch to close")


async def test_bookmarks_only_when_allowed(api: Api) -> None:
    await create(api, "a")
    # Two seconds is several bookmark intervals: an allowed watch has bookmarks, another none.
    allowed = await open_watch(api, timeoutSeconds="2", allowWatchBookmarks="true")
    plain = await open_watch(api, timeoutSeconds="2")
    with_bookmarks = await read_to_end(allowed)
    without = await read_to_end(plain)
    assert [e["type"] for e in without] == ["ADDED"]
    assert with_bookmarks[0]["type"] == "ADDED"
    bookmarks = [e for e in with_bookmarks if e["type"] == "BOOKMARK"]
    assert len(bookmarks) >= 2
    for bookmark in bookmarks:
        obj = bookmark["object"]
        assert (obj["kind"], obj["apiVersion"]) == ("ConfigMap", "v1")
        # 1.34 (#130989): a zero creationTimestamp is omitted, not written as null.
        assert "creationTimestamp" not in obj["metadata"]
        assert int(obj["metadata"]["resourceVersion"]) >= int(
            with_bookmarks[0]["object"]["metadata"]["resourceVersion"]
        )


async def test_a_bookmark_is_sent_shortly_before_the_deadline(
    api: Api, watch_settings: WatchSettings
) -> None:
    watch_settings.bookmark_interval = 600
    await create(api, "a")
    response = await open_watch(api, timeoutSeconds="3", allowWatchBookmarks="true")
    events = await read_to_end(response, timeout=5)
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["resourceVersion"] == str(api.stores.store.revision)


async def test_bookmark_resource_version_covers_changes_the_watcher_did_not_see(api: Api) -> None:
    """A bookmark says "you have seen everything up to here", filtered changes included."""
    response = await open_watch(
        api, labelSelector="tier=web", allowWatchBookmarks="true", timeoutSeconds="30"
    )
    try:
        await create(api, "unseen", tier="db")
        revision = api.stores.store.revision
        async with asyncio.timeout(WAIT):
            while True:
                [event] = await read_watch_lines(response, 1)
                assert event["type"] == "BOOKMARK"
                if int(event["object"]["metadata"]["resourceVersion"]) >= revision:
                    break
    finally:
        response.close()


async def test_send_initial_events_ends_with_an_annotated_bookmark(api: Api) -> None:
    await create(api, "a")
    response = await open_watch(
        api,
        sendInitialEvents="true",
        resourceVersionMatch="NotOlderThan",
        resourceVersion="0",
        allowWatchBookmarks="true",
    )
    try:
        events = await read_watch_lines(response, 2)
    finally:
        response.close()
    assert kinds(events)[0] == ("ADDED", "a")
    bookmark = events[1]
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert bookmark["object"]["metadata"]["resourceVersion"] == str(api.stores.store.revision)


async def test_send_initial_events_without_not_older_than_is_refused(api: Api) -> None:
    status, body = await api.json(
        "GET", CMS, params={"watch": "1", "sendInitialEvents": "true", "resourceVersion": "0"}
    )
    assert status in (400, 422)
    assert "resourceVersionMatch" in body["message"]


async def test_watch_list_request_without_a_resource_version(api: Api) -> None:
    await create(api, "a")
    response = await api.request(
        "GET",
        CMS,
        params={
            "watch": "1",
            "sendInitialEvents": "true",
            "resourceVersionMatch": "NotOlderThan",
            "allowWatchBookmarks": "true",
        },
    )
    try:
        assert response.status == 200
        events = await read_watch_lines(response, 2)
    finally:
        response.close()
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]


async def test_send_initial_events_false_without_match_is_a_client_error(api: Api) -> None:
    status, body = await api.json("GET", CMS, params={"watch": "1", "sendInitialEvents": "false"})
    assert status == 422
    assert body["reason"] == "Invalid"


async def test_send_initial_events_false_at_zero_starts_now(api: Api) -> None:
    await create(api, "old")
    response = await open_watch(
        api,
        sendInitialEvents="false",
        resourceVersionMatch="NotOlderThan",
        resourceVersion="0",
    )
    try:
        await create(api, "new")
        [first] = await read_watch_lines(response, 1)
    finally:
        response.close()
    assert kinds([first]) == [("ADDED", "new")]


async def test_table_watch_sends_column_definitions_once(api: Api) -> None:
    await create(api, "a")
    response = await open_watch(api, headers={"Accept": TABLE})
    try:
        await create(api, "b")
        events = await read_watch_lines(response, 2)
    finally:
        response.close()
    first, second = (e["object"] for e in events)
    assert first["kind"] == "Table" and second["kind"] == "Table"
    assert [c["name"] for c in first["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert second["columnDefinitions"] is None
    assert [r["cells"][0] for r in (*first["rows"], *second["rows"])] == ["a", "b"]
    assert second["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert (
        second["metadata"]["resourceVersion"]
        == second["rows"][0]["object"]["metadata"]["resourceVersion"]
    )


async def test_many_watchers_get_their_own_forms_of_one_change(api: Api) -> None:
    rv = str(api.stores.store.revision)
    full = await open_watch(api, resourceVersion=rv)
    partial = await open_watch(
        api,
        resourceVersion=rv,
        headers={"Accept": "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"},
    )
    try:
        await create(api, "a")
        [full_event] = await read_watch_lines(full, 1)
        [partial_event] = await read_watch_lines(partial, 1)
    finally:
        full.close()
        partial.close()
    assert full_event["object"]["data"] == {"k": "v"}
    assert partial_event["object"]["kind"] == "PartialObjectMetadata"
    assert "data" not in partial_event["object"]


async def test_partial_metadata_watchers_of_two_versions(api: Api) -> None:
    rv = str(api.stores.store.revision)
    accept = "application/json;as=PartialObjectMetadata;v={};g=meta.k8s.io"
    v1 = await open_watch(api, resourceVersion=rv, headers={"Accept": accept.format("v1")})
    v1beta1 = await open_watch(
        api, resourceVersion=rv, headers={"Accept": accept.format("v1beta1")}
    )
    try:
        await create(api, "a")
        [first] = await read_watch_lines(v1, 1)
        [second] = await read_watch_lines(v1beta1, 1)
    finally:
        v1.close()
        v1beta1.close()
    assert first["object"]["apiVersion"] == "meta.k8s.io/v1"
    assert second["object"]["apiVersion"] == "meta.k8s.io/v1beta1"


async def test_legacy_watch_path(api: Api) -> None:
    rv = str(api.stores.store.revision)
    response = await open_watch(
        api, path="/api/v1/watch/namespaces/default/configmaps", resourceVersion=rv
    )
    try:
        await create(api, "a")
        events = await read_watch_lines(response, 1)
    finally:
        response.close()
    assert kinds(events) == [("ADDED", "a")]


async def test_legacy_watch_of_one_object(api: Api) -> None:
    """Kubernetes still serves /watch/.../<name> (watchCoreV1Namespaced<Kind>): a watch with
    a `metadata.name` field selector (ListResource in endpoints/handlers/get.go)."""
    await create(api, "a")
    await create(api, "b")
    response = await open_watch(api, path="/api/v1/watch/namespaces/default/configmaps/a")
    try:
        events = await read_watch_lines(response, 1)
    finally:
        response.close()
    assert kinds(events) == [("ADDED", "a")]


async def test_legacy_watch_of_one_object_sees_only_its_changes(api: Api) -> None:
    await create(api, "a")
    rv = str(api.stores.store.revision)
    response = await open_watch(
        api, path="/api/v1/watch/namespaces/default/configmaps/a", resourceVersion=rv
    )
    try:
        await create(api, "b")
        status, _ = await api.json("DELETE", f"{CMS}/b")
        assert status == 200
        status, _ = await api.json("DELETE", f"{CMS}/a")
        assert status == 200
        events = await read_watch_lines(response, 1)
    finally:
        response.close()
    assert kinds(events) == [("DELETED", "a")]


@pytest.mark.parametrize(
    ("collection", "spec", "watch_path"),
    [
        (
            "/apis/coordination.k8s.io/v1/namespaces/default/leases",
            {"spec": {}},
            "/apis/coordination.k8s.io/v1/watch/namespaces/default/leases/x",
        ),
        ("/api/v1/nodes", {}, "/api/v1/watch/nodes/x"),
    ],
)
async def test_legacy_watch_of_one_object_in_a_group_or_cluster_wide(
    api: Api, collection: str, spec: dict[str, Any], watch_path: str
) -> None:
    for name in ("x", "y"):
        status, created = await api.json(
            "POST", collection, body={"metadata": {"name": name}, **spec}
        )
        assert status == 201, created
    response = await open_watch(api, path=watch_path)
    try:
        events = await read_watch_lines(response, 1)
    finally:
        response.close()
    assert kinds(events) == [("ADDED", "x")]


async def test_legacy_watch_of_a_namespace(api: Api) -> None:
    response = await open_watch(api, path="/api/v1/watch/namespaces/kube-system")
    try:
        events = await read_watch_lines(response, 1)
    finally:
        response.close()
    assert kinds(events) == [("ADDED", "kube-system")]


async def test_a_field_selector_naming_the_same_object_is_kept(api: Api) -> None:
    await create(api, "a", app="web")
    await create(api, "b", app="web")
    response = await open_watch(
        api,
        path="/api/v1/watch/namespaces/default/configmaps/a",
        fieldSelector="metadata.name=a,metadata.namespace=default",
    )
    try:
        events = await read_watch_lines(response, 1)
    finally:
        response.close()
    assert kinds(events) == [("ADDED", "a")]


@pytest.mark.parametrize(
    "selector", ["metadata.name=b", "metadata.name!=a", "metadata.namespace=default"]
)
async def test_a_field_selector_that_does_not_pin_the_name_is_refused(
    api: Api, selector: str
) -> None:
    status, answer = await api.json(
        "GET",
        "/api/v1/watch/namespaces/default/configmaps/a",
        params={"fieldSelector": selector},
    )
    assert (status, answer["reason"]) == (400, "BadRequest")
    assert answer["message"] == "fieldSelector metadata.name doesn't match requested name"


async def test_a_named_watch_across_namespaces_names_nothing(api: Api) -> None:
    status, answer = await api.json("GET", "/api/v1/watch/configmaps/a")
    assert (status, answer["reason"]) == (404, "NotFound")


async def test_watchers_gauge_falls_when_the_client_goes(api: Api) -> None:
    response = await open_watch(api, labelSelector="never=matches")
    await wait_for(lambda: api.watchers() == 1, what="the watch to register")
    response.close()
    await create(api, "a")
    await wait_for(lambda: api.watchers() == 0, what="the server to end the watch")


async def test_a_quiet_watch_ends_when_its_client_goes(
    stores: Stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing to send, the server still notices the hang-up: the watch no longer waits
    for a change (or its deadline, up to an hour away) to let go of its stream and request.

    Served as the server serves (aiohttp's test server cancels handlers whose client goes,
    which the real one does not).
    """
    monkeypatch.setattr(watch_handler, "LIVENESS_CHECK", 0.1)
    application, _ = build_application(stores, tmp_path)
    runner = web.AppRunner(application.build(), handle_signals=False, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            response = await session.get(
                f"http://127.0.0.1:{port}{CMS}",
                params={"watch": "1", "labelSelector": "never=matches"},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            assert response.status == 200
            await wait_for(lambda: bool(stores.store._watchers), what="the watch to register")
            response.close()
        await wait_for(lambda: not stores.store._watchers, what="the server to end the watch")
    finally:
        await runner.cleanup()


async def test_core_and_events_k8s_io_watchers_of_one_event(api: Api) -> None:
    rv = str(api.stores.store.revision)
    core = await open_watch(api, path="/api/v1/namespaces/default/events", resourceVersion=rv)
    new = await open_watch(
        api, path="/apis/events.k8s.io/v1/namespaces/default/events", resourceVersion=rv
    )
    event = {
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
        "reason": "Tested",
        "message": "m",
        "type": "Normal",
        "firstTimestamp": "2024-01-01T00:00:00Z",
        "lastTimestamp": "2024-01-01T00:00:00Z",
    }
    try:
        status, _ = await api.json("POST", "/api/v1/namespaces/default/events", body=event)
        assert status == 201
        [from_core] = await read_watch_lines(core, 1)
        [from_new] = await read_watch_lines(new, 1)
    finally:
        core.close()
        new.close()
    assert from_core["object"]["apiVersion"] == "v1"
    assert from_new["object"]["apiVersion"] == "events.k8s.io/v1"
    assert from_new["object"]["note"] == "m"
