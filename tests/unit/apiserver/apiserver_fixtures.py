"""Helpers and fixtures for the API server's unit tests: a real store, REST storage, HTTP app.

Everything here is the real thing, put together by `kubelite.apiserver.server.assemble` as
`APIServer.start` puts it together: a `SqliteStore` in the test's temporary directory, one
`ResourceStore` per kind with the namespace-lifecycle and service-allocation admission, and the
aiohttp application of `kubelite.apiserver.app`, served by aiohttp's test server (plain HTTP:
authentication is by bearer token here; client certificates are tested against a real HTTPS
`APIServer`).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from kubernetes import client
from testcluster import WAIT

from kubelite.api.kinds import REGISTRY, ResourceType
from kubelite.apiserver import admission
from kubelite.apiserver.app import Application
from kubelite.apiserver.auth import Authenticator
from kubelite.apiserver.metrics import Metrics
from kubelite.apiserver.rbac import bootstrap_policy
from kubelite.apiserver.rbac.authorizer import Authorizer
from kubelite.apiserver.rbac.policy import CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES, PolicyCache
from kubelite.apiserver.registry import ResourceStore
from kubelite.apiserver.scope import WatchSettings
from kubelite.apiserver.server import APIServer, Serving, assemble, resource_stores
from kubelite.storage.sqlite import SqliteStore

Obj = dict[str, Any]

ADMIN_TOKEN = "admin-token-for-tests"
VIEWER_TOKEN = "viewer-token-for-tests"


@dataclass
class Stores:
    """The REST storage of every kind over one store, wired as the API server wires it."""

    store: SqliteStore
    by_resource: dict[ResourceType, ResourceStore] = field(default_factory=dict)

    def of(self, plural: str, group: str = "", version: str = "v1") -> ResourceStore:
        resource = REGISTRY.lookup(group, version, plural)
        assert resource is not None, plural
        return self.by_resource[resource]

    async def namespace(self, name: str) -> Obj:
        """A namespace with its `default` service account, as the service account controller
        makes it (ServiceAccount admission refuses pods in a namespace without one)."""
        created = await self.of("namespaces").create("", {"metadata": {"name": name}})
        await self.of("serviceaccounts").create(name, {"metadata": {"name": "default"}})
        return created


def build_stores(store: SqliteStore) -> Stores:
    stores = Stores(store)
    stores.by_resource.update(resource_stores(store))
    return stores


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(tmp_path / "db" / "state.db")
    yield s
    await s.close()


@pytest.fixture
async def stores(store: SqliteStore) -> Stores:
    """REST storage with the system namespaces in place, as after the server's bootstrap."""
    built = build_stores(store)
    await asyncio.gather(*(built.namespace(name) for name in admission.SYSTEM_NAMESPACES))
    return built


@dataclass
class Api:
    """An HTTP client of the application, authenticated as the admin by default."""

    client: TestClient
    stores: Stores
    metrics: Metrics
    policy: PolicyCache | None = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        token: str | None = ADMIN_TOKEN,
        params: dict[str, str] | None = None,
    ) -> ClientResponse:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data = raw
        if body is not None:
            data = orjson.dumps(body)
        if data is not None:
            sent.setdefault("Content-Type", content_type)
        return await self.client.request(method, path, data=data, headers=sent, params=params)

    async def json(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        response = await self.request(method, path, **kwargs)
        return response.status, orjson.loads(await response.read())

    def watchers(self) -> float:
        value = self.metrics.registry.get_sample_value("apiserver_registered_watchers")
        return value or 0.0


def build_application(
    stores: Stores,
    tmp_path: Path,
    *,
    settings: WatchSettings | None = None,
    authorizer: Authorizer | None = None,
) -> tuple[Application, Metrics]:
    """`kubelite.apiserver.app.Application` put together by the server's own `assemble`, over
    these stores, with bearer tokens for an admin and a viewer (no kubelet client, no token
    issuer: those subresources answer 503), authorizing with `authorizer` if given."""
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(
        f'{ADMIN_TOKEN},system:admin,system:admin,"system:masters"\n'
        f'{VIEWER_TOKEN},viewer,viewer,"viewers,auditors"\n'
    )
    serving = Serving(
        authenticator=Authenticator(tokens),
        server_address="127.0.0.1:6443",
        ready=lambda: True,
        watch=settings or WatchSettings(),
        authorizer=authorizer,
    )
    assembly = assemble(stores.store, serving, stores=stores.by_resource)
    return assembly.application, assembly.metrics


@pytest.fixture
def watch_settings() -> WatchSettings:
    """Watch timing for the app; a test module may override this fixture."""
    return WatchSettings()


def seed_default_policy(policy: PolicyCache) -> None:
    """Kubernetes' default roles and bindings in the cache alone, as if the server's bootstrap
    had written them (writing them costs a tenth of a second, too much for every test)."""
    for role in bootstrap_policy.cluster_roles():
        policy.apply(f"{CLUSTER_ROLES}{role['metadata']['name']}", orjson.dumps(role))
    for binding in bootstrap_policy.cluster_role_bindings():
        key = f"{CLUSTER_ROLE_BINDINGS}{binding['metadata']['name']}"
        policy.apply(key, orjson.dumps(binding))


@pytest.fixture
async def api(stores: Stores, tmp_path: Path, watch_settings: WatchSettings) -> AsyncIterator[Api]:
    """The application with RBAC on, as a server runs it (the admin token is in
    system:masters; the viewer holds nothing until a test binds it a role)."""
    policy = PolicyCache(stores.store)
    await policy.start()
    seed_default_policy(policy)
    application, metrics = build_application(
        stores, tmp_path, settings=watch_settings, authorizer=Authorizer(policy)
    )
    server = TestServer(application.build())
    client = TestClient(server)
    await client.start_server()
    try:
        yield Api(client, stores, metrics, policy)
    finally:
        await client.close()
        await policy.stop()


async def read_watch_lines(
    response: ClientResponse, count: int, timeout: float = WAIT
) -> list[Obj]:
    """The next `count` newline-delimited events of a watch stream, within `timeout`."""
    events: list[Obj] = []
    async with asyncio.timeout(timeout):
        while len(events) < count:
            line = await response.content.readline()
            if not line:
                break
            if line.strip():
                events.append(orjson.loads(line))
    return events


def admin_context(server: APIServer) -> ssl.SSLContext:
    """A TLS context that trusts a running server's CA and presents its admin certificate."""
    assert server.pki is not None
    context = ssl.create_default_context(cafile=str(server.pki.ca_cert))
    context.load_cert_chain(server.pki.admin_cert, server.pki.admin_key)
    return context


def official_client(server: APIServer) -> client.ApiClient:
    """The official Python client with the admin's certificate, as a kubeconfig of the admin
    would configure it; close it when done (it is a context manager)."""
    assert server.pki is not None
    configuration = client.Configuration()
    configuration.host = f"https://127.0.0.1:{server.port}"
    configuration.ssl_ca_cert = str(server.pki.ca_cert)
    configuration.cert_file = str(server.pki.admin_cert)
    configuration.key_file = str(server.pki.admin_key)
    return client.ApiClient(configuration)
