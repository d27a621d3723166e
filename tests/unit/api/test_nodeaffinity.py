"""Node selector matching: nodeSelector, required terms with every operator, matchFields,
preferred terms, and how terms that do not parse behave."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.nodeaffinity import (
    NodeAffinityError,
    NodeSelector,
    PreferredSchedulingTerms,
    RequiredNodeAffinity,
    preferred_scheduling_terms,
)

LABELS = {"zone": "a", "disk": "ssd", "cores": "8"}


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    result: dict[str, Any] = {"key": key, "operator": operator}
    if values:
        result["values"] = list(values)
    return result


def selector(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"nodeSelectorTerms": list(terms)}


@pytest.mark.parametrize(
    ("expression", "matches"),
    [
        (expr("zone", "In", "a", "b"), True),
        (expr("zone", "In", "b"), False),
        (expr("missing", "In", "a"), False),
        (expr("zone", "NotIn", "b"), True),
        (expr("zone", "NotIn", "a"), False),
        (expr("missing", "NotIn", "a"), True),
        (expr("disk", "Exists"), True),
        (expr("missing", "Exists"), False),
        (expr("disk", "DoesNotExist"), False),
        (expr("missing", "DoesNotExist"), True),
        (expr("cores", "Gt", "4"), True),
        (expr("cores", "Gt", "8"), False),
        (expr("cores", "Lt", "16"), True),
        (expr("cores", "Lt", "8"), False),
        (expr("zone", "Gt", "1"), False),  # a label that is no integer
        (expr("missing", "Lt", "1"), False),
    ],
)
def test_every_operator(expression: dict[str, Any], matches: bool) -> None:
    node_selector = NodeSelector(selector({"matchExpressions": [expression]}))
    assert node_selector.matches("node-1", LABELS) is matches


@pytest.mark.parametrize(
    ("fields", "matches"),
    [
        ([expr("metadata.name", "In", "node-1")], True),
        ([expr("metadata.name", "In", "node-2")], False),
        ([expr("metadata.name", "NotIn", "node-2")], True),
        ([expr("metadata.name", "NotIn", "node-1")], False),
        # Fields other than the name read as empty.
        ([expr("spec.podCIDR", "In", "")], True),
        ([expr("spec.podCIDR", "In", "10.0.0.0/24")], False),
    ],
)
def test_match_fields_on_the_node_name(fields: list[dict[str, Any]], matches: bool) -> None:
    assert NodeSelector(selector({"matchFields": fields})).matches("node-1", {}) is matches


def test_terms_are_ored_and_requirements_anded() -> None:
    node_selector = NodeSelector(
        selector(
            {"matchExpressions": [expr("zone", "In", "b")]},
            {
                "matchExpressions": [expr("disk", "In", "ssd")],
                "matchFields": [expr("metadata.name", "In", "node-1")],
            },
        )
    )
    assert node_selector.matches("node-1", LABELS)
    assert not node_selector.matches("node-2", LABELS)


@pytest.mark.parametrize(
    "value",
    [selector(), selector({}), selector({"matchExpressions": []}), {}],
)
def test_empty_terms_match_nothing(value: dict[str, Any]) -> None:
    assert not NodeSelector(value).matches("node-1", LABELS)


def test_a_term_that_does_not_parse_matches_nothing_but_others_still_count() -> None:
    node_selector = NodeSelector(
        selector(
            {"matchExpressions": [expr("zone", "Foo", "a")]},
            {"matchExpressions": [expr("cores", "Gt", "x")]},
            {"matchFields": [expr("metadata.name", "In", "node-1", "node-2")]},
            {"matchFields": [expr("metadata.name", "Exists")]},
            {"matchExpressions": [expr("disk", "Exists")]},
        )
    )
    assert node_selector.matches("node-1", LABELS)
    assert not node_selector.matches("node-1", {})
    assert node_selector.errors == (
        'nodeSelectorTerms[0].matchExpressions[0].operator: Unsupported value: "Foo": '
        'supported values: "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"',
        'nodeSelectorTerms[1].matchExpressions[0].values[0]: Invalid value: "x": '
        "for 'Gt', 'Lt' operators, the value must be an integer",
        'nodeSelectorTerms[2].matchFields[0].values: Invalid value: []string{"node-1", '
        '"node-2"}: must have one element',
        'nodeSelectorTerms[3].matchFields[0].operator: Unsupported value: "Exists": '
        'supported values: "In", "NotIn"',
    )


@pytest.mark.parametrize(
    ("spec", "node_labels", "matches"),
    [
        ({}, {}, True),
        ({"nodeSelector": {"disk": "ssd"}}, LABELS, True),
        ({"nodeSelector": {"disk": "ssd", "zone": "b"}}, LABELS, False),
        ({"nodeSelector": {"disk": ""}}, {}, False),
        (
            {
                "nodeSelector": {"disk": "ssd"},
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": selector(
                            {"matchExpressions": [expr("zone", "In", "b")]}
                        )
                    }
                },
            },
            LABELS,
            False,
        ),
        (
            {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}}},
            LABELS,
            False,
        ),
    ],
)
def test_required_node_affinity_of_a_pod(
    spec: dict[str, Any], node_labels: dict[str, str], matches: bool
) -> None:
    affinity = RequiredNodeAffinity.from_pod({"spec": spec})
    assert affinity.matches("node-1", node_labels) is matches
    node = {"metadata": {"name": "node-1", "labels": node_labels}}
    assert affinity.match_node(node) is matches


def test_preferred_terms_add_the_weights_that_match() -> None:
    terms = PreferredSchedulingTerms(
        [
            {"weight": 5, "preference": {"matchExpressions": [expr("zone", "In", "a")]}},
            {"weight": 3, "preference": {"matchExpressions": [expr("disk", "Exists")]}},
            {"weight": 7, "preference": {"matchExpressions": [expr("zone", "In", "b")]}},
            # Left out: weight 0, and a term with nothing in it.
            {"weight": 0, "preference": {"matchExpressions": [expr("disk", "Exists")]}},
            {"weight": 9, "preference": {}},
        ]
    )
    assert terms.score("node-1", LABELS) == 8
    assert terms.score("node-1", {}) == 0


def test_preferred_terms_that_do_not_parse_are_refused() -> None:
    with pytest.raises(NodeAffinityError) as caught:
        PreferredSchedulingTerms(
            [{"weight": 1, "preference": {"matchExpressions": [expr("zone", "In")]}}]
        )
    assert str(caught.value) == (
        "[0].matchExpressions[0].values: Invalid value: []string(nil): "
        "for 'in', 'notin' operators, values set can't be empty"
    )


def test_a_pod_without_preferred_terms_has_none() -> None:
    assert preferred_scheduling_terms({"spec": {}}) is None
