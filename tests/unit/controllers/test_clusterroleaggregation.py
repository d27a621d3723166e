"""The rules an aggregated ClusterRole gets: those of the roles its selectors pick
(`pkg/controller/clusterroleaggregation`'s syncClusterRole)."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.controllers.clusterroleaggregation import aggregated_rules

Obj = dict[str, Any]

TO_MONITORING = {"rbac.example.com/aggregate-to-monitoring": "true"}


def rule(verb: str, resource: str, group: str = "") -> Obj:
    return {"apiGroups": [group], "resources": [resource], "verbs": [verb]}


def cluster_role(
    name: str, rules: list[Obj], labels: dict[str, str] | None = None, **extra: Any
) -> Obj:
    metadata: Obj = {"name": name}
    if labels is not None:
        metadata["labels"] = labels
    return {"metadata": metadata, "rules": rules, **extra}


def aggregating(name: str, *selectors: Obj, labels: dict[str, str] | None = None) -> Obj:
    return cluster_role(name, [], labels, aggregationRule={"clusterRoleSelectors": list(selectors)})


MONITORING = aggregating("monitoring", {"matchLabels": TO_MONITORING})


def test_a_role_without_an_aggregation_rule_has_no_aggregate() -> None:
    assert aggregated_rules(cluster_role("plain", [rule("get", "pods")]), []) is None


def test_the_rules_are_united_in_the_order_of_the_role_names() -> None:
    roles = [
        MONITORING,
        cluster_role("zeta", [rule("get", "services"), rule("list", "services")], TO_MONITORING),
        cluster_role("alpha", [rule("get", "pods")], TO_MONITORING),
        cluster_role("middle", [rule("get", "nodes")], {"other": "label"}),
        cluster_role("unlabelled", [rule("get", "secrets")]),
    ]
    assert aggregated_rules(MONITORING, roles) == [
        rule("get", "pods"),
        rule("get", "services"),
        rule("list", "services"),
    ]


def test_a_rule_two_roles_share_is_there_once() -> None:
    roles = [
        cluster_role("a", [rule("get", "pods"), rule("watch", "pods")], TO_MONITORING),
        cluster_role(
            "b", [rule("watch", "pods"), rule("get", "pods", "metrics.k8s.io")], TO_MONITORING
        ),
    ]
    assert aggregated_rules(MONITORING, roles) == [
        rule("get", "pods"),
        rule("watch", "pods"),
        rule("get", "pods", "metrics.k8s.io"),
    ]


def test_the_aggregating_role_leaves_itself_out() -> None:
    """A role whose own labels match its selector: its (aggregated) rules are not fed back."""
    itself = aggregating("monitoring", {"matchLabels": TO_MONITORING}, labels=TO_MONITORING)
    itself["rules"] = [rule("delete", "pods")]
    roles = [itself, cluster_role("a", [rule("get", "pods")], TO_MONITORING)]
    assert aggregated_rules(itself, roles) == [rule("get", "pods")]


@pytest.mark.parametrize(
    ("expression", "picked"),
    [
        ({"key": "tier", "operator": "In", "values": ["web", "db"]}, ["db", "web"]),
        ({"key": "tier", "operator": "NotIn", "values": ["web"]}, ["db", "none"]),
        ({"key": "tier", "operator": "Exists"}, ["db", "web"]),
        ({"key": "tier", "operator": "DoesNotExist"}, ["none"]),
    ],
    ids=["In", "NotIn", "Exists", "DoesNotExist"],
)
def test_match_expressions_select_roles(expression: Obj, picked: list[str]) -> None:
    role = aggregating("agg", {"matchExpressions": [expression]})
    roles = [
        role,
        cluster_role("web", [rule("get", "web")], {"tier": "web"}),
        cluster_role("db", [rule("get", "db")], {"tier": "db"}),
        cluster_role("none", [rule("get", "none")], {}),
    ]
    assert aggregated_rules(role, roles) == [rule("get", name) for name in sorted(picked)]


def test_match_labels_and_expressions_of_one_selector_must_all_hold() -> None:
    role = aggregating(
        "agg",
        {
            "matchLabels": {"team": "a"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}],
        },
    )
    roles = [
        cluster_role("both", [rule("get", "both")], {"team": "a", "tier": "web"}),
        cluster_role("team-only", [rule("get", "team")], {"team": "a"}),
        cluster_role("tier-only", [rule("get", "tier")], {"tier": "web"}),
    ]
    assert aggregated_rules(role, roles) == [rule("get", "both")]


def test_a_role_picked_by_two_selectors_counts_once() -> None:
    role = aggregating("agg", {"matchLabels": {"a": "1"}}, {"matchLabels": {"b": "1"}})
    roles = [
        cluster_role("x", [rule("get", "x")], {"a": "1", "b": "1"}),
        cluster_role("y", [rule("get", "y")], {"b": "1"}),
    ]
    assert aggregated_rules(role, roles) == [rule("get", "x"), rule("get", "y")]


def test_no_selectors_aggregate_nothing() -> None:
    role = aggregating("agg")
    assert aggregated_rules(role, [role, cluster_role("a", [rule("get", "pods")], {})]) == []


def test_no_role_picked_is_no_rules() -> None:
    assert aggregated_rules(MONITORING, [MONITORING]) == []


def test_the_rules_follow_the_selectors_order_then_the_names() -> None:
    role = aggregating("agg", {"matchLabels": {"first": "1"}}, {"matchLabels": {"second": "1"}})
    roles = [
        cluster_role("alpha", [rule("get", "alpha")], {"second": "1"}),
        cluster_role("zeta", [rule("get", "zeta")], {"first": "1"}),
    ]
    assert aggregated_rules(role, roles) == [rule("get", "zeta"), rule("get", "alpha")]
