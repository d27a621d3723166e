"""Pod affinity and nodeSelector validation: Kubernetes 1.33's paths and messages, one by one."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.defaulting.pods import default_pod
from kubelite.api.validation.affinity import validate_affinity
from kubelite.api.validation.apps import validate_deployment, validate_stateful_set
from kubelite.api.validation.pods import validate_pod_create

Obj = dict[str, Any]

NA = "spec.affinity.nodeAffinity"
REQ = f"{NA}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
PREF = f"{NA}.preferredDuringSchedulingIgnoredDuringExecution"
PA = "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution"
PAA = "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution"

QUALIFIED_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def _pod(spec_extra: Obj) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "busybox"}], **spec_extra}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": spec}
    default_pod(pod)
    return pod


def _errors(spec_extra: Obj) -> list[str]:
    return [str(e) for e in validate_pod_create(_pod(spec_extra))]


def _required_node(*terms: Obj) -> Obj:
    return {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}
            }
        }
    }


def _expr(key: str, operator: str, values: list[str] | None = None) -> Obj:
    expr: Obj = {"key": key, "operator": operator}
    if values is not None:
        expr["values"] = values
    return expr


def _preferred_node(weight: int | None, *expressions: Obj) -> Obj:
    term: Obj = {"preference": {"matchExpressions": list(expressions)}}
    if weight is not None:
        term["weight"] = weight
    return {
        "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [term]}}
    }


def _pod_affinity(term: Obj) -> Obj:
    return {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}}


def _anti_preferred(weight: int, term: Obj) -> Obj:
    return {
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": weight, "podAffinityTerm": term}
                ]
            }
        }
    }


HOST = "kubernetes.io/hostname"
APP = {"matchLabels": {"app": "web"}}

VALID: list[tuple[str, Obj]] = [
    ("no affinity", {}),
    ("an empty affinity", {"affinity": {}}),
    ("a node selector", {"nodeSelector": {"disktype": "ssd", "example.com/zone": ""}}),
    (
        "every node selector operator",
        _required_node(
            {
                "matchExpressions": [
                    _expr("a", "In", ["x", "y"]),
                    _expr("b", "NotIn", ["x"]),
                    _expr("c", "Exists"),
                    _expr("d", "DoesNotExist", []),
                    _expr("e", "Gt", ["5"]),
                    _expr("f", "Lt", ["not-checked-as-an-integer"]),
                ],
                "matchFields": [_expr("metadata.name", "In", ["node-1"])],
            },
            {},
        ),
    ),
    ("a preferred term with a bad value", _preferred_node(100, _expr("a", "In", ["bad value"]))),
    (
        "pod affinity and anti-affinity",
        {
            "affinity": {
                "podAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "labelSelector": {
                                "matchExpressions": [_expr("app", "In", ["web"])],
                            },
                            "namespaceSelector": {},
                            "namespaces": ["default", "kube-system"],
                            "topologyKey": HOST,
                            "matchLabelKeys": ["pod-template-hash"],
                            "mismatchLabelKeys": ["tenant"],
                        }
                    ]
                },
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 1,
                            "podAffinityTerm": {"labelSelector": APP, "topologyKey": HOST},
                        }
                    ]
                },
            }
        },
    ),
]


@pytest.mark.parametrize(("name", "spec_extra"), VALID, ids=[v[0] for v in VALID])
def test_valid_affinities_pass(name: str, spec_extra: Obj) -> None:
    assert _errors(spec_extra) == []


INVALID: list[tuple[str, Obj, list[str]]] = [
    (
        "a node selector key",
        {"nodeSelector": {"bad key": "x"}},
        [f'spec.nodeSelector: Invalid value: "bad key": name part {QUALIFIED_RULE}'],
    ),
    (
        "a node selector value",
        {"nodeSelector": {"disk": "-ssd"}},
        [f'spec.nodeSelector: Invalid value: "-ssd": {LABEL_VALUE_RULE}'],
    ),
    (
        "no node selector terms",
        _required_node(),
        [f"{REQ}: Required value: must have at least one node selector term"],
    ),
    (
        "In without values",
        _required_node({"matchExpressions": [_expr("a", "In")]}),
        [
            f"{REQ}[0].matchExpressions[0].values: Required value: must be specified when "
            "`operator` is 'In' or 'NotIn'"
        ],
    ),
    (
        "NotIn with an empty list",
        _required_node({"matchExpressions": [_expr("a", "NotIn", [])]}),
        [
            f"{REQ}[0].matchExpressions[0].values: Required value: must be specified when "
            "`operator` is 'In' or 'NotIn'"
        ],
    ),
    (
        "Exists with values",
        _required_node({}, {"matchExpressions": [_expr("a", "Exists", ["x"])]}),
        [
            f"{REQ}[1].matchExpressions[0].values: Forbidden: may not be specified when "
            "`operator` is 'Exists' or 'DoesNotExist'"
        ],
    ),
    (
        "Gt with two values",
        _required_node({"matchExpressions": [_expr("a", "Gt", ["1", "2"])]}),
        [
            f"{REQ}[0].matchExpressions[0].values: Required value: must be specified single "
            "value when `operator` is 'Lt' or 'Gt'"
        ],
    ),
    (
        "Lt without values",
        _required_node({"matchExpressions": [_expr("a", "Lt")]}),
        [
            f"{REQ}[0].matchExpressions[0].values: Required value: must be specified single "
            "value when `operator` is 'Lt' or 'Gt'"
        ],
    ),
    (
        "an unknown operator",
        _required_node({"matchExpressions": [_expr("a", "Equals", ["x"])]}),
        [
            f'{REQ}[0].matchExpressions[0].operator: Invalid value: "Equals": '
            "not a valid selector operator"
        ],
    ),
    (
        "an empty key",
        _required_node({"matchExpressions": [_expr("", "Exists")]}),
        [
            f'{REQ}[0].matchExpressions[0].key: Invalid value: "": name part must be non-empty',
            f'{REQ}[0].matchExpressions[0].key: Invalid value: "": name part {QUALIFIED_RULE}',
        ],
    ),
    (
        "a bad value in a required term",
        _required_node({"matchExpressions": [_expr("a", "In", ["ok", "not ok"])]}),
        [f'{REQ}[0].matchExpressions[0].values[1]: Invalid value: "not ok": {LABEL_VALUE_RULE}'],
    ),
    (
        "a field selector with two values",
        _required_node({"matchFields": [_expr("metadata.name", "NotIn", ["a", "b"])]}),
        [
            f"{REQ}[0].matchFields[0].values: Required value: must be only one value when "
            "`operator` is 'In' or 'NotIn' for node field selector"
        ],
    ),
    (
        "a field selector on another field",
        _required_node({"matchFields": [_expr("metadata.uid", "Exists")]}),
        [
            f'{REQ}[0].matchFields[0].operator: Invalid value: "Exists": '
            "not a valid selector operator",
            f'{REQ}[0].matchFields[0].key: Invalid value: "metadata.uid": '
            "not a valid field selector key",
        ],
    ),
    (
        "a field selector on a bad node name",
        _required_node({"matchFields": [_expr("metadata.name", "In", ["Node_1"])]}),
        [f'{REQ}[0].matchFields[0].values[0]: Invalid value: "Node_1": {SUBDOMAIN_RULE}'],
    ),
    (
        "a preferred weight of 0",
        _preferred_node(0, _expr("a", "Exists")),
        [f"{PREF}[0].weight: Invalid value: 0: must be in the range 1-100"],
    ),
    (
        "a preferred weight of 101",
        _preferred_node(101, _expr("a", "Exists")),
        [f"{PREF}[0].weight: Invalid value: 101: must be in the range 1-100"],
    ),
    (
        "a missing preferred weight",
        _preferred_node(None, _expr("a", "In")),
        [
            f"{PREF}[0].weight: Invalid value: 0: must be in the range 1-100",
            f"{PREF}[0].preference.matchExpressions[0].values: Required value: must be "
            "specified when `operator` is 'In' or 'NotIn'",
        ],
    ),
    (
        "an empty topology key",
        _pod_affinity({"labelSelector": APP}),
        [
            f"{PA}[0].topologyKey: Required value: can not be empty",
            f'{PA}[0].topologyKey: Invalid value: "": name part must be non-empty',
            f'{PA}[0].topologyKey: Invalid value: "": name part {QUALIFIED_RULE}',
        ],
    ),
    (
        "a topology key that is not a label key",
        _pod_affinity({"labelSelector": APP, "topologyKey": "a/b/c"}),
        [
            f'{PA}[0].topologyKey: Invalid value: "a/b/c": a qualified name {QUALIFIED_RULE} '
            "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ],
    ),
    (
        "a label selector without values",
        _pod_affinity(
            {"labelSelector": {"matchExpressions": [_expr("app", "In")]}, "topologyKey": HOST}
        ),
        [
            f"{PA}[0].labelSelector.matchExpressions[0].values: Required value: must be "
            "specified when `operator` is 'In' or 'NotIn'"
        ],
    ),
    (
        "a namespace selector with a bad operator",
        _pod_affinity(
            {
                "namespaceSelector": {"matchExpressions": [_expr("x", "Gt", ["1"])]},
                "topologyKey": HOST,
            }
        ),
        [
            f'{PA}[0].namespaceSelector.matchExpressions[0].operator: Invalid value: "Gt": '
            "not a valid selector operator"
        ],
    ),
    (
        "a bad namespace name",
        _pod_affinity({"labelSelector": APP, "namespaces": ["Prod"], "topologyKey": HOST}),
        [f'{PA}[0].namespace: Invalid value: "Prod": {LABEL_RULE}'],
    ),
    (
        "an anti-affinity weight of 0",
        _anti_preferred(0, {"labelSelector": APP, "topologyKey": HOST}),
        [f"{PAA}[0].weight: Invalid value: 0: must be in the range 1-100"],
    ),
    (
        "an anti-affinity term without a topology key",
        _anti_preferred(50, {"labelSelector": APP}),
        [
            f"{PAA}[0].podAffinityTerm.topologyKey: Required value: can not be empty",
            f'{PAA}[0].podAffinityTerm.topologyKey: Invalid value: "": name part must be non-empty',
            f'{PAA}[0].podAffinityTerm.topologyKey: Invalid value: "": name part {QUALIFIED_RULE}',
        ],
    ),
    (
        "matchLabelKeys without a label selector",
        _pod_affinity({"topologyKey": HOST, "matchLabelKeys": ["a"], "mismatchLabelKeys": ["b"]}),
        [
            f"{PA}[0].matchLabelKeys: Forbidden: must not be specified when labelSelector is "
            "not set",
            f"{PA}[0].mismatchLabelKeys: Forbidden: must not be specified when labelSelector "
            "is not set",
        ],
    ),
    (
        "a bad matchLabelKeys key",
        _pod_affinity({"labelSelector": APP, "topologyKey": HOST, "matchLabelKeys": ["a b"]}),
        [f'{PA}[0].matchLabelKeys[0]: Invalid value: "a b": name part {QUALIFIED_RULE}'],
    ),
    (
        "a key in both matchLabelKeys and mismatchLabelKeys",
        _pod_affinity(
            {
                "labelSelector": APP,
                "topologyKey": HOST,
                "matchLabelKeys": ["x", "tier"],
                "mismatchLabelKeys": ["tier"],
            }
        ),
        [
            f'{PA}[0].matchLabelKeys[1]: Invalid value: "tier": '
            "exists in both matchLabelKeys and mismatchLabelKeys"
        ],
    ),
    (
        # Kubernetes indexes the term's own path with the key's position here.
        "a key in both matchLabelKeys and the label selector",
        _pod_affinity(
            {
                "labelSelector": {
                    "matchLabels": {"app": "web"},
                    "matchExpressions": [_expr("app", "In", ["web"])],
                },
                "topologyKey": HOST,
                "matchLabelKeys": ["app"],
            }
        ),
        [f'{PA}[0][0]: Invalid value: "app": exists in both matchLabelKeys and labelSelector'],
    ),
]


@pytest.mark.parametrize(("name", "spec_extra", "expected"), INVALID, ids=[i[0] for i in INVALID])
def test_malformed_affinities_are_refused(name: str, spec_extra: Obj, expected: list[str]) -> None:
    assert _errors(spec_extra) == expected


def test_affinity_errors_follow_the_security_context_and_precede_dns_config() -> None:
    """ValidatePodSpec's order, so an aggregate of several errors reads as Kubernetes' does."""
    errors = _errors(
        {
            **_required_node(),
            "securityContext": {"runAsUser": -1},
            "dnsPolicy": "None",
        }
    )
    assert [e.split(":")[0] for e in errors] == [
        "spec.securityContext.runAsUser",
        REQ,
        "spec.dnsConfig",
    ]


def _workload(kind: str, spec_extra: Obj) -> Obj:
    labels = {"app": "web"}
    template_spec: Obj = {"containers": [{"name": "c", "image": "busybox"}], **spec_extra}
    pod = {"metadata": {"name": "t", "labels": labels}, "spec": template_spec}
    default_pod(pod)
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod["spec"]},
        },
    }


def test_a_deployment_template_gets_the_same_errors_under_its_path() -> None:
    errors = [str(e) for e in validate_deployment(_workload("Deployment", _required_node()))]
    assert (
        "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
        "nodeSelectorTerms: Required value: must have at least one node selector term"
    ) in errors


def test_a_stateful_set_template_skips_pod_spec_rules_as_kubernetes_does() -> None:
    errors = [str(e) for e in validate_stateful_set(_workload("StatefulSet", _required_node()))]
    assert not any("affinity" in e for e in errors)


def test_validate_affinity_ignores_what_is_not_an_object() -> None:
    assert validate_affinity(None, "spec.affinity") == []
