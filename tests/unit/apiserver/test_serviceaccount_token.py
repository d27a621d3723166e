"""Service account tokens: claims, key id, lifetime, audience, signature, TokenRequest rules,
revocation by the objects a token names, the authenticator, and the PKI's signing key."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kubelite.api import errors, meta
from kubelite.apiserver import certs
from kubelite.apiserver import serviceaccount_token as sat
from kubelite.apiserver.auth import Authenticator, User

Obj = dict[str, Any]

NOW = 1_800_000_000.0
SA_UID = "5a0c0e4e-0000-4000-8000-000000000001"
POD_UID = "5a0c0e4e-0000-4000-8000-000000000002"
NODE_UID = "5a0c0e4e-0000-4000-8000-000000000003"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def issuer(key: rsa.RSAPrivateKey, clock: Clock) -> sat.TokenIssuer:
    return sat.TokenIssuer(key, clock=clock)


@pytest.fixture
def verifier(key: rsa.RSAPrivateKey, clock: Clock) -> sat.TokenVerifier:
    return sat.TokenVerifier([key.public_key()], clock=clock)


def _obj(name: str, uid: str, namespace: str = "ns", **spec: Any) -> Obj:
    md = {"name": name, "uid": uid}
    if namespace:
        md["namespace"] = namespace
    return {"metadata": md, "spec": spec}


class Objects:
    """A `Lookup` over a dict, standing in for the API server's store."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], Obj] = {}

    def put(self, plural: str, obj: Obj) -> Obj:
        md = obj["metadata"]
        self.items[(plural, md.get("namespace", ""), md["name"])] = obj
        return obj

    async def __call__(self, plural: str, namespace: str, name: str) -> Obj | None:
        return self.items.get((plural, namespace, name))


@pytest.fixture
def objects() -> Objects:
    found = Objects()
    found.put("serviceaccounts", _obj("default", SA_UID))
    found.put("pods", _obj("web", POD_UID, serviceAccountName="default", nodeName="n1"))
    found.put("nodes", _obj("n1", NODE_UID, namespace=""))
    return found


def _payload(token: str) -> Obj:
    return jwt.decode(token, options={"verify_signature": False})


POD_CLAIMS = sat.ServiceAccountClaims(
    "ns", sat.ObjectRef("default", SA_UID), pod=sat.ObjectRef("web", POD_UID)
)


# --- claims and key id ----------------------------------------------------------------------


def test_a_token_carries_kubernetes_claims(issuer: sat.TokenIssuer, key: rsa.RSAPrivateKey) -> None:
    claims = sat.ServiceAccountClaims(
        "ns",
        sat.ObjectRef("default", SA_UID),
        pod=sat.ObjectRef("web", POD_UID),
        node=sat.ObjectRef("n1", NODE_UID),
    )
    issued = issuer.issue(claims, ["https://kubernetes.default.svc.cluster.local"], 3600)
    payload = _payload(issued.token)
    jti = payload.pop("jti")
    assert uuid.UUID(jti).version == 4
    assert payload == {
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": "system:serviceaccount:ns:default",
        "aud": ["https://kubernetes.default.svc.cluster.local"],
        "exp": int(NOW) + 3600,
        "iat": int(NOW),
        "nbf": int(NOW),
        "kubernetes.io": {
            "namespace": "ns",
            "serviceaccount": {"name": "default", "uid": SA_UID},
            "pod": {"name": "web", "uid": POD_UID},
            "node": {"name": "n1", "uid": NODE_UID},
        },
    }
    assert issued.expires_at == int(NOW) + 3600
    header = jwt.get_unverified_header(issued.token)
    assert header["alg"] == "RS256"
    assert header["kid"] == sat.key_id(key.public_key())


def test_every_token_has_its_own_id(issuer: sat.TokenIssuer) -> None:
    first = _payload(issuer.issue(POD_CLAIMS, [sat.API_AUDIENCE], 600).token)
    second = _payload(issuer.issue(POD_CLAIMS, [sat.API_AUDIENCE], 600).token)
    assert first["jti"] != second["jti"]


def test_the_key_id_is_the_base64url_sha256_of_the_public_key_der(key: rsa.RSAPrivateKey) -> None:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    assert sat.key_id(key.public_key()) == expected
    assert len(expected) == 43


def test_the_jwks_publishes_the_public_key_under_its_kid(
    issuer: sat.TokenIssuer, key: rsa.RSAPrivateKey
) -> None:
    (published,) = issuer.jwks()["keys"]
    assert published["kid"] == sat.key_id(key.public_key())
    assert (published["alg"], published["use"], published["kty"]) == ("RS256", "sig", "RSA")
    rebuilt = jwt.algorithms.RSAAlgorithm.from_jwk(published)
    assert rebuilt.public_numbers() == key.public_key().public_numbers()


def test_the_openid_configuration_names_the_issuer_and_the_jwks(issuer: sat.TokenIssuer) -> None:
    config = issuer.openid_configuration("https://10.0.0.1:6443/openid/v1/jwks")
    assert config["issuer"] == sat.ISSUER
    assert config["jwks_uri"] == "https://10.0.0.1:6443/openid/v1/jwks"
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]


# --- verification ---------------------------------------------------------------------------


def test_the_verifier_accepts_a_token_it_issued(
    issuer: sat.TokenIssuer, verifier: sat.TokenVerifier
) -> None:
    claims = verifier.verify(issuer.issue(POD_CLAIMS, [sat.API_AUDIENCE], 3600).token)
    assert claims == POD_CLAIMS
    assert claims.username == "system:serviceaccount:ns:default"
    assert claims.groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:ns",
        "system:authenticated",
    )


@pytest.mark.parametrize(
    ("later", "accepted"),
    [
        (3599, True),
        # Within go-jose's one minute of leeway for clock skew.
        (3600 + 59, True),
        (3600 + 61, False),
        (10 * 3600, False),
    ],
)
def test_an_expired_token_is_refused(
    issuer: sat.TokenIssuer, verifier: sat.TokenVerifier, clock: Clock, later: int, accepted: bool
) -> None:
    token = issuer.issue(POD_CLAIMS, [sat.API_AUDIENCE], 3600).token
    clock.now = NOW + later
    assert (verifier.verify(token) is not None) is accepted


def test_a_token_not_yet_valid_is_refused(
    issuer: sat.TokenIssuer, verifier: sat.TokenVerifier, clock: Clock
) -> None:
    token = issuer.issue(POD_CLAIMS, [sat.API_AUDIENCE], 3600).token
    clock.now = NOW - 120
    assert verifier.verify(token) is None


@pytest.mark.parametrize(
    ("audiences", "accepted"),
    [
        ([sat.API_AUDIENCE], True),
        (["vault", sat.API_AUDIENCE], True),
        (["vault"], False),
        (["https://kubernetes.default.svc"], False),
    ],
)
def test_a_token_must_be_meant_for_the_api(
    issuer: sat.TokenIssuer, verifier: sat.TokenVerifier, audiences: list[str], accepted: bool
) -> None:
    token = issuer.issue(POD_CLAIMS, audiences, 3600).token
    assert (verifier.verify(token) is not None) is accepted


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_a_tampered_payload_is_refused(
    issuer: sat.TokenIssuer, verifier: sat.TokenVerifier
) -> None:
    header, payload, signature = issuer.issue(POD_CLAIMS, [sat.API_AUDIENCE], 3600).token.split(".")
    claims = _payload(f"{header}.{payload}.{signature}")
    claims["sub"] = "system:serviceaccount:kube-system:default"
    claims["kubernetes.io"]["namespace"] = "kube-system"
    forged = _b64(json.dumps(claims).encode())
    assert verifier.verify(f"{header}.{forged}.{signature}") is None


def test_a_tampered_signature_is_refused(
    issuer: sat.TokenIssuer, verifier: sat.TokenVerifier
) -> None:
    token = issuer.issue(POD_CLAIMS, [sat.API_AUDIENCE], 3600).token
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 0x01
    assert verifier.verify(f"{header}.{payload}.{_b64(bytes(raw))}") is None


def test_a_token_signed_with_another_key_is_refused(
    other_key: rsa.RSAPrivateKey, verifier: sat.TokenVerifier, clock: Clock
) -> None:
    stranger = sat.TokenIssuer(other_key, clock=clock)
    assert verifier.verify(stranger.issue(POD_CLAIMS, [sat.API_AUDIENCE], 3600).token) is None


def test_a_token_claiming_our_kid_but_signed_by_another_key_is_refused(
    key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey, verifier: sat.TokenVerifier
) -> None:
    payload = _payload(sat.TokenIssuer(key).issue(POD_CLAIMS, [sat.API_AUDIENCE], 3600).token)
    token = jwt.encode(
        payload, other_key, algorithm="RS256", headers={"kid": sat.key_id(key.public_key())}
    )
    assert verifier.verify(token) is None


def test_unsigned_and_symmetric_tokens_are_refused(
    key: rsa.RSAPrivateKey, issuer: sat.TokenIssuer, verifier: sat.TokenVerifier
) -> None:
    payload = _payload(issuer.issue(POD_CLAIMS, [sat.API_AUDIENCE], 3600).token)
    unsigned = jwt.encode(payload, None, algorithm="none")
    # The classic confusion: HMAC keyed with the (public) verification key.
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(b'{"alg":"HS256","typ":"JWT"}')
    body = _b64(json.dumps(payload).encode())
    mac = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    assert verifier.verify(unsigned) is None
    assert verifier.verify(f"{header}.{body}.{_b64(mac)}") is None


def test_a_token_of_another_issuer_is_refused(
    key: rsa.RSAPrivateKey, clock: Clock, verifier: sat.TokenVerifier
) -> None:
    elsewhere = sat.TokenIssuer(key, issuer="https://elsewhere.example", clock=clock)
    assert verifier.verify(elsewhere.issue(POD_CLAIMS, [sat.API_AUDIENCE], 3600).token) is None


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "abc",
        "a.b.c",
        "e30.e30.",
        "Bearer x",
        # A header whose kid is not a string.
        base64.urlsafe_b64encode(b'{"alg":"RS256","kid":["x"]}').decode().rstrip("=") + ".e30.x",
    ],
)
def test_garbage_is_refused(verifier: sat.TokenVerifier, garbage: str) -> None:
    assert verifier.verify(garbage) is None


def test_a_token_whose_subject_disagrees_with_its_claims_is_refused(
    key: rsa.RSAPrivateKey, issuer: sat.TokenIssuer, verifier: sat.TokenVerifier
) -> None:
    payload = _payload(issuer.issue(POD_CLAIMS, [sat.API_AUDIENCE], 3600).token)
    payload["sub"] = "system:admin"
    token = jwt.encode(payload, key, algorithm="RS256", headers={"kid": issuer.key_id})
    assert verifier.verify(token) is None


# --- TokenRequest ---------------------------------------------------------------------------


def _request(**spec: Any) -> Obj:
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}


async def test_a_token_request_defaults_audience_and_expiration(
    issuer: sat.TokenIssuer, objects: Objects, verifier: sat.TokenVerifier
) -> None:
    out = await sat.create_token(issuer, objects, "ns", "default", _request())
    assert out["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    assert out["spec"]["expirationSeconds"] == 3600
    assert out["metadata"]["name"] == "default"
    assert out["metadata"]["namespace"] == "ns"
    assert out["status"]["expirationTimestamp"] == "2027-01-15T09:00:00Z"
    claims = verifier.verify(out["status"]["token"])
    assert claims == sat.ServiceAccountClaims("ns", sat.ObjectRef("default", SA_UID))
    assert _payload(out["status"]["token"])["exp"] == int(NOW) + 3600


async def test_a_token_bound_to_a_pod_names_the_pod_and_its_node(
    issuer: sat.TokenIssuer, objects: Objects
) -> None:
    ref = {"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": POD_UID}
    out = await sat.create_token(
        issuer, objects, "ns", "default", _request(boundObjectRef=ref, audiences=["a"])
    )
    claim = _payload(out["status"]["token"])["kubernetes.io"]
    assert claim["pod"] == {"name": "web", "uid": POD_UID}
    assert claim["node"] == {"name": "n1", "uid": NODE_UID}
    assert out["spec"]["audiences"] == ["a"]


async def test_a_pod_on_a_node_missing_from_the_store_names_the_node_without_uid(
    issuer: sat.TokenIssuer, objects: Objects
) -> None:
    del objects.items[("nodes", "", "n1")]
    ref = {"kind": "Pod", "apiVersion": "v1", "name": "web"}
    out = await sat.create_token(issuer, objects, "ns", "default", _request(boundObjectRef=ref))
    assert _payload(out["status"]["token"])["kubernetes.io"]["node"] == {"name": "n1"}


async def test_an_unscheduled_pod_gives_no_node_claim(
    issuer: sat.TokenIssuer, objects: Objects
) -> None:
    objects.put("pods", _obj("web", POD_UID, serviceAccountName="default"))
    ref = {"kind": "Pod", "apiVersion": "v1", "name": "web"}
    out = await sat.create_token(issuer, objects, "ns", "default", _request(boundObjectRef=ref))
    assert "node" not in _payload(out["status"]["token"])["kubernetes.io"]


async def test_a_token_bound_to_a_secret_names_it(
    issuer: sat.TokenIssuer, objects: Objects
) -> None:
    objects.put("secrets", _obj("s", "secret-uid"))
    ref = {"kind": "Secret", "apiVersion": "v1", "name": "s"}
    out = await sat.create_token(issuer, objects, "ns", "default", _request(boundObjectRef=ref))
    assert _payload(out["status"]["token"])["kubernetes.io"]["secret"] == {
        "name": "s",
        "uid": "secret-uid",
    }


@pytest.mark.parametrize(
    ("name", "body", "code", "message"),
    [
        ("nope", _request(), 404, 'serviceaccounts "nope" not found'),
        (
            "default",
            _request(expirationSeconds=10),
            422,
            'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: '
            "Invalid value: 10: may not specify a duration less than 10 minutes",
        ),
        (
            "default",
            _request(expirationSeconds=(1 << 32) + 1),
            422,
            'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: '
            "Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds",
        ),
        (
            "default",
            {**_request(), "metadata": {"name": "other"}},
            422,
            'TokenRequest.authentication.k8s.io "default" is invalid: metadata.name: '
            'Invalid value: "other": must match the service account name if specified',
        ),
        (
            "default",
            _request(boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "gone"}),
            404,
            'pods "gone" not found',
        ),
        (
            "default",
            _request(boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": "x"}),
            409,
            'Operation cannot be fulfilled on Pod "web": the UID in the bound object reference '
            "(x) does not match the UID in record. The object might have been deleted and then "
            "recreated",
        ),
        (
            "default",
            _request(boundObjectRef={"kind": "Deployment", "apiVersion": "apps/v1", "name": "d"}),
            400,
            "cannot bind token to object of type apps/v1, Kind=Deployment",
        ),
        (
            "default",
            _request(boundObjectRef={"kind": "ConfigMap", "apiVersion": "v1", "name": "c"}),
            400,
            "cannot bind token to object of type /v1, Kind=ConfigMap",
        ),
    ],
)
async def test_token_requests_are_refused_as_kubernetes_refuses_them(
    issuer: sat.TokenIssuer, objects: Objects, name: str, body: Obj, code: int, message: str
) -> None:
    with pytest.raises(errors.StatusError) as caught:
        await sat.create_token(issuer, objects, "ns", name, body)
    assert (caught.value.code, caught.value.message) == (code, message)


async def test_a_token_for_one_account_cannot_be_bound_to_a_pod_of_another(
    issuer: sat.TokenIssuer, objects: Objects
) -> None:
    objects.put("serviceaccounts", _obj("builder", "builder-uid"))
    ref = {"kind": "Pod", "apiVersion": "v1", "name": "web"}
    with pytest.raises(errors.StatusError) as caught:
        await sat.create_token(issuer, objects, "ns", "builder", _request(boundObjectRef=ref))
    assert caught.value.code == 400
    assert "different serviceaccount name" in caught.value.message


# --- revocation -----------------------------------------------------------------------------


async def test_a_token_lives_while_its_account_and_pod_do(objects: Objects) -> None:
    assert await sat.still_valid(POD_CLAIMS, objects, now=NOW)


async def test_deleting_the_service_account_revokes_its_tokens(objects: Objects) -> None:
    del objects.items[("serviceaccounts", "ns", "default")]
    assert not await sat.still_valid(POD_CLAIMS, objects, now=NOW)


async def test_a_recreated_service_account_does_not_inherit_tokens(objects: Objects) -> None:
    objects.put("serviceaccounts", _obj("default", "new-uid"))
    assert not await sat.still_valid(POD_CLAIMS, objects, now=NOW)


async def test_a_recreated_pod_does_not_inherit_tokens(objects: Objects) -> None:
    objects.put("pods", _obj("web", "new-pod-uid", serviceAccountName="default"))
    assert not await sat.still_valid(POD_CLAIMS, objects, now=NOW)


async def test_deleting_the_pod_revokes_its_tokens(objects: Objects) -> None:
    del objects.items[("pods", "ns", "web")]
    assert not await sat.still_valid(POD_CLAIMS, objects, now=NOW)


@pytest.mark.parametrize(("deleted_ago", "valid"), [(-30, True), (30, True), (90, False)])
async def test_a_terminating_pod_keeps_its_token_for_a_minute(
    objects: Objects, deleted_ago: int, valid: bool
) -> None:
    pod = objects.items[("pods", "ns", "web")]
    when = dt.datetime.fromtimestamp(NOW - deleted_ago, dt.UTC)
    pod["metadata"]["deletionTimestamp"] = meta.format_time(when)
    assert await sat.still_valid(POD_CLAIMS, objects, now=NOW) is valid


# --- the authenticator ----------------------------------------------------------------------


@pytest.fixture
def authenticator(tmp_path: Path, verifier: sat.TokenVerifier, objects: Objects) -> Authenticator:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('static,alice,alice-uid,"dev"\n')
    return Authenticator(tokens, service_accounts=verifier, lookup=objects)


async def test_a_service_account_token_authenticates_as_the_account(
    authenticator: Authenticator, issuer: sat.TokenIssuer
) -> None:
    token = issuer.issue(POD_CLAIMS, [sat.API_AUDIENCE], 3600).token
    user = await authenticator.authenticate_request(None, f"Bearer {token}")
    # The pod it is bound to rides along as extra, as `kubectl auth whoami` shows it.
    assert user == User(
        "system:serviceaccount:ns:default",
        ("system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated"),
        uid=SA_UID,
        extra=(
            ("authentication.kubernetes.io/pod-name", ("web",)),
            ("authentication.kubernetes.io/pod-uid", (POD_UID,)),
        ),
    )


async def test_static_tokens_and_anonymous_requests_still_work(
    authenticator: Authenticator,
) -> None:
    assert await authenticator.authenticate_request(None, "Bearer static") == User(
        "alice", ("dev", "system:authenticated")
    )
    anonymous = await authenticator.authenticate_request(None, "")
    assert anonymous is not None and anonymous.anonymous


async def test_bad_service_account_tokens_do_not_authenticate(
    authenticator: Authenticator, issuer: sat.TokenIssuer, clock: Clock, objects: Objects
) -> None:
    token = issuer.issue(POD_CLAIMS, [sat.API_AUDIENCE], 3600).token
    assert await authenticator.authenticate_request(None, "Bearer not.a.jwt") is None
    assert await authenticator.authenticate_request(None, f"Basic {token}") is None
    del objects.items[("pods", "ns", "web")]
    assert await authenticator.authenticate_request(None, f"Bearer {token}") is None
    objects.put("pods", _obj("web", POD_UID, serviceAccountName="default"))
    clock.now = NOW + 7200
    assert await authenticator.authenticate_request(None, f"Bearer {token}") is None


async def test_without_a_verifier_service_account_tokens_are_refused(
    tmp_path: Path, issuer: sat.TokenIssuer
) -> None:
    token = issuer.issue(POD_CLAIMS, [sat.API_AUDIENCE], 3600).token
    assert await Authenticator(None).authenticate_request(None, f"Bearer {token}") is None


# --- the PKI's signing key ------------------------------------------------------------------


def test_the_pki_makes_an_rsa_2048_signing_key_pair_once(tmp_path: Path) -> None:
    pki = certs.ensure(tmp_path / "tls", ["localhost"], ["127.0.0.1"])
    key = sat.load_private_key(pki.sa_key.read_bytes())
    assert key.key_size == 2048
    assert sat.load_public_key(pki.sa_pub.read_bytes()) == key.public_key()
    assert pki.sa_key.stat().st_mode & 0o777 == 0o600
    before = pki.sa_key.read_bytes(), pki.sa_pub.read_bytes()
    again = certs.ensure(tmp_path / "tls", ["localhost"], ["127.0.0.1"])
    assert (again.sa_key.read_bytes(), again.sa_pub.read_bytes()) == before


def test_a_lost_or_stale_public_key_is_rewritten_from_the_private_key(tmp_path: Path) -> None:
    pki = certs.ensure(tmp_path / "tls", ["localhost"], ["127.0.0.1"])
    private = pki.sa_key.read_bytes()
    public = pki.sa_pub.read_bytes()
    pki.sa_pub.unlink()
    certs.ensure(tmp_path / "tls", ["localhost"], ["127.0.0.1"])
    assert (pki.sa_key.read_bytes(), pki.sa_pub.read_bytes()) == (private, public)
    stray = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    pki.sa_pub.write_bytes(
        stray.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    certs.ensure(tmp_path / "tls", ["localhost"], ["127.0.0.1"])
    assert (pki.sa_key.read_bytes(), pki.sa_pub.read_bytes()) == (private, public)


def test_an_unreadable_signing_key_is_replaced(tmp_path: Path) -> None:
    pki = certs.ensure(tmp_path / "tls", ["localhost"], ["127.0.0.1"])
    pki.sa_key.write_bytes(b"half a key")
    certs.ensure(tmp_path / "tls", ["localhost"], ["127.0.0.1"])
    key = sat.load_private_key(pki.sa_key.read_bytes())
    assert sat.load_public_key(pki.sa_pub.read_bytes()) == key.public_key()


@pytest.mark.parametrize("token", ["\u00e9\u00e9", "abc\udcff", "a.b\udcff.c"])
def test_a_token_that_is_not_ascii_is_refused_not_an_error(
    verifier: sat.TokenVerifier, token: str
) -> None:
    # A JWT is base64url and dots; other text (aiohttp keeps a header's undecodable bytes as
    # surrogates, which PyJWT cannot encode) is simply not a token.
    assert verifier.verify(token) is None
