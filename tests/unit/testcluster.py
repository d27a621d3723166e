"""One real API server for the unit tests, and real clients of it.

Unit tests of the components that talk to the API server (controllers, the hollow nodes,
`describe`) used to each carry a fake API client: a few dozen lines re-implementing what the
server does with a create, an update or a delete, which could - and did - disagree with it
(resourceVersion checks, status subresources, generateName, what a delete returns). Here the
server is the real one, `kubelite.apiserver.server.APIServer`, assembled exactly as `kubelite
server` assembles it on a SQLite store in a temporary directory, and the client is the real
`kubelite.client.api.APIClient` the controllers use, authenticated as the cluster admin with the
admin client certificate `kubelite server` writes into its kubeconfig.

Speed: the server is started once per test session, in a thread with an event loop of its own,
so it outlives the event loop pytest-asyncio gives each test and needs no loop-scope marks on
the test modules. Each test gets a fresh namespace (`TestCluster.namespace`) for isolation, and a
client of its own, opened on the test's loop and closed after it.

What this relies on from the API server: `ServerConfig(data_dir, https_port=0, bind_address,
advertise_address)`, `APIServer(config)`, `await start()`, `await stop()`, and after `start()`
its `port` (the port the kernel chose) and `pki` (`ca_cert`, `admin_cert`, `admin_key`).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kubelite.apiserver.server import APIServer, ServerConfig
from kubelite.client.api import APIClient, Resource
from kubelite.client.kubeconfig import ClientConfig

Obj = dict[str, Any]

# How long a test waits for something that should happen at once.
WAIT = 5.0
# How long the session waits for the server to start or stop.
SERVER_TIMEOUT = 30.0

NAMESPACES = Resource("", "v1", "namespaces", kind="Namespace", namespaced=False)
EVENTS = Resource("", "v1", "events", kind="Event")


class ServerThread:
    """An `APIServer` running on an event loop of its own, in a daemon thread."""

    def __init__(self, data_dir: Path) -> None:
        self.server = APIServer(
            ServerConfig(
                data_dir=data_dir,
                https_port=0,
                bind_address="127.0.0.1",
                advertise_address="127.0.0.1",
            )
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="apiserver", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(SERVER_TIMEOUT)

    def stop(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(SERVER_TIMEOUT)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(SERVER_TIMEOUT)
            self._loop.close()

    def client_config(self, namespace: str = "default") -> ClientConfig:
        """What the admin kubeconfig `kubelite server` writes says, for this server."""
        pki = self.server.pki
        assert pki is not None, "the server has not started"
        return ClientConfig(
            server=f"https://127.0.0.1:{self.server.port}",
            namespace=namespace,
            certificate_authority_data=pki.ca_cert.read_bytes(),
            client_certificate_data=pki.admin_cert.read_bytes(),
            client_key_data=pki.admin_key.read_bytes(),
        )


_namespace_numbers = itertools.count(1)


@dataclass
class TestCluster:
    """What a test gets: a client of the real server, and a namespace no other test uses."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    server: ServerThread
    client: APIClient
    namespace: str

    async def create(self, resource: Resource, obj: Obj) -> Obj:
        """Create `obj` (in the test's namespace unless it names one) as a user would."""
        body = copy.deepcopy(obj)
        if resource.namespaced:
            body.setdefault("metadata", {}).setdefault("namespace", self.namespace)
        return await self.client.create(resource, body)

    async def create_with_status(self, resource: Resource, obj: Obj) -> Obj:
        """Create `obj`, then write its `status` through the status subresource (a create
        drops the status, as in Kubernetes): an object as its controller left it."""
        created = await self.create(resource, obj)
        if not obj.get("status"):
            return created
        created["status"] = copy.deepcopy(obj["status"])
        return await self.client.update(resource, created, subresource="status")

    async def get(self, resource: Resource, name: str) -> Obj:
        return await self.client.get(resource, name, namespace=self.namespace)

    async def list(self, resource: Resource, **options: Any) -> list[Obj]:
        namespace = self.namespace if resource.namespaced else None
        listed = await self.client.list(resource, namespace=namespace, **options)
        return list(listed.get("items") or [])

    async def names(self, resource: Resource) -> list[str]:
        return sorted(o["metadata"]["name"] for o in await self.list(resource))

    async def events(self) -> list[Obj]:
        """The Events of the test's namespace, oldest first."""
        events = await self.list(EVENTS)
        return sorted(events, key=lambda e: int(e["metadata"]["resourceVersion"]))

    async def revision(self) -> int:
        """The store's revision now: it moves on with every write to any object."""
        listed = await self.client.list(NAMESPACES, limit=1)
        return int(listed["metadata"]["resourceVersion"])


@dataclass
class Recorder:
    """The real client, with a note of every write it was asked to make.

    For the tests that say what a sync *asked* of the API server (a delete's preconditions,
    that a steady state writes nothing), which the objects left in the server do not show.
    `refuse[verb]` makes that verb fail with the given error before it reaches the server, for
    the tests of how a controller handles a refusal. Anything else goes to the client as is.
    """

    client: APIClient
    # (verb, plural, subresource or "", name, what was sent: the body, patch or preconditions)
    writes: list[tuple[str, str, str, str, Any]] = field(default_factory=list)
    refuse: dict[str, Exception | Callable[[Resource, Any], Exception | None]] = field(
        default_factory=dict
    )
    attempts: dict[str, int] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def written(self, verb: str, plural: str | None = None, subresource: str = "") -> list[Any]:
        return [
            sent
            for v, p, sub, _, sent in self.writes
            if v == verb and plural in (None, p) and sub == subresource
        ]

    def _check(self, verb: str, resource: Resource, what: Any) -> None:
        self.attempts[verb] = self.attempts.get(verb, 0) + 1
        refusal = self.refuse.get(verb)
        if callable(refusal) and not isinstance(refusal, Exception):
            refusal = refusal(resource, what)
        if refusal is not None:
            raise refusal

    def _note(self, verb: str, resource: Resource, subresource: str | None, name: str, sent: Any):
        if resource.plural != "events":
            self.writes.append(
                (verb, resource.plural, subresource or "", name, copy.deepcopy(sent))
            )

    async def create(self, resource: Resource, body: Obj, **kwargs: Any) -> Obj:
        if resource.plural != "events":
            self._check("create", resource, body)
        md = body.get("metadata") or {}
        self._note("create", resource, kwargs.get("subresource"), md.get("name", ""), body)
        return await self.client.create(resource, body, **kwargs)

    async def update(self, resource: Resource, body: Obj, **kwargs: Any) -> Obj:
        self._check("update", resource, body)
        md = body.get("metadata") or {}
        self._note("update", resource, kwargs.get("subresource"), md.get("name", ""), body)
        return await self.client.update(resource, body, **kwargs)

    async def patch(self, resource: Resource, name: str, patch: Any, **kwargs: Any) -> Obj:
        if resource.plural != "events":
            self._check("patch", resource, patch)
        self._note("patch", resource, kwargs.get("subresource"), name, patch)
        return await self.client.patch(resource, name, patch, **kwargs)

    async def delete(self, resource: Resource, name: str, **kwargs: Any) -> Obj:
        self._check("delete", resource, name)
        self._note("delete", resource, None, name, dict(kwargs.get("preconditions") or {}))
        return await self.client.delete(resource, name, **kwargs)


async def wait_for(
    condition: Callable[[], bool | Awaitable[bool]], timeout: float = WAIT, what: str = ""
) -> None:
    """Poll `condition` until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or condition}")
        await asyncio.sleep(0.02)


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """The session's API server (started at the first test that asks for it)."""
    server = ServerThread(tmp_path_factory.mktemp("testcluster") / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def kube(api_server: ServerThread) -> AsyncIterator[TestCluster]:
    """A client of the session's API server, and a fresh namespace for the test."""
    name = f"test-{next(_namespace_numbers)}"
    client = APIClient(api_server.client_config(namespace=name))
    try:
        await client.create(NAMESPACES, {"metadata": {"name": name}})
        yield TestCluster(api_server, client, name)
    finally:
        await client.close()
