"""The CSR cleaner: deletes CertificateSigningRequests that have served their purpose.

kube-controller-manager's `csrcleaner` (`pkg/controller/certificates/cleaner`). Kubelets ask
for certificates again and again and the approver grants them, so without it requests would
pile up. Once an hour (and once at start) every request is looked at, and deleted when:

- it was approved and issued more than an hour ago (by the Approved condition's
  lastUpdateTime),
- it was denied, or failed, more than an hour ago,
- it has been pending (no conditions at all) for more than a day since it was made,
- or its certificate has expired.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from cryptography import x509

from kubelite.api import csr as csrs
from kubelite.api import meta
from kubelite.api.resources import CERTIFICATE_SIGNING_REQUESTS
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APIError, APINotFoundError
from kubelite.client.informers import SharedInformerFactory

log = logging.getLogger(__name__)

# cleaner.go's constants.
POLLING_INTERVAL = 3600.0
APPROVED_EXPIRATION = dt.timedelta(hours=1)
DENIED_EXPIRATION = dt.timedelta(hours=1)
PENDING_EXPIRATION = dt.timedelta(hours=24)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _older_than(timestamp: object, age: dt.timedelta, now: dt.datetime) -> bool:
    """isOlderThan: a set time more than `age` before now."""
    when = meta.parse_time(timestamp) if isinstance(timestamp, str) else None
    return when is not None and now - when > age


def _certificate_expired(csr: Obj, now: dt.datetime) -> bool:
    """isExpired: the first certificate's NotAfter has passed (an unreadable one has not)."""
    block, _ = csrs.pem_decode(csrs.certificate_bytes(csr))
    if block is None:
        return False
    try:
        certificate = x509.load_der_x509_certificate(block.data)
    except ValueError:
        return False
    return now > certificate.not_valid_after_utc


def why_delete(csr: Obj, now: dt.datetime) -> str | None:
    """The reason a request is due for deletion, or None to keep it."""
    conditions = csrs.conditions(csr)
    issued = bool(csrs.certificate_bytes(csr))
    for c in conditions:
        kind, updated = c.get("type"), c.get("lastUpdateTime")
        if kind == csrs.APPROVED and issued and _older_than(updated, APPROVED_EXPIRATION, now):
            return "it is more than 1h0m0s old and approved"
    for c in conditions:
        if c.get("type") == csrs.DENIED and _older_than(
            c.get("lastUpdateTime"), DENIED_EXPIRATION, now
        ):
            return "it is more than 1h0m0s old and denied"
    for c in conditions:
        if c.get("type") == csrs.FAILED and _older_than(
            c.get("lastUpdateTime"), DENIED_EXPIRATION, now
        ):
            return "it is more than 1h0m0s old and failed"
    created = meta.get_path(csr, "metadata", "creationTimestamp")
    if not conditions and _older_than(created, PENDING_EXPIRATION, now):
        return "it is more than 24h0m0s old and unhandled"
    approved = any(c.get("type") == csrs.APPROVED for c in conditions)
    if approved and issued and _certificate_expired(csr, now):
        return "the associated certificate is expired"
    return None


class CSRCleanerController:
    """Deletes old requests, once an hour."""

    component = "csrcleaner"

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        *,
        period: float = POLLING_INTERVAL,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.client = client
        self.informers = informers or SharedInformerFactory(client)
        self.period = period
        self.clock = clock
        self.requests = self.informers.informer(CERTIFICATE_SIGNING_REQUESTS)

    async def run(self) -> None:
        self.informers.start()
        await self.informers.wait_synced(self.requests)
        while True:
            await self.clean()
            await asyncio.sleep(self.period)

    async def clean(self) -> None:
        """One pass over every request (the controller's worker)."""
        now = self.clock()
        for csr in self.requests.list():
            reason = why_delete(csr, now)
            if reason is None:
                continue
            name = meta.name_of(csr)
            log.info("cleaning CSR %s as %s", name, reason)
            try:
                await self.client.delete(CERTIFICATE_SIGNING_REQUESTS, name)
            except APINotFoundError:
                continue
            except APIError as e:
                log.warning("unable to delete CSR %s: %s", name, e)
