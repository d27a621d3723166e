"""A condition's lastTransitionTime moves only when its status changes (api/conditions.py)."""

from __future__ import annotations

import datetime as dt

from kubelite.api.conditions import set_status_condition, transition_time, update_pod_condition

EARLIER = "2026-01-01T00:00:00Z"
NOW = "2026-01-02T00:00:00Z"


def test_the_transition_time_holds_while_the_status_does() -> None:
    previous = {"type": "Ready", "status": "True", "lastTransitionTime": EARLIER}
    assert transition_time(previous, "True", NOW) == EARLIER
    assert transition_time(previous, "False", NOW) == NOW
    assert transition_time(None, "True", NOW) == NOW
    # A previous condition without a time cannot lend one.
    assert transition_time({"status": "True"}, "True", NOW) == NOW


def test_set_status_condition_adds_and_replaces_in_place() -> None:
    now = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    conditions: list[dict[str, object]] = []
    set_status_condition(conditions, {"type": "Allowed", "status": "True", "reason": "A"}, now)
    assert conditions == [
        {
            "type": "Allowed",
            "status": "True",
            "observedGeneration": 0,
            "lastTransitionTime": NOW,
            "reason": "A",
            "message": "",
        }
    ]
    later = now + dt.timedelta(days=1)
    set_status_condition(
        conditions, {"type": "Allowed", "status": "True", "reason": "B", "message": "m"}, later
    )
    assert (conditions[0]["reason"], conditions[0]["lastTransitionTime"]) == ("B", NOW)
    set_status_condition(conditions, {"type": "Allowed", "status": "False"}, later)
    assert conditions[0]["lastTransitionTime"] == "2026-01-03T00:00:00Z"
    assert len(conditions) == 1


def test_update_pod_condition_replaces_the_condition_of_its_type() -> None:
    now = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    pod: dict[str, object] = {}
    target = {"type": "DisruptionTarget", "status": "True", "lastProbeTime": None, "reason": "R"}
    assert update_pod_condition(pod, target, now)
    assert pod == {"status": {"conditions": [{**target, "lastTransitionTime": NOW}]}}
    later = now + dt.timedelta(days=1)
    # The same condition again changes nothing, and keeps its time.
    assert not update_pod_condition(pod, target, later)
    # Another reason replaces it whole, still with the time it became True.
    assert update_pod_condition(pod, {"type": "DisruptionTarget", "status": "True"}, later)
    assert pod["status"] == {
        "conditions": [{"type": "DisruptionTarget", "status": "True", "lastTransitionTime": NOW}]
    }
    assert update_pod_condition(pod, {"type": "DisruptionTarget", "status": "False"}, later)
    assert pod["status"]["conditions"][0]["lastTransitionTime"] == "2026-01-03T00:00:00Z"  # type: ignore[index]
