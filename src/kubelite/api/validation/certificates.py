"""Validation of certificates.k8s.io/v1 CertificateSigningRequests
(`pkg/apis/certificates/validation`).

A request must carry a PEM `CERTIFICATE REQUEST` whose signature checks out, name a qualified
signer and at least one known usage, ask for no less than ten minutes, and keep its conditions
sane (Approved and Denied exclusive, each type once, Approved/Denied/Failed only True). Updates
may not remove those three conditions; only `/approval` may add or change Approved and Denied,
and only `/status` may set the certificate, once.

Kubernetes tolerates, on update, a problem the stored object already had (an old v1beta1
object's legacy signer, duplicate conditions, ...): `Options.for_update` works that out from
the stored object, as `getValidationOptions` does.

Bad values are printed as Go prints them: the request is a `[]byte`, so its error reads
`Invalid value: []byte{0x2d, 0x2d, ...}` as kubectl users see it from Kubernetes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from cryptography import x509

from kubelite.api import csr as csrs
from kubelite.api.errors import (
    FieldError,
    GoPrinted,
    duplicate,
    forbidden_field,
    invalid,
    not_supported,
    required,
    too_long,
)
from kubelite.api.goformat import go_quote
from kubelite.api.types import Obj
from kubelite.api.validation import names

# pkg/apis/certificates/validation: the shortest certificate one may ask for.
MIN_EXPIRATION_SECONDS = 600
_TRUE_ONLY_TYPES = (csrs.APPROVED, csrs.DENIED, csrs.FAILED)
_ALL_STATUSES = ("False", "True", "Unknown")
_SORTED_USAGES = tuple(sorted(csrs.KEY_USAGES))


@dataclass(frozen=True)
class GoBytes(GoPrinted):
    """A `[]byte` bad value, as field.Error prints it (%#v): `[]byte{0x2d, 0x2d}`."""

    data: bytes | None

    def __str__(self) -> str:
        if self.data is None:
            return "[]byte(nil)"
        return "[]byte{" + ", ".join(f"0x{b:x}" for b in self.data) + "}"


@dataclass(frozen=True)
class Options:
    """certificateValidationOptions: what a write path may do, and old problems tolerated."""

    allow_setting_approval_conditions: bool = False
    allow_setting_certificate: bool = False
    allow_both_approved_and_denied: bool = False
    allow_legacy_signer_name: bool = False
    allow_duplicate_condition_types: bool = False
    allow_empty_condition_type: bool = False
    allow_arbitrary_certificate: bool = False
    allow_unknown_usages: bool = False
    allow_duplicate_usages: bool = False

    @classmethod
    def for_update(cls, new: Obj, old: Obj | None) -> Options:
        """getValidationOptions: on create nothing is tolerated; on update, what `old` has."""
        if old is None:
            return cls()
        types = [c.get("type") or "" for c in csrs.conditions(old)]
        usages = _usages(old)
        same_certificate = csrs.certificate_bytes(new) == csrs.certificate_bytes(old)
        return cls(
            allow_both_approved_and_denied=csrs.APPROVED in types and csrs.DENIED in types,
            allow_legacy_signer_name=_spec(old).get("signerName") == csrs.LEGACY_UNKNOWN,
            allow_duplicate_condition_types=len(set(types)) != len(types),
            allow_empty_condition_type="" in types,
            allow_arbitrary_certificate=same_certificate
            or bool(validate_certificate(csrs.certificate_bytes(old))),
            allow_unknown_usages=any(u not in csrs.KEY_USAGES for u in usages),
            allow_duplicate_usages=len(set(usages)) != len(usages),
        )


def _spec(csr: Obj) -> Obj:
    spec = csr.get("spec")
    return spec if isinstance(spec, dict) else {}


def _usages(csr: Obj) -> list[str]:
    return [str(u) for u in _spec(csr).get("usages") or []]


def check_request(pem: bytes | None) -> x509.CertificateSigningRequest:
    """validateCSR: the request parses and its signature is the requester's key's."""
    request = csrs.parse_csr(pem)
    csrs.check_signature(request)
    return request


def validate_certificate(pem: bytes) -> str:
    """validateCertificate: empty, or only CERTIFICATE blocks without headers that parse;
    the problem, or "" when there is none."""
    if not pem:
        return ""
    blocks = 0
    while True:
        block, rest = csrs.pem_decode(pem)
        if block is None:
            break
        if block.type != "CERTIFICATE":
            return f"only CERTIFICATE PEM blocks are allowed, found {go_quote(block.type)}"
        if block.has_headers:
            return "no PEM block headers are permitted"
        blocks += 1
        try:
            x509.load_der_x509_certificate(block.data)
        except ValueError as e:
            return f"x509: malformed certificate: {e}"
        pem = rest
    if blocks == 0:
        return "must contain at least one CERTIFICATE PEM block"
    return ""


def validate_signer_name(path: str, signer: str) -> list[FieldError]:
    """ValidateSignerName: `<domain with a dot>/<path>`, within Kubernetes' lengths."""
    if not signer:
        return [required(path)]
    segments = signer.split("/")
    if len(segments) != 2:
        return [
            invalid(
                path,
                signer,
                "must be a fully qualified domain and path of the form 'example.com/signer-name'",
            )
        ]
    domain, rest = segments
    errs: list[FieldError] = []
    if len(domain) > names.DNS1123_SUBDOMAIN_MAX:
        errs.append(too_long(path, names.DNS1123_SUBDOMAIN_MAX))
    domain_labels = domain.split(".")
    for label in domain_labels:
        problems = names.is_dns1123_label(label)
        if problems:
            errs += [
                invalid(path, domain, f"validating label {go_quote(label)}: {p}") for p in problems
            ]
            break
    if len(domain_labels) < 2:
        errs.append(
            invalid(path, domain, "should be a domain with at least two segments separated by dots")
        )
    for label in rest.split("."):
        problems = names.is_dns1123_subdomain(label)
        if problems:
            errs += [
                invalid(path, rest, f"validating label {go_quote(label)}: {p}") for p in problems
            ]
            break
    max_length = names.DNS1123_SUBDOMAIN_MAX * 2 + names.DNS1123_LABEL_MAX + 2
    if len(signer) > max_length:
        errs.append(too_long(path, max_length))
    return errs


def validate_csr(csr: Obj, opts: Options) -> list[FieldError]:
    """validateCertificateSigningRequest without ObjectMeta (the strategy adds that first)."""
    spec = _spec(csr)
    errs: list[FieldError] = []
    pem = csrs.request_bytes(csr)
    try:
        check_request(pem)
    except csrs.CSRError as e:
        errs.append(invalid("spec.request", GoBytes(pem), str(e)))
    usages = _usages(csr)
    if not usages:
        errs.append(required("spec.usages"))
    if not opts.allow_unknown_usages:
        for i, usage in enumerate(usages):
            if usage not in csrs.KEY_USAGES:
                errs.append(not_supported(f"spec.usages[{i}]", usage, _SORTED_USAGES))
    if not opts.allow_duplicate_usages:
        seen: set[str] = set()
        for i, usage in enumerate(usages):
            if usage in seen:
                errs.append(duplicate(f"spec.usages[{i}]", usage))
            seen.add(usage)
    signer = str(spec.get("signerName") or "")
    if not opts.allow_legacy_signer_name and signer == csrs.LEGACY_UNKNOWN:
        errs.append(
            invalid(
                "spec.signerName",
                signer,
                "the legacy signerName is not allowed via this API version",
            )
        )
    else:
        errs += validate_signer_name("spec.signerName", signer)
    seconds = spec.get("expirationSeconds")
    if isinstance(seconds, int) and seconds < MIN_EXPIRATION_SECONDS:
        errs.append(
            invalid(
                "spec.expirationSeconds",
                seconds,
                "may not specify a duration less than 600 seconds (10 minutes)",
            )
        )
    errs += _validate_conditions(csr, opts)
    if not opts.allow_arbitrary_certificate:
        problem = validate_certificate(csrs.certificate_bytes(csr))
        if problem:
            errs.append(invalid("status.certificate", "<certificate data>", problem))
    return errs


def _validate_conditions(csr: Obj, opts: Options) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    approved = denied = False
    for i, condition in enumerate(csrs.conditions(csr)):
        path = f"status.conditions[{i}]"
        kind = str(condition.get("type") or "")
        status = str(condition.get("status") or "")
        if not opts.allow_empty_condition_type and not kind:
            errs.append(required(f"{path}.type"))
        allowed = ("True",) if kind in _TRUE_ONLY_TYPES else _ALL_STATUSES
        if not status:
            errs.append(required(f"{path}.status"))
        elif status not in allowed:
            errs.append(not_supported(f"{path}.status", status, allowed))
        if not opts.allow_both_approved_and_denied:
            if kind == csrs.APPROVED:
                approved = True
                if denied:
                    errs.append(invalid(f"{path}.type", kind, _EXCLUSIVE))
            elif kind == csrs.DENIED:
                denied = True
                if approved:
                    errs.append(invalid(f"{path}.type", kind, _EXCLUSIVE))
        if not opts.allow_duplicate_condition_types:
            if kind in seen:
                errs.append(duplicate(f"{path}.type", kind))
            seen.add(kind)
    return errs


_EXCLUSIVE = "Approved and Denied conditions are mutually exclusive"


def _of_type(csr: Obj, kind: str) -> list[Obj]:
    return [c for c in csrs.conditions(csr) if c.get("type") == kind]


def validate_update(new: Obj, old: Obj, opts: Options) -> list[FieldError]:
    """The rules of validateCertificateSigningRequestUpdate beyond the object's own: no
    removed Approved/Denied/Failed condition; Approved and Denied only through /approval; the
    certificate only through /status, and only once."""
    errs: list[FieldError] = []
    for kind in (csrs.APPROVED, csrs.DENIED, csrs.FAILED):
        if len(_of_type(new, kind)) < len(_of_type(old, kind)):
            errs.append(
                forbidden_field(
                    "status.conditions", f'updates may not remove a condition of type "{kind}"'
                )
            )
    if not opts.allow_setting_approval_conditions:
        for kind in (csrs.APPROVED, csrs.DENIED):
            before, after = _of_type(old, kind), _of_type(new, kind)
            if len(after) > len(before):
                errs.append(
                    forbidden_field(
                        "status.conditions", f'updates may not add a condition of type "{kind}"'
                    )
                )
            elif len(after) == len(before) and after != before:
                errs.append(
                    forbidden_field(
                        "status.conditions",
                        f'updates may not modify a condition of type "{kind}"\n'
                        + _condition_diff(before, after),
                    )
                )
    if csrs.certificate_bytes(new) != csrs.certificate_bytes(old):
        if not opts.allow_setting_certificate:
            errs.append(
                forbidden_field("status.certificate", "updates may not set certificate content")
            )
        elif csrs.certificate_bytes(old):
            errs.append(
                forbidden_field(
                    "status.certificate", "updates may not modify existing certificate content"
                )
            )
    return errs


def _condition_diff(before: list[Obj], after: list[Obj]) -> str:
    """A readable account of what changed (Kubernetes prints go-cmp's diff here)."""
    lines = []
    for old, new in zip(before, after, strict=True):
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                lines.append(f"-\t{key}: {json.dumps(old.get(key))}")
                lines.append(f"+\t{key}: {json.dumps(new.get(key))}")
    return "\n".join(lines)


def options_for_status(new: Obj, old: Obj) -> Options:
    return replace(Options.for_update(new, old), allow_setting_certificate=True)


def options_for_approval(new: Obj, old: Obj) -> Options:
    return replace(Options.for_update(new, old), allow_setting_approval_conditions=True)
