"""The arithmetic of a PodDisruptionBudget's status: expected and desired pods, healthy pods,
what may be disrupted, and the disruptedPods entries the eviction subresource leaves."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api.poddisruptionbudget import IntOrPercentError, scaled_value
from kubelite.controllers.disruption_status import (
    budget_numbers,
    build_disrupted_pods,
    count_healthy,
    disruptions_allowed,
    failed_status,
    go_label_selector,
    needs_scale,
    new_status,
)

Obj = dict[str, Any]

NOW = dt.datetime(2025, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def at(seconds_ago: float) -> str:
    return (NOW - dt.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str, *, ready: bool = True, deleting: bool = False) -> Obj:
    md: Obj = {"name": name, "namespace": "default"}
    if deleting:
        md["deletionTimestamp"] = at(0)
    status = {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    return {"metadata": md, "status": status}


@pytest.mark.parametrize(
    ("value", "total", "up", "down"),
    [
        (3, 10, 3, 3),
        ("50%", 3, 2, 1),
        ("50%", 4, 2, 2),
        ("34%", 3, 2, 1),
        ("100%", 7, 7, 7),
        ("0%", 7, 0, 0),
        ("1%", 1, 1, 0),
        ("10%", 0, 0, 0),
    ],
)
def test_scaled_values_round_up_or_down(value: Any, total: int, up: int, down: int) -> None:
    assert scaled_value(value, total, round_up=True) == up
    assert scaled_value(value, total, round_up=False) == down


@pytest.mark.parametrize("value", ["5", "x%", "", None, 1.5])
def test_values_that_are_neither_ints_nor_percentages_are_refused(value: Any) -> None:
    with pytest.raises(IntOrPercentError):
        scaled_value(value, 10, round_up=True)


@pytest.mark.parametrize(
    ("spec", "found", "scale", "scaled", "expected", "desired"),
    [
        # minAvailable N: the pods found are what is expected, whatever the controllers say.
        ({"minAvailable": 2}, 3, 0, False, 3, 2),
        ({"minAvailable": 5}, 3, 0, False, 3, 5),
        # A percentage of the controllers' scale, rounded up.
        ({"minAvailable": "50%"}, 2, 3, True, 3, 2),
        ({"minAvailable": "100%"}, 3, 3, True, 3, 3),
        # maxUnavailable: the scale less the unavailable pods, a percentage rounded up.
        ({"maxUnavailable": 1}, 3, 3, True, 3, 2),
        ({"maxUnavailable": "50%"}, 3, 3, True, 3, 1),
        ({"maxUnavailable": "30%"}, 10, 10, True, 10, 7),
        ({"maxUnavailable": 5}, 3, 3, True, 3, 0),
        # Neither: nothing expected, nothing wanted (and so nothing allowed).
        ({}, 3, 0, False, 0, 0),
    ],
)
def test_expected_and_desired_pods(
    spec: Obj, found: int, scale: int, scaled: bool, expected: int, desired: int
) -> None:
    assert needs_scale(spec) is scaled
    assert budget_numbers(spec, found, scale) == (expected, desired)


@pytest.mark.parametrize(
    ("current", "desired", "expected", "allowed"),
    [(3, 2, 3, 1), (3, 3, 3, 0), (1, 2, 3, 0), (3, 0, 3, 3), (3, 0, 0, 0)],
)
def test_disruptions_allowed(current: int, desired: int, expected: int, allowed: int) -> None:
    assert disruptions_allowed(current, desired, expected) == allowed


def test_healthy_pods_are_ready_not_deleting_and_not_recently_evicted() -> None:
    pods = [
        pod("ready"),
        pod("unready", ready=False),
        pod("deleting", deleting=True),
        pod("evicted"),
        pod("evicted-long-ago"),
    ]
    disrupted = {"evicted": at(30), "evicted-long-ago": at(300)}
    assert count_healthy(pods, disrupted, NOW) == 2


def test_disrupted_pods_keep_only_recent_entries_of_pods_not_yet_deleting() -> None:
    pods = [pod("recent"), pod("old"), pod("deleting", deleting=True), pod("untouched")]
    recorded = {"recent": at(30), "old": at(300), "deleting": at(10), "gone": at(10)}
    kept, recheck, overdue = build_disrupted_pods(pods, recorded, NOW)
    assert kept == {"recent": recorded["recent"]}
    # Looked at again when the recent entry expires, two minutes after the eviction.
    assert recheck == NOW + dt.timedelta(seconds=90)
    assert [p["metadata"]["name"] for p in overdue] == ["old"]


def budget(generation: int = 1, **status: Any) -> Obj:
    return {"metadata": {"name": "b", "generation": generation}, "status": status}


def test_a_new_status_sets_the_condition_and_the_generation() -> None:
    status = new_status(
        budget(generation=2),
        current_healthy=3,
        desired_healthy=2,
        expected=3,
        disrupted={},
        now=NOW,
    )
    assert status is not None
    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "observedGeneration": 2,
        "disruptionsAllowed": 1,
        "currentHealthy": 3,
        "desiredHealthy": 2,
        "expectedPods": 3,
    }
    assert status["conditions"] == [
        {
            "type": "DisruptionAllowed",
            "status": "True",
            "observedGeneration": 2,
            "lastTransitionTime": "2025-05-01T12:00:00Z",
            "reason": "SufficientPods",
            "message": "",
        }
    ]


def test_a_status_that_already_says_it_is_not_written_again() -> None:
    first = new_status(
        budget(), current_healthy=1, desired_healthy=2, expected=3, disrupted={}, now=NOW
    )
    assert first is not None
    assert first["conditions"][0]["reason"] == "InsufficientPods"
    again = new_status(
        budget(**first), current_healthy=1, desired_healthy=2, expected=3, disrupted={}, now=NOW
    )
    assert again is None


def test_failing_safe_allows_nothing_and_says_why() -> None:
    status = failed_status(
        budget(observedGeneration=1, disruptionsAllowed=2), 'found no controllers for pod "p"', NOW
    )
    assert status["disruptionsAllowed"] == 0
    (condition,) = status["conditions"]
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False",
        "SyncFailed",
        'found no controllers for pod "p"',
    )


def test_selectors_print_as_go_prints_them() -> None:
    selector = {
        "matchLabels": {"b": "2", "a": "1"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["x", "y"]}],
    }
    assert go_label_selector(selector) == (
        "&LabelSelector{MatchLabels:map[string]string{a: 1,b: 2,},MatchExpressions:"
        "[]LabelSelectorRequirement{LabelSelectorRequirement{Key:tier,Operator:In,"
        "Values:[x y],},},}"
    )
    assert go_label_selector(None) == "nil"
