"""`kubectl get csr`: who asked which signer for what, and where the request stands.

CONDITION reads as Kubernetes' `extractCSRStatus` words it: Denied wins over Approved, either
over Pending, then `,Failed` when the signer refused and `,Issued` once a certificate is there
(`Approved,Issued`). REQUESTEDDURATION is spec.expirationSeconds as a duration, `<none>` when
the request leaves the lifetime to the signer.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from kubelite.api import csr as csrs
from kubelite.api import meta, schema
from kubelite.api.printers import AGE_COLUMN, NAME_COLUMN, NONE, PRINTERS, Column, Printer, age_of
from kubelite.api.types import Obj


@functools.cache
def _doc(definition: str, field: str) -> str:
    """A field's description from the OpenAPI definitions (Go's SwaggerDoc)."""
    name = f"io.k8s.api.certificates.v1.{definition}"
    return str(schema.load().definitions[name]["properties"][field].get("description") or "")


def _columns() -> tuple[Column, ...]:
    return (
        NAME_COLUMN,
        AGE_COLUMN,
        Column("SignerName", description=_doc("CertificateSigningRequestSpec", "signerName")),
        Column("Requestor", description=_doc("CertificateSigningRequestSpec", "request")),
        Column(
            "RequestedDuration",
            description=_doc("CertificateSigningRequestSpec", "expirationSeconds"),
        ),
        Column("Condition", description=_doc("CertificateSigningRequestStatus", "conditions")),
    )


def condition_word(csr: Obj) -> str:
    """extractCSRStatus: `Pending`, `Approved`, `Denied`, with `,Failed` and `,Issued`."""
    types = {c.get("type") for c in csrs.conditions(csr)}
    if csrs.DENIED in types:
        status = "Denied"
    elif csrs.APPROVED in types:
        status = "Approved"
    else:
        status = "Pending"
    if csrs.FAILED in types:
        status += ",Failed"
    if csrs.certificate_bytes(csr):
        status += ",Issued"
    return status


def csr_cells(csr: Obj, now: dt.datetime) -> list[Any]:
    spec = csr.get("spec") or {}
    seconds = spec.get("expirationSeconds")
    return [
        meta.name_of(csr),
        age_of(csr, now),
        spec.get("signerName") or NONE,
        spec.get("username") or "",
        meta.human_duration(seconds) if isinstance(seconds, int) else NONE,
        condition_word(csr),
    ]


PRINTERS[(csrs.GROUP, "CertificateSigningRequest")] = Printer(_columns(), csr_cells)
