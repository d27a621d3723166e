"""The admission plugins of CertificateSigningRequests (`plugin/pkg/admission/certificates`).

Being allowed to write a CSR's subresources is not enough to approve or sign one: that would
make everyone who may update `certificatesigningrequests/approval` an approver for every
signer, the cluster CA included. So, as in Kubernetes:

- CertificateApproval: a write to `/approval` needs the `approve` verb on the synthetic
  resource `signers` of certificates.k8s.io, named for the request's signerName, or for
  `<domain>/*` (every signer of that domain);
- CertificateSigning: a `/status` write that changes the certificate or the conditions needs
  `sign` on the same;
- CertificateSubjectRestriction: a request to `kubernetes.io/kube-apiserver-client` may not ask
  for the `system:masters` group, which holds every right whatever RBAC says.

The first two ask the server's authorizer, and are left out when authorization is off (as the
RBAC escalation check is); the last needs no authorizer. A write with no user (the server's own)
is not checked.
"""

from __future__ import annotations

from kubelite.api import csr as csrs
from kubelite.api import errors, meta
from kubelite.api.goformat import go_quote
from kubelite.api.kinds import ResourceType
from kubelite.api.types import Obj
from kubelite.apiserver.auth import User, current_request, current_user
from kubelite.apiserver.rbac.authorizer import Attributes, Authorizer

SIGNERS = "signers"
_MASTERS = "system:masters"


def authorized_for_signer(authorizer: Authorizer, user: User, verb: str, signer: str) -> bool:
    """IsAuthorizedForSignerName: `verb` on the signer by name, or on `<domain>/*`."""
    for name in (signer, signer.split("/")[0] + "/*"):
        attrs = Attributes(user, verb, True, "", csrs.GROUP, "*", SIGNERS, "", name)
        if authorizer.allowed(attrs):
            return True
    return False


def _subresource() -> str:
    info = current_request.get()
    return info.subresource if info is not None else ""


def _forbidden(resource: ResourceType, obj: Obj, message: str) -> errors.StatusError:
    """admission.NewForbidden: the resource and name, without the subresource."""
    return errors.forbidden(resource.plural, meta.name_of(obj), message, resource.group)


def _signer_of(obj: Obj) -> str:
    return str((obj.get("spec") or {}).get("signerName") or "")


class CertificateApproval:
    """Holds `/approval` writes to the `approve` verb on the request's signer."""

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    async def __call__(
        self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        if operation != "UPDATE" or old is None or _subresource() != "approval":
            return
        user = current_user.get()
        if user is None:
            return
        # The stored signer: the write may not change it, and must not be judged by it.
        signer = _signer_of(old)
        if not authorized_for_signer(self.authorizer, user, "approve", signer):
            raise _forbidden(
                resource,
                old,
                f"user not permitted to approve requests with signerName {go_quote(signer)}",
            )


class CertificateSigning:
    """Holds `/status` writes that change the certificate or conditions to `sign`."""

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    async def __call__(
        self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        if operation != "UPDATE" or old is None or _subresource() != "status":
            return
        if csrs.certificate_bytes(obj) == csrs.certificate_bytes(old) and csrs.conditions(
            obj
        ) == csrs.conditions(old):
            return
        user = current_user.get()
        if user is None:
            return
        signer = _signer_of(old)
        if not authorized_for_signer(self.authorizer, user, "sign", signer):
            raise _forbidden(
                resource,
                old,
                f"user not permitted to sign requests with signerName {go_quote(signer)}",
            )


async def subject_restriction(
    operation: str, resource: ResourceType, obj: Obj, old: Obj | None
) -> None:
    """CertificateSubjectRestriction: no `system:masters` from the kube-apiserver-client
    signer."""
    if operation != "CREATE" or _subresource() or _signer_of(obj) != csrs.KUBE_APISERVER_CLIENT:
        return
    try:
        request = csrs.parse_csr(csrs.request_bytes(obj))
    except csrs.CSRError as e:
        raise _forbidden(resource, obj, f"failed to parse CSR: {e}") from None
    if _MASTERS in csrs.organizations(request):
        raise _forbidden(
            resource,
            obj,
            f"use of {csrs.KUBE_APISERVER_CLIENT} signer with system:masters group is not allowed",
        )
