"""StatefulSet changes of Kubernetes 1.34-1.37 in what a rollout records, against the real API
server: an OnDelete set's currentRevision moves once every pod is recreated
(kubernetes#136833), a revision that only lacks defaults or was serialized otherwise still
describes the set (kubernetes#135017), and availability is checked again just when the next
ready pod has been ready for minReadySeconds (kubernetes#135428)."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from statefulset_objects import NOW, running, stateful_set
from test_statefulset_control import Harness
from testcluster import TestCluster

from kubelite.api import meta
from kubelite.api.resources import CONTROLLER_REVISIONS, PODS, STATEFUL_SETS
from kubelite.client.informer import key_of
from kubelite.controllers import podutil
from kubelite.controllers import statefulset_pods as sp
from kubelite.controllers import statefulset_revisions as revs
from kubelite.controllers.statefulset import StatefulSetController

Obj = dict[str, Any]


@pytest.fixture
def h(kube: TestCluster) -> Harness:
    return Harness(kube)


# --- OnDelete -----------------------------------------------------------------------------------


async def test_on_delete_moves_the_current_revision_once_every_pod_is_recreated(
    h: Harness,
) -> None:
    sset = stateful_set(3, updateStrategy={"type": "OnDelete"})
    await h.settle(sset)
    old = sset["status"]["currentRevision"]
    sset["spec"]["template"]["spec"]["containers"][0]["image"] = "redis:8"
    await h.settle(sset)
    new = sset["status"]["updateRevision"]
    assert new != old
    assert (sset["status"]["currentRevision"], sset["status"]["updatedReplicas"]) == (old, 0)

    # The user deletes the pods; the controller makes them again at the update revision.
    for name in ("redis-2", "redis-1"):
        h.delete(name)
        await h.settle(sset)
    assert sset["status"]["currentRevision"] == old  # redis-0 still runs the old template.
    assert (sset["status"]["currentReplicas"], sset["status"]["updatedReplicas"]) == (1, 2)

    h.delete("redis-0")
    await h.settle(sset)
    status = sset["status"]
    assert (status["currentRevision"], status["updateRevision"]) == (new, new)
    assert (status["currentReplicas"], status["updatedReplicas"]) == (3, 3)


async def test_on_delete_waits_for_the_recreated_pods_to_be_ready(h: Harness) -> None:
    sset = stateful_set(1, updateStrategy={"type": "OnDelete"})
    await h.settle(sset)
    old = sset["status"]["currentRevision"]
    sset["spec"]["template"]["spec"]["containers"][0]["image"] = "redis:8"
    await h.sync(sset)
    h.delete("redis-0")
    await h.sync(sset)  # recreated
    await h.sync(sset)  # seen, Pending
    assert sset["status"]["updatedReplicas"] == 1
    assert sset["status"]["currentRevision"] == old
    h.make_running("redis-0")
    await h.sync(sset)
    assert sset["status"]["currentRevision"] == sset["status"]["updateRevision"]


# --- semantic revisions -------------------------------------------------------------------------


def legacy_revision(kube: TestCluster, template: Obj, number: int = 1) -> Obj:
    """A revision of the set's template as an older release wrote it: `"creationTimestamp":
    null` in the template's metadata and no defaulted fields, under a name its hash gave."""
    recorded = copy.deepcopy(template)
    recorded["metadata"] = {"creationTimestamp": None, **recorded.get("metadata", {})}
    recorded["$patch"] = "replace"
    body = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": "redis-legacy",
            "labels": {"app": "redis", revs.HASH_LABEL: "legacy"},
        },
        "data": {"spec": {"template": recorded}},
        "revision": number,
    }
    created: Obj = kube.blocking.create(CONTROLLER_REVISIONS, body, namespace=kube.namespace)
    return created


async def test_a_revision_differing_only_in_defaults_and_serialization_is_kept(
    h: Harness,
) -> None:
    sset = stateful_set(2)
    legacy = legacy_revision(h.kube, sset["spec"]["template"])
    assert "terminationMessagePath" not in str(legacy["data"])
    await h.settle(sset)
    assert list(h.history.revisions) == ["redis-legacy"]
    assert (sset["status"]["currentRevision"], sset["status"]["updateRevision"]) == (
        "redis-legacy",
        "redis-legacy",
    )
    assert {sp.pod_revision(p) for p in h.objects.pods.values()} == {"redis-legacy"}
    # The same again later: no rollout of the pods made at the legacy revision.
    await h.sync(sset)
    assert h.objects.actions == []


async def test_a_real_change_still_makes_a_new_revision(h: Harness) -> None:
    sset = stateful_set(1)
    legacy_revision(h.kube, sset["spec"]["template"])
    await h.settle(sset)
    sset["spec"]["template"]["spec"]["containers"][0]["image"] = "redis:8"
    await h.sync(sset)
    assert len(h.history.revisions) == 2
    assert sset["status"]["updateRevision"] != "redis-legacy"
    assert h.objects.actions == [("delete", "pod", "redis-0")]


def test_describes_set_compares_the_defaulted_templates() -> None:
    sset = stateful_set(1)
    wanted = revs.new_revision(sset, 2, None)
    legacy = copy.deepcopy(wanted)
    legacy["data"]["spec"]["template"]["metadata"]["creationTimestamp"] = None
    assert revs.go_json(legacy["data"]) != revs.go_json(wanted["data"])
    assert not revs.equal_revision(legacy, wanted)
    assert revs.describes_set(legacy, wanted, sset)
    # A container's default written out in one and left to defaulting in the other.
    spelled = copy.deepcopy(wanted)
    spelled["data"]["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    assert revs.describes_set(spelled, wanted, sset)
    other = copy.deepcopy(wanted)
    other["data"]["spec"]["template"]["spec"]["containers"][0]["image"] = "redis:8"
    assert not revs.describes_set(other, wanted, sset)


# --- when availability is looked at again ---------------------------------------------------------


def ready_pod(ready_since: dt.datetime | None) -> Obj:
    pod: Obj = {"metadata": {"name": "p"}}
    if ready_since is None:
        pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}
        return pod
    return running(pod, ready_since=ready_since)


def ago(seconds: float) -> dt.datetime:
    return NOW - dt.timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("ready_for", "evaluated", "expected"),
    [
        # The first ready pod still waiting decides: 30 - 25 seconds.
        ([10, 25, None], NOW, 5.0),
        # Every ready pod available already, or none ready: nothing to wait for.
        ([40, 31], NOW, None),
        ([None], NOW, None),
        # Counted 3 s ago, when the pod still waited: still measured from now.
        ([25], NOW - dt.timedelta(seconds=3), 5.0),
        # Counted when the pod still waited, and it has turned available since: at once.
        ([31], NOW - dt.timedelta(seconds=3), 0.0),
    ],
)
def test_next_availability_check(
    ready_for: list[float | None], evaluated: dt.datetime, expected: float | None
) -> None:
    pods = [ready_pod(None if s is None else ago(s)) for s in ready_for]
    assert podutil.next_availability_check(pods, 30, evaluated, NOW) == expected
    assert podutil.next_availability_check(pods, 0, evaluated, NOW) is None


def clock_from(*times: dt.datetime) -> Any:
    """A clock that answers these times in turn, then the last one for ever."""
    seq: Iterator[dt.datetime] = iter(times)
    last = times[-1]

    def now() -> dt.datetime:
        nonlocal last
        last = next(seq, last)
        return last

    return now


async def synced_set(kube: TestCluster, ready_for: list[float]) -> tuple[Any, Obj]:
    """A StatefulSet (minReadySeconds 30) with a Running and Ready pod per entry, ready that
    many seconds, in the server and in a controller's caches."""
    kube.freeze_time(NOW)
    body = stateful_set(len(ready_for), minReadySeconds=30)
    body["metadata"] = {"name": "redis"}
    body.pop("status")
    stored = kube.blocking.create(STATEFUL_SETS, body, namespace=kube.namespace)
    sset = {**stored, "apiVersion": "apps/v1", "kind": "StatefulSet"}
    controller = StatefulSetController(kube.client)
    controller.sets._store(key_of(stored), stored)
    revision = meta.name_of(revs.new_revision(sset, 1, 0))
    for ordinal, seconds in enumerate(ready_for):
        pod = sp.new_pod(sset, ordinal)
        pod["metadata"]["labels"][sp.REVISION_LABEL] = revision
        pod = kube.blocking.create(PODS, pod, namespace=kube.namespace)
        pod["status"] = running({}, ready_since=ago(seconds))["status"]
        pod = kube.blocking.update(PODS, pod, namespace=kube.namespace, subresource="status")
        controller.pods._store(key_of(pod), pod)
    return controller, stored


@pytest.mark.parametrize(
    ("ready_for", "later", "expected"),
    [
        # redis-1 has 5 s to go: looked at again then, not 30 s after this sync.
        ([60, 25], 0, 5.0),
        # The sync itself took 2 s: 3 s are left.
        ([60, 25], 2, 3.0),
        # All available: nothing to wait for.
        ([60, 45], 0, None),
    ],
)
async def test_the_sync_comes_back_when_the_next_pod_becomes_available(
    kube: TestCluster, ready_for: list[float], later: float, expected: float | None
) -> None:
    controller, stored = await synced_set(kube, ready_for)
    controller.control.clock = clock_from(NOW, NOW + dt.timedelta(seconds=later))
    again = await controller.sync(key_of(stored))
    assert again == (None if expected is None else pytest.approx(expected))
    status = kube.blocking.get(STATEFUL_SETS, meta.name_of(stored), namespace=kube.namespace)[
        "status"
    ]
    assert status["readyReplicas"] == 2
    assert status["availableReplicas"] == sum(1 for s in ready_for if s >= 30)
