"""Service account tokens: the TokenRequest API's JWTs, issued and verified.

A pod reaches the API with a token of its service account, which the kubelet asks for with the
TokenRequest API (`POST serviceaccounts/<name>/token`) and mounts at
/var/run/secrets/kubernetes.io/serviceaccount/token. As in Kubernetes, the token is a JWT signed
RS256 with the cluster's service-account key (`sa.key`, made by `certs.ensure`), carrying the
standard claims and a `kubernetes.io` claim that names the namespace, the service account and,
when the token is bound to one, the pod (and the pod's node) or secret. The API server accepts it
as a bearer credential while its signature, lifetime and audience hold and the objects it names
still exist with the same uid, so deleting a pod or its service account revokes its tokens.

Three parts, each usable alone: `TokenIssuer` signs claims (and publishes its public keys as a
JWKS), `TokenVerifier` checks a token's signature and claims without any I/O, and
`create_token` / `still_valid` do the object look-ups of Kubernetes' TokenREST.Create
(pkg/registry/core/serviceaccount/storage/token.go) and of its token validator
(pkg/serviceaccount/claims.go) through a `Lookup` callable.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kubelite.api import errors, meta
from kubelite.api.types import Obj

if TYPE_CHECKING:
    from kubelite.api.kinds import ResourceType
    from kubelite.apiserver.registry.generic import ResourceStore


# kube-apiserver's default --service-account-issuer and --api-audiences (kubeadm, k3s).
ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCE = ISSUER
# authentication/v1 SetDefaults_TokenRequestSpec.
DEFAULT_EXPIRATION_SECONDS = 3600
# authentication validation ValidateTokenRequest: at least 10 minutes, at most 2^32 seconds.
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 1 << 32
# The only algorithm Kubernetes signs RSA service-account keys with (pkg/serviceaccount/jwt.go).
ALGORITHM = "RS256"
# The private claim Kubernetes puts its objects under (pkg/serviceaccount/claims.go).
PRIVATE_CLAIM = "kubernetes.io"
# apiserver/pkg/authentication/serviceaccount: the user and groups of a service account.
USER_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
AUTHENTICATED_GROUP = "system:authenticated"
# go-jose's DefaultLeeway: the clock skew tolerated on exp, nbf and iat.
LEEWAY_SECONDS = 60
# The kinds a token may be bound to (TokenREST.Create), with the resource each is stored as.
BOUND_KINDS = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}
# claims.go: a token stays valid this long after its bound object's deletionTimestamp.
DELETED_GRACE_SECONDS = 60

# (plural, namespace, name) -> the stored core/v1 object, or None when there is none.
Lookup = Callable[[str, str, str], Awaitable[Obj | None]]


@dataclass(frozen=True)
class ObjectRef:
    """An object a token names: `{"name": ..., "uid": ...}` in the `kubernetes.io` claim."""

    name: str
    uid: str

    def claim(self) -> Obj:
        # claims.go's `ref` leaves an empty uid out (a pod's node that is not in the store).
        return {"name": self.name, "uid": self.uid} if self.uid else {"name": self.name}


@dataclass(frozen=True)
class ServiceAccountClaims:
    """What a token says about whom it was issued to (the `kubernetes.io` claim)."""

    namespace: str
    service_account: ObjectRef
    pod: ObjectRef | None = None
    secret: ObjectRef | None = None
    node: ObjectRef | None = None

    @property
    def username(self) -> str:
        """`system:serviceaccount:<namespace>:<name>`, the `sub` and the authenticated user."""
        return f"{USER_PREFIX}{self.namespace}:{self.service_account.name}"

    @property
    def groups(self) -> tuple[str, ...]:
        return (
            ALL_SERVICE_ACCOUNTS_GROUP,
            f"{ALL_SERVICE_ACCOUNTS_GROUP}:{self.namespace}",
            AUTHENTICATED_GROUP,
        )

    def private_claim(self) -> Obj:
        claim: Obj = {
            "namespace": self.namespace,
            "serviceaccount": self.service_account.claim(),
        }
        for key, ref in (("pod", self.pod), ("secret", self.secret), ("node", self.node)):
            if ref is not None:
                claim[key] = ref.claim()
        return claim

    @classmethod
    def from_private_claim(cls, claim: Any) -> ServiceAccountClaims | None:
        """The claims of a decoded `kubernetes.io` value; None if it is not well formed."""
        if not isinstance(claim, dict):
            return None
        namespace = claim.get("namespace")
        account = _ref(claim.get("serviceaccount"))
        if not isinstance(namespace, str) or not namespace or account is None:
            return None
        refs = {}
        for key in ("pod", "secret", "node"):
            if key in claim:
                ref = _ref(claim[key])
                if ref is None:
                    return None
                refs[key] = ref
        return cls(namespace, account, **refs)


def _ref(value: Any) -> ObjectRef | None:
    if not isinstance(value, dict):
        return None
    name, uid = value.get("name"), value.get("uid", "")
    if not isinstance(name, str) or not name or not isinstance(uid, str):
        return None
    return ObjectRef(name, uid)


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """Kubernetes' `kid`: the unpadded base64url SHA-256 of the key's PKIX DER
    (keyIDFromPublicKey in pkg/serviceaccount/jwt.go), so every server with the key agrees."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def _b64_uint(value: int) -> str:
    """An RFC 7518 §6.3.1 integer: big-endian bytes, unpadded base64url."""
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwk(public_key: rsa.RSAPublicKey) -> Obj:
    """The public key as a JSON Web Key (RFC 7517), as /openid/v1/jwks lists it."""
    numbers = public_key.public_numbers()
    return {
        "use": "sig",
        "kty": "RSA",
        "kid": key_id(public_key),
        "alg": ALGORITHM,
        "n": _b64_uint(numbers.n),
        "e": _b64_uint(numbers.e),
    }


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the service-account signing key is not an RSA key")
    return key


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the service-account public key is not an RSA key")
    return key


@dataclass(frozen=True)
class IssuedToken:
    """A signed token and when it expires: what a TokenRequest's status reports."""

    token: str
    expires_at: int  # seconds since the epoch, the token's `exp`


class TokenIssuer:
    """Signs service account tokens with the cluster's service-account key."""

    def __init__(
        self,
        private_key: rsa.RSAPrivateKey,
        *,
        issuer: str = ISSUER,
        audiences: Sequence[str] = (API_AUDIENCE,),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = private_key
        self.issuer = issuer
        # What `spec.audiences` defaults to: the audiences the API server itself accepts.
        self.audiences = tuple(audiences)
        self.clock = clock
        self.key_id = key_id(private_key.public_key())

    def issue(
        self, claims: ServiceAccountClaims, audiences: Sequence[str], expiration_seconds: int
    ) -> IssuedToken:
        now = int(self.clock())
        expires_at = now + expiration_seconds
        payload = {
            "iss": self.issuer,
            "sub": claims.username,
            "aud": list(audiences),
            "exp": expires_at,
            "iat": now,
            "nbf": now,
            "jti": str(uuid.uuid4()),
            PRIVATE_CLAIM: claims.private_claim(),
        }
        token = jwt.encode(payload, self._key, algorithm=ALGORITHM, headers={"kid": self.key_id})
        return IssuedToken(token, expires_at)

    def jwks(self) -> Obj:
        """The JSON Web Key Set of `/openid/v1/jwks`."""
        return {"keys": [jwk(self._key.public_key())]}

    def openid_configuration(self, jwks_uri: str) -> Obj:
        """The issuer's OIDC discovery document (`/.well-known/openid-configuration`)."""
        return {
            "issuer": self.issuer,
            "jwks_uri": jwks_uri,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
        }


class TokenVerifier:
    """Checks a bearer token is a service account token this cluster issued, for its API.

    Pure: signature, issuer, lifetime and audience only; whether the named objects still exist
    is `still_valid`'s question.
    """

    def __init__(
        self,
        public_keys: Sequence[rsa.RSAPublicKey],
        *,
        issuer: str = ISSUER,
        audiences: Sequence[str] = (API_AUDIENCE,),
        clock: Callable[[], float] = time.time,
        leeway: int = LEEWAY_SECONDS,
    ) -> None:
        self._keys = {key_id(k): k for k in public_keys}
        self.issuer = issuer
        self.audiences = tuple(audiences)
        self.clock = clock
        self.leeway = leeway

    def verify(self, token: str) -> ServiceAccountClaims | None:
        """The token's claims if it is valid now, else None."""
        if not token.isascii():
            # Not a JWT (base64url and dots); PyJWT would raise on surrogates rather than refuse.
            return None
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            return None
        if header.get("alg") != ALGORITHM:
            return None
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            return None
        # A token without a kid (older issuers) may be checked against every key.
        if kid:
            keys = [self._keys[kid]] if kid in self._keys else []
        else:
            keys = list(self._keys.values())
        for key in keys:
            try:
                # Times are checked in `_claims_of`, against this verifier's clock.
                payload = jwt.decode(
                    token,
                    key,
                    algorithms=[ALGORITHM],
                    issuer=self.issuer,
                    options={
                        "require": ["exp", "iss", "sub", "aud"],
                        # Any one of our audiences will do: checked in `_claims_of`.
                        "verify_aud": False,
                        "verify_exp": False,
                        "verify_nbf": False,
                        "verify_iat": False,
                    },
                )
            except jwt.InvalidTokenError:
                continue
            return self._claims_of(payload)
        return None

    def _claims_of(self, payload: Obj) -> ServiceAccountClaims | None:
        now = self.clock()
        exp, nbf, iat = payload.get("exp"), payload.get("nbf", 0), payload.get("iat", 0)
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in (exp, nbf, iat)):
            return None
        assert isinstance(exp, int)
        if now > exp + self.leeway or now < nbf - self.leeway or now < iat - self.leeway:
            return None
        audiences = payload.get("aud")
        if isinstance(audiences, str):
            audiences = [audiences]
        if not isinstance(audiences, list) or not set(audiences) & set(self.audiences):
            return None
        claims = ServiceAccountClaims.from_private_claim(payload.get(PRIVATE_CLAIM))
        if claims is None or payload.get("sub") != claims.username:
            return None
        return claims


async def still_valid(
    claims: ServiceAccountClaims, lookup: Lookup, *, now: float | None = None
) -> bool:
    """Whether the service account and the object the token is bound to still exist with the
    uids it names (the validator of pkg/serviceaccount/claims.go): a token dies with its service
    account, its pod or its secret.

    A bound object being deleted keeps its tokens valid until a minute after its
    deletionTimestamp, as in Kubernetes, so a terminating pod can still reach the API. The node
    of a pod-bound token is not checked (the pod's own check covers it); a token bound to a node
    itself is.
    """
    account = await lookup("serviceaccounts", claims.namespace, claims.service_account.name)
    if account is None or _uid(account) != claims.service_account.uid:
        return False
    deleted_before = (time.time() if now is None else now) - DELETED_GRACE_SECONDS
    for plural, namespace, ref in (
        ("secrets", claims.namespace, claims.secret),
        ("pods", claims.namespace, claims.pod),
        ("nodes", "", claims.node if claims.pod is None else None),
    ):
        if ref is None:
            continue
        obj = await lookup(plural, namespace, ref.name)
        if obj is None or _uid(obj) != ref.uid:
            return False
        deleting = meta.parse_time(meta.get_path(obj, "metadata", "deletionTimestamp", default=""))
        if deleting is not None and deleting.timestamp() < deleted_before:
            return False
    return True


def _uid(obj: Obj) -> str:
    return str(meta.get_path(obj, "metadata", "uid", default=""))


def object_lookup(stores: Mapping[ResourceType, ResourceStore]) -> Lookup:
    """A `Lookup` over the API server's storage of core/v1 kinds."""
    by_plural = {r.plural: s for r, s in stores.items() if r.group == "" and r.version == "v1"}

    async def lookup(plural: str, namespace: str, name: str) -> Obj | None:
        store = by_plural.get(plural)
        if store is None:
            return None
        try:
            return await store.get(namespace, name)
        except errors.StatusError as exc:
            if exc.reason == errors.REASON_NOT_FOUND:
                return None
            raise

    return lookup


# --- TokenRequest ---------------------------------------------------------------------------

GROUP = "authentication.k8s.io"
VERSION = "v1"
KIND = "TokenRequest"


def _invalid(name: str, problems: list[errors.FieldError]) -> errors.StatusError:
    return errors.invalid_object(KIND, name, problems, GROUP)


def _validate_spec(name: str, spec: Obj) -> None:
    seconds = spec["expirationSeconds"]
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise _invalid(name, [errors.invalid("spec.expirationSeconds", seconds, "must be integer")])
    if seconds < MIN_EXPIRATION_SECONDS:
        detail = "may not specify a duration less than 10 minutes"
        raise _invalid(name, [errors.invalid("spec.expirationSeconds", seconds, detail)])
    if seconds > MAX_EXPIRATION_SECONDS:
        detail = "may not specify a duration larger than 2^32 seconds"
        raise _invalid(name, [errors.invalid("spec.expirationSeconds", seconds, detail)])


async def create_token(
    issuer: TokenIssuer, lookup: Lookup, namespace: str, name: str, request: Obj
) -> Obj:
    """TokenREST.Create: a token for service account `namespace/name`, as the decoded
    TokenRequest `request` asks; returns the request with its status filled in.

    Raises the Status errors Kubernetes answers with: 422 for a bad expiration or a body naming
    another account, 404 for a missing service account or bound object, 400 for a bound object
    of a kind tokens cannot be bound to (or a pod running as another account), 409 when the
    bound object's uid is not the one in record.
    """
    out = dict(request)
    md = dict(out.get("metadata") or {})
    spec = dict(out.get("spec") or {})
    if md.get("name") and md["name"] != name:
        detail = "must match the service account name if specified"
        raise _invalid(name, [errors.invalid("metadata.name", md["name"], detail)])
    if md.get("namespace") and md["namespace"] != namespace:
        detail = "must match the service account namespace if specified"
        raise _invalid(name, [errors.invalid("metadata.namespace", md["namespace"], detail)])
    account = await lookup("serviceaccounts", namespace, name)
    if account is None:
        raise errors.not_found("serviceaccounts", name)
    if not spec.get("audiences"):
        spec["audiences"] = list(issuer.audiences)
    if spec.get("expirationSeconds") is None:
        spec["expirationSeconds"] = DEFAULT_EXPIRATION_SECONDS
    md["name"] = md.get("name") or name
    md["namespace"] = md.get("namespace") or namespace
    md["creationTimestamp"] = meta.format_time(dt.datetime.fromtimestamp(issuer.clock(), dt.UTC))
    # Kubernetes names no object in this error (TokenREST.Create passes "").
    _validate_spec("", spec)

    bound = await _bound_objects(lookup, namespace, name, spec.get("boundObjectRef"))
    claims = ServiceAccountClaims(namespace, ObjectRef(name, _uid(account)), **bound)
    issued = issuer.issue(claims, spec["audiences"], spec["expirationSeconds"])
    out.update(
        apiVersion=f"{GROUP}/{VERSION}",
        kind=KIND,
        metadata=md,
        spec=spec,
        status={
            "token": issued.token,
            "expirationTimestamp": meta.format_time(
                dt.datetime.fromtimestamp(issued.expires_at, dt.UTC)
            ),
        },
    )
    return out


async def _bound_objects(
    lookup: Lookup, namespace: str, account: str, ref: Obj | None
) -> dict[str, ObjectRef]:
    """The pod (and its node), secret or node a token is bound to, checked as TokenREST does."""
    if not ref:
        return {}
    kind = ref.get("kind") or ""
    api_version = ref.get("apiVersion") or ""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    plural = BOUND_KINDS.get(kind) if group == "" else None
    if plural is None:
        gvk = f"{group}/{api_version.rpartition('/')[2]}, Kind={kind}"
        raise errors.bad_request(f"cannot bind token to object of type {gvk}")
    ref_name = ref.get("name") or ""
    obj = await lookup(plural, "" if kind == "Node" else namespace, ref_name)
    if obj is None:
        raise errors.not_found(plural, ref_name)
    found: dict[str, ObjectRef] = {}
    if kind == "Pod":
        running_as = meta.get_path(obj, "spec", "serviceAccountName", default="") or "default"
        if running_as != account:
            raise errors.bad_request(
                f'cannot bind token for serviceaccount "{account}" to pod running with '
                "different serviceaccount name."
            )
        node_name = meta.get_path(obj, "spec", "nodeName", default="")
        if node_name:
            # A node missing from the store is still named, without a uid, as in Kubernetes.
            node = await lookup("nodes", "", node_name)
            found["node"] = ObjectRef(node_name, _uid(node) if node is not None else "")
    uid = _uid(obj)
    wanted = ref.get("uid") or ""
    if wanted and wanted != uid:
        raise errors.conflict(
            kind,
            ref_name,
            f"the UID in the bound object reference ({wanted}) does not match the UID in record. "
            "The object might have been deleted and then recreated",
        )
    found[kind.lower()] = ObjectRef(ref_name, uid)
    return found
