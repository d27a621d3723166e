"""PersistentVolumeClaims and ControllerRevisions: defaults, field errors, what may change."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.strategies.apps import ControllerRevisionStrategy, StatefulSetStrategy
from kubelite.api.strategies.core import PersistentVolumeClaimStrategy
from kubelite.api.strategy import Strategy

Obj = dict[str, Any]


def claim(**spec: Any) -> Obj:
    body: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    body.update(spec)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "default"},
        "spec": body,
    }


def revision(data: Any = None, number: int = 1) -> Obj:
    body: Obj = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": "web-5d8f9c", "namespace": "default"},
        "revision": number,
    }
    if data is not None:
        body["data"] = data
    return body


def created(strategy: Strategy, obj: Obj) -> Obj:
    strategy.default(obj)
    strategy.prepare_for_create(obj)
    return obj


def errors(strategy: Strategy, obj: Obj) -> list[str]:
    return [str(e) for e in strategy.validate(obj)]


def update_errors(strategy: Strategy, new: Obj, old: Obj) -> list[str]:
    strategy.default(new)
    strategy.prepare_for_update(new, old)
    return [str(e) for e in strategy.validate_update(new, old)]


# --- PersistentVolumeClaim ----------------------------------------------------------------------


def test_a_new_claim_is_pending_and_asks_for_a_filesystem() -> None:
    strategy = PersistentVolumeClaimStrategy()
    sent = claim()
    sent["status"] = {"phase": "Bound"}  # what a client sends is reset on create
    obj = created(strategy, sent)
    assert obj["status"] == {"phase": "Pending"}
    assert obj["spec"]["volumeMode"] == "Filesystem"
    assert errors(strategy, obj) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"accessModes": []},
            ["spec.accessModes: Required value: at least 1 access mode is required"],
        ),
        (
            {"accessModes": ["ReadWriteSometimes"]},
            [
                'spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: '
                '"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"'
            ],
        ),
        (
            {"accessModes": ["ReadWriteOncePod", "ReadOnlyMany"]},
            ["spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes"],
        ),
        ({"resources": {}}, ["spec.resources[storage]: Required value"]),
        (
            {"resources": {"requests": {"storage": "0"}}},
            ['spec.resources[storage]: Invalid value: "0": must be greater than zero'],
        ),
        (
            {"storageClassName": "Fast_Disks"},
            [
                'spec.storageClassName: Invalid value: "Fast_Disks": a lowercase RFC 1123 '
                "subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                "must start and end with an alphanumeric character (e.g. 'example.com', regex "
                "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
                "[a-z0-9])?)*')"
            ],
        ),
        (
            {"volumeMode": "Tape"},
            ['spec.volumeMode: Unsupported value: "Tape": supported values: "Block", "Filesystem"'],
        ),
    ],
)
def test_claim_field_errors(spec: Obj, expected: list[str]) -> None:
    strategy = PersistentVolumeClaimStrategy()
    assert errors(strategy, created(strategy, claim(**spec))) == expected


def test_a_claims_spec_is_immutable_but_its_request_may_grow() -> None:
    strategy = PersistentVolumeClaimStrategy()
    old = created(strategy, claim())
    old["metadata"].update(uid="c-1", resourceVersion="3", creationTimestamp="2025-06-01T12:00:00Z")

    changed = copy.deepcopy(old)
    changed["spec"]["accessModes"] = ["ReadWriteMany"]
    assert update_errors(strategy, changed, old) == [
        "spec: Forbidden: spec is immutable after creation except resources.requests and "
        "volumeAttributesClassName for bound claims"
    ]

    bound = copy.deepcopy(old)
    bound["status"] = {"phase": "Bound"}
    grown = copy.deepcopy(bound)
    grown["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert update_errors(strategy, grown, bound) == []
    shrunk = copy.deepcopy(bound)
    shrunk["spec"]["resources"]["requests"]["storage"] = "512Mi"
    assert update_errors(strategy, shrunk, bound) == [
        "spec.resources.requests.storage: Forbidden: field can not be less than previous value"
    ]

    named = copy.deepcopy(old)
    named["spec"]["volumeName"] = "pv-1"  # the binder may set it once
    assert update_errors(strategy, named, old) == []


def test_a_status_write_keeps_the_spec() -> None:
    strategy = PersistentVolumeClaimStrategy()
    old = created(strategy, claim())
    new = copy.deepcopy(old)
    new["spec"]["accessModes"] = ["ReadOnlyMany"]
    new["status"] = {"phase": "Bound"}
    strategy.prepare_for_status_update(new, old)
    assert new["spec"] == old["spec"]
    assert new["status"] == {"phase": "Bound"}


def test_stateful_set_claim_templates_get_the_claim_defaults() -> None:
    template = {"metadata": {"name": "data"}, "spec": claim()["spec"]}
    sts: Obj = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"serviceName": "web", "volumeClaimTemplates": [template]},
    }
    StatefulSetStrategy().default(sts)
    (defaulted,) = sts["spec"]["volumeClaimTemplates"]
    assert defaulted["apiVersion"] == "v1"
    assert defaulted["kind"] == "PersistentVolumeClaim"
    assert defaulted["spec"]["volumeMode"] == "Filesystem"
    assert defaulted["status"] == {"phase": "Pending"}


# --- ControllerRevision -------------------------------------------------------------------------


def test_a_revision_needs_data_and_a_number_not_below_zero() -> None:
    strategy = ControllerRevisionStrategy()
    assert errors(strategy, created(strategy, revision({"spec": {}}))) == []
    assert errors(strategy, created(strategy, revision())) == [
        "data: Required value: data is mandatory"
    ]
    assert errors(strategy, created(strategy, revision({"spec": {}}, -1))) == [
        "revision: Invalid value: -1: must be greater than or equal to 0"
    ]


def test_a_revisions_number_may_change_its_data_not() -> None:
    strategy = ControllerRevisionStrategy()
    old = created(strategy, revision({"spec": {"template": {"a": 1}}}, 1))
    old["metadata"].update(uid="r-1", resourceVersion="3", creationTimestamp="2025-06-01T12:00:00Z")

    renumbered = copy.deepcopy(old)
    renumbered["revision"] = 4
    assert update_errors(strategy, renumbered, old) == []

    rewritten = copy.deepcopy(old)
    rewritten["data"] = {"spec": {"template": {"a": 2}}}
    assert update_errors(strategy, rewritten, old) == [
        'data: Invalid value: {"spec":{"template":{"a":2}}}: field is immutable'
    ]
