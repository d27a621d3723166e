"""Service account tokens for pods' projected volumes, asked of the API server and cached.

A pod's API access volume holds a token of its service account, bound to the pod: the kubelet
asks for it with the TokenRequest API (`POST serviceaccounts/<name>/token`) and keeps it until
80 % of its lifetime has passed (or less than 24 h is left of a long one), as Kubernetes' token
manager does (`pkg/kubelet/token/token_manager.go`); the volume is rewritten only when the
token changes, so syncing a pod does not mint a new token each time.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable

from kubelite.api.resources import SERVICE_ACCOUNTS
from kubelite.api.types import Obj
from kubelite.client.api import APIClient

# token_manager.go: refresh after 80 % of the lifetime, or when less than a day is left.
REFRESH_FRACTION = 0.8
MAX_TTL_BEFORE_REFRESH = 24 * 3600


def _expiry(token_request: Obj) -> float:
    stamp = (token_request.get("status") or {}).get("expirationTimestamp") or ""
    try:
        when = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return when.timestamp()


class TokenManager:
    """Tokens by (namespace, service account, audience, expiration, pod uid)."""

    def __init__(self, client: APIClient, *, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.clock = clock
        # key -> (token, issued at, expires at)
        self._tokens: dict[tuple[str, str, str, int, str], tuple[str, float, float]] = {}

    def _fresh(self, issued: float, expires: float) -> bool:
        now = self.clock()
        ttl = expires - issued
        refresh_at = issued + ttl * REFRESH_FRACTION
        if ttl > MAX_TTL_BEFORE_REFRESH:
            refresh_at = min(refresh_at, expires - MAX_TTL_BEFORE_REFRESH)
        return now < refresh_at

    async def token(self, audience: str, expiration_seconds: int, pod: Obj) -> str:
        """The token of the pod's service account for `audience` ("" = the API server's)."""
        md = pod["metadata"]
        namespace = md.get("namespace") or "default"
        account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        key = (namespace, account, audience, expiration_seconds, md.get("uid", ""))
        held = self._tokens.get(key)
        if held is not None and self._fresh(held[1], held[2]):
            return held[0]
        spec: Obj = {
            "expirationSeconds": expiration_seconds,
            "boundObjectRef": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": md["name"],
                "uid": md.get("uid", ""),
            },
        }
        if audience:
            spec["audiences"] = [audience]
        issued = self.clock()
        made = await self.client.create(
            SERVICE_ACCOUNTS,
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
            namespace=namespace,
            name=account,
            subresource="token",
        )
        token = str((made.get("status") or {}).get("token") or "")
        self._tokens[key] = (token, issued, _expiry(made) or issued + expiration_seconds)
        return token

    def forget_pod(self, uid: str) -> None:
        for key in [k for k in self._tokens if k[4] == uid]:
            del self._tokens[key]
