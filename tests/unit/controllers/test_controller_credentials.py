"""Each controller as its own service account (`ServiceAccountCredentials`), against the real
API server application.

The server is the one `kubelite.apiserver.server.assemble` puts together (as the API server's
unit tests serve it, over aiohttp's test server), with RBAC, a static token for the controller
manager, and a service account token issuer and verifier, as `APIServer.start` wires them. Time
is the test's: one virtual clock is the credentials module's `time.monotonic`, `time.time` and
`asyncio.sleep` (so the renewal loop waits for the test, not for 48 minutes) and the token
issuer's and verifier's wall clock (so tokens expire when the test says).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric import rsa
from testcluster import WAIT, wait_for

from kubelite.api import errors
from kubelite.api.resources import SERVICE_ACCOUNTS
from kubelite.apiserver import admission
from kubelite.apiserver import serviceaccount_token as sat
from kubelite.apiserver.auth import Authenticator
from kubelite.apiserver.rbac import bootstrap_policy
from kubelite.apiserver.rbac.authorizer import Authorizer
from kubelite.apiserver.rbac.policy import CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES, PolicyCache
from kubelite.apiserver.server import Serving, assemble, resource_stores
from kubelite.client.api import APIClient
from kubelite.client.errors import APIError
from kubelite.client.kubeconfig import ClientConfig
from kubelite.controllers import credentials
from kubelite.controllers.credentials import ServiceAccountCredentials
from kubelite.storage.sqlite import SqliteStore

Obj = dict[str, Any]

MANAGER_TOKEN = "controller-manager-token-for-tests"
WALL_START = 1_800_000_000.0
REVIEWS = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
# When a token is renewed: 80% of its hour.
RENEWAL = credentials.TOKEN_SECONDS * credentials.RENEW_AT


class VirtualTime:
    """One clock for the test: the credentials module's monotonic time and sleep, and the
    wall time the token issuer stamps and the verifier checks tokens with."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        return self.elapsed

    def wall(self) -> float:
        return WALL_START + self.elapsed

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        waiter = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.elapsed + delay, waiter))
        await waiter

    @property
    def sleeping(self) -> int:
        return sum(1 for _, waiter in self._sleepers if not waiter.done())

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds
        for deadline, waiter in self._sleepers:
            if deadline <= self.elapsed and not waiter.done():
                waiter.set_result(None)
        self._sleepers = [(d, w) for d, w in self._sleepers if not w.done()]


class _VirtualAsyncio:
    """The asyncio module as the credentials module sees it, with the virtual sleep."""

    def __init__(self, sleep: Any) -> None:
        self.sleep = sleep

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)


class RecordingIssuer(sat.TokenIssuer):
    """The real issuer, remembering whom it issued which token for."""

    def __init__(self, key: rsa.RSAPrivateKey, clock: Any) -> None:
        super().__init__(key, clock=clock)
        self.issued: list[tuple[str, str]] = []
        # How many of the next requests fail, as a server that is not ready yet answers.
        self.failures = 0
        # The longest lifetime given (kube-apiserver's --service-account-max-token-expiration).
        self.max_seconds: int | None = None

    def issue(
        self, claims: sat.ServiceAccountClaims, audiences: Sequence[str], expiration_seconds: int
    ) -> sat.IssuedToken:
        if self.failures:
            self.failures -= 1
            raise errors.StatusError(503, errors.REASON_SERVICE_UNAVAILABLE, "not yet")
        if self.max_seconds is not None:
            expiration_seconds = min(expiration_seconds, self.max_seconds)
        issued = super().issue(claims, audiences, expiration_seconds)
        self.issued.append((claims.username, issued.token))
        return issued

    def tokens_of(self, account: str) -> list[str]:
        username = f"system:serviceaccount:kube-system:{account}"
        return [token for name, token in self.issued if name == username]


@dataclass
class Server:
    url: str
    issuer: RecordingIssuer
    time: VirtualTime
    clients: list[APIClient] = field(default_factory=list)

    def client(self, token: str) -> APIClient:
        client = APIClient(ClientConfig(server=self.url, token=token))
        self.clients.append(client)
        return client


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def virtual_time(monkeypatch: pytest.MonkeyPatch) -> VirtualTime:
    clock = VirtualTime()
    monkeypatch.setattr(
        credentials, "time", SimpleNamespace(monotonic=clock.monotonic, time=clock.wall)
    )
    monkeypatch.setattr(credentials, "asyncio", _VirtualAsyncio(clock.sleep))
    return clock


@pytest.fixture
async def server(
    tmp_path: Path, key: rsa.RSAPrivateKey, virtual_time: VirtualTime
) -> AsyncIterator[Server]:
    store = await SqliteStore.open(tmp_path / "db" / "state.db")
    stores = resource_stores(store)
    namespaces = next(s for r, s in stores.items() if r.plural == "namespaces")
    for name in admission.SYSTEM_NAMESPACES:
        await namespaces.create("", {"metadata": {"name": name}})
    policy = PolicyCache(store)
    await policy.start()
    for role in bootstrap_policy.cluster_roles():
        policy.apply(f"{CLUSTER_ROLES}{role['metadata']['name']}", orjson.dumps(role))
    for binding in bootstrap_policy.cluster_role_bindings():
        policy.apply(f"{CLUSTER_ROLE_BINDINGS}{binding['metadata']['name']}", orjson.dumps(binding))
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(
        f"{MANAGER_TOKEN},system:kube-controller-manager,system:kube-controller-manager\n"
    )
    issuer = RecordingIssuer(key, virtual_time.wall)
    serving = Serving(
        authenticator=Authenticator(
            tokens,
            service_accounts=sat.TokenVerifier([key.public_key()], clock=virtual_time.wall),
            lookup=sat.object_lookup(stores),
        ),
        server_address="127.0.0.1:6443",
        ready=lambda: True,
        token_issuer=issuer,
        authorizer=Authorizer(policy),
    )
    application = assemble(store, serving, stores=stores).application
    client = TestClient(TestServer(application.build()))
    await client.start_server()
    running = Server(str(client.make_url("")).rstrip("/"), issuer, virtual_time)
    try:
        yield running
    finally:
        for api_client in running.clients:
            await api_client.close()
        await client.close()
        await policy.stop()
        await store.close()


@pytest.fixture
async def manager(server: Server) -> APIClient:
    return server.client(MANAGER_TOKEN)


@pytest.fixture
async def accounts(manager: APIClient) -> AsyncIterator[ServiceAccountCredentials]:
    made = ServiceAccountCredentials(manager)
    try:
        yield made
    finally:
        await made.stop()


async def whoami(client: APIClient) -> Obj:
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    answer: Obj = await client.request("POST", REVIEWS, body=review)
    user_info: Obj = answer["status"]["userInfo"]
    return user_info


async def test_each_client_is_its_own_service_account(
    manager: APIClient, accounts: ServiceAccountCredentials
) -> None:
    replicasets = accounts.client_for("replicaset-controller", user_agent="rs")
    jobs = accounts.client_for("job-controller", user_agent="job")
    await accounts.start()
    for client, account in ((replicasets, "replicaset-controller"), (jobs, "job-controller")):
        user = await whoami(client)
        assert user["username"] == f"system:serviceaccount:kube-system:{account}"
        assert set(user["groups"]) == {
            "system:serviceaccounts",
            "system:serviceaccounts:kube-system",
            "system:authenticated",
        }
    # The manager itself is unchanged.
    assert (await whoami(manager))["username"] == "system:kube-controller-manager"


async def test_start_makes_the_accounts_in_kube_system(
    manager: APIClient, accounts: ServiceAccountCredentials
) -> None:
    accounts.client_for("replicaset-controller", user_agent="rs")
    await accounts.start()
    made = await manager.get(SERVICE_ACCOUNTS, "replicaset-controller", namespace="kube-system")
    assert made["metadata"]["namespace"] == "kube-system"


async def test_an_existing_account_is_kept(
    server: Server, manager: APIClient, accounts: ServiceAccountCredentials
) -> None:
    await manager.create(
        SERVICE_ACCOUNTS,
        {"metadata": {"name": "job-controller", "labels": {"made": "before"}}},
        namespace="kube-system",
    )
    jobs = accounts.client_for("job-controller", user_agent="job")
    await accounts.start()
    kept = await manager.get(SERVICE_ACCOUNTS, "job-controller", namespace="kube-system")
    assert kept["metadata"]["labels"] == {"made": "before"}
    assert (await whoami(jobs))["username"] == "system:serviceaccount:kube-system:job-controller"
    assert len(server.issuer.tokens_of("job-controller")) == 1


async def test_controllers_of_one_account_share_its_client_and_stop_closes_it(
    accounts: ServiceAccountCredentials,
) -> None:
    """The node controller's three controllers ask for `node-controller`: each asking made a
    client, only the last was kept, and the others' sessions were never closed."""
    lifecycle = accounts.client_for("node-controller", user_agent="kcm/node-controller")
    ipam = accounts.client_for("node-controller", user_agent="kcm/node-controller")
    assert ipam is lifecycle
    await accounts.start()
    await whoami(lifecycle)
    await accounts.stop()
    assert lifecycle.closed


async def test_a_client_carries_no_credentials_of_the_manager(
    manager: APIClient, accounts: ServiceAccountCredentials
) -> None:
    client = accounts.client_for("replicaset-controller", user_agent="rs")
    assert client.config.token is None
    assert client.config.client_certificate_data is None
    assert client.config.client_key_data is None
    assert client.config.server == manager.config.server


async def test_a_token_is_renewed_at_eighty_percent_of_its_life(
    server: Server, accounts: ServiceAccountCredentials
) -> None:
    clock = server.time
    jobs = accounts.client_for("job-controller", user_agent="job")
    await accounts.start()
    first = server.issuer.tokens_of("job-controller")
    assert len(first) == 1
    await wait_for(lambda: clock.sleeping == 1, what="the renewal loop to wait")
    assert clock.sleeps[-1] == RENEWAL

    clock.advance(RENEWAL - 1)
    assert clock.sleeping == 1  # not due yet: the loop still waits
    assert server.issuer.tokens_of("job-controller") == first

    clock.advance(1)
    await wait_for(
        lambda: len(server.issuer.tokens_of("job-controller")) == 2, what="a second token"
    )
    await wait_for(lambda: clock.sleeping == 1, what="the loop to wait for the next renewal")
    assert clock.sleeps[-1] == RENEWAL

    # Past the first token's hour (and the verifier's leeway): only the new one is accepted,
    # and the client uses it.
    clock.advance(credentials.TOKEN_SECONDS - RENEWAL + sat.LEEWAY_SECONDS + 1)
    with pytest.raises(APIError) as refused:
        await whoami(server.client(first[0]))
    assert refused.value.code == 401
    assert (await whoami(jobs))["username"] == "system:serviceaccount:kube-system:job-controller"


async def test_accounts_due_together_are_renewed_together(
    server: Server, accounts: ServiceAccountCredentials
) -> None:
    clock = server.time
    names = ("replicaset-controller", "job-controller", "cronjob-controller")
    for name in names:
        accounts.client_for(name, user_agent=name)
    await accounts.start()
    await wait_for(lambda: clock.sleeping == 1, what="the renewal loop to wait")
    clock.advance(RENEWAL)
    await wait_for(
        lambda: all(len(server.issuer.tokens_of(n)) == 2 for n in names), what="new tokens"
    )


async def test_a_failed_token_request_is_retried(
    server: Server, accounts: ServiceAccountCredentials
) -> None:
    clock = server.time
    server.issuer.failures = 1
    jobs = accounts.client_for("job-controller", user_agent="job")
    starting = asyncio.create_task(accounts.start())
    await wait_for(lambda: clock.sleeping == 1, what="a retry to wait")
    assert clock.sleeps == [credentials.RETRY_SECONDS]
    assert not starting.done()
    assert server.issuer.tokens_of("job-controller") == []

    clock.advance(credentials.RETRY_SECONDS)
    await asyncio.wait_for(starting, WAIT)
    assert len(server.issuer.tokens_of("job-controller")) == 1
    assert (await whoami(jobs))["username"] == "system:serviceaccount:kube-system:job-controller"


async def test_a_token_shorter_than_asked_is_renewed_before_it_expires(
    server: Server, accounts: ServiceAccountCredentials
) -> None:
    """client-go's token source renews by the expirationTimestamp the server answered: at 80%
    of the 20 minutes it gave, not of the hour asked for."""
    clock = server.time
    server.issuer.max_seconds = 1200
    jobs = accounts.client_for("job-controller", user_agent="job")
    await accounts.start()
    await wait_for(lambda: clock.sleeping == 1, what="the renewal loop to wait")
    assert clock.sleeps == [1200 * credentials.RENEW_AT]
    clock.advance(1200 * credentials.RENEW_AT)
    await wait_for(lambda: len(server.issuer.tokens_of("job-controller")) == 2, what="a new token")
    clock.advance(1200 - 1200 * credentials.RENEW_AT + sat.LEEWAY_SECONDS + 1)
    assert (await whoami(jobs))["username"] == "system:serviceaccount:kube-system:job-controller"


async def test_a_token_of_less_than_ten_minutes_counts_as_ten(
    server: Server, accounts: ServiceAccountCredentials
) -> None:
    """A shorter life is taken for clock skew, as client-go's token source takes it."""
    clock = server.time
    server.issuer.max_seconds = 60
    accounts.client_for("job-controller", user_agent="job")
    await accounts.start()
    await wait_for(lambda: clock.sleeping == 1, what="the renewal loop to wait")
    assert clock.sleeps == [credentials.MIN_LIFETIME_SECONDS * credentials.RENEW_AT]
