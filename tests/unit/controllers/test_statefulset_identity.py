"""A StatefulSet's pod names, versioned pods, history hashing and claim retention owners."""

from __future__ import annotations

import json
from typing import Any

import pytest
from statefulset_objects import stateful_set

from kubelite.controllers import statefulset_pods as sp
from kubelite.controllers import statefulset_revisions as revs

Obj = dict[str, Any]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("web-0", ("web", 0)),
        ("my-web-12", ("my-web", 12)),
        ("web", ("", -1)),
        ("web-", ("", -1)),
        ("web-x1", ("", -1)),
        ("web-2147483647", ("web", 2147483647)),
        ("web-2147483648", ("web", -1)),  # not an int32
    ],
)
def test_parent_and_ordinal_come_from_the_name(name: str, expected: tuple[str, int]) -> None:
    assert sp.parent_and_ordinal({"metadata": {"name": name}}) == expected


@pytest.mark.parametrize(
    ("strategy", "current_replicas", "ordinals"),
    [
        # Below the partition: the current revision; at or above: the update revision.
        ({"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}, 0, {0: "cur", 2: "upd"}),
        ({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}, 3, {0: "upd", 2: "upd"}),
        # RollingUpdate without a block: the first status.currentReplicas stay current.
        ({"type": "RollingUpdate"}, 2, {0: "cur", 1: "cur", 2: "upd"}),
        # OnDelete: a new pod is always at the update revision.
        ({"type": "OnDelete"}, 3, {0: "upd", 2: "upd"}),
    ],
)
def test_a_planned_pod_is_at_the_revision_its_ordinal_calls_for(
    strategy: Obj, current_replicas: int, ordinals: dict[int, str]
) -> None:
    current = stateful_set(3, image="redis:7", updateStrategy=strategy)
    current["status"] = {"currentReplicas": current_replicas}
    update = stateful_set(3, image="redis:8", updateStrategy=strategy)
    for ordinal, which in ordinals.items():
        pod = sp.new_versioned_pod(current, update, "cur", "upd", ordinal)
        assert sp.pod_revision(pod) == which
        image = pod["spec"]["containers"][0]["image"]
        assert image == ("redis:7" if which == "cur" else "redis:8")


def test_identity_and_storage_matches() -> None:
    template = {"metadata": {"name": "data"}, "spec": {}}
    sset = stateful_set(2, volumeClaimTemplates=[template])
    pod = sp.new_pod(sset, 1)
    pod["metadata"]["namespace"] = "default"
    assert sp.identity_matches(sset, pod) and sp.storage_matches(sset, pod)
    relabelled = {**pod, "metadata": {**pod["metadata"], "labels": {"app": "redis"}}}
    assert not sp.identity_matches(sset, relabelled)
    sp.update_identity(sset, relabelled)
    assert sp.identity_matches(sset, relabelled)
    unmounted = {**pod, "spec": {**pod["spec"], "volumes": []}}
    assert not sp.storage_matches(sset, unmounted)


def test_the_revision_hash_is_kubernetes_own() -> None:
    # A revision Kubernetes 1.33 made (its StatefulSet compatibility test data): the name it
    # gave is test-c77f6d978, for collision count 0.
    data = json.loads(
        '{"spec":{"template":{"$patch":"replace","metadata":{"annotations":{"test":"value"},'
        '"creationTimestamp":null,"labels":{"app":"foo"}},"spec":{"containers":[{"image":'
        '"test","imagePullPolicy":"Always","name":"test","resources":{},'
        '"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],'
        '"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler",'
        '"securityContext":{},"terminationGracePeriodSeconds":30}}}}'
    )
    assert revs.hash_revision(data, 0) == "c77f6d978"
    assert revs.hash_revision(data, 1) != "c77f6d978"


def test_go_json_escapes_as_go_does() -> None:
    assert revs.go_json({"b": "<&>", "a": "é"}) == '{"a":"é","b":"\\u003c\\u0026\\u003e"}'.encode()


def test_a_revision_restores_the_template_it_recorded() -> None:
    old = stateful_set(1, image="redis:7")
    revision = revs.new_revision(old, 1, 0)
    assert revision["metadata"]["name"].startswith("redis-")
    assert revision["metadata"]["labels"]["app"] == "redis"
    assert revision["data"]["spec"]["template"]["$patch"] == "replace"
    restored = revs.apply_revision(stateful_set(1, image="redis:9"), revision)
    assert restored["spec"]["template"] == old["spec"]["template"]


@pytest.mark.parametrize(
    ("limit", "live", "pruned"),
    [
        (10, set(), []),
        (1, set(), ["r1", "r2"]),
        (1, {"r1"}, ["r2"]),  # a live revision is never pruned
        (0, {"r4"}, ["r1", "r2", "r3"]),
    ],
)
def test_history_to_prune(limit: int, live: set[str], pruned: list[str]) -> None:
    sset = stateful_set(1, revisionHistoryLimit=limit)
    revisions = [{"metadata": {"name": f"r{i}"}, "revision": i} for i in (1, 2, 3, 4)]
    pod = {"metadata": {"name": "redis-0", "labels": {sp.REVISION_LABEL: "r4"}}}
    found = revs.history_to_prune(sset, [pod], revisions, live)
    assert [r["metadata"]["name"] for r in found] == pruned


# --- the retention policy -----------------------------------------------------------------------

SET_REF = ("StatefulSet", "set-uid")
POD_REF = ("Pod", "pod-uid")


@pytest.mark.parametrize(
    ("when_deleted", "when_scaled", "ordinal", "owners"),
    [
        ("Retain", "Retain", 0, []),
        ("Delete", "Retain", 0, [SET_REF]),
        ("Delete", "Retain", 5, [SET_REF]),
        ("Retain", "Delete", 0, []),
        ("Retain", "Delete", 5, [POD_REF]),  # scaled away: goes with its pod
        ("Delete", "Delete", 0, [SET_REF]),
        ("Delete", "Delete", 5, [POD_REF]),
    ],
)
def test_claim_owners_follow_the_retention_policy(
    when_deleted: str, when_scaled: str, ordinal: int, owners: list[tuple[str, str]]
) -> None:
    sset = stateful_set(
        3,
        persistentVolumeClaimRetentionPolicy={
            "whenDeleted": when_deleted,
            "whenScaled": when_scaled,
        },
        volumeClaimTemplates=[{"metadata": {"name": "data"}, "spec": {}}],
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"redis-{ordinal}", "uid": "pod-uid"},
    }
    foreign = {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "cm-uid"}
    claim = {"metadata": {"name": f"data-redis-{ordinal}", "ownerReferences": [foreign]}}
    refs = sp.claim_owner_refs(claim, sset, pod)
    assert refs[0] == foreign  # other owners are kept
    assert [(r["kind"], r["uid"]) for r in refs[1:]] == owners
    assert all(r["controller"] and r["blockOwnerDeletion"] for r in refs[1:])
    fixed = {"metadata": {**claim["metadata"], "ownerReferences": refs}}
    assert sp.claim_owner_up_to_date(fixed, sset, pod)
    assert sp.claim_owner_up_to_date(claim, sset, pod) == (owners == [])


def test_a_claim_of_an_earlier_pod_is_stale() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "redis-0", "uid": "new"}}
    old_ref = {"apiVersion": "v1", "kind": "Pod", "name": "redis-0", "uid": "old"}
    claim = {"metadata": {"name": "data-redis-0", "ownerReferences": [old_ref]}}
    assert sp.has_stale_owner_ref(claim, pod)
    assert not sp.has_stale_owner_ref(claim, {**pod, "metadata": {"name": "redis-0", "uid": "old"}})
