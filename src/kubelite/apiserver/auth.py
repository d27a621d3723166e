"""Authentication: client certificates signed by the cluster CA, or bearer tokens.

As in Kubernetes, a verified client certificate names the user (CN) and groups (O); a bearer
token is looked up in a static token file (`token,user,uid,"group1,group2"`), or else checked as
a service account token (a JWT signed with the cluster's service-account key, see
`serviceaccount_token`), which names `system:serviceaccount:<ns>:<name>`. A request with
neither is anonymous: it may read `/version` and the health endpoints (Kubernetes'
`system:public-info-viewer` role) and is refused everything else with 401.

Service account tokens die with the objects they name, so accepting one means reading the store:
`authenticate_request` is the coroutine the application awaits; the synchronous `authenticate`
knows certificates and static tokens only.

The request's context (who asks, what, and the warnings its answer will carry) is kept here in
context variables, as Go keeps it in the request's `context.Context`: storage and admission
deep below the handlers read it there.
"""

from __future__ import annotations

import csv
import functools
import hmac
import ssl
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelite.apiserver import serviceaccount_token
from kubelite.apiserver.request_info import RequestInfo

ANONYMOUS = "system:anonymous"
# Paths Kubernetes lets anyone read (the system:public-info-viewer ClusterRole).
# And the cluster CA joining nodes check against their token (node_join.CA_PATH).
PUBLIC_PATHS = ("/version", "/healthz", "/livez", "/readyz", "/v1-kubelite/cacerts")


@dataclass(frozen=True)
class User:
    """Who made a request: a name and groups, as an authenticator found them (user.Info)."""

    name: str
    groups: tuple[str, ...] = field(default=())
    uid: str = ""
    # user.Info's Extra, as sorted (key, values) pairs so that a User stays hashable.
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def anonymous(self) -> bool:
        return self.name == ANONYMOUS


ANONYMOUS_USER = User(ANONYMOUS, ("system:unauthenticated",))

# The user a request is served for, as Kubernetes keeps it in the request's context: storage
# that decides by who is asking (the RBAC escalation check) reads it there. None outside a
# request: the server's own writes (its bootstrap objects).
current_user: ContextVar[User | None] = ContextVar("current_user", default=None)
# The `Warning:` headers the request's answer will carry: admission that warns rather than
# refuses (Pod Security's `warn` level) appends to it. None outside a resource request.
current_warnings: ContextVar[list[str] | None] = ContextVar("current_warnings", default=None)
# What the request asks (its verb, subresource, ...): admission that treats a status write
# apart from the object's own (NodeRestriction) reads it. None outside a request.
current_request: ContextVar[RequestInfo | None] = ContextVar("current_request", default=None)


def is_public(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PUBLIC_PATHS)


class Authenticator:
    """Turns a request's credentials into a `User`: client certificates signed by the
    cluster CA, static bearer tokens from the token file, and service account tokens."""

    def __init__(
        self,
        token_file: Path | None,
        *,
        service_accounts: serviceaccount_token.TokenVerifier | None = None,
        lookup: serviceaccount_token.Lookup | None = None,
    ) -> None:
        # Service account tokens are refused without a verifier; without a lookup, they are
        # accepted on their signature and lifetime alone.
        self.service_accounts = service_accounts
        self.lookup = lookup
        # Keyed by the token's bytes: compared as bytes (see `from_token`), encoded once here.
        self._tokens: dict[bytes, User] = {}
        if token_file is not None and token_file.exists():
            with token_file.open(newline="") as f:
                for row in csv.reader(f):
                    if len(row) < 2 or row[0].startswith("#"):
                        continue
                    groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
                    self._tokens[row[0].encode()] = User(row[1], (*groups, "system:authenticated"))

    def from_certificate(self, peercert: dict[str, Any] | None) -> User | None:
        """The user of a client certificate the TLS layer verified against the cluster CA."""
        return certificate_user(peercert)

    def from_token(self, authorization: str) -> User | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        # As bytes: compare_digest refuses str with non-ASCII characters, and a header may hold
        # any (aiohttp keeps undecodable bytes as surrogates), which is a wrong token, not a 500.
        presented = token.strip().encode("utf-8", "surrogateescape")
        for known, user in self._tokens.items():
            if hmac.compare_digest(known, presented):
                return user
        return None

    async def from_service_account_token(self, authorization: str) -> User | None:
        """The service account a bearer JWT was issued to, while it and what it is bound to
        still exist."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or self.service_accounts is None:
            return None
        claims = self.service_accounts.verify(token.strip())
        if claims is None:
            return None
        if self.lookup is not None and not await serviceaccount_token.still_valid(
            claims, self.lookup, now=self.service_accounts.clock()
        ):
            return None
        return User(
            claims.username,
            claims.groups,
            uid=claims.service_account.uid,
            extra=_service_account_extra(claims),
        )

    def authenticate(self, peercert: dict[str, Any] | None, authorization: str) -> User | None:
        """The request's user by certificate or static token; None when it presented
        credentials that are not valid (or are a service account token)."""
        if peercert and not _in_validity(peercert):
            # Expired (or not yet valid): the TLS layer left the dates to this check. As in
            # Kubernetes' union of authenticators, a token may still succeed; without one the
            # request is a 401, not anonymous.
            return self.from_token(authorization) if authorization else None
        user = self.from_certificate(peercert)
        if user is not None:
            return user
        if authorization:
            return self.from_token(authorization)
        return ANONYMOUS_USER

    async def authenticate_request(
        self, peercert: dict[str, Any] | None, authorization: str
    ) -> User | None:
        """The request's user by any means; None when its credentials are not valid."""
        user = self.authenticate(peercert, authorization)
        if user is None and authorization:
            return await self.from_service_account_token(authorization)
        return user


def certificate_user(peercert: dict[str, Any] | None) -> User | None:
    """x509's user of a verified client certificate: its common name, its organizations as
    groups (None without a common name)."""
    if not peercert:
        return None
    name = ""
    groups: list[str] = []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                name = value
            elif key == "organizationName":
                groups.append(value)
    if not name:
        return None
    return User(name, (*groups, "system:authenticated"))


def user_info(user: User) -> dict[str, Any]:
    """authentication.k8s.io/v1 UserInfo of a user, without its empty fields (all of them
    `omitempty`): what reviews answer with and audit events record."""
    info: dict[str, Any] = {"username": user.name} if user.name else {}
    if user.uid:
        info["uid"] = user.uid
    if user.groups:
        info["groups"] = list(user.groups)
    if user.extra:
        info["extra"] = {k: list(v) for k, v in user.extra}
    return info


def _in_validity(peercert: dict[str, Any]) -> bool:
    """Whether now lies within the certificate's notBefore and notAfter."""
    try:
        not_before, not_after = _validity(peercert["notBefore"], peercert["notAfter"])
    except (KeyError, ValueError):
        return False
    return not_before <= time.time() <= not_after


@functools.lru_cache(maxsize=256)
def _validity(not_before: str, not_after: str) -> tuple[int, int]:
    # Parsing the two dates costs ~20 us; a cluster's clients are a handful of certificates.
    return ssl.cert_time_to_seconds(not_before), ssl.cert_time_to_seconds(not_after)


def _service_account_extra(
    claims: serviceaccount_token.ServiceAccountClaims,
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The extra a bound token's user carries: the pod and node it was issued for
    (`serviceaccount.ServiceAccountInfo.UserInfo`)."""
    extra: dict[str, tuple[str, ...]] = {}
    for kind, ref in (("pod", claims.pod), ("node", claims.node)):
        if ref is not None:
            extra[f"authentication.kubernetes.io/{kind}-name"] = (ref.name,)
            if ref.uid:
                extra[f"authentication.kubernetes.io/{kind}-uid"] = (ref.uid,)
    return tuple(sorted(extra.items()))
