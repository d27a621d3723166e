"""The decisions of one StatefulSet sync (StatefulSetControl), against in-memory pods.

Each case sets up pods as the caches would hold them, runs one sync, and looks at what was
written, in order: which pods and claims were created, updated or deleted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from statefulset_fakes import NOW, FakeHistory, FakeObjects, running, stateful_set

from kubelite.api import meta
from kubelite.client.errors import APIForbiddenError
from kubelite.controllers import statefulset_pods as sp
from kubelite.controllers.statefulset_control import StatefulSetControl
from kubelite.controllers.statefulset_podcontrol import StatefulPodControl

Obj = dict[str, Any]


class Harness:
    def __init__(self) -> None:
        self.objects = FakeObjects()
        self.history = FakeHistory()
        self.events: list[tuple[str, str, str]] = []
        self.statuses: list[Obj] = []
        self.control = StatefulSetControl(
            StatefulPodControl(self.objects, self._record),
            self.history,
            self._write_status,
            clock=lambda: NOW,
        )

    def _record(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        self.events.append((event_type, reason, message))

    async def _write_status(self, sset: Obj, status: Obj) -> None:
        self.statuses.append(dict(status))
        sset["status"] = {**sset.get("status", {}), **status}

    async def sync(self, sset: Obj) -> Obj | None:
        self.objects.actions.clear()
        return await self.control.update(sset, self.objects.set_pods(sset), self.history.listed())

    def make_running(self, *names: str, ready_since: dt.datetime | None = None) -> None:
        for name in names:
            since = ready_since or NOW - dt.timedelta(hours=1)
            running(self.objects.pods[name], ready_since=since)

    async def settle(self, sset: Obj, rounds: int = 10) -> None:
        """Sync until nothing is written, every pod made Running and Ready as it appears."""
        for _ in range(rounds):
            await self.sync(sset)
            self.make_running(*self.objects.pods)
            if not self.objects.actions:
                return
        raise AssertionError("the set did not settle")


# --- creating in order --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "existing", "created"),
    [
        # OrderedReady: one at a time, each only once all before it are Running and Ready.
        ("OrderedReady", {}, ["redis-0"]),
        ("OrderedReady", {"redis-0": "Pending"}, []),
        ("OrderedReady", {"redis-0": "Running"}, ["redis-1"]),
        ("OrderedReady", {"redis-0": "Running", "redis-1": "Pending"}, []),
        ("OrderedReady", {"redis-0": "Running", "redis-1": "Running"}, ["redis-2"]),
        # A missing lower ordinal is made again before anything above it.
        ("OrderedReady", {"redis-1": "Running"}, ["redis-0"]),
        # Parallel: all at once, whatever state the others are in.
        ("Parallel", {}, ["redis-0", "redis-1", "redis-2"]),
        ("Parallel", {"redis-0": "Pending"}, ["redis-1", "redis-2"]),
    ],
)
async def test_pods_are_created_by_ordinal(
    policy: str, existing: dict[str, str], created: list[str]
) -> None:
    h = Harness()
    sset = stateful_set(3, podManagementPolicy=policy)
    await h.sync(sset)  # records the first revision
    for name in list(h.objects.pods):
        if name not in existing:
            del h.objects.pods[name]
    for name, phase in existing.items():
        if name not in h.objects.pods:
            h.objects.pods[name] = sp.new_pod(sset, sp.ordinal_of({"metadata": {"name": name}}))
            h.objects.pods[name]["metadata"]["uid"] = f"uid-{name}"
        h.objects.pods[name]["status"] = {"phase": "Pending"}
        if phase == "Running":
            h.make_running(name)
    await h.sync(sset)
    assert sorted(n for verb, kind, n in h.objects.actions if verb == "create") == created


async def test_a_ready_pod_is_not_enough_until_min_ready_seconds_have_passed() -> None:
    h = Harness()
    sset = stateful_set(2, minReadySeconds=30)
    await h.sync(sset)
    h.make_running("redis-0", ready_since=NOW - dt.timedelta(seconds=10))
    await h.sync(sset)
    assert h.objects.actions == []
    h.make_running("redis-0", ready_since=NOW - dt.timedelta(seconds=31))
    await h.sync(sset)
    assert h.objects.actions == [("create", "pod", "redis-1")]


async def test_a_new_pod_has_its_identity_revision_and_owner() -> None:
    h = Harness()
    sset = stateful_set(1, ordinals={"start": 5})
    await h.sync(sset)
    (pod,) = h.objects.pods.values()
    revision = next(iter(h.history.revisions))
    assert meta.name_of(pod) == "redis-5"
    assert meta.labels_of(pod) == {
        "app": "redis",
        "statefulset.kubernetes.io/pod-name": "redis-5",
        "apps.kubernetes.io/pod-index": "5",
        "controller-revision-hash": revision,
    }
    assert pod["spec"]["hostname"] == "redis-5"
    assert pod["spec"]["subdomain"] == "redis-svc"
    (ref,) = pod["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
        "StatefulSet",
        "redis",
        "set-uid",
        True,
    )
    assert h.events == [
        ("Normal", "SuccessfulCreate", "create Pod redis-5 in StatefulSet redis successful")
    ]


async def test_claims_are_created_before_their_pod_and_mounted_by_it() -> None:
    h = Harness()
    template = {
        "metadata": {"name": "data", "labels": {"tier": "cache"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    sset = stateful_set(1, volumeClaimTemplates=[template])
    sset["spec"]["template"]["spec"]["volumes"] = [{"name": "data", "emptyDir": {}}]
    await h.sync(sset)
    assert h.objects.actions == [("create", "claim", "data-redis-0"), ("create", "pod", "redis-0")]
    claim = h.objects.claims["data-redis-0"]
    assert meta.labels_of(claim) == {"tier": "cache", "app": "redis"}
    assert "ownerReferences" not in claim["metadata"]  # Retain: nobody owns it
    # The template's volume of the claim's name is replaced by the claim.
    assert h.objects.pods["redis-0"]["spec"]["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-redis-0"}}
    ]
    assert h.events[0] == (
        "Normal",
        "SuccessfulCreate",
        "create Claim data-redis-0 Pod redis-0 in StatefulSet redis success",
    )


async def test_a_refused_create_is_reported_and_raised() -> None:
    h = Harness()
    sset = stateful_set(1)
    h.objects.refuse.add(("create", "redis-0"))
    with pytest.raises(APIForbiddenError):
        await h.sync(sset)
    assert h.events == [
        ("Warning", "FailedCreate", "create Pod redis-0 in StatefulSet redis failed error: refused")
    ]
    # The status is still written: the revisions are known even though no pod was made.
    assert h.statuses[-1]["updateRevision"] == next(iter(h.history.revisions))


# --- failed pods, scaling down ------------------------------------------------------------------


async def test_a_failed_pod_is_deleted_to_be_made_again() -> None:
    h = Harness()
    sset = stateful_set(2)
    await h.settle(sset)
    h.objects.pods["redis-0"]["status"] = {"phase": "Failed"}
    await h.sync(sset)
    assert h.objects.actions == [("delete", "pod", "redis-0")]
    await h.sync(sset)
    assert h.objects.actions == [("create", "pod", "redis-0")]


@pytest.mark.parametrize(
    ("policy", "terminating", "deleted"),
    [
        # Highest ordinal first, one at a time, each only after the last one is gone.
        ("OrderedReady", set(), ["redis-3"]),
        ("OrderedReady", {"redis-3"}, []),
        # Parallel deletes every surplus pod at once.
        ("Parallel", set(), ["redis-1", "redis-2", "redis-3"]),
        ("Parallel", {"redis-3"}, ["redis-1", "redis-2"]),
    ],
)
async def test_scaling_down_removes_the_highest_ordinals(
    policy: str, terminating: set[str], deleted: list[str]
) -> None:
    h = Harness()
    sset = stateful_set(4, podManagementPolicy=policy)
    await h.settle(sset)
    for name in terminating:
        h.objects.pods[name]["metadata"]["deletionTimestamp"] = meta.format_time(NOW)
    sset["spec"]["replicas"] = 1
    await h.sync(sset)
    assert sorted(n for verb, _, n in h.objects.actions if verb == "delete") == deleted


async def test_scaling_down_waits_for_the_remaining_pods_to_be_healthy() -> None:
    h = Harness()
    sset = stateful_set(3)
    await h.settle(sset)
    h.objects.pods["redis-0"]["status"] = {"phase": "Pending"}
    sset["spec"]["replicas"] = 1
    await h.sync(sset)
    assert h.objects.actions == []
    # An unhealthy surplus pod, though, goes at once: it is the first unhealthy one.
    h.make_running("redis-0")
    h.objects.pods["redis-2"]["status"] = {"phase": "Pending"}
    await h.sync(sset)
    assert h.objects.actions == [("delete", "pod", "redis-2")]


# --- updates ------------------------------------------------------------------------------------


async def updated(h: Harness, **strategy: Any) -> tuple[Obj, str]:
    """A settled set of three whose template then changed; (set, its old revision)."""
    sset = stateful_set(3, **strategy)
    await h.settle(sset)
    old = sset["status"]["currentRevision"]
    sset["spec"]["template"]["spec"]["containers"][0]["image"] = "redis:8"
    sset["metadata"]["generation"] = 2
    return sset, old


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        # Highest ordinal first, one at a time.
        ({}, ["redis-2", "redis-1", "redis-0"]),
        # Only ordinals at or above the partition.
        (
            {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}},
            [
                "redis-2",
                "redis-1",
            ],
        ),
        # OnDelete: the user deletes; the controller only makes new pods at the new revision.
        ({"updateStrategy": {"type": "OnDelete"}}, []),
    ],
)
async def test_rolling_update_replaces_pods_from_the_highest_ordinal(
    strategy: Obj, expected: list[str]
) -> None:
    h = Harness()
    sset, old = await updated(h, **strategy)
    order = []
    for _ in range(12):
        await h.sync(sset)
        order += [n for verb, _, n in h.objects.actions if verb == "delete"]
        h.make_running(*h.objects.pods)
    assert order == expected
    new = sset["status"]["updateRevision"]
    assert new != old
    revisions = {n: sp.pod_revision(p) for n, p in h.objects.pods.items()}
    assert sorted(n for n, r in revisions.items() if r == new) == sorted(expected)
    if expected == ["redis-2", "redis-1", "redis-0"]:
        # The update is complete: the update revision became the current one.
        assert sset["status"]["currentRevision"] == new
        assert sset["status"]["currentReplicas"] == 3
    else:
        assert sset["status"]["currentRevision"] == old


async def test_an_update_waits_for_the_replaced_pod_to_be_ready() -> None:
    h = Harness()
    sset, _ = await updated(h)
    await h.sync(sset)
    assert h.objects.actions == [("delete", "pod", "redis-2")]
    await h.sync(sset)
    assert h.objects.actions == [("create", "pod", "redis-2")]
    await h.sync(sset)  # redis-2 is Pending at the new revision
    assert h.objects.actions == []
    h.make_running("redis-2")
    await h.sync(sset)
    assert h.objects.actions == [("delete", "pod", "redis-1")]


async def test_status_counts_current_and_updated_pods() -> None:
    h = Harness()
    sset, old = await updated(h)
    await h.sync(sset)  # deletes redis-2
    await h.sync(sset)  # makes redis-2 at the new revision
    h.make_running("redis-2")
    await h.sync(sset)  # deletes redis-1
    status = sset["status"]
    assert status["observedGeneration"] == 2
    assert status["currentRevision"] == old
    assert status["updateRevision"] != old
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (3, 3, 3)
    assert (status["currentReplicas"], status["updatedReplicas"]) == (1, 1)
    assert status["collisionCount"] == 0


async def test_going_back_to_an_old_template_renumbers_its_revision() -> None:
    h = Harness()
    sset, old = await updated(h)
    await h.settle(sset)
    sset["spec"]["template"]["spec"]["containers"][0]["image"] = "redis:7"
    await h.settle(sset)
    assert sset["status"]["updateRevision"] == old
    assert h.history.revisions[old]["revision"] == 3
    assert len(h.history.revisions) == 2


async def test_history_beyond_the_limit_is_pruned_oldest_first() -> None:
    h = Harness()
    sset = stateful_set(1, revisionHistoryLimit=1)
    await h.settle(sset)
    first = sset["status"]["currentRevision"]
    for image in ("redis:8", "redis:9"):
        sset["spec"]["template"]["spec"]["containers"][0]["image"] = image
        await h.settle(sset)
    # The status write that completed the update brings one more sync, as its watch event would.
    await h.sync(sset)
    # Live: the current and update revision (one now) and the pods'; one more is kept.
    assert h.history.deleted == [first]
    assert len(h.history.revisions) == 2
