"""The results manager: latest result per container and kind, announced only on change."""

from __future__ import annotations

from kubelite.kubelet.prober.results import FAILURE, SUCCESS, ProbeUpdate, ResultsManager


def test_results_are_announced_when_they_first_appear_and_when_they_change() -> None:
    results = ResultsManager()
    updates: list[ProbeUpdate] = []
    results.subscribe(updates.append)
    results.set("c1", "readiness", FAILURE, "uid-1")
    results.set("c1", "readiness", FAILURE, "uid-1")
    results.set("c1", "readiness", SUCCESS, "uid-1")
    results.set("c1", "readiness", SUCCESS, "uid-1")
    assert [(u.container_id, u.kind, u.result, u.pod_uid) for u in updates] == [
        ("c1", "readiness", FAILURE, "uid-1"),
        ("c1", "readiness", SUCCESS, "uid-1"),
    ]
    assert results.get("c1", "readiness") == SUCCESS


def test_kinds_are_kept_apart_and_unknown_is_none() -> None:
    results = ResultsManager()
    results.set("c1", "liveness", SUCCESS, "uid-1")
    assert results.get("c1", "liveness") == SUCCESS
    assert results.get("c1", "startup") is None
    assert results.get("c2", "liveness") is None


def test_removing_a_container_forgets_all_its_results_silently() -> None:
    results = ResultsManager()
    updates: list[ProbeUpdate] = []
    results.set("c1", "liveness", SUCCESS, "uid-1")
    results.set("c1", "readiness", FAILURE, "uid-1")
    results.subscribe(updates.append)
    results.remove("c1")
    assert results.get("c1", "liveness") is None
    assert results.get("c1", "readiness") is None
    assert updates == []


def test_a_failing_subscriber_does_not_stop_the_others() -> None:
    results = ResultsManager()
    updates: list[ProbeUpdate] = []

    def broken(update: ProbeUpdate) -> None:
        raise RuntimeError("boom")

    results.subscribe(broken)
    results.subscribe(updates.append)
    results.set("c1", "liveness", FAILURE, "uid-1")
    assert len(updates) == 1
