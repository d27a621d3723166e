"""Who may read the control plane's `/metrics`: the API server decides, as it does for
kube-controller-manager.

kube-controller-manager's secure port authenticates and authorizes each caller by delegation
(`k8s.io/apiserver/pkg/server/options` DelegatingAuthentication/Authorization):

- a client certificate signed by the cluster's client CA names the user (CN) and its groups
  (O); a bearer token is checked with a TokenReview; anyone else is `system:anonymous` in
  `system:unauthenticated`;
- the API server is asked with a SubjectAccessReview whether that user may `get` the path;
  `/healthz`, `/readyz` and `/livez` are always allowed (`--authorization-always-allow-paths`);
- answers are remembered for 10 s, allowed and refused alike (the webhook cache TTLs), so a
  scraper every few seconds costs the API server a review now and then.

A token the API server does not know is a 401; a user refused is a 403 with the words of
kube-apiserver's `responsewriters.Forbidden` (`forbidden: User "x" cannot get path
"/metrics"`). The controller manager's own role (`system:kube-controller-manager`) may create
both reviews.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from kubelite.api import errors
from kubelite.apiserver import responses
from kubelite.apiserver.auth import ANONYMOUS_USER, User, certificate_user
from kubelite.apiserver.rbac.authorizer import Attributes, forbidden
from kubelite.client.api import APIClient

ALWAYS_ALLOW_PATHS = frozenset({"/healthz", "/readyz", "/livez"})
CACHE_TTL = 10.0
TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
SUBJECT_ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


@dataclass
class _Remembered:
    until: float
    value: Any


@dataclass
class DelegatedAuth:
    """Authentication and authorization of the control plane's HTTPS endpoint, by the API
    server. `client` is the controller manager's own."""

    client: APIClient
    ttl: float = CACHE_TTL
    _tokens: dict[str, _Remembered] = field(default_factory=dict)
    _decisions: dict[tuple[User, str, str], _Remembered] = field(default_factory=dict)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path in ALWAYS_ALLOW_PATHS:
            response: web.StreamResponse = await handler(request)
            return response
        caller = await self.authenticate(request)
        if caller is None:
            return responses.error(errors.unauthorized())
        verb = request.method.lower()
        allowed, reason = await self.authorize(caller, verb, request.path)
        if not allowed:
            attrs = Attributes(caller, verb, is_resource=False, path=request.path)
            return responses.error(forbidden(attrs, reason))
        response = await handler(request)
        return response

    async def authenticate(self, request: web.Request) -> User | None:
        """The caller by certificate, then by token; anonymous without either; None for a
        token the API server does not accept."""
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        user = certificate_user(peer)
        if user is not None:
            return user
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return await self._token_user(token.strip())
        return ANONYMOUS_USER

    async def _token_user(self, token: str) -> User | None:
        now = time.monotonic()
        remembered = self._tokens.get(token)
        if remembered is not None and remembered.until > now:
            cached: User | None = remembered.value
            return cached
        review = await self.client.request(
            "POST",
            TOKEN_REVIEWS,
            body={
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "spec": {"token": token},
            },
        )
        status = (review or {}).get("status") or {}
        caller: User | None = None
        if status.get("authenticated"):
            info = status.get("user") or {}
            caller = User(
                info.get("username", ""),
                tuple(info.get("groups") or ()),
                info.get("uid", ""),
                tuple(sorted((k, tuple(v)) for k, v in (info.get("extra") or {}).items())),
            )
        self._remember(self._tokens, token, caller, now)
        return caller

    async def authorize(self, caller: User, verb: str, path: str) -> tuple[bool, str]:
        now = time.monotonic()
        key = (caller, verb, path)
        remembered = self._decisions.get(key)
        if remembered is not None and remembered.until > now:
            decision: tuple[bool, str] = remembered.value
            return decision
        spec: dict[str, Any] = {
            "user": caller.name,
            "groups": list(caller.groups),
            "nonResourceAttributes": {"path": path, "verb": verb},
        }
        if caller.uid:
            spec["uid"] = caller.uid
        if caller.extra:
            spec["extra"] = {k: list(v) for k, v in caller.extra}
        review = await self.client.request(
            "POST",
            SUBJECT_ACCESS_REVIEWS,
            body={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": spec,
            },
        )
        status = (review or {}).get("status") or {}
        decision = (bool(status.get("allowed")), str(status.get("reason") or ""))
        self._remember(self._decisions, key, decision, now)
        return decision

    def _remember(self, cache: dict[Any, _Remembered], key: Any, value: Any, now: float) -> None:
        if len(cache) > 1024:  # scrapers are few; anything more is someone trying tokens
            cache.clear()
        cache[key] = _Remembered(now + self.ttl, value)
