"""The CSR approving controller: approves kubelets' requests for client certificates.

kube-controller-manager's `csrapproving` (`pkg/controller/certificates/approver/sarapprove.go`).
A pending request to `kubernetes.io/kube-apiserver-client-kubelet` that is shaped like a
kubelet's client certificate (CN `system:node:<name>`, O `system:nodes`, no subjectAltNames,
the kubelet's usages) is approved when its requester may create
`certificatesigningrequests/selfnodeclient` (a node renewing its own certificate) or
`certificatesigningrequests/nodeclient` (a bootstrap identity asking for a node), as a
SubjectAccessReview of the requester (the username, uid, groups and extra the API server wrote
into the spec) answers. Nothing else is ever approved here: the other signers' requests wait
for a person.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

from cryptography import x509

from kubelite.api import csr as csrs
from kubelite.api.resources import CERTIFICATE_SIGNING_REQUESTS, SUBJECT_ACCESS_REVIEWS
from kubelite.api.types import Obj
from kubelite.client.errors import APINotFoundError
from kubelite.client.informer import key_of
from kubelite.controllers.certificate_controller import CertificateController

log = logging.getLogger(__name__)

APPROVED_REASON = "AutoApproved"


@dataclass(frozen=True)
class Recognizer:
    """One kind of request the approver knows, and the right its requester must hold."""

    subresource: str
    message: str
    self_only: bool

    def recognizes(self, csr: Obj, request: x509.CertificateSigningRequest) -> bool:
        """isNodeClientCert, and for selfnodeclient the requester being the node itself."""
        spec = csr.get("spec") or {}
        if spec.get("signerName") != csrs.KUBE_APISERVER_CLIENT_KUBELET:
            return False
        if self.self_only and spec.get("username") != csrs.common_name(request):
            return False
        return csrs.is_kubelet_client(request, {str(u) for u in spec.get("usages") or []})


RECOGNIZERS = (
    Recognizer(
        "selfnodeclient",
        "Auto approving self kubelet client certificate after SubjectAccessReview.",
        self_only=True,
    ),
    Recognizer(
        "nodeclient",
        "Auto approving kubelet client certificate after SubjectAccessReview.",
        self_only=False,
    ),
)


class CSRApprovingController(CertificateController):
    """Approves the kubelet client requests whose requesters are allowed to make them."""

    component = "csrapproving"

    async def sync(self, key: str) -> float | None:
        cached = self.requests.get(key)
        if cached is None or csrs.certificate_bytes(cached):
            return None
        approved, denied = csrs.approval_state(cached)
        if approved or denied:
            return None
        try:
            request = csrs.parse_csr(csrs.request_bytes(cached))
        except csrs.CSRError as e:
            log.warning("csr %s: unable to parse: %s", key, e)
            return None
        tried = []
        for recognizer in RECOGNIZERS:
            if not recognizer.recognizes(cached, request):
                continue
            tried.append(recognizer.subresource)
            if await self._allowed(cached, recognizer.subresource):
                await self._approve(cached, recognizer.message)
                return None
        if tried:
            # IgnorableError: said, not retried.
            log.info(
                "csr %s: recognized as %s but subject access review was not approved", key, tried
            )
        return None

    async def _allowed(self, csr: Obj, subresource: str) -> bool:
        spec = csr.get("spec") or {}
        review_spec: Obj = {
            "user": spec.get("username") or "",
            "resourceAttributes": {
                "group": csrs.GROUP,
                "resource": "certificatesigningrequests",
                "verb": "create",
                "subresource": subresource,
            },
        }
        for key in ("uid", "groups", "extra"):
            if spec.get(key):
                review_spec[key] = spec[key]
        review = await self.client.create(
            SUBJECT_ACCESS_REVIEWS,
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": review_spec,
            },
        )
        return bool((review.get("status") or {}).get("allowed"))

    async def _approve(self, cached: Obj, message: str) -> None:
        csr = copy.deepcopy(cached)
        csr.setdefault("status", {}).setdefault("conditions", []).append(
            {
                "type": csrs.APPROVED,
                "status": "True",
                "reason": APPROVED_REASON,
                "message": message,
            }
        )
        try:
            await self.client.update(CERTIFICATE_SIGNING_REQUESTS, csr, subresource="approval")
        except APINotFoundError:
            return
        log.info("csr %s: approved (%s)", key_of(cached), message)
