"""ObjectMeta validation: names by rule, generateName, labels, annotations, owners, immutability."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.validation import names
from kubelite.api.validation.objectmeta import (
    go_string_map,
    go_strings,
    go_time,
    name_is_path_segment,
    reconcile_namespace,
    validate_object_meta,
    validate_object_meta_update,
)

Obj = dict[str, Any]

SUBDOMAIN_ERROR = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_ERROR = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def obj(**md: Any) -> Obj:
    return {"metadata": {"namespace": "default", **md}}


def messages(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


def check(o: Obj, rule: Any = names.name_is_dns_subdomain, namespaced: bool = True) -> list[str]:
    return messages(validate_object_meta(o, namespaced=namespaced, name_rule=rule))


@pytest.mark.parametrize(
    ("rule", "name"),
    [
        (names.name_is_dns_subdomain, "web"),
        (names.name_is_dns_subdomain, "web.example.com"),
        (names.name_is_dns_subdomain, "0-starts-with-digit"),
        (names.name_is_dns_label, "kube-system"),
        (names.name_is_dns1035_label, "my-service"),
        (name_is_path_segment, "Any_Thing:Goes"),
    ],
)
def test_good_names_pass_their_kinds_rule(rule: Any, name: str) -> None:
    assert check(obj(name=name), rule) == []


@pytest.mark.parametrize(
    ("rule", "name", "expected"),
    [
        (
            names.name_is_dns_subdomain,
            "Web",
            f'metadata.name: Invalid value: "Web": {SUBDOMAIN_ERROR}',
        ),
        (names.name_is_dns_label, "a.b", f'metadata.name: Invalid value: "a.b": {LABEL_ERROR}'),
        (
            names.name_is_dns1035_label,
            "1web",
            'metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case '
            "alphanumeric characters or '-', start with an alphabetic character, and end with an "
            "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
            "'[a-z]([-a-z0-9]*[a-z0-9])?')",
        ),
        (name_is_path_segment, "..", "metadata.name: Invalid value: \"..\": may not be '..'"),
        (name_is_path_segment, "a/b", "metadata.name: Invalid value: \"a/b\": may not contain '/'"),
    ],
)
def test_bad_names_get_the_kubernetes_message(rule: Any, name: str, expected: str) -> None:
    assert check(obj(name=name), rule) == [expected]


def test_name_longer_than_a_label_is_refused_with_the_length_first() -> None:
    errs = check(obj(name="a" * 64), names.name_is_dns_label)
    assert (
        errs[0] == f'metadata.name: Invalid value: "{"a" * 64}": must be no more than 63 characters'
    )


def test_missing_name_and_generate_name_is_required() -> None:
    assert check(obj()) == ["metadata.name: Required value: name or generateName is required"]


def test_generate_name_stem_may_end_in_a_dash() -> None:
    assert check(obj(generateName="web-", name="web-x7k2p")) == []


def test_bad_generate_name_is_reported_on_generate_name() -> None:
    errs = check(obj(generateName="Web-", name="Web-abcde"))
    assert errs[0] == f'metadata.generateName: Invalid value: "Web-": {SUBDOMAIN_ERROR}'


def test_namespaced_kind_requires_a_namespace() -> None:
    assert check({"metadata": {"name": "web"}}) == ["metadata.namespace: Required value"]


def test_namespace_must_be_a_dns_label() -> None:
    errs = check({"metadata": {"name": "web", "namespace": "My.Ns"}})
    assert errs == [f'metadata.namespace: Invalid value: "My.Ns": {LABEL_ERROR}']


def test_cluster_scoped_kind_forbids_a_namespace() -> None:
    errs = check({"metadata": {"name": "n1", "namespace": "default"}}, namespaced=False)
    assert errs == ["metadata.namespace: Forbidden: not allowed on this type"]


@pytest.mark.parametrize(
    ("namespaced", "object_ns", "request_ns", "result_ns", "error"),
    [
        (True, "", "team", "team", None),
        (True, "team", "team", "team", None),
        (False, "team", "", None, None),
        (
            True,
            "other",
            "team",
            "other",
            "the namespace of the provided object does not match the namespace sent on the request",
        ),
    ],
)
def test_request_namespace_fills_clears_or_conflicts(
    namespaced: bool, object_ns: str, request_ns: str, result_ns: str | None, error: str | None
) -> None:
    o: Obj = {"metadata": {"name": "x", **({"namespace": object_ns} if object_ns else {})}}
    assert reconcile_namespace(o, request_ns, namespaced=namespaced) == error
    assert o["metadata"].get("namespace") == result_ns


def test_negative_generation_is_invalid() -> None:
    assert check(obj(name="web", generation=-1)) == [
        "metadata.generation: Invalid value: -1: must be greater than or equal to 0"
    ]


def test_labels_need_qualified_keys_and_label_values() -> None:
    errs = check(obj(name="web", labels={"app": "web", "bad key": "ok", "tier": "-x"}))
    assert errs[0].startswith('metadata.labels: Invalid value: "bad key": name part must consist')
    assert errs[1].startswith(
        'metadata.labels: Invalid value: "-x": a valid label must be an empty string or consist'
    )
    assert len(errs) == 2


def test_annotation_keys_may_use_capitals() -> None:
    assert check(obj(name="web", annotations={"Example.COM/Key": "v"})) == []


def test_annotations_over_256_kib_are_too_long() -> None:
    big = {"a": "x" * (256 * 1024)}
    assert check(obj(name="web", annotations=big)) == [
        "metadata.annotations: Too long: must have at most 262144 bytes"
    ]


def test_annotations_of_exactly_256_kib_are_accepted() -> None:
    exact = {"a": "x" * (256 * 1024 - 1)}
    assert check(obj(name="web", annotations=exact)) == []


def test_owner_reference_requires_its_fields_without_an_index() -> None:
    errs = check(obj(name="web", ownerReferences=[{"apiVersion": "apps/", "kind": ""}]))
    assert errs == [
        'metadata.ownerReferences.apiVersion: Invalid value: "apps/": version must not be empty',
        'metadata.ownerReferences.kind: Invalid value: "": must not be empty',
        'metadata.ownerReferences.name: Invalid value: "": must not be empty',
        'metadata.ownerReferences.uid: Invalid value: "": must not be empty',
    ]


def test_only_one_owner_may_be_the_controller() -> None:
    refs = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "a",
            "uid": "1",
            "controller": True,
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "b",
            "uid": "2",
            "controller": True,
        },
    ]
    (err,) = check(obj(name="web", ownerReferences=refs))
    assert err.startswith(
        "metadata.ownerReferences: Invalid value: []v1.OwnerReference{v1.OwnerReference{"
    )
    assert err.endswith(
        'Only one reference can have Controller set to true. Found "true" in references for '
        "ReplicaSet/a and ReplicaSet/b"
    )


def test_a_core_event_may_not_own_anything() -> None:
    refs = [{"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "1"}]
    (err,) = check(obj(name="web", ownerReferences=refs))
    assert err.endswith(": /v1, Kind=Event is disallowed from being an owner")


@pytest.mark.parametrize(
    ("finalizers", "expected"),
    [
        (["kubernetes", "orphan", "example.com/cleanup"], []),
        (
            ["cleanup"],
            [
                'metadata.finalizers[0]: Invalid value: "cleanup": name is neither a standard '
                "finalizer name nor is it fully qualified"
            ],
        ),
        (
            ["orphan", "foregroundDeletion"],
            [
                'metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: '
                "finalizer orphan and foregroundDeletion cannot be both set"
            ],
        ),
        (["example.com/a", "example.com/a"], []),
    ],
)
def test_finalizers(finalizers: list[str], expected: list[str]) -> None:
    assert check(obj(name="web", finalizers=finalizers)) == expected


def test_unqualified_finalizer_is_allowed_where_only_the_generic_check_runs() -> None:
    errs = validate_object_meta(
        obj(name="e", finalizers=["cleanup"]),
        namespaced=True,
        name_rule=name_is_path_segment,
        require_standard_finalizers=False,
    )
    assert errs == []


# --- update ------------------------------------------------------------------------------------


def stored(**md: Any) -> Obj:
    return obj(
        name="web",
        uid="u-1",
        resourceVersion="5",
        creationTimestamp="2025-06-01T12:00:00Z",
        **md,
    )


def test_unchanged_metadata_passes_update() -> None:
    assert validate_object_meta_update(stored(), stored()) == []


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("name", "other", 'metadata.name: Invalid value: "other": field is immutable'),
        ("namespace", "other", 'metadata.namespace: Invalid value: "other": field is immutable'),
        ("uid", "u-2", 'metadata.uid: Invalid value: "u-2": field is immutable'),
        (
            "creationTimestamp",
            "2025-06-02T08:30:00Z",
            "metadata.creationTimestamp: Invalid value: 2025-06-02 08:30:00 +0000 UTC: "
            "field is immutable",
        ),
    ],
)
def test_identity_fields_are_immutable(field: str, value: str, expected: str) -> None:
    new = stored()
    new["metadata"][field] = value
    assert messages(validate_object_meta_update(new, stored())) == [expected]


def test_update_needs_a_resource_version() -> None:
    new = stored()
    del new["metadata"]["resourceVersion"]
    assert messages(validate_object_meta_update(new, stored())) == [
        'metadata.resourceVersion: Invalid value: "": must be specified for an update'
    ]


def test_generation_may_not_go_back() -> None:
    errs = validate_object_meta_update(stored(generation=1), stored(generation=2))
    assert messages(errs) == ["metadata.generation: Invalid value: 1: must not be decremented"]


def test_no_new_finalizers_while_deleting() -> None:
    old = stored(deletionTimestamp="2025-06-01T13:00:00Z", finalizers=["example.com/a"])
    new = stored(
        deletionTimestamp="2025-06-01T13:00:00Z", finalizers=["example.com/a", "example.com/b"]
    )
    assert messages(validate_object_meta_update(new, old)) == [
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being "
        'deleted, found new finalizers []string{"example.com/b"}'
    ]


# --- Go spellings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": "2", "a": "1"}, 'map[string]string{"a":"1", "b":"2"}'),
        ({}, "map[string]string{}"),
        (None, "map[string]string(nil)"),
    ],
)
def test_maps_print_as_go_does(value: Any, expected: str) -> None:
    assert go_string_map(value) == expected


def test_slices_and_times_print_as_go_does() -> None:
    assert go_strings(None) == "[]string(nil)"
    assert go_strings(["a", 'q"']) == '[]string{"a", "q\\""}'
    assert go_time("2025-06-01T12:00:00.120000Z") == "2025-06-01 12:00:00.12 +0000 UTC"
    assert go_time(None) == "0001-01-01 00:00:00 +0000 UTC"
