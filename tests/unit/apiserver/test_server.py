"""`APIServer`: bootstrap objects, housekeeping loops, restarts and shutdown, on real HTTPS."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from apiserver_fixtures import admin_context
from testcluster import wait_for

from kubelite.api import errors, meta
from kubelite.apiserver.registry import ListOptions
from kubelite.apiserver.server import APIServer, ServerConfig


def config(data_dir: Path, **overrides: Any) -> ServerConfig:
    return ServerConfig(data_dir=data_dir, https_port=0, bind_address="127.0.0.1", **overrides)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[APIServer]:
    s = APIServer(config(tmp_path / "data", compaction_interval=0.2, event_ttl=1.0))
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


async def test_bootstrap_namespaces_and_the_kubernetes_service(server: APIServer) -> None:
    namespaces = server.resource_store("", "v1", "namespaces")
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert (await namespaces.get("", name))["status"]["phase"] == "Active"
    svc = await server.resource_store("", "v1", "services").get("default", "kubernetes")
    assert svc["spec"]["clusterIP"] == "10.43.0.1"
    assert svc["spec"]["ports"] == [
        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": server.port}
    ]
    assert svc["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    # A loopback advertise address has no endpoints (Kubernetes refuses loopback endpoints).
    with pytest.raises(errors.StatusError):
        await server.resource_store("", "v1", "endpoints").get("default", "kubernetes")


async def test_a_restart_keeps_the_data_and_follows_the_new_port(tmp_path: Path) -> None:
    first = APIServer(config(tmp_path / "data"))
    await first.start()
    cms = first.resource_store("", "v1", "configmaps")
    await cms.create("default", {"metadata": {"name": "kept"}})
    first_port = first.port
    await first.stop()

    second = APIServer(config(tmp_path / "data"))
    await second.start()
    try:
        assert second.port != first_port
        assert await second.resource_store("", "v1", "configmaps").get("default", "kept")
        svc = await second.resource_store("", "v1", "services").get("default", "kubernetes")
        assert svc["spec"]["ports"][0]["targetPort"] == second.port
    finally:
        await second.stop()


async def test_old_revisions_are_compacted_one_interval_late(server: APIServer) -> None:
    assert server.store is not None
    store = server.store
    cms = server.resource_store("", "v1", "configmaps")
    await cms.create("default", {"metadata": {"name": "a"}})
    written = store.revision
    await wait_for(lambda: store.compacted_revision >= written, what="compaction")
    # The newest state stays readable.
    assert await cms.get("default", "a")


def _event(name: str, when: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
        "reason": "Tested",
        "message": "m",
        "type": "Normal",
        "firstTimestamp": when,
        "lastTimestamp": when,
    }


async def test_events_expire_a_ttl_after_their_last_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--event-ttl counts from the Event's last write (Kubernetes' etcd lease), not from the
    timestamps it carries: an Event about the past lives the whole TTL, and a rewrite renews it.
    The sweeps are driven by hand on a moved clock."""
    server = APIServer(config(tmp_path / "data"))
    await server.start()
    try:
        events = server.resource_store("", "v1", "events")
        ttl = dt.timedelta(seconds=server.config.event_ttl)
        start = meta.now()
        long_ago = meta.format_time(start - 2 * ttl)
        await events.create("default", _event("about-the-past", long_ago))
        await events.create("default", _event("rewritten", long_ago))

        async def sweep_at(when: dt.datetime) -> set[str]:
            monkeypatch.setattr(meta, "now", lambda: when)
            await server._expire_events(events)
            return {
                e["metadata"]["name"] for e in (await events.list("default", ListOptions())).items
            }

        assert await sweep_at(start) == {"about-the-past", "rewritten"}

        async def bump(event: dict[str, Any] | None) -> dict[str, Any]:
            assert event is not None
            return {**event, "count": 2}

        await events.update("default", "rewritten", bump)
        assert await sweep_at(start + ttl / 2) == {"about-the-past", "rewritten"}
        assert await sweep_at(start + ttl + dt.timedelta(seconds=2)) == {"rewritten"}
        assert await sweep_at(start + ttl * 3 / 2 + dt.timedelta(seconds=2)) == set()
    finally:
        await server.stop()


async def test_readiness_follows_start_and_stop(tmp_path: Path) -> None:
    s = APIServer(config(tmp_path / "data"))
    await s.start()
    url = f"https://127.0.0.1:{s.port}/readyz"
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, ssl=admin_context(s)) as response,
    ):
        assert response.status == 200
    await s.stop()
    assert s.store is not None
    with pytest.raises(Exception, match="closed"):
        await s.store.create("/x", b"x")


async def test_stop_ends_open_watches_promptly(tmp_path: Path) -> None:
    s = APIServer(config(tmp_path / "data"))
    await s.start()
    url = f"https://127.0.0.1:{s.port}/api/v1/namespaces/default/configmaps?watch=1"
    async with aiohttp.ClientSession() as session:
        response = await session.get(url, ssl=admin_context(s))
        assert response.status == 200
        stopping = asyncio.create_task(s.stop())
        done, _ = await asyncio.wait({stopping}, timeout=5)
        if not done:
            # Let the server finish anyway: ending the store's watches frees its handlers.
            assert s.store is not None
            await s.store.close()
        await asyncio.wait_for(stopping, 30)
        response.close()
    assert done, "stop() was still waiting for an open watch after 5 seconds"
