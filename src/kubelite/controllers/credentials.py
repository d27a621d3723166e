"""Each controller as its own service account (`--use-service-account-credentials`).

kube-controller-manager can run every controller with the same credentials, or give each one a
ServiceAccount of its own in kube-system (`replicaset-controller`, `job-controller`, ...), which
the default `system:controller:<name>` roles are bound to. The second is what Kubernetes
distributions run: a controller can then do only what its role allows, and the audit trail and
the managedFields name which controller wrote what.

The manager's own identity (`system:kube-controller-manager`) may create service accounts in
kube-system and request their tokens; this makes each account, asks for a token (an hour, as
the controller manager's client builder does), and asks again at 80% of the life the server
gave it (its `expirationTimestamp`: a server may give less than was asked for). The shared
informers keep reading as the manager itself, which may list and watch everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import time
from typing import Any

from kubelite.api.resources import SERVICE_ACCOUNTS
from kubelite.client.api import APIClient
from kubelite.client.errors import APIAlreadyExistsError, APIConnectionError, APIError

log = logging.getLogger(__name__)

NAMESPACE = "kube-system"
TOKEN_SECONDS = 3600
# Renewed after this share of its life, as client-go's token source does.
RENEW_AT = 0.8
# A life shorter than this is taken for clock skew and counted as this long
# (client_builder_dynamic.go's tokenSourceImpl).
MIN_LIFETIME_SECONDS = 600
RETRY_SECONDS = 2.0


class ServiceAccountCredentials:
    """Service account clients for the controllers, their tokens kept fresh."""

    def __init__(self, manager: APIClient) -> None:
        self.manager = manager
        self._tokens: dict[str, str] = {}
        self._expiry: dict[str, float] = {}
        self._clients: dict[str, APIClient] = {}
        self._task: asyncio.Task[None] | None = None

    def client_for(self, account: str, *, user_agent: str) -> APIClient:
        """A client that authenticates as `kube-system/<account>` (no certificate: the
        token alone says who it is). Usable once `start` has returned. Controllers of one
        account (the node controller's three) share its client: `stop` closes each once."""
        known = self._clients.get(account)
        if known is not None:
            return known
        config = dataclasses.replace(
            self.manager.config,
            client_certificate_data=None,
            client_key_data=None,
            token=None,
        )
        client = APIClient(
            config, user_agent=user_agent, token_source=lambda: self._tokens.get(account, "")
        )
        self._clients[account] = client
        return client

    async def start(self) -> None:
        """Make the accounts and fetch their first tokens; renew them from then on."""
        await asyncio.gather(*(self._renew(account) for account in self._clients))
        self._task = asyncio.create_task(self._renew_loop(), name="service-account-tokens")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for client in self._clients.values():
            await client.close()

    async def _renew(self, account: str) -> None:
        while True:
            try:
                with contextlib.suppress(APIAlreadyExistsError):
                    await self.manager.create(
                        SERVICE_ACCOUNTS,
                        {
                            "apiVersion": "v1",
                            "kind": "ServiceAccount",
                            "metadata": {"name": account, "namespace": NAMESPACE},
                        },
                        namespace=NAMESPACE,
                    )
                answer = await self.manager.create(
                    SERVICE_ACCOUNTS,
                    {
                        "apiVersion": "authentication.k8s.io/v1",
                        "kind": "TokenRequest",
                        "spec": {"expirationSeconds": TOKEN_SECONDS},
                    },
                    namespace=NAMESPACE,
                    name=account,
                    subresource="token",
                )
            except (APIError, APIConnectionError) as exc:
                log.warning("token for %s/%s: %s; retrying", NAMESPACE, account, exc)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            self._tokens[account] = answer["status"]["token"]
            self._expiry[account] = time.monotonic() + _lifetime(answer) * RENEW_AT
            return

    async def _renew_loop(self) -> None:
        while True:
            now = time.monotonic()
            due = [a for a, at in self._expiry.items() if at <= now]
            await asyncio.gather(*(self._renew(a) for a in due))
            soonest = min(self._expiry.values(), default=now + 60)
            await asyncio.sleep(max(1.0, soonest - time.monotonic()))


def _lifetime(answer: dict[str, Any]) -> float:
    """How long the token lasts from now, by the expirationTimestamp the server answered;
    at least MIN_LIFETIME_SECONDS (a missing or past timestamp counts as that)."""
    stamp = (answer.get("status") or {}).get("expirationTimestamp")
    try:
        expires = dt.datetime.fromisoformat(str(stamp)).timestamp()
    except ValueError:
        return MIN_LIFETIME_SECONDS
    return max(expires - time.time(), MIN_LIFETIME_SECONDS)
