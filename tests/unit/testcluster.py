"""One real API server for the unit tests, and real clients of it.

Unit tests of the components that talk to the API server (controllers, the hollow nodes,
`describe`) used to each carry a fake API client: a few dozen lines re-implementing what the
server does with a create, an update or a delete, which could - and did - disagree with it
(resourceVersion checks, status subresources, generateName, what a delete returns). Here the
server is the real one, `kubelite.apiserver.server.APIServer`, assembled exactly as `kubelite
server` assembles it on a SQLite store in a temporary directory, and the client is the real
`kubelite.client.api.APIClient` the controllers use, authenticated as the cluster admin with the
admin client certificate `kubelite server` writes into its kubeconfig.

Speed: the server is started once per test session (its files in memory where /dev/shm is),
in a thread with an event loop of its own,
so it outlives the event loop pytest-asyncio gives each test and needs no loop-scope marks on
the test modules. Each test gets a fresh namespace (`TestCluster.namespace`) for isolation, and a
client of its own, opened on the test's loop and closed after it.

What this relies on from the API server: `ServerConfig(data_dir, https_port=0, bind_address,
advertise_address, compaction_interval, event_ttl)`, `APIServer(config)`, `await start()`,
`await stop()`, and after `start()` its `port` (the port the kernel chose) and `pki`
(`ca_cert`, `admin_cert`, `admin_key`). And that the server reads the time through
`kubelite.api.meta.now`, for `TestCluster.freeze_time`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import itertools
import os
import shutil
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import pytest

from kubelite.api import meta
from kubelite.api.resources import EVENTS, NAMESPACES, SERVICE_ACCOUNTS
from kubelite.apiserver.server import APIServer, ServerConfig
from kubelite.client.api import APIClient, Resource
from kubelite.client.errors import APINotFoundError
from kubelite.client.kubeconfig import ClientConfig

Obj = dict[str, Any]
T = TypeVar("T")

# How long a test waits for something that should happen at once.
WAIT = 5.0
# How long the session waits for the server to start or stop.
SERVER_TIMEOUT = 30.0
# Longer than any session: compaction and Event expiry never come.
HOUSEKEEPING_OFF = 10 * 365 * 24 * 3600.0


class ServerThread:
    """An `APIServer` running on an event loop of its own, in a daemon thread."""

    def __init__(self, data_dir: Path) -> None:
        self.server = APIServer(
            ServerConfig(
                data_dir=data_dir,
                https_port=0,
                bind_address="127.0.0.1",
                advertise_address="127.0.0.1",
                # No housekeeping while tests run: a test's clock may stand years from now
                # (`freeze_time`), which would expire every Event at the next sweep.
                compaction_interval=HOUSEKEEPING_OFF,
                event_ttl=HOUSEKEEPING_OFF,
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

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the server's loop and wait for it, from the test's thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(SERVER_TIMEOUT)

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


class BlockingClient:
    """A real `APIClient` whose requests a test makes without awaiting them.

    Its requests run on the server's own loop, in the server's thread, while the test's thread
    waits: for test helpers that read or write the cluster from plain functions (what a kubelet
    reports, what a user changes), as the fakes' in-memory dictionaries were read and written.
    Never call it from a coroutine the server's loop runs.
    """

    def __init__(self, server: ServerThread, config: ClientConfig) -> None:
        self._server = server
        self.client = APIClient(config)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.client, name)

        def blocking(*args: Any, **kwargs: Any) -> Any:
            return self._server.run(method(*args, **kwargs))

        return blocking

    def close(self) -> None:
        self._server.run(self.client.close())


class Clock:
    """The one time of a test's cluster: the server stamps objects with it (creation and
    deletion timestamps, managed fields), and a controller under test is given it too."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


_namespace_numbers = itertools.count(1)


def _made_at(event: Obj) -> tuple[int, int]:
    md = event["metadata"]
    try:
        return int(md["name"].rsplit(".", 1)[1], 16), 0
    except (IndexError, ValueError):
        return 0, int(md["resourceVersion"])


@dataclass
class TestCluster:
    """What a test gets: a client of the real server, and a namespace no other test uses."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    server: ServerThread
    client: APIClient
    namespace: str
    monkeypatch: pytest.MonkeyPatch
    _blocking: BlockingClient | None = None
    # What goes when the test ends: (resource, name, namespace).
    _cluster_scoped: list[tuple[Resource, str, str | None]] = field(default_factory=list)

    def clean_up_later(self, resource: Resource, name: str, namespace: str | None = None) -> None:
        """Delete this object when the test ends (one outside the test's namespace: a Node,
        a Lease in kube-node-lease), as later tests may want its name."""
        self._cluster_scoped.append((resource, name, namespace))

    @property
    def blocking(self) -> BlockingClient:
        """A client of the same server for plain (not async) helpers; see `BlockingClient`."""
        if self._blocking is None:
            self._blocking = BlockingClient(self.server, self.client.config)
        return self._blocking

    def freeze_time(self, start: dt.datetime) -> Clock:
        """Stop the cluster's clock at `start` for this test; it moves when the test says.

        The server and the test run in one process, and the server reads the time through
        `kubelite.api.meta.now`: that is what is replaced (until the test ends), so objects
        are stamped with the test's time, as a controller given the same clock sees it.
        """
        clock = Clock(start)
        self.monkeypatch.setattr(meta, "now", clock)
        return clock

    async def create(self, resource: Resource, obj: Obj) -> Obj:
        """Create `obj` (in the test's namespace unless it names one) as a user would. A
        cluster-scoped object (a Node) is deleted when the test ends, as others may want its
        name; what is in the test's namespace stays there."""
        body = copy.deepcopy(obj)
        if resource.namespaced:
            body.setdefault("metadata", {}).setdefault("namespace", self.namespace)
        created = await self.client.create(resource, body)
        if not resource.namespaced:
            self.clean_up_later(resource, meta.name_of(created))
        return created

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
        """The Events of the test's namespace, oldest first: `EventRecorder` names an Event
        `<object>.<the time it was made, in hex nanoseconds>`, which a later count update
        does not change (its resourceVersion does)."""
        return sorted(await self.list(EVENTS), key=_made_at)

    async def revision(self) -> int:
        """The store's revision now: it moves on with every write to any object."""
        # One page of one item: a list's resourceVersion is the store's revision.
        listed = await self.client.request("GET", NAMESPACES.path(), params={"limit": "1"})
        return int(listed["metadata"]["resourceVersion"])


class Write(NamedTuple):
    """One write a `Recorder` passed on."""

    verb: str
    plural: str
    # "" or the subresource written ("status").
    subresource: str
    # The object's name; for a create with generateName, the one the server gave it.
    name: str
    # The body, the patch, or (for a delete) the preconditions.
    sent: Any
    # The other options of the call (propagation_policy, patch_type, ...).
    options: dict[str, Any]


@dataclass
class Recorder:
    """The real client, with a note of every write it was asked to make.

    For the tests that say what a sync *asked* of the API server (a delete's preconditions,
    that a steady state writes nothing), which the objects left in the server do not show.
    Only the writes the server accepted stay noted: one it refused (a conflict, a name
    taken) changed nothing.
    `refuse[verb]` makes that verb fail with the given error before it reaches the server, for
    the tests of how a controller handles a refusal. Anything else goes to the client as is.
    """

    client: APIClient
    writes: list[Write] = field(default_factory=list)
    # Every write asked for, the refused ones too.
    asked: list[Write] = field(default_factory=list)
    refuse: dict[str, Exception | Callable[[Resource, Any], Exception | None]] = field(
        default_factory=dict
    )
    attempts: dict[str, int] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def written(self, verb: str, plural: str | None = None, subresource: str = "") -> list[Any]:
        return [
            w.sent
            for w in self.writes
            if w.verb == verb and plural in (None, w.plural) and w.subresource == subresource
        ]

    def _check(self, verb: str, resource: Resource, what: Any) -> None:
        self.attempts[verb] = self.attempts.get(verb, 0) + 1
        refusal = self.refuse.get(verb)
        if callable(refusal) and not isinstance(refusal, Exception):
            refusal = refusal(resource, what)
        if refusal is not None:
            name = what if isinstance(what, str) else meta.name_of(what)
            self.asked.append(Write(verb, resource.plural, "", name, copy.deepcopy(what), {}))
            raise refusal

    def _note(
        self, verb: str, resource: Resource, name: str, sent: Any, options: Obj
    ) -> Write | None:
        if resource.plural == "events":
            return None
        subresource = options.get("subresource") or ""
        write = Write(verb, resource.plural, subresource, name, copy.deepcopy(sent), dict(options))
        self.writes.append(write)
        self.asked.append(write)
        return write

    async def create(self, resource: Resource, body: Obj, **kwargs: Any) -> Obj:
        if resource.plural != "events":
            self._check("create", resource, body)
        # Noted when asked (the order of the requests), named when answered.
        md = body.get("metadata") or {}
        asked = self._note(
            "create", resource, kwargs.get("name") or md.get("name", ""), body, kwargs
        )
        created = await self._sent(asked, self.client.create(resource, body, **kwargs))
        if asked is not None and not asked.name:
            name = (created.get("metadata") or {}).get("name", "")
            self.writes[:] = [asked._replace(name=name) if w is asked else w for w in self.writes]
        return created

    async def update(self, resource: Resource, body: Obj, **kwargs: Any) -> Obj:
        self._check("update", resource, body)
        asked = self._note("update", resource, meta.name_of(body), body, kwargs)
        return await self._sent(asked, self.client.update(resource, body, **kwargs))

    async def patch(self, resource: Resource, name: str, patch: Any, **kwargs: Any) -> Obj:
        if resource.plural != "events":
            self._check("patch", resource, patch)
        asked = self._note("patch", resource, name, patch, kwargs)
        return await self._sent(asked, self.client.patch(resource, name, patch, **kwargs))

    async def delete(self, resource: Resource, name: str, **kwargs: Any) -> Obj:
        self._check("delete", resource, name)
        preconditions = dict(kwargs.get("preconditions") or {})
        asked = self._note("delete", resource, name, preconditions, kwargs)
        return await self._sent(asked, self.client.delete(resource, name, **kwargs))

    async def _sent(self, asked: Write | None, request: Awaitable[T]) -> T:
        """The answer to a noted write; the note goes if the server refused the write."""
        try:
            return await request
        except Exception:
            if asked is not None:
                self.writes[:] = [w for w in self.writes if w is not asked]
            raise


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


# Memory-backed, where the machine has it: the store fsyncs every commit (synchronous=FULL),
# which on a disk costs a test milliseconds per write, and these files live for one session.
MEMORY_FS = Path("/dev/shm")


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """The session's API server (started at the first test that asks for it)."""
    if MEMORY_FS.is_dir() and os.access(MEMORY_FS, os.W_OK):
        base = Path(tempfile.mkdtemp(prefix="kubelite-testcluster-", dir=MEMORY_FS))
    else:
        base = tmp_path_factory.mktemp("testcluster")
    server = ServerThread(base / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if base.is_relative_to(MEMORY_FS):
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def kube(
    api_server: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[TestCluster]:
    """A client of the session's API server, and a fresh namespace for the test."""
    name = f"test-{next(_namespace_numbers)}"
    client = APIClient(api_server.client_config(namespace=name))
    cluster = TestCluster(api_server, client, name, monkeypatch)
    try:
        await client.create(NAMESPACES, {"metadata": {"name": name}})
        # What the service account controller would make: ServiceAccount admission wants it.
        await client.create(SERVICE_ACCOUNTS, {"metadata": {"name": "default"}}, namespace=name)
        yield cluster
    finally:
        for resource, created, namespace in cluster._cluster_scoped:
            with contextlib.suppress(APINotFoundError):
                await client.delete(resource, created, namespace=namespace)
        await client.close()
        if cluster._blocking is not None:
            cluster._blocking.close()
