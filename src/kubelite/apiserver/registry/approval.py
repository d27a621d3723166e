"""certificatesigningrequests/<name>/approval: the approver's door to a CSR's conditions.

Kubernetes' ApprovalREST: only the Approved and Denied conditions change through it (the
strategy's `prepare_for_approval` keeps the spec, the certificate and everything else), and
the CertificateApproval admission check (`apiserver/certificates_admission.py`) sees the write
as one to `approval`, which it holds to the `approve` verb on the request's signer.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable

from kubelite.api.strategies.certificates import CertificateSigningRequestStrategy
from kubelite.api.types import Obj
from kubelite.apiserver.registry.generic import ResourceStore
from kubelite.apiserver.registry.status import StatusStore


class ApprovalStore(StatusStore):
    """GET, PUT and PATCH of `certificatesigningrequests/<name>/approval`: read as `/status`
    is, written under the approval rules."""

    subresource = "approval"

    async def update(
        self,
        namespace: str,
        name: str,
        mutate: Callable[[Obj | None], Awaitable[Obj | None]],
        *,
        dry_run: bool = False,
        create_missing: bool = False,
        on_prepared: Callable[[Obj, Obj | None], None] | None = None,
    ) -> tuple[Obj, bool]:
        """Apply the conditions of the object `mutate` returns; never creates."""
        store = self.main
        strategy = store.strategy
        assert isinstance(strategy, CertificateSigningRequestStrategy)

        async def change(stored: Obj | None) -> Obj | None:
            if stored is None:
                raise store.not_found(name)
            old = copy.deepcopy(stored)
            desired = await mutate(stored)
            if desired is None:
                return None
            strategy.default(desired)
            strategy.prepare_for_approval(desired, old)
            # Judged as it will be stored: with the fields only the server sets.
            judged = copy.deepcopy(desired)
            ResourceStore._carry_system_fields(judged, old)
            problems = strategy.validate_approval(judged, old)
            if problems:
                raise store.invalid(judged, problems)
            return desired

        return await store.update(
            namespace,
            name,
            change,
            subresource=self.subresource,
            dry_run=dry_run,
            on_prepared=on_prepared,
        )
