"""The rbac.authorization.k8s.io/v1 strategies: defaults and validation of Roles, ClusterRoles
and their bindings, with field paths and messages as Kubernetes words them
(`pkg/apis/rbac/validation/validation.go`, `pkg/apis/rbac/v1/defaults.go`)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.errors import FieldError
from kubelite.api.strategies.rbac import (
    ClusterRoleBindingStrategy,
    ClusterRoleStrategy,
    RoleBindingStrategy,
    RoleStrategy,
)

Obj = dict[str, Any]

GROUP = "rbac.authorization.k8s.io"
GET_PODS: Obj = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}


def role(rules: list[Any], namespace: str | None = "dev", name: str = "r") -> Obj:
    metadata: Obj = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    kind = "Role" if namespace else "ClusterRole"
    return {"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": metadata, "rules": rules}


def binding(subjects: list[Obj], ref: Obj | None = None, namespace: str | None = "dev") -> Obj:
    metadata: Obj = {"name": "b"}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
        "metadata": metadata,
        "roleRef": ref
        if ref is not None
        else {"apiGroup": GROUP, "kind": "ClusterRole", "name": "view"},
        "subjects": subjects,
    }


def texts(errors: list[FieldError]) -> list[str]:
    return [str(e) for e in errors]


def fields(errors: list[FieldError]) -> list[tuple[str, str]]:
    return [(e.field, e.reason) for e in errors]


ALICE: Obj = {"kind": "User", "apiGroup": GROUP, "name": "alice"}

# --- rules ---------------------------------------------------------------------------------


def test_valid_roles_have_no_errors() -> None:
    assert RoleStrategy().validate(role([GET_PODS])) == []
    cluster_role = role(
        [GET_PODS, {"nonResourceURLs": ["/healthz", "/api/*"], "verbs": ["get"]}],
        namespace=None,
        name="system:aggregate-to-view",
    )
    assert ClusterRoleStrategy().validate(cluster_role) == []
    assert RoleStrategy().validate(role([])) == []


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        pytest.param(
            {"apiGroups": [""], "resources": ["pods"]},
            ["rules[0].verbs: Required value: verbs must contain at least one value"],
            id="no-verbs",
        ),
        pytest.param(
            {"apiGroups": [""], "resources": ["pods"], "verbs": []},
            ["rules[0].verbs: Required value: verbs must contain at least one value"],
            id="empty-verbs",
        ),
        pytest.param(
            {"resources": ["pods"], "verbs": ["get"]},
            [
                "rules[0].apiGroups: Required value: resource rules must supply at least one "
                "api group"
            ],
            id="no-groups",
        ),
        pytest.param(
            {"apiGroups": [""], "verbs": ["get"]},
            [
                "rules[0].resources: Required value: resource rules must supply at least one "
                "resource"
            ],
            id="no-resources",
        ),
        pytest.param(
            {"resourceNames": ["web"]},
            [
                "rules[0].verbs: Required value: verbs must contain at least one value",
                "rules[0].apiGroups: Required value: resource rules must supply at least one api "
                "group",
                "rules[0].resources: Required value: resource rules must supply at least one "
                "resource",
            ],
            id="nothing",
        ),
    ],
)
def test_a_rule_names_verbs_groups_and_resources(rule: Obj, expected: list[str]) -> None:
    assert texts(RoleStrategy().validate(role([rule]))) == expected


def test_non_resource_urls_are_refused_in_a_role() -> None:
    errors = RoleStrategy().validate(role([{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]))
    assert fields(errors) == [("rules[0].nonResourceURLs", "FieldValueInvalid")]
    assert errors[0].detail == "namespaced rules cannot apply to non-resource URLs"


def test_a_rule_cannot_name_both_urls_and_resources() -> None:
    rule = {"nonResourceURLs": ["/x"], "resources": ["pods"], "verbs": ["get"]}
    errors = ClusterRoleStrategy().validate(role([GET_PODS, rule], namespace=None))
    assert fields(errors) == [("rules[1].nonResourceURLs", "FieldValueInvalid")]
    assert errors[0].detail == "rules cannot apply to both regular resources and non-resource URLs"
    # In a Role, both complaints.
    errors = RoleStrategy().validate(role([rule]))
    assert [e.detail for e in errors] == [
        "namespaced rules cannot apply to non-resource URLs",
        "rules cannot apply to both regular resources and non-resource URLs",
    ]


def test_the_bad_urls_print_as_a_go_string_slice() -> None:
    errors = RoleStrategy().validate(role([{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]))
    assert texts(errors) == [
        'rules[0].nonResourceURLs: Invalid value: []string{"/healthz"}: namespaced rules cannot '
        "apply to non-resource URLs"
    ]


def test_metadata_errors_come_first_and_names_need_only_fit_a_path() -> None:
    errors = RoleStrategy().validate(role([{"verbs": ["get"]}], name="a/b"))
    assert texts(errors)[0] == "metadata.name: Invalid value: \"a/b\": may not contain '/'"
    assert [e.field for e in errors][1:] == ["rules[0].apiGroups", "rules[0].resources"]


def test_a_rule_change_is_validated_on_update() -> None:
    old = role([GET_PODS])
    old["metadata"] |= {"resourceVersion": "1", "uid": "u"}
    new = copy.deepcopy(old)
    new["rules"] = [{"apiGroups": [""], "resources": ["pods"]}]
    assert texts(RoleStrategy().validate_update(new, old)) == [
        "rules[0].verbs: Required value: verbs must contain at least one value"
    ]


# --- aggregation ---------------------------------------------------------------------------


def test_an_aggregation_rule_needs_a_selector() -> None:
    cluster_role = role([], namespace=None) | {"aggregationRule": {"clusterRoleSelectors": []}}
    assert texts(ClusterRoleStrategy().validate(cluster_role)) == [
        "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector "
        "required if aggregationRule is non-nil"
    ]
    cluster_role["aggregationRule"] = {}
    assert fields(ClusterRoleStrategy().validate(cluster_role)) == [
        ("aggregationRule.clusterRoleSelectors", "FieldValueRequired")
    ]


def test_aggregation_selectors_are_validated_as_label_selectors() -> None:
    selectors = [
        {"matchLabels": {"rbac.example.com/aggregate-to-monitoring": "true"}},
        {"matchExpressions": [{"key": "tier", "operator": "In"}]},
        {"matchExpressions": [{"key": "tier", "operator": "Near", "values": ["a"]}]},
    ]
    cluster_role = role([], namespace=None) | {
        "aggregationRule": {"clusterRoleSelectors": selectors}
    }
    errors = ClusterRoleStrategy().validate(cluster_role)
    assert texts(errors) == [
        "aggregationRule.clusterRoleSelectors[1].matchExpressions[0].values: Required value: "
        "must be specified when `operator` is 'In' or 'NotIn'",
        'aggregationRule.clusterRoleSelectors[1]: Invalid value: "null": invalid label selector.',
        "aggregationRule.clusterRoleSelectors[2].matchExpressions[0].operator: Invalid value: "
        '"Near": not a valid selector operator',
        'aggregationRule.clusterRoleSelectors[2]: Invalid value: "null": invalid label selector.',
    ]


def test_an_unusable_selector_is_also_an_invalid_label_selector() -> None:
    selectors = [{"matchExpressions": [{"key": "tier", "operator": "In"}]}]
    cluster_role = role([], namespace=None) | {
        "aggregationRule": {"clusterRoleSelectors": selectors}
    }
    assert texts(ClusterRoleStrategy().validate(cluster_role)) == [
        "aggregationRule.clusterRoleSelectors[0].matchExpressions[0].values: Required value: "
        "must be specified when `operator` is 'In' or 'NotIn'",
        'aggregationRule.clusterRoleSelectors[0]: Invalid value: "null": invalid label selector.',
    ]


def test_a_role_has_no_aggregation_rule_to_validate() -> None:
    """An aggregationRule is a ClusterRole's field: only a ClusterRole's is validated."""
    assert RoleStrategy().validate(role([]) | {"aggregationRule": {}}) == []


# --- bindings ------------------------------------------------------------------------------


def test_valid_bindings_have_no_errors() -> None:
    subjects = [
        ALICE,
        {"kind": "Group", "apiGroup": GROUP, "name": "system:authenticated"},
        {"kind": "ServiceAccount", "name": "builder", "namespace": "ci"},
        {"kind": "ServiceAccount", "name": "local"},
    ]
    role_ref = {"apiGroup": GROUP, "kind": "Role", "name": "r"}
    assert RoleBindingStrategy().validate(binding(subjects, role_ref)) == []
    assert RoleBindingStrategy().validate(binding(subjects)) == []
    assert ClusterRoleBindingStrategy().validate(binding(subjects[:3], namespace=None)) == []
    assert RoleBindingStrategy().validate(binding([])) == []


def test_a_cluster_role_binding_refers_to_a_cluster_role_only() -> None:
    ref = {"apiGroup": GROUP, "kind": "Role", "name": "r"}
    assert texts(ClusterRoleBindingStrategy().validate(binding([ALICE], ref, namespace=None))) == [
        'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"'
    ]


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (
            {"apiGroup": GROUP, "kind": "Group", "name": "r"},
            ['roleRef.kind: Unsupported value: "Group": supported values: "Role", "ClusterRole"'],
        ),
        (
            {"apiGroup": "example.com", "kind": "Role", "name": "r"},
            [
                'roleRef.apiGroup: Unsupported value: "example.com": supported values: '
                '"rbac.authorization.k8s.io"'
            ],
        ),
        ({"apiGroup": GROUP, "kind": "Role", "name": ""}, ["roleRef.name: Required value"]),
        (
            {"apiGroup": GROUP, "kind": "Role", "name": ".."},
            ["roleRef.name: Invalid value: \"..\": may not be '..'"],
        ),
    ],
    ids=["kind", "api-group", "no-name", "bad-name"],
)
def test_a_role_ref_names_a_role_of_the_rbac_group(ref: Obj, expected: list[str]) -> None:
    assert texts(RoleBindingStrategy().validate(binding([ALICE], ref))) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (
            {"kind": "Robot", "name": "r2"},
            [
                'subjects[0].kind: Unsupported value: "Robot": supported values: '
                '"ServiceAccount", "User", "Group"'
            ],
        ),
        ({"kind": "User", "apiGroup": GROUP}, ["subjects[0].name: Required value"]),
        (
            {"kind": "Group", "apiGroup": "example.com", "name": "g"},
            [
                'subjects[0].apiGroup: Unsupported value: "example.com": supported values: '
                '"rbac.authorization.k8s.io"'
            ],
        ),
        (
            {"kind": "ServiceAccount", "apiGroup": GROUP, "name": "sa", "namespace": "ci"},
            [
                'subjects[0].apiGroup: Unsupported value: "rbac.authorization.k8s.io": '
                'supported values: ""'
            ],
        ),
        (
            {"kind": "ServiceAccount", "name": "Bad_Name", "namespace": "ci"},
            [
                'subjects[0].name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain '
                "must consist of lower case alphanumeric characters, '-' or '.', and must start "
                "and end with an alphanumeric character (e.g. 'example.com', regex used for "
                "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ],
        ),
    ],
    ids=["kind", "no-name", "group-api-group", "account-api-group", "account-name"],
)
def test_each_subject_is_of_a_known_kind_and_group(subject: Obj, expected: list[str]) -> None:
    assert texts(RoleBindingStrategy().validate(binding([subject]))) == expected


def test_a_service_account_of_a_cluster_role_binding_names_its_namespace() -> None:
    subject = {"kind": "ServiceAccount", "name": "builder"}
    assert texts(ClusterRoleBindingStrategy().validate(binding([subject], namespace=None))) == [
        "subjects[0].namespace: Required value"
    ]
    assert RoleBindingStrategy().validate(binding([subject])) == []


# --- defaults ------------------------------------------------------------------------------


def test_the_rbac_group_is_defaulted_where_it_goes_unsaid() -> None:
    obj = binding(
        [
            {"kind": "User", "name": "alice"},
            {"kind": "Group", "name": "dev"},
            {"kind": "ServiceAccount", "name": "builder", "namespace": "ci"},
            {"kind": "User", "apiGroup": "example.com", "name": "kept"},
        ],
        {"kind": "ClusterRole", "name": "view"},
    )
    RoleBindingStrategy().default(obj)
    assert obj["roleRef"] == {"kind": "ClusterRole", "name": "view", "apiGroup": GROUP}
    assert [s.get("apiGroup") for s in obj["subjects"]] == [GROUP, GROUP, None, "example.com"]
    assert RoleBindingStrategy().validate({**obj, "subjects": obj["subjects"][:3]}) == []


def test_a_cluster_role_binding_is_defaulted_too() -> None:
    obj = binding(
        [{"kind": "User", "name": "alice"}], {"kind": "ClusterRole", "name": "view"}, None
    )
    ClusterRoleBindingStrategy().default(obj)
    assert obj["roleRef"]["apiGroup"] == GROUP
    assert obj["subjects"][0]["apiGroup"] == GROUP


# --- updates -------------------------------------------------------------------------------


def _stored(obj: Obj) -> Obj:
    stored = copy.deepcopy(obj)
    stored["metadata"] |= {"resourceVersion": "1", "uid": "u-1"}
    return stored


def test_the_role_ref_cannot_change() -> None:
    old = _stored(binding([ALICE]))
    new = copy.deepcopy(old)
    new["roleRef"] = {"apiGroup": GROUP, "kind": "ClusterRole", "name": "edit"}
    errors = RoleBindingStrategy().validate_update(new, old)
    assert fields(errors) == [("roleRef", "FieldValueInvalid")]
    assert errors[0].detail == "cannot change roleRef"


def test_the_subjects_may_change() -> None:
    old = _stored(binding([ALICE], namespace=None))
    new = copy.deepcopy(old)
    new["subjects"] = [{"kind": "Group", "apiGroup": GROUP, "name": "dev"}]
    assert ClusterRoleBindingStrategy().validate_update(new, old) == []


def test_the_role_ref_change_prints_as_go_does() -> None:
    old = _stored(binding([ALICE]))
    new = copy.deepcopy(old)
    new["roleRef"] = {"apiGroup": GROUP, "kind": "ClusterRole", "name": "edit"}
    assert texts(RoleBindingStrategy().validate_update(new, old)) == [
        'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", '
        'Kind:"ClusterRole", Name:"edit"}: cannot change roleRef'
    ]
