"""TriggerTimeTracker: which change a sync of a Service's endpoints reports, and when it
happened (the `endpoints.kubernetes.io/last-change-trigger-time` annotation)."""

from __future__ import annotations

import datetime as dt

from endpoints_fixtures import pod, service

from kubelite.controllers.endpoints_util import TriggerTimeTracker

KEY = "ns/web"
CREATED = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def at(seconds: int) -> dt.datetime:
    return CREATED + dt.timedelta(seconds=seconds)


def ready(name: str, status: bool, seconds: int) -> dict:
    p = pod(name, ready=status)
    p["status"]["conditions"][0]["lastTransitionTime"] = at(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")
    return p


def svc() -> dict:
    s = service()
    s["metadata"]["creationTimestamp"] = "2025-01-01T00:00:00Z"
    return s


def test_a_service_seen_first_reports_its_creation_then_only_what_moved() -> None:
    tracker = TriggerTimeTracker()
    assert tracker.compute(KEY, svc(), [ready("a", True, 5)]) == CREATED
    assert tracker.compute(KEY, svc(), [ready("a", True, 5)]) is None
    assert tracker.compute(KEY, svc(), [ready("a", True, 5), ready("b", True, 9)]) == at(9)
    assert tracker.compute(KEY, svc(), [ready("a", False, 20), ready("b", True, 9)]) == at(20)


def test_a_ready_flip_within_the_same_second_is_a_change() -> None:
    """Transition times have whole seconds: a pod seen NotReady then Ready within one second
    keeps the same time, and its move into the addresses still reports it."""
    tracker = TriggerTimeTracker()
    tracker.compute(KEY, svc(), [ready("a", False, 7)])
    assert tracker.compute(KEY, svc(), [ready("a", True, 7)]) == at(7)
    assert tracker.compute(KEY, svc(), [ready("a", True, 7)]) is None


def test_restore_reports_the_same_change_again() -> None:
    tracker = TriggerTimeTracker()
    tracker.compute(KEY, svc(), [ready("a", True, 5)])
    assert tracker.compute(KEY, svc(), [ready("a", True, 5), ready("b", True, 8)]) == at(8)
    tracker.restore(KEY)
    # The retry sees a further pod too: the earliest unpublished change is reported.
    pods = [ready("a", True, 5), ready("b", True, 8), ready("c", True, 12)]
    assert tracker.compute(KEY, svc(), pods) == at(8)
    assert tracker.compute(KEY, svc(), pods) is None


def test_restore_of_a_first_sync_makes_the_service_new_again() -> None:
    tracker = TriggerTimeTracker()
    assert tracker.compute(KEY, svc(), [ready("a", True, 5)]) == CREATED
    tracker.restore(KEY)
    assert tracker.compute(KEY, svc(), [ready("a", True, 5)]) == CREATED
    assert tracker.compute(KEY, svc(), [ready("a", True, 5)]) is None
    # Only the latest compute is undone, however often restore is called.
    tracker.restore(KEY)
    tracker.restore(KEY)
    assert tracker.compute(KEY, svc(), [ready("a", True, 5)]) is None
