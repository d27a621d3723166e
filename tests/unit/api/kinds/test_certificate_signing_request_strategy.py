"""CertificateSigningRequests: validation in Kubernetes' words, and who may change what.

The requester's identity comes from the request's user, never from the body; the spec is
fixed at create; the main resource never changes the status; /approval changes only Approved
and Denied, /status only the certificate (once) and the other conditions.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
from typing import Any

import pytest
from csr_fixtures import (
    CLIENT,
    b64,
    condition,
    csr_object,
    request_pem,
)

from kubelite.api.printers.certificates import condition_word, csr_cells
from kubelite.api.strategies.certificates import CertificateSigningRequestStrategy
from kubelite.api.validation.certificates import GoBytes
from kubelite.apiserver.auth import User, current_user
from kubelite.apiserver.certs import _issue, _name, _new_ca, _pem_cert

Obj = dict[str, Any]
STRATEGY = CertificateSigningRequestStrategy()
AT = "2025-06-01T12:00:00Z"


def messages(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


def stamped(obj: Obj) -> Obj:
    obj["metadata"].update(uid="u-1", resourceVersion="2", creationTimestamp="2025-06-01T12:00:00Z")
    return obj


def created(obj: Obj, user: User | None = None) -> Obj:
    token = current_user.set(user or User("alice", ("dev", "system:authenticated"), uid="a-1"))
    try:
        STRATEGY.prepare_for_create(obj)
    finally:
        current_user.reset(token)
    return stamped(obj)


def good(name: str = "req") -> Obj:
    return csr_object(name, request_pem("alice", "dev"))


def certificate_pem() -> bytes:
    ca, ca_key = _new_ca()
    from cryptography.x509.oid import ExtendedKeyUsageOID

    cert, _ = _issue(ca, ca_key, _name("alice", "dev"), ExtendedKeyUsageOID.CLIENT_AUTH)
    return _pem_cert(cert)


# --- create -------------------------------------------------------------------------------------


def test_create_takes_the_requester_from_the_request_not_the_body() -> None:
    obj = good()
    obj["spec"].update(username="root", uid="0", groups=["system:masters"], extra={"x": ["y"]})
    obj["status"] = {"conditions": [condition("Approved")]}
    user = User("alice", ("dev", "system:authenticated"), uid="a-1", extra=(("scopes", ("a",)),))
    created(obj, user)
    assert obj["spec"]["username"] == "alice"
    assert obj["spec"]["uid"] == "a-1"
    assert obj["spec"]["groups"] == ["dev", "system:authenticated"]
    assert obj["spec"]["extra"] == {"scopes": ["a"]}
    # Nobody creates a request already approved.
    assert obj["status"] == {}
    assert STRATEGY.validate(obj) == []


def test_a_valid_request_passes_and_a_ten_minute_one_too() -> None:
    obj = created(csr_object("r", request_pem("bob"), expiration_seconds=600))
    assert STRATEGY.validate(obj) == []


def test_request_that_is_not_a_certificate_request_is_refused_with_its_bytes() -> None:
    obj = created(
        csr_object("r", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    )
    errs = STRATEGY.validate(obj)
    assert len(errs) == 1
    text = str(errs[0])
    assert text.startswith(
        "spec.request: Invalid value: []byte{0x2d, 0x2d, 0x2d, 0x2d, 0x2d, 0x42,"
    )
    assert text.endswith("}: PEM block type must be CERTIFICATE REQUEST")


def test_missing_request_prints_a_nil_byte_slice() -> None:
    obj = created(csr_object("r", b""))
    del obj["spec"]["request"]
    assert messages(STRATEGY.validate(obj)) == [
        "spec.request: Invalid value: []byte(nil): PEM block type must be CERTIFICATE REQUEST"
    ]
    assert str(GoBytes(b"-A")) == "[]byte{0x2d, 0x41}"


def test_request_whose_signature_does_not_match_is_refused() -> None:
    pem = request_pem("alice")
    der = base64.b64decode("".join(pem.decode().splitlines()[1:-1]))
    # Another subject of the same length: the DER parses, the signature no longer fits it.
    tampered = der.replace(b"alice", b"alicf")
    wrapped = (
        b"-----BEGIN CERTIFICATE REQUEST-----\n"
        + base64.encodebytes(tampered)
        + b"-----END CERTIFICATE REQUEST-----\n"
    )
    obj = created(csr_object("r", wrapped))
    (text,) = messages(STRATEGY.validate(obj))
    assert text.startswith("spec.request: Invalid value: []byte{0x2d, ")
    assert text.endswith("}: x509: ECDSA verification failure")


@pytest.mark.parametrize(
    ("signer", "expected"),
    [
        ("", ["spec.signerName: Required value"]),
        (
            "example",
            [
                'spec.signerName: Invalid value: "example": must be a fully qualified domain and '
                "path of the form 'example.com/signer-name'"
            ],
        ),
        (
            "example/signer",
            [
                'spec.signerName: Invalid value: "example": should be a domain with at least two '
                "segments separated by dots"
            ],
        ),
        (
            "kubernetes.io/legacy-unknown",
            [
                'spec.signerName: Invalid value: "kubernetes.io/legacy-unknown": the legacy '
                "signerName is not allowed via this API version"
            ],
        ),
        (
            "Example.com/x",
            [
                'spec.signerName: Invalid value: "Example.com": validating label "Example": a '
                "lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
                "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
                "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            ],
        ),
    ],
)
def test_signer_names_must_be_qualified(signer: str, expected: list[str]) -> None:
    obj = created(csr_object("r", request_pem("a"), signer=signer))
    assert messages(STRATEGY.validate(obj)) == expected


def test_usages_are_required_known_and_once_each() -> None:
    obj = created(csr_object("r", request_pem("a"), usages=[]))
    assert messages(STRATEGY.validate(obj)) == ["spec.usages: Required value"]
    obj = created(
        csr_object("r", request_pem("a"), usages=["client auth", "flying", "client auth"])
    )
    errs = messages(STRATEGY.validate(obj))
    assert errs[0].startswith(
        'spec.usages[1]: Unsupported value: "flying": supported values: "any", "cert sign", '
        '"client auth", "code signing", "content commitment", "crl sign", "data encipherment",'
    )
    assert errs[1] == 'spec.usages[2]: Duplicate value: "client auth"'


def test_expiration_below_ten_minutes_is_refused() -> None:
    obj = created(csr_object("r", request_pem("a"), expiration_seconds=599))
    assert messages(STRATEGY.validate(obj)) == [
        "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 "
        "seconds (10 minutes)"
    ]


def test_conditions_approved_and_denied_exclusive_true_only_and_no_duplicates() -> None:
    approved = good()
    created(approved)
    old = copy.deepcopy(approved)
    approved["status"] = {
        "conditions": [
            condition("Approved"),
            condition("Denied"),
            {"type": "Failed", "status": "False"},
            {"type": "Custom", "status": "Maybe"},
            {"type": "Custom", "status": "True"},
            {"type": "", "status": ""},
        ]
    }
    errs = messages(STRATEGY.validate_approval(approved, old))
    assert errs == [
        'status.conditions[1].type: Invalid value: "Denied": Approved and Denied conditions are '
        "mutually exclusive",
        'status.conditions[2].status: Unsupported value: "False": supported values: "True"',
        'status.conditions[3].status: Unsupported value: "Maybe": supported values: "False", '
        '"True", "Unknown"',
        'status.conditions[4].type: Duplicate value: "Custom"',
        "status.conditions[5].type: Required value",
        "status.conditions[5].status: Required value",
    ]


# --- update -------------------------------------------------------------------------------------


def test_spec_is_immutable_and_the_main_resource_cannot_change_status() -> None:
    old = created(good())
    new = copy.deepcopy(old)
    new["spec"]["signerName"] = "example.com/other"
    new["spec"]["username"] = "mallory"
    new["status"] = {"conditions": [condition("Approved")], "certificate": b64(b"x")}
    new["metadata"]["labels"] = {"team": "a"}
    STRATEGY.prepare_for_update(new, old)
    assert new["spec"] == old["spec"]
    assert new["status"] == old["status"]
    assert new["metadata"]["labels"] == {"team": "a"}
    assert STRATEGY.validate_update(new, old) == []


def test_approval_changes_only_conditions_and_fills_their_times() -> None:
    old = created(good())
    new = copy.deepcopy(old)
    new["spec"]["signerName"] = "example.com/other"
    new["status"] = {
        "conditions": [condition("Approved", "KubectlApprove")],
        "certificate": b64(b"x"),
    }
    STRATEGY.prepare_for_approval(new, old)
    assert new["spec"] == old["spec"]
    assert "certificate" not in new["status"]
    (approved,) = new["status"]["conditions"]
    assert approved["lastUpdateTime"] and approved["lastTransitionTime"]
    assert STRATEGY.validate_approval(new, old) == []


def test_approval_cannot_remove_approved_once_set() -> None:
    old = created(good())
    old["status"] = {"conditions": [condition("Approved")]}
    new = copy.deepcopy(old)
    new["status"] = {"conditions": []}
    STRATEGY.prepare_for_approval(new, old)
    assert messages(STRATEGY.validate_approval(new, old)) == [
        'status.conditions: Forbidden: updates may not remove a condition of type "Approved"'
    ]


def test_denying_an_approved_request_is_refused() -> None:
    old = created(good())
    old["status"] = {"conditions": [condition("Approved")]}
    new = copy.deepcopy(old)
    new["status"]["conditions"].append(condition("Denied"))
    STRATEGY.prepare_for_approval(new, old)
    assert messages(STRATEGY.validate_approval(new, old)) == [
        'status.conditions[1].type: Invalid value: "Denied": Approved and Denied conditions are '
        "mutually exclusive"
    ]


def test_status_sets_the_certificate_once_and_cannot_approve() -> None:
    old = created(good())
    old["status"] = {"conditions": [condition("Approved", at=AT)]}
    pem = certificate_pem()
    new = copy.deepcopy(old)
    new["status"]["certificate"] = b64(pem)
    STRATEGY.prepare_for_status_update(new, old)
    assert STRATEGY.validate_status_update(new, old) == []
    again = copy.deepcopy(new)
    again["status"]["certificate"] = b64(certificate_pem())
    STRATEGY.prepare_for_status_update(again, new)
    assert messages(STRATEGY.validate_status_update(again, new)) == [
        "status.certificate: Forbidden: updates may not modify existing certificate content"
    ]
    sneaky = copy.deepcopy(old)
    sneaky["status"]["conditions"].append(condition("Denied"))
    STRATEGY.prepare_for_status_update(sneaky, old)
    errs = messages(STRATEGY.validate_status_update(sneaky, old))
    assert 'status.conditions: Forbidden: updates may not add a condition of type "Denied"' in errs


def test_status_keeps_approval_conditions_as_stored_and_adds_failed() -> None:
    old = created(good())
    old["status"] = {"conditions": [condition("Approved", "Admin", at=AT)]}
    new = copy.deepcopy(old)
    new["status"]["conditions"][0]["reason"] = "Changed"
    new["status"]["conditions"].append(condition("Failed", "SignerValidationFailure"))
    STRATEGY.prepare_for_status_update(new, old)
    assert new["status"]["conditions"][0]["reason"] == "Admin"
    assert STRATEGY.validate_status_update(new, old) == []


def test_main_resource_and_approval_cannot_set_a_certificate() -> None:
    old = created(good())
    new = copy.deepcopy(old)
    new["status"] = {"certificate": b64(certificate_pem())}
    # Straight to validation, as if preparation had let it through.
    assert messages(STRATEGY.validate_update(new, old)) == [
        "status.certificate: Forbidden: updates may not set certificate content"
    ]


def test_certificate_must_be_certificate_pem() -> None:
    old = created(good())
    new = copy.deepcopy(old)
    new["status"] = {"certificate": b64(b"not pem")}
    assert messages(STRATEGY.validate_status_update(new, old)) == [
        'status.certificate: Invalid value: "<certificate data>": must contain at least one '
        "CERTIFICATE PEM block"
    ]
    new["status"] = {"certificate": b64(request_pem("x"))}
    assert messages(STRATEGY.validate_status_update(new, old)) == [
        'status.certificate: Invalid value: "<certificate data>": only CERTIFICATE PEM blocks '
        'are allowed, found "CERTIFICATE REQUEST"'
    ]


def test_signer_name_is_selectable() -> None:
    assert STRATEGY.selectable_fields(good()) == {"spec.signerName": CLIENT}


# --- kubectl get csr ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "certificate", "word"),
    [
        ([], False, "Pending"),
        (["Approved"], False, "Approved"),
        (["Approved"], True, "Approved,Issued"),
        (["Approved", "Failed"], False, "Approved,Failed"),
        (["Denied"], False, "Denied"),
        (["Approved", "Denied"], False, "Denied"),
    ],
)
def test_condition_column(conditions: list[str], certificate: bool, word: str) -> None:
    obj = good()
    obj["status"] = {"conditions": [condition(c) for c in conditions]}
    if certificate:
        obj["status"]["certificate"] = b64(b"x")
    assert condition_word(obj) == word


def test_row_shows_signer_requestor_and_duration() -> None:
    obj = created(csr_object("r", request_pem("a"), expiration_seconds=3600))
    now = dt.datetime(2025, 6, 1, 12, 5, tzinfo=dt.UTC)
    assert csr_cells(obj, now) == ["r", "5m", CLIENT, "alice", "60m", "Pending"]
    del obj["spec"]["expirationSeconds"]
    assert csr_cells(obj, now)[4] == "<none>"
