"""Authentication: client certificates, bearer tokens, and anonymous access to public paths."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from apiserver_fixtures import ADMIN_TOKEN, VIEWER_TOKEN, Api

from kubelite.apiserver import certs
from kubelite.apiserver.auth import ANONYMOUS, Authenticator, User, is_public
from kubelite.apiserver.server import APIServer, ServerConfig


def peercert_of(path: Path) -> dict:
    """The certificate as `SSLSocket.getpeercert()` gives it to the server."""
    return ssl._ssl._test_decode_cert(str(path))  # type: ignore[attr-defined]


@pytest.fixture
def authenticator(tmp_path: Path) -> Authenticator:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(
        '# token,user,uid,groups\nabc,alice,alice-uid,"dev,ops"\ndef,bob,bob-uid\nshort-row\n'
    )
    return Authenticator(tokens)


def test_a_certificate_names_the_user_and_its_organizations_the_groups(
    tmp_path: Path, authenticator: Authenticator
) -> None:
    pki = certs.ensure(tmp_path / "tls", ["localhost"], ["127.0.0.1"])
    user = authenticator.from_certificate(peercert_of(pki.admin_cert))
    assert user == User("system:admin", ("system:masters", "system:authenticated"))


def test_every_organization_is_a_group(authenticator: Authenticator) -> None:
    peercert = {
        "subject": (
            (("organizationName", "a"),),
            (("organizationName", "b"),),
            (("commonName", "carol"),),
        )
    }
    assert authenticator.from_certificate(peercert) == User(
        "carol", ("a", "b", "system:authenticated")
    )


def test_a_certificate_without_a_common_name_names_nobody(authenticator: Authenticator) -> None:
    assert authenticator.from_certificate({"subject": ((("organizationName", "a"),),)}) is None
    assert authenticator.from_certificate(None) is None
    assert authenticator.from_certificate({}) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc", User("alice", ("dev", "ops", "system:authenticated"))),
        ("bearer abc", User("alice", ("dev", "ops", "system:authenticated"))),
        ("Bearer def", User("bob", ("system:authenticated",))),
        ("Bearer nope", None),
        ("Bearer ", None),
        ("Basic YWxpY2U6cGFzcw==", None),
        ("Bearer short-row", None),
        ("Bearer # token", None),
        # Text hmac.compare_digest cannot take (it wants ASCII str or bytes): not a token.
        ("Bearer \u00e9\u00e9", None),
        ("Bearer abc\udcff", None),
    ],
)
def test_bearer_tokens(authenticator: Authenticator, header: str, expected: User | None) -> None:
    assert authenticator.from_token(header) == expected


def test_no_credentials_is_anonymous_and_bad_credentials_nobody(
    authenticator: Authenticator,
) -> None:
    anonymous = authenticator.authenticate(None, "")
    assert anonymous is not None and anonymous.anonymous
    assert anonymous.name == ANONYMOUS
    assert anonymous.groups == ("system:unauthenticated",)
    assert authenticator.authenticate(None, "Bearer wrong") is None
    assert authenticator.authenticate(None, "Bearer abc") == User(
        "alice", ("dev", "ops", "system:authenticated")
    )


def test_a_missing_token_file_knows_no_tokens(tmp_path: Path) -> None:
    assert Authenticator(tmp_path / "absent.csv").from_token("Bearer abc") is None
    assert Authenticator(None).from_token("Bearer abc") is None


@pytest.mark.parametrize(
    ("path", "public"),
    [
        ("/version", True),
        ("/healthz", True),
        ("/healthz/ping", True),
        ("/livez", True),
        ("/readyz/informer-sync", True),
        ("/versions", False),
        ("/healthzz", False),
        ("/api", False),
        ("/openapi/v2", False),
        ("/metrics", False),
    ],
)
def test_public_paths(path: str, public: bool) -> None:
    assert is_public(path) is public


# --- over HTTP --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "token", "code"),
    [
        ("/version", None, 200),
        ("/healthz", None, 200),
        ("/readyz", None, 200),
        ("/api", None, 401),
        ("/apis", None, 401),
        ("/openapi/v3", None, 401),
        ("/metrics", None, 401),
        ("/api/v1/namespaces/default/pods", None, 401),
        ("/version", "wrong", 401),
        ("/api", "wrong", 401),
        # A token that is not ASCII is a wrong token, on a public path too: 401, not a 500.
        ("/healthz", "\u00e9\u00e9", 401),
        ("/api/v1/namespaces/default/pods", "\u00e9\u00e9", 401),
        ("/api", ADMIN_TOKEN, 200),
        # Authenticated, but bound to no role: Kubernetes' 403.
        ("/api/v1/namespaces/default/pods", VIEWER_TOKEN, 403),
    ],
)
async def test_who_may_read_what(api: Api, path: str, token: str | None, code: int) -> None:
    response = await api.request("GET", path, token=token)
    assert response.status == code
    if code == 401:
        body = await response.json()
        assert (body["kind"], body["reason"], body["code"]) == ("Status", "Unauthorized", 401)
        assert response.headers["Content-Type"] == "application/json"


# --- a real HTTPS server ----------------------------------------------------------------------


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[APIServer]:
    s = APIServer(ServerConfig(data_dir=tmp_path / "data", https_port=0, bind_address="127.0.0.1"))
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


def client_context(pki: certs.Pki, *, with_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    if with_cert:
        context.load_cert_chain(pki.admin_cert, pki.admin_key)
    return context


async def test_https_with_the_admin_certificate_token_or_nothing(server: APIServer) -> None:
    assert server.pki is not None
    url = f"https://127.0.0.1:{server.port}"
    async with aiohttp.ClientSession() as session:
        with_cert = client_context(server.pki, with_cert=True)
        bare = client_context(server.pki, with_cert=False)
        async with session.get(f"{url}/api/v1/namespaces", ssl=with_cert) as response:
            assert response.status == 200
            names = [n["metadata"]["name"] for n in (await response.json())["items"]]
            assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= set(names)
        token = {"Authorization": f"Bearer {server.pki.admin_token()}"}
        async with session.get(f"{url}/api", ssl=bare, headers=token) as response:
            assert response.status == 200
        async with session.get(f"{url}/api", ssl=bare) as response:
            assert response.status == 401
        async with session.get(f"{url}/version", ssl=bare) as response:
            assert response.status == 200
            assert (await response.json())["major"] == "1"


async def test_a_certificate_of_another_ca_is_refused(server: APIServer, tmp_path: Path) -> None:
    assert server.pki is not None
    other = certs.ensure(tmp_path / "other-tls", ["localhost"], ["127.0.0.1"])
    context = ssl.create_default_context(cafile=str(server.pki.ca_cert))
    context.load_cert_chain(other.admin_cert, other.admin_key)
    url = f"https://127.0.0.1:{server.port}/api"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.get(url, ssl=context) as response:
                await response.read()
