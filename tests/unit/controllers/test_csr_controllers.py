"""csrsigning, csrapproving and csrcleaner: real keys, a real cluster CA in a temporary
directory, and the session's real API server for the controllers' writes."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from csr_fixtures import (
    CLIENT,
    KUBELET_CLIENT,
    KUBELET_SERVING,
    b64,
    condition,
    csr_object,
    request_pem,
)
from testcluster import TestCluster, wait_for

from kubelite.api import csr as csrs
from kubelite.api.resources import CERTIFICATE_SIGNING_REQUESTS as CSRS
from kubelite.apiserver import certs
from kubelite.controllers.csrapproving import CSRApprovingController
from kubelite.controllers.csrcleaner import why_delete
from kubelite.controllers.csrsigning import (
    DEFAULT_SIGNING_DURATION,
    SIGNERS,
    CertificateAuthority,
    ClusterSigningConfig,
    CSRSigningController,
    duration,
)

Obj = dict[str, Any]
NOW = dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.UTC)
KUBELET_USAGES = ["digital signature", "client auth"]
SERVING_USAGES = ["digital signature", "key encipherment", "server auth"]


@pytest.fixture
def pki(tmp_path: Path) -> certs.Pki:
    return certs.ensure(tmp_path / "tls", ["localhost"], ["127.0.0.1"])


@pytest.fixture
def authority(pki: certs.Pki) -> CertificateAuthority:
    return CertificateAuthority.load(pki.ca_cert, pki.ca_key)


def parsed(pem: bytes) -> x509.CertificateSigningRequest:
    return csrs.parse_csr(pem)


# --- the signer ---------------------------------------------------------------------------------


def test_issued_certificate_names_the_requester_and_is_signed_by_the_ca(
    authority: CertificateAuthority,
) -> None:
    pem = authority.sign(
        parsed(request_pem("jane", "dev", "ops")),
        ["digital signature", "key encipherment", "client auth"],
        dt.timedelta(days=1),
        NOW,
    )
    cert = x509.load_pem_x509_certificate(pem)
    cert.verify_directly_issued_by(authority.certificate)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "jane"
    organizations = [
        a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    ]
    assert organizations == ["dev", "ops"]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.key_encipherment
    extended = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(extended) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca is False


def test_long_certificates_are_backdated_five_minutes_at_both_ends(
    authority: CertificateAuthority,
) -> None:
    pem = authority.sign(parsed(request_pem("a")), ["client auth"], dt.timedelta(days=1), NOW)
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.not_valid_before_utc == NOW - dt.timedelta(minutes=5)
    assert cert.not_valid_after_utc == NOW + dt.timedelta(days=1) - dt.timedelta(minutes=5)


def test_short_certificates_keep_their_whole_length(authority: CertificateAuthority) -> None:
    pem = authority.sign(parsed(request_pem("a")), ["client auth"], dt.timedelta(hours=1), NOW)
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.not_valid_before_utc == NOW - dt.timedelta(minutes=5)
    assert cert.not_valid_after_utc == NOW + dt.timedelta(hours=1)


def test_no_certificate_outlives_the_ca(authority: CertificateAuthority) -> None:
    pem = authority.sign(parsed(request_pem("a")), ["client auth"], dt.timedelta(days=9999), NOW)
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.not_valid_after_utc == authority.certificate.not_valid_after_utc


def test_serving_certificates_carry_the_requested_names(authority: CertificateAuthority) -> None:
    request = parsed(request_pem("system:node:n1", "system:nodes", dns=("n1",), ips=("10.0.0.7",)))
    cert = x509.load_pem_x509_certificate(
        authority.sign(request, SERVING_USAGES, dt.timedelta(days=1), NOW)
    )
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["n1"]
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.7"]


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (None, DEFAULT_SIGNING_DURATION),
        (3600, dt.timedelta(hours=1)),
        (600, dt.timedelta(minutes=10)),
        (10**9, DEFAULT_SIGNING_DURATION),
    ],
)
def test_duration_is_the_request_within_the_signer_maximum(
    seconds: int | None, expected: dt.timedelta
) -> None:
    assert duration(seconds, DEFAULT_SIGNING_DURATION) == expected


@pytest.mark.parametrize(
    ("signer", "pem", "usages", "message"),
    [
        (
            CLIENT,
            request_pem("a"),
            ["server auth", "client auth"],
            "invalid usage for client certificate: server auth",
        ),
        (
            CLIENT,
            request_pem("a"),
            ["digital signature"],
            "missing required usage for client certificate: client auth",
        ),
        (
            KUBELET_CLIENT,
            request_pem("system:node:n", "dev"),
            KUBELET_USAGES,
            "subject organization is not system:nodes",
        ),
        (
            KUBELET_CLIENT,
            request_pem("n", "system:nodes"),
            KUBELET_USAGES,
            "subject common name does not begin with system:node:",
        ),
        (
            KUBELET_CLIENT,
            request_pem("system:node:n", "system:nodes", dns=("n",)),
            KUBELET_USAGES,
            "DNS subjectAltNames are not allowed",
        ),
        (
            KUBELET_CLIENT,
            request_pem("system:node:n", "system:nodes"),
            ["client auth"],
            "usages did not match [client auth digital signature key encipherment]",
        ),
        (
            KUBELET_SERVING,
            request_pem("system:node:n", "system:nodes"),
            SERVING_USAGES,
            "DNS or IP subjectAltName is required",
        ),
        (
            KUBELET_SERVING,
            request_pem("system:node:n", "system:nodes", dns=("n",)),
            ["server auth"],
            "usages did not match [digital signature key encipherment server auth]",
        ),
    ],
)
def test_each_signer_refuses_what_it_does_not_issue(
    signer: str, pem: bytes, usages: list[str], message: str
) -> None:
    with pytest.raises(csrs.CSRError) as refused:
        SIGNERS[signer](parsed(pem), usages)
    assert str(refused.value) == message


# --- the controllers, against the real server ---------------------------------------------------


async def approved(kube: TestCluster, obj: Obj) -> Obj:
    made = await kube.create(CSRS, obj)
    made.setdefault("status", {})["conditions"] = [condition("Approved", "Test")]
    return await kube.client.update(CSRS, made, subresource="approval")


@pytest.fixture
async def signing(kube: TestCluster, pki: certs.Pki) -> AsyncIterator[CSRSigningController]:
    controller = CSRSigningController(kube.client, ClusterSigningConfig(pki.ca_cert, pki.ca_key))
    task = asyncio.create_task(controller.run())
    try:
        yield controller
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await controller.informers.stop()


async def test_an_approved_request_is_issued_from_the_ca(
    kube: TestCluster, signing: CSRSigningController
) -> None:
    name = f"{kube.namespace}-jane"
    await approved(kube, csr_object(name, request_pem("jane", "dev"), expiration_seconds=3600))

    async def issued() -> bool:
        return bool(csrs.certificate_bytes(await kube.client.get(CSRS, name)))

    await wait_for(issued, what="the certificate")
    got = await kube.client.get(CSRS, name)
    cert = x509.load_pem_x509_certificate(base64.b64decode(got["status"]["certificate"]))
    cert.verify_directly_issued_by(signing.authority.certificate)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime == dt.timedelta(hours=1, minutes=5)


async def test_a_request_the_signer_refuses_is_marked_failed(
    kube: TestCluster, signing: CSRSigningController
) -> None:
    name = f"{kube.namespace}-serving"
    await approved(
        kube,
        csr_object(
            name,
            request_pem("web", "dev", dns=("web",)),
            signer=KUBELET_SERVING,
            usages=SERVING_USAGES,
        ),
    )

    async def failed() -> bool:
        return csrs.has_true_condition(await kube.client.get(CSRS, name), csrs.FAILED)

    await wait_for(failed, what="the Failed condition")
    got = await kube.client.get(CSRS, name)
    fail = next(c for c in got["status"]["conditions"] if c["type"] == "Failed")
    assert fail["reason"] == "SignerValidationFailure"
    assert fail["message"] == "subject organization is not system:nodes"
    assert "certificate" not in got["status"]


async def test_a_pending_request_is_not_signed(
    kube: TestCluster, signing: CSRSigningController
) -> None:
    name = f"{kube.namespace}-pending"
    await kube.create(CSRS, csr_object(name, request_pem("p")))
    other = f"{kube.namespace}-after"
    await approved(kube, csr_object(other, request_pem("q")))

    async def after_issued() -> bool:
        return bool(csrs.certificate_bytes(await kube.client.get(CSRS, other)))

    # The later, approved request is issued; the pending one, looked at first, is not.
    await wait_for(after_issued, what="the approved request's certificate")
    assert not csrs.certificate_bytes(await kube.client.get(CSRS, name))


async def test_kubelet_client_requests_of_an_allowed_requester_are_auto_approved(
    kube: TestCluster,
) -> None:
    node = f"{kube.namespace}-node"
    kubelet = f"{kube.namespace}-kubelet"
    await kube.create(
        CSRS,
        csr_object(
            kubelet,
            request_pem(f"system:node:{node}", "system:nodes"),
            signer=KUBELET_CLIENT,
            usages=KUBELET_USAGES,
        ),
    )
    person = f"{kube.namespace}-person"
    await kube.create(CSRS, csr_object(person, request_pem("someone")))
    controller = CSRApprovingController(kube.client)
    task = asyncio.create_task(controller.run())
    try:

        async def auto_approved() -> bool:
            return csrs.is_approved(await kube.client.get(CSRS, kubelet))

        await wait_for(auto_approved, what="the kubelet's request approved")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await controller.informers.stop()
    got = await kube.client.get(CSRS, kubelet)
    (approval,) = got["status"]["conditions"]
    assert approval["reason"] == "AutoApproved"
    # The session's client is the admin, who holds certificatesigningrequests/nodeclient
    # but is not the node: the nodeclient recognizer approves.
    assert approval["message"] == (
        "Auto approving kubelet client certificate after SubjectAccessReview."
    )
    # A person's request waits for a person.
    assert csrs.conditions(await kube.client.get(CSRS, person)) == []


# --- the cleaner ---------------------------------------------------------------------------------


def _at(delta: dt.timedelta) -> str:
    return (NOW - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def _csr(created: dt.timedelta, *conds: Obj, certificate: bytes = b"") -> Obj:
    obj = csr_object("c", request_pem("c"))
    obj["metadata"]["creationTimestamp"] = _at(created)
    obj["status"] = {"conditions": list(conds)}
    if certificate:
        obj["status"]["certificate"] = b64(certificate)
    return obj


HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)


def test_cleaner_deletes_as_kubernetes_does(authority: CertificateAuthority) -> None:
    valid = authority.sign(parsed(request_pem("c")), ["client auth"], dt.timedelta(days=30), NOW)
    expired = authority.sign(
        parsed(request_pem("c")), ["client auth"], dt.timedelta(days=1), NOW - dt.timedelta(days=3)
    )
    approved_at = lambda d: condition("Approved", at=_at(d))  # noqa: E731
    cases = [
        (
            _csr(2 * HOUR, approved_at(61 * MINUTE), certificate=valid),
            "it is more than 1h0m0s old and approved",
        ),
        (_csr(2 * HOUR, approved_at(59 * MINUTE), certificate=valid), None),
        # Approved but never issued: only age as pending would count, and it has a condition.
        (_csr(48 * HOUR, approved_at(47 * HOUR)), None),
        (
            _csr(2 * HOUR, condition("Denied", at=_at(61 * MINUTE))),
            "it is more than 1h0m0s old and denied",
        ),
        (
            _csr(2 * HOUR, condition("Failed", at=_at(61 * MINUTE))),
            "it is more than 1h0m0s old and failed",
        ),
        (_csr(25 * HOUR), "it is more than 24h0m0s old and unhandled"),
        (_csr(23 * HOUR), None),
        (
            _csr(2 * HOUR, approved_at(30 * MINUTE), certificate=expired),
            "the associated certificate is expired",
        ),
    ]
    for obj, reason in cases:
        assert why_delete(obj, NOW) == reason, obj["status"]
