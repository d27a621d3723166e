"""Pod control: slow-start batches, pods made from templates, and claiming (adopt/release).

Kubernetes' slowStartBatch, GetPodFromTemplate and PodControllerRefManager.ClaimPods
(pkg/controller/controller_utils.go, controller_ref_manager.go). `claim` runs against
the unit tests' real API server (`testcluster`): the pods are made there, and a `Recorder`
around the real client notes the patches claiming sends.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable
from typing import Any

import pytest
from testcluster import Recorder, TestCluster

from kubelite.api import labels
from kubelite.api.resources import PODS
from kubelite.client.api import PatchType
from kubelite.client.errors import APIError
from kubelite.client.events import EventRecorder
from kubelite.controllers.podcontrol import PodControl, pod_from_template, slow_start_batch

Obj = dict[str, Any]


def _status(code: int, reason: str) -> Obj:
    return {"kind": "Status", "code": code, "reason": reason, "message": reason}


# --- slowStartBatch ----------------------------------------------------------------------------


class Calls:
    """`fn` for slow_start_batch: records the batches it is called in; fails the calls whose
    numbers (from 1) are in `fail`.

    The calls of one batch are made together (their coroutines are built before any runs), so
    a call made after a coroutine of ours ran starts a new batch.
    """

    def __init__(self, fail: set[int]) -> None:
        self.fail = fail
        self.batches: list[int] = []
        self.calls = 0
        self._ran = True

    def __call__(self) -> Awaitable[None]:
        if self._ran:
            self.batches.append(0)
            self._ran = False
        self.batches[-1] += 1
        self.calls += 1
        number = self.calls

        async def run() -> None:
            self._ran = True
            if number in self.fail:
                raise APIError(_status(403, "Forbidden"))

        return run()


@pytest.mark.parametrize(
    ("count", "fail", "batches", "successes", "failed"),
    [
        (0, set(), [], 0, False),
        (1, set(), [1], 1, False),
        (3, set(), [1, 2], 3, False),
        (7, set(), [1, 2, 4], 7, False),
        (10, set(), [1, 2, 4, 3], 10, False),
        (20, set(), [1, 2, 4, 8, 5], 20, False),
        (10, {1}, [1], 0, True),  # all refused: one request, not ten
        (10, {2}, [1, 2], 2, True),
        (10, {4, 6}, [1, 2, 4], 5, True),
        (10, {8}, [1, 2, 4, 3], 9, True),  # a failure in the last batch
    ],
    ids=[
        "none",
        "one",
        "three",
        "seven",
        "ten",
        "twenty",
        "first-fails",
        "second-batch-fails",
        "third-batch-two-fail",
        "last-batch-fails",
    ],
)
async def test_slow_start_batch(
    count: int, fail: set[int], batches: list[int], successes: int, failed: bool
) -> None:
    """slowStartBatch: batches of 1, 2, 4, ... capped by what is left; no batch starts after
    one with a failure; the result counts every success, the failed batch's included."""
    fn = Calls(fail)
    done, error = await slow_start_batch(count, fn)
    assert fn.batches == batches
    assert done == successes
    assert isinstance(error, APIError) if failed else error is None


# --- GetPodFromTemplate ------------------------------------------------------------------------

OWNER: Obj = {
    "apiVersion": "apps/v1",
    "kind": "ReplicaSet",
    "metadata": {"name": "web", "namespace": "default", "uid": "rs-uid"},
}
OWNER_REF = {
    "apiVersion": "apps/v1",
    "kind": "ReplicaSet",
    "name": "web",
    "uid": "rs-uid",
    "controller": True,
    "blockOwnerDeletion": True,
}
SPEC = {"containers": [{"name": "app", "image": "nginx"}]}


@pytest.mark.parametrize(
    ("template_metadata", "expected_metadata"),
    [
        (
            {
                "labels": {"app": "web"},
                "annotations": {"note": "x"},
                "finalizers": ["example.com/keep"],
            },
            {
                "labels": {"app": "web"},
                "annotations": {"note": "x"},
                "finalizers": ["example.com/keep"],
            },
        ),
        ({"labels": {"app": "web"}}, {"labels": {"app": "web"}}),
        ({}, {}),
        # The template's own name and namespace are not the pod's.
        ({"name": "tmpl", "namespace": "other", "labels": {"a": "b"}}, {"labels": {"a": "b"}}),
    ],
    ids=["labels-annotations-finalizers", "labels-only", "empty", "name-not-copied"],
)
def test_pod_from_template(template_metadata: Obj, expected_metadata: Obj) -> None:
    """GetPodFromTemplate: the template's labels, annotations, finalizers and spec, the
    generateName `<owner>-`, and a controller ownerReference that blocks owner deletion."""
    template = {"metadata": template_metadata, "spec": SPEC}
    pod = pod_from_template(template, OWNER, generate_name="web-")
    assert pod == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {**expected_metadata, "generateName": "web-", "ownerReferences": [OWNER_REF]},
        "spec": SPEC,
    }


def test_a_pod_from_a_template_shares_nothing_with_it() -> None:
    """The pod is a deep copy: changing it (as the API server's defaulting would) leaves the
    owner's template alone."""
    template = {"metadata": {"labels": {"app": "web"}}, "spec": copy.deepcopy(SPEC)}
    pod = pod_from_template(template, OWNER)
    pod["spec"]["containers"][0]["image"] = "changed"
    pod["metadata"]["labels"]["app"] = "changed"
    assert template == {"metadata": {"labels": {"app": "web"}}, "spec": SPEC}
    assert "generateName" not in pod["metadata"]


# --- ClaimPods -----------------------------------------------------------------------------------


def make_pod(
    name: str,
    app: str = "web",
    *,
    controller_uid: str = "",
    other_owner: bool = False,
    deleting: bool = False,
) -> Obj:
    md: Obj = {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": {"app": app}}
    refs = []
    if controller_uid:
        refs.append({**OWNER_REF, "uid": controller_uid, "name": "x"})
    if other_owner:  # an owner that is not a controller: the pod is still an orphan
        refs.append({"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "cm-uid"})
    if refs:
        md["ownerReferences"] = refs
    if deleting:
        md["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": copy.deepcopy(SPEC)}


async def made(kube: TestCluster, *pods: Obj, gone: tuple[str, ...] = ()) -> list[Obj]:
    """`pods` as the server stores them (a deleting one held by a finalizer of the test's);
    those named in `gone` deleted since (a cache would still show them)."""
    stored = []
    for pod in pods:
        pod = copy.deepcopy(pod)
        md = pod["metadata"]
        for system in ("uid", "namespace"):
            md.pop(system)
        deleting = md.pop("deletionTimestamp", None)
        if deleting:
            md["finalizers"] = ["kubelite.test/hold"]
        created = await kube.create(PODS, pod)
        if deleting or md["name"] in gone:
            await kube.client.delete(PODS, md["name"], namespace=kube.namespace)
        if deleting:
            created = await kube.get(PODS, md["name"])
            assert created["metadata"]["deletionTimestamp"]
        stored.append(created)
    return stored


def adopt_patch(pod: Obj) -> Obj:
    return {"metadata": {"ownerReferences": [OWNER_REF], "uid": pod["metadata"]["uid"]}}


def release_patch(pod: Obj) -> Obj:
    return {
        "metadata": {
            "ownerReferences": [{"$patch": "delete", "uid": "rs-uid"}],
            "uid": pod["metadata"]["uid"],
        }
    }


def patches_sent(api: Recorder) -> list[tuple[str, Obj]]:
    """The patches claiming asked for (those of pods gone meanwhile too), in order."""
    for write in api.asked:
        assert (write.plural, write.options.get("patch_type")) == ("pods", PatchType.STRATEGIC)
    return [(w.name, w.sent) for w in api.asked]


SELECTOR = labels.from_label_selector({"matchLabels": {"app": "web"}})


async def run_claim(
    kube: TestCluster,
    api: Recorder,
    pods: list[Obj],
    *,
    may_adopt: bool = True,
    owner_deleting: bool = False,
) -> tuple[list[str], int]:
    """Claim `pods` for OWNER: the names claimed, and how often can_adopt was asked."""
    owner = copy.deepcopy(OWNER)
    owner["metadata"]["namespace"] = kube.namespace
    if owner_deleting:
        owner["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    asked = 0

    async def can_adopt() -> bool:
        nonlocal asked
        asked += 1
        return may_adopt

    control = PodControl(api, EventRecorder(api, "test"))  # type: ignore[arg-type]
    claimed = await control.claim(owner, SELECTOR, pods, can_adopt)
    return [p["metadata"]["name"] for p in claimed], asked


@pytest.mark.parametrize(
    ("pod", "may_adopt", "owner_deleting", "claimed", "patch"),
    [
        (make_pod("orphan"), True, False, ["orphan"], adopt_patch),
        (make_pod("orphan", other_owner=True), True, False, ["orphan"], adopt_patch),
        (make_pod("stray", app="db"), True, False, [], None),
        (make_pod("theirs", controller_uid="other-uid"), True, False, [], None),
        (make_pod("theirs", app="db", controller_uid="other-uid"), True, False, [], None),
        (make_pod("ours", controller_uid="rs-uid"), True, False, ["ours"], None),
        (make_pod("ours", app="db", controller_uid="rs-uid"), True, False, [], release_patch),
        (make_pod("orphan"), False, False, [], None),
        (make_pod("orphan"), True, True, [], None),
        (make_pod("orphan", deleting=True), True, False, [], None),
        # Claiming what it already owns takes no write, so a deleted owner still may.
        (make_pod("ours", controller_uid="rs-uid"), True, True, ["ours"], None),
    ],
    ids=[
        "adopts-matching-orphan",
        "adopts-orphan-with-non-controller-owner",
        "ignores-non-matching-orphan",
        "skips-other-controllers-pod",
        "skips-other-controllers-non-matching-pod",
        "keeps-own-matching-pod",
        "releases-own-non-matching-pod",
        "no-adoption-when-can-adopt-says-no",
        "no-adoption-when-owner-deleting",
        "no-adoption-of-terminating-pod",
        "keeps-own-pod-while-owner-deleting",
    ],
)
async def test_claim(
    kube: TestCluster,
    pod: Obj,
    may_adopt: bool,
    owner_deleting: bool,
    claimed: list[str],
    patch: Any,
) -> None:
    """ClaimObject: adopt matching orphans (a strategic-merge patch adding the controller
    reference, with the pod's uid as precondition) unless the owner is going or may no longer
    adopt; release own pods that stopped matching; leave other controllers' pods alone."""
    (stored,) = await made(kube, pod)
    api = Recorder(kube.client)
    got, _ = await run_claim(
        kube, api, [stored], may_adopt=may_adopt, owner_deleting=owner_deleting
    )
    assert got == claimed
    name = stored["metadata"]["name"]
    assert patches_sent(api) == ([(name, patch(stored))] if patch else [])
    after = (await kube.get(PODS, name))["metadata"].get("ownerReferences") or []
    if patch is adopt_patch:
        assert OWNER_REF in after
    elif patch is release_patch:
        assert not any(r["uid"] == "rs-uid" for r in after)
    else:
        assert after == (stored["metadata"].get("ownerReferences") or [])


async def test_an_adopted_pod_is_returned_as_the_api_answered(kube: TestCluster) -> None:
    """The claimed pod is the patched one, carrying its new controller reference."""
    pods = await made(kube, make_pod("orphan"))
    api = Recorder(kube.client)
    control = PodControl(api, EventRecorder(api, "test"))  # type: ignore[arg-type]

    async def yes() -> bool:
        return True

    owner = copy.deepcopy(OWNER)
    owner["metadata"]["namespace"] = kube.namespace
    (adopted,) = await control.claim(owner, SELECTOR, pods, yes)
    assert adopted["metadata"]["ownerReferences"] == [OWNER_REF]


@pytest.mark.parametrize(
    ("pods", "asked"),
    [
        ([make_pod("o1"), make_pod("o2"), make_pod("o3")], 1),
        ([make_pod("ours", controller_uid="rs-uid"), make_pod("stray", app="db")], 0),
        ([make_pod("theirs", controller_uid="other-uid")], 0),
    ],
    ids=["once-for-many-orphans", "not-without-orphans", "not-for-others-pods"],
)
async def test_can_adopt_is_asked_once_and_only_for_an_orphan(
    kube: TestCluster, pods: list[Obj], asked: int
) -> None:
    """RecheckDeletionTimestamp runs at most once per claim (sync.Once), and only when there is
    an orphan to adopt: a sync with nothing to adopt reads nothing from the API."""
    stored = await made(kube, *pods)
    _, got = await run_claim(kube, Recorder(kube.client), stored)
    assert got == asked


async def test_a_pod_gone_before_adoption_or_release_is_skipped(kube: TestCluster) -> None:
    """A 404 from the adoption or release patch means the pod is gone: it is not claimed and
    the other pods are claimed as usual."""
    pods = await made(
        kube,
        make_pod("gone-orphan"),
        make_pod("gone-ours", app="db", controller_uid="rs-uid"),
        make_pod("orphan"),
        gone=("gone-orphan", "gone-ours"),
    )
    api = Recorder(kube.client)
    got, _ = await run_claim(kube, api, pods)
    assert got == ["orphan"]
    assert [name for name, _ in patches_sent(api)] == ["gone-orphan", "gone-ours", "orphan"]
    assert await kube.names(PODS) == ["orphan"]


async def test_no_release_while_the_owner_is_being_deleted(kube: TestCluster) -> None:
    """ClaimObject: `if m.Controller.GetDeletionTimestamp() != nil { return false, nil }`
    before release: an owner that is going writes nothing to its pods."""
    pods = await made(kube, make_pod("ours", app="db", controller_uid="rs-uid"))
    api = Recorder(kube.client)
    got, _ = await run_claim(kube, api, pods, owner_deleting=True)
    assert got == []
    assert patches_sent(api) == []
