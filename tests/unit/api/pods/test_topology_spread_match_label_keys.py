"""At a pod's creation the API server merges its topology spread constraints' matchLabelKeys
into their labelSelector (mutateTopologySpreadConstraints, KEP-3243,
MatchLabelKeysInPodTopologySpreadSelectorMerge: beta and on since 1.34)."""

from __future__ import annotations

import copy
from typing import Any

from kubelite.api.strategies.pods import PodStrategy

Obj = dict[str, Any]
LABELS = {"app": "web", "pod-template-hash": "abc", "tier": "front"}


def created(*constraints: Obj, labels: dict[str, str] | None = None) -> list[Obj]:
    pod: Obj = {
        "metadata": {"name": "p", "namespace": "default", "labels": labels or dict(LABELS)},
        "spec": {
            "containers": [{"name": "c", "image": "busybox"}],
            "topologySpreadConstraints": [copy.deepcopy(c) for c in constraints],
        },
    }
    strategy = PodStrategy()
    strategy.default(pod)
    strategy.prepare_for_create(pod)
    assert strategy.validate(pod) == []
    result: list[Obj] = pod["spec"]["topologySpreadConstraints"]
    return result


def constraint(selector: Obj | None, keys: list[str], when: str = "DoNotSchedule") -> Obj:
    c: Obj = {
        "maxSkew": 1,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": when,
        "matchLabelKeys": keys,
    }
    if selector is not None:
        c["labelSelector"] = selector
    return c


def test_each_key_the_pod_has_becomes_an_in_requirement() -> None:
    hard, soft = created(
        constraint({"matchLabels": {"app": "web"}}, ["pod-template-hash", "absent", "tier"]),
        constraint(
            {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
            ["pod-template-hash"],
            when="ScheduleAnyway",
        ),
    )
    assert hard["labelSelector"] == {
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "pod-template-hash", "operator": "In", "values": ["abc"]},
            {"key": "tier", "operator": "In", "values": ["front"]},
        ],
    }
    # The keys themselves stay, as Kubernetes keeps them.
    assert hard["matchLabelKeys"] == ["pod-template-hash", "absent", "tier"]
    assert soft["labelSelector"]["matchExpressions"] == [
        {"key": "app", "operator": "Exists"},
        {"key": "pod-template-hash", "operator": "In", "values": ["abc"]},
    ]


def test_an_empty_selector_gets_the_requirements_and_a_missing_one_stays_missing() -> None:
    empty, missing = created(constraint({}, ["app"]), constraint(None, ["app"]))
    assert empty["labelSelector"] == {
        "matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]
    }
    # Without a labelSelector the constraint matches no pod: nothing to add to.
    assert "labelSelector" not in missing


def test_constraints_without_keys_are_left_alone() -> None:
    (plain,) = created(constraint({"matchLabels": {"app": "web"}}, []))
    assert plain["labelSelector"] == {"matchLabels": {"app": "web"}}


def test_only_creation_merges() -> None:
    """An update does not merge again: the selector keeps the values of the pod's creation."""
    pod: Obj = {
        "metadata": {"name": "p", "namespace": "default", "labels": dict(LABELS)},
        "spec": {
            "containers": [{"name": "c", "image": "busybox"}],
            "topologySpreadConstraints": [constraint({}, ["tier"])],
        },
    }
    strategy = PodStrategy()
    strategy.default(pod)
    strategy.prepare_for_create(pod)
    new = copy.deepcopy(pod)
    new["metadata"]["labels"]["tier"] = "back"
    strategy.prepare_for_update(new, pod)
    assert new["spec"]["topologySpreadConstraints"][0]["labelSelector"] == {
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]
    }
