"""serviceaccounts/<name>/token: a TokenRequest answered with a signed token, never stored.

Kubernetes' TokenREST: the issuing itself (claims, bound objects, expiry) is
`kubelite.apiserver.serviceaccount_token`'s; this storage puts it behind a subresource, with the
server's issuer and a lookup of the objects a token may be bound to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from kubelite.api import errors
from kubelite.api.types import Obj
from kubelite.apiserver import serviceaccount_token as sat
from kubelite.apiserver.registry.interfaces import KindRef

TOKEN_REQUEST = KindRef(sat.GROUP, sat.VERSION, sat.KIND)
# Refuses a TokenRequest (namespace, service account, body) by raising a StatusError.
Restriction = Callable[[str, str, Obj], Awaitable[None]]


class TokenRequestStore:
    """POST of `serviceaccounts/<name>/token`; with no issuer configured, a 503."""

    kind = TOKEN_REQUEST
    subresource = "token"

    def __init__(
        self,
        issuer: sat.TokenIssuer | None,
        lookup: sat.Lookup,
        restrict: Restriction | None = None,
    ) -> None:
        self.issuer = issuer
        self.lookup = lookup
        # Admission of the request (NodeRestriction: a node's tokens are for its own pods).
        self.restrict = restrict

    async def create(
        self, namespace: str, name: str, body: Obj, query: Mapping[str, str]
    ) -> tuple[Obj, int]:
        """A token for the service account `namespace/name`, as the TokenRequest asks; 201."""
        if self.issuer is None:
            raise errors.StatusError(
                503,
                errors.REASON_SERVICE_UNAVAILABLE,
                "no service account token issuer is configured",
            )
        if self.restrict is not None:
            await self.restrict(namespace, name, body)
        answer = await sat.create_token(self.issuer, self.lookup, namespace, name, body)
        return answer, 201
