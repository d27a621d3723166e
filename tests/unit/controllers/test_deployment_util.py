"""The Deployment arithmetic and bookkeeping (`deployment_util`), table by table.

The rows follow Kubernetes' documented behaviour and the cases of its own unit tests
(`pkg/controller/deployment/util/deployment_util_test.go`, `rolling_test.go`, `sync_test.go`
TestScale, `progress_test.go`): how maxSurge and maxUnavailable resolve, how big the new
ReplicaSet may grow, proportional scaling, which ReplicaSet is the new one, the
pod-template-hash, the revision annotations and the Deployment's conditions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api import meta
from kubelite.controllers import deployment_util as du

Obj = dict[str, Any]

NOW = dt.datetime(2016, 1, 1, 0, 1, 20, tzinfo=dt.UTC)
NEWER = "2016-05-20T02:00:00Z"
NEW = "2016-05-20T01:00:00Z"
OLD = "2016-05-20T00:00:00Z"


def template(image: str = "nginx", **labels: str) -> Obj:
    return {
        "metadata": {"labels": {"app": "web", **labels}},
        "spec": {"containers": [{"name": "web", "image": image}]},
    }


def deployment(
    replicas: int = 3,
    *,
    strategy: str = "RollingUpdate",
    max_surge: int | str | None = "25%",
    max_unavailable: int | str | None = "25%",
    tmpl: Obj | None = None,
    annotations: dict[str, str] | None = None,
    status: Obj | None = None,
    generation: int = 1,
    progress_deadline: int | None = None,
) -> Obj:
    spec: Obj = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "web"}},
        "template": tmpl if tmpl is not None else template(),
        "strategy": {"type": strategy},
    }
    if strategy == "RollingUpdate":
        rolling: Obj = {}
        if max_surge is not None:
            rolling["maxSurge"] = max_surge
        if max_unavailable is not None:
            rolling["maxUnavailable"] = max_unavailable
        spec["strategy"]["rollingUpdate"] = rolling
    if progress_deadline is not None:
        spec["progressDeadlineSeconds"] = progress_deadline
    md: Obj = {"name": "web", "namespace": "default", "uid": "d-uid", "generation": generation}
    if annotations is not None:
        md["annotations"] = annotations
    d: Obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": md, "spec": spec}
    if status is not None:
        d["status"] = status
    return d


def replica_set(
    name: str,
    replicas: int,
    *,
    created: str = OLD,
    annotations: dict[str, str] | None = None,
    status: Obj | None = None,
    tmpl: Obj | None = None,
) -> Obj:
    md: Obj = {"name": name, "namespace": "default", "creationTimestamp": created}
    if annotations is not None:
        md["annotations"] = annotations
    return {
        "metadata": md,
        "spec": {"replicas": replicas, "template": tmpl if tmpl is not None else template()},
        "status": status or {},
    }


def stamp(when: dt.datetime) -> str:
    return meta.format_time(when)


# --- scaled_value, fenceposts, max_surge, max_unavailable --------------------------------------


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [
        (5, 10, True, 5),
        (5, 10, False, 5),
        ("25%", 10, True, 3),
        ("25%", 10, False, 2),
        ("39%", 10, True, 4),
        ("39%", 10, False, 3),
        ("1%", 2, True, 1),
        ("1%", 2, False, 0),
        ("100%", 7, False, 7),
        ("50%", 0, True, 0),
        (None, 10, True, 0),
    ],
)
def test_scaled_value(value: int | str | None, total: int, round_up: bool, expected: int) -> None:
    """intstr.GetScaledValueFromIntOrPercent: ints as they are, percentages of the total,
    rounded up or down as asked; an absent value counts as 0."""
    assert du.scaled_value(value, total, round_up) == expected


def test_scaled_value_refuses_a_string_that_is_not_a_percentage() -> None:
    """intstr.GetScaledValueFromIntOrPercent: a string must end in '%' ("invalid type: string
    is not a percentage"); validation rejects maxSurge: "2" for the same reason."""
    with pytest.raises(ValueError):
        du.scaled_value("2", 10, True)


def test_scaled_value_refuses_a_percentage_that_is_not_a_number() -> None:
    """intstr.GetScaledValueFromIntOrPercent: "abc%" is an error, not a value."""
    with pytest.raises(ValueError):
        du.scaled_value("abc%", 10, True)


@pytest.mark.parametrize(
    ("max_surge", "max_unavailable", "replicas", "expected"),
    [
        # TestResolveFenceposts.
        ("0%", "0%", 0, (0, 1)),
        ("39%", "39%", 10, (4, 3)),
        # Surge rounds up, unavailability down (ResolveFenceposts' doc comment).
        ("25%", "25%", 3, (1, 0)),
        ("1%", "25%", 2, (1, 0)),
        ("0%", "1%", 2, (0, 1)),
        ("25%", "1%", 1, (1, 0)),
        # Both resolving to zero: one may be unavailable, in case surge is blocked by quota.
        (0, 0, 5, (0, 1)),
        (2, 3, 10, (2, 3)),
        (None, None, 10, (0, 1)),
    ],
)
def test_fenceposts(
    max_surge: int | str | None,
    max_unavailable: int | str | None,
    replicas: int,
    expected: tuple[int, int],
) -> None:
    """ResolveFenceposts: maxSurge rounds up, maxUnavailable down; both zero makes
    maxUnavailable one."""
    d = deployment(replicas, max_surge=max_surge, max_unavailable=max_unavailable)
    assert du.fenceposts(d) == expected


@pytest.mark.parametrize(
    ("replicas", "max_unavailable", "expected"),
    [
        # TestMaxUnavailable.
        (10, 5, 5),
        (10, 10, 10),
        (5, 10, 5),
        (0, 10, 0),
        (10, "50%", 5),
        (10, "100%", 10),
        (5, "100%", 5),
        # Both fenceposts zero: one, still capped at spec.replicas.
        (1, 0, 1),
    ],
)
def test_max_unavailable_is_capped_at_replicas(
    replicas: int, max_unavailable: int | str, expected: int
) -> None:
    """MaxUnavailable: never more than spec.replicas, and 0 for a Deployment of none."""
    surge = 1 if max_unavailable != 0 else 0
    d = deployment(replicas, max_surge=surge, max_unavailable=max_unavailable)
    assert du.max_unavailable(d) == expected


@pytest.mark.parametrize(
    ("replicas", "max_surge", "expected"),
    [(10, "25%", 3), (10, 0, 0), (3, "25%", 1), (4, 10, 10), (0, "25%", 0)],
)
def test_max_surge(replicas: int, max_surge: int | str, expected: int) -> None:
    """MaxSurge: the surge fencepost, not capped (a surge may exceed spec.replicas)."""
    assert du.max_surge(deployment(replicas, max_surge=max_surge)) == expected


def test_recreate_has_neither_surge_nor_unavailability() -> None:
    """MaxSurge and MaxUnavailable are 0 for the Recreate strategy, whatever rollingUpdate
    says."""
    d = deployment(10, strategy="Recreate")
    d["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": 5, "maxUnavailable": 5}
    assert (du.max_surge(d), du.max_unavailable(d)) == (0, 0)


# --- new_rs_replicas --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "replicas", "max_surge", "old", "new", "expected"),
    [
        # TestNewRSNewReplicas (the old ReplicaSet has 5; the new one is not counted in).
        ("RollingUpdate", 1, 1, 5, 5, 5),
        ("RollingUpdate", 6, 10, 5, 2, 6),
        ("Recreate", 3, 1, 5, 1, 3),
    ],
)
def test_new_rs_replicas_against_other_replica_sets(
    strategy: str, replicas: int, max_surge: int, old: int, new: int, expected: int
) -> None:
    """NewRSNewReplicas: RollingUpdate grows the new ReplicaSet while all pods stay within
    replicas + maxSurge and never past replicas; Recreate sizes it to replicas at once."""
    d = deployment(replicas, strategy=strategy, max_surge=max_surge, max_unavailable=1)
    new_rs = replica_set("new", new)
    assert du.new_rs_replicas(d, [replica_set("old", old)], new_rs) == expected


@pytest.mark.parametrize(
    ("replicas", "max_surge", "old", "new", "expected"),
    [
        # TestDeploymentController_reconcileNewReplicaSet, all ReplicaSets counted.
        (10, 0, 10, 0, 0),
        (10, 2, 10, 0, 2),
        (10, 2, 5, 0, 7),
        (10, 2, 10, 2, 2),
        # 25% of 3 rounds up to a surge of 1.
        (3, "25%", 3, 0, 1),
        (3, "25%", 1, 2, 3),
    ],
)
def test_new_rs_replicas_is_bounded_by_max_surge(
    replicas: int, max_surge: int | str, old: int, new: int, expected: int
) -> None:
    """NewRSNewReplicas: the new ReplicaSet takes only the room replicas + maxSurge leaves."""
    d = deployment(replicas, max_surge=max_surge, max_unavailable=0)
    new_rs = replica_set("new", new)
    assert du.new_rs_replicas(d, [replica_set("old", old), new_rs], new_rs) == expected


# --- proportional_sizes (the Deployment controller's scale) ---------------------------------


def sized(name: str, replicas: int, created: str, max_replicas: int | None) -> Obj:
    annotations = None if max_replicas is None else {du.MAX_REPLICAS_ANNOTATION: str(max_replicas)}
    return replica_set(name, replicas, created=created, annotations=annotations)


@pytest.mark.parametrize(
    ("replicas", "max_surge", "rss", "expected"),
    [
        pytest.param(10, 0, [("v2", 2, NEW), ("v1", 3, OLD)], {"v2": 4, "v1": 6}, id="5->10"),
        pytest.param(3, 0, [("v2", 2, NEW), ("v1", 3, OLD)], {"v2": 1, "v1": 2}, id="5->3"),
        pytest.param(4, 0, [("v2", 8, NEW), ("v1", 1, OLD)], {"v2": 4, "v1": 0}, id="9->4"),
        pytest.param(
            10,
            0,
            [("v3", 2, NEWER), ("v2", 3, NEW), ("v1", 2, OLD)],
            {"v3": 3, "v2": 4, "v1": 3},
            id="7->10",
        ),
        pytest.param(
            8,
            0,
            [("v3", 2, NEWER), ("v2", 8, NEW), ("v1", 3, OLD)],
            {"v3": 1, "v2": 5, "v1": 2},
            id="13->8",
        ),
        # Rounding leaves one to add: it goes to the first, the newest among equals.
        pytest.param(
            4,
            0,
            [("v3", 1, NEWER), ("v2", 1, NEW), ("v1", 1, OLD)],
            {"v3": 2, "v2": 1, "v1": 1},
            id="leftover 3->4",
        ),
        # One to remove: from the oldest among equals.
        pytest.param(
            2,
            0,
            [("v3", 1, NEWER), ("v2", 1, NEW), ("v1", 1, OLD)],
            {"v3": 1, "v2": 1, "v1": 0},
            id="leftover 3->2",
        ),
        # 2 * 5 / 4 = 2.5 rounds away from zero (Go's math.Round), so the newer gets it.
        pytest.param(5, 0, [("v2", 2, NEW), ("v1", 2, OLD)], {"v2": 3, "v1": 2}, id="4->5"),
        pytest.param(
            0,
            0,
            [("v3", 3, NEWER), ("v2", 2, NEW), ("v1", 1, OLD)],
            {"v3": 0, "v2": 0, "v1": 0},
            id="6->0",
        ),
        pytest.param(20, 2, [("v2", 6, NEW), ("v1", 6, OLD)], {"v2": 11, "v1": 11}, id="surge"),
    ],
)
def test_proportional_sizes(
    replicas: int,
    max_surge: int,
    rss: list[tuple[str, int, str]],
    expected: dict[str, int],
) -> None:
    """sync.go scale (TestScale): a scaling event mid-rollout spreads the change over the
    active ReplicaSets in proportion to their size against the max-replicas they were sized
    for; larger first, rounding leftovers to the first; scaling to zero empties them all."""
    before = sum(size for _, size, _ in rss)
    d = deployment(replicas, max_surge=max_surge, max_unavailable=0)
    sets = [sized(name, size, created, before) for name, size, created in rss]
    assert du.proportional_sizes(d, sets) == expected


def test_proportional_sizes_when_both_surge_and_size_change() -> None:
    """TestScale "change both surge and size": 10+3 -> 50+6 over ReplicaSets of 5 and 8."""
    d = deployment(50, max_surge=6, max_unavailable=0)
    rss = [sized("v2", 5, NEW, 13), sized("v1", 8, OLD, 13)]
    assert du.proportional_sizes(d, rss) == {"v2": 22, "v1": 34}


def test_proportional_sizes_when_size_and_template_change() -> None:
    """TestScale "change both size and template": no new ReplicaSet yet, old ones scaled
    10 -> 14 proportionally."""
    d = deployment(14, max_surge=0, max_unavailable=0, tmpl=template("nginx:2"))
    rss = [sized("v2", 7, NEW, 10), sized("v1", 3, OLD, 10)]
    assert du.proportional_sizes(d, rss) == {"v2": 10, "v1": 4}


def test_proportional_sizes_fall_back_to_status_replicas() -> None:
    """getReplicaSetFraction: without a max-replicas annotation, status.replicas of the
    Deployment is what the ReplicaSets were sized for."""
    d = deployment(10, max_surge=0, max_unavailable=0, status={"replicas": 5})
    rss = [sized("v2", 2, NEW, None), sized("v1", 3, OLD, None)]
    assert du.proportional_sizes(d, rss) == {"v2": 4, "v1": 6}


def test_proportional_sizes_prefer_the_annotation_to_status_replicas() -> None:
    """getReplicaSetFraction: the max-replicas annotation wins over status.replicas."""
    d = deployment(10, max_surge=0, max_unavailable=0, status={"replicas": 100})
    rss = [sized("v2", 2, NEW, 5), sized("v1", 3, OLD, 5)]
    assert du.proportional_sizes(d, rss) == {"v2": 4, "v1": 6}


def test_proportional_sizes_leave_sizes_alone_with_nothing_to_add() -> None:
    """TestScale "saturated but broken new replica set does not affect old pods": already at
    replicas + maxSurge, nothing moves."""
    d = deployment(2, max_surge=1, max_unavailable=1)
    rss = [sized("v2", 2, NEW, 3), sized("v1", 1, OLD, 3)]
    assert du.proportional_sizes(d, rss) == {"v2": 2, "v1": 1}


# --- find_new, equal_ignoring_hash, pod_template_hash ----------------------------------------


def with_hash(tmpl: Obj, value: str) -> Obj:
    labeled = meta.clone(tmpl)
    labeled["metadata"]["labels"][du.POD_TEMPLATE_HASH_LABEL] = value
    return labeled


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # TestEqualIgnoreHash.
        (with_hash(template(), "v1"), with_hash(template(), "v1"), True),
        (with_hash(template(), "v1"), with_hash(template(), "v2"), True),
        (template(), with_hash(template(), "v2"), True),
        (with_hash(template(), "v1"), with_hash(template(something="else"), "v1"), False),
        (with_hash(template("a"), "v1"), with_hash(template("b"), "v1"), False),
        (with_hash(template("a"), "v1"), with_hash(template("b"), "v2"), False),
        (template(something="else"), template(nothing="else"), False),
        # Empty maps and lists are the same as absent ones (Semantic.DeepEqual, omitempty).
        (
            {**template(), "metadata": {"labels": {"app": "web"}, "annotations": {}}},
            template(),
            True,
        ),
        (
            {**template(), "spec": {**template()["spec"], "volumes": [], "nodeSelector": {}}},
            template(),
            True,
        ),
        ({"spec": {}}, {}, True),
    ],
)
def test_equal_ignoring_hash(a: Obj, b: Obj, expected: bool) -> None:
    """EqualIgnoreHash: templates compare equal but for the pod-template-hash label, either
    way round."""
    assert du.equal_ignoring_hash(a, b) is expected
    assert du.equal_ignoring_hash(b, a) is expected


def test_equal_ignoring_hash_treats_nested_empty_maps_as_absent() -> None:
    """Semantic.DeepEqual: resources {limits: {}} is resources {} (an empty map is a nil
    one), so the templates are equal."""
    container = {"name": "web", "image": "nginx"}
    a = {"spec": {"containers": [{**container, "resources": {"limits": {}}}]}}
    b = {"spec": {"containers": [{**container, "resources": {}}]}}
    assert du.equal_ignoring_hash(a, b)


def test_equal_ignoring_hash_does_not_mutate_its_arguments() -> None:
    """EqualIgnoreHash compares copies: the pod-template-hash label stays on the input."""
    a = with_hash(template(), "v1")
    du.equal_ignoring_hash(a, template())
    assert a["metadata"]["labels"][du.POD_TEMPLATE_HASH_LABEL] == "v1"


def test_find_new_ignores_the_hash_label() -> None:
    """FindNewReplicaSet: the ReplicaSet whose template is the Deployment's, whatever its
    pod-template-hash."""
    d = deployment()
    new = replica_set("new", 1, created=NEW, tmpl=with_hash(template(), "hash"))
    old = replica_set("old", 1, created=OLD, tmpl=with_hash(template("nginx:old"), "h2"))
    assert du.find_new(d, [old, new]) is new


def test_find_new_picks_the_oldest_of_several_matches() -> None:
    """FindNewReplicaSet: with two ReplicaSets of the Deployment's template (kubernetes#40415),
    the oldest by creationTimestamp is the new one."""
    d = deployment()
    later = replica_set("a-later", 1, created=NEW, tmpl=with_hash(template(), "hash"))
    earlier = replica_set("z-earlier", 1, created=OLD, tmpl=with_hash(template(), "other"))
    assert du.find_new(d, [later, earlier]) is earlier


def test_find_new_breaks_timestamp_ties_by_name() -> None:
    """ReplicaSetsByCreationTimestamp: equal timestamps order by name."""
    d = deployment()
    b = replica_set("b", 1, created=OLD)
    a = replica_set("a", 1, created=OLD)
    assert du.find_new(d, [b, a]) is a


def test_find_new_finds_nothing_for_a_new_template() -> None:
    """FindNewReplicaSet: nil when no ReplicaSet has the Deployment's template."""
    old = replica_set("old", 1, tmpl=template("nginx:old"))
    assert du.find_new(deployment(), [old]) is None


def test_pod_template_hash_is_stable() -> None:
    """ComputeHash: the same template always hashes the same, key order and the hash label
    aside."""
    tmpl = template()
    reordered = {"spec": tmpl["spec"], "metadata": {"labels": {"app": "web"}}}
    first = du.pod_template_hash(tmpl)
    assert first == du.pod_template_hash(meta.clone(tmpl))
    assert first == du.pod_template_hash(reordered)
    assert first == du.pod_template_hash(with_hash(tmpl, "anything"))


def test_pod_template_hash_differs_by_template_and_collision_count() -> None:
    """ComputeHash: another template, or a collisionCount, gives another hash."""
    hashes = {
        du.pod_template_hash(template()),
        du.pod_template_hash(template("nginx:2")),
        du.pod_template_hash(template(), 1),
        du.pod_template_hash(template(), 2),
    }
    assert len(hashes) == 4


@pytest.mark.parametrize("image", ["nginx", "nginx:2", "redis", "busybox:1.36", "x" * 50])
@pytest.mark.parametrize("collisions", [None, 1, 7])
def test_pod_template_hash_uses_the_safe_alphabet(image: str, collisions: int | None) -> None:
    """rand.SafeEncodeString: no vowels and no look-alike characters, so hashes never spell
    words and fit a label value."""
    value = du.pod_template_hash(template(image), collisions)
    assert value
    assert len(value) <= 10
    assert set(value) <= set("bcdfghjklmnpqrstvwxz2456789")


# --- set_new_rs_annotations -------------------------------------------------------------------


def test_new_rs_annotations_on_creation() -> None:
    """SetNewReplicaSetAnnotations(exists=false): the revision, the Deployment's annotations
    but kubectl's last-applied configuration and the deployment.kubernetes.io ones, and the
    desired/max replicas (replicas, replicas + maxSurge)."""
    d = deployment(
        10,
        max_surge="25%",
        annotations={
            "team": "a",
            "kubernetes.io/change-cause": "bump",
            du.LAST_APPLIED_ANNOTATION: "{}",
            du.REVISION_ANNOTATION: "7",
            du.REVISION_HISTORY_ANNOTATION: "1,2",
            du.DESIRED_REPLICAS_ANNOTATION: "99",
            du.MAX_REPLICAS_ANNOTATION: "99",
            "deprecated.deployment.rollback.to": "3",
        },
    )
    rs = replica_set("new", 0)
    assert du.set_new_rs_annotations(d, rs, 4, exists=False) is True
    assert rs["metadata"]["annotations"] == {
        "team": "a",
        "kubernetes.io/change-cause": "bump",
        du.REVISION_ANNOTATION: "4",
        du.DESIRED_REPLICAS_ANNOTATION: "10",
        du.MAX_REPLICAS_ANNOTATION: "13",
    }


def test_existing_rs_gets_no_replicas_annotations() -> None:
    """SetNewReplicaSetAnnotations(exists=true): desired/max replicas are left to scaling."""
    rs = replica_set("new", 3, annotations={du.REVISION_ANNOTATION: "1"})
    assert du.set_new_rs_annotations(deployment(), rs, 1, exists=True) is False
    assert rs["metadata"]["annotations"] == {du.REVISION_ANNOTATION: "1"}


def test_revision_counts_up_through_twenty() -> None:
    """TestAnnotationUtils: setting revisions 1..20 leaves each one on the ReplicaSet."""
    d = deployment(annotations={du.REVISION_ANNOTATION: "1"})
    rs = replica_set("new", 1)
    for revision in range(1, 21):
        du.set_new_rs_annotations(d, rs, revision, exists=True)
        assert rs["metadata"]["annotations"][du.REVISION_ANNOTATION] == str(revision)


@pytest.mark.parametrize(
    ("before", "new_revision", "expected", "changed"),
    [
        # No revision yet: set, no history.
        ({}, 1, {du.REVISION_ANNOTATION: "1"}, True),
        # A rollback to this ReplicaSet: its old revision goes to the history.
        (
            {du.REVISION_ANNOTATION: "1"},
            3,
            {du.REVISION_ANNOTATION: "3", du.REVISION_HISTORY_ANNOTATION: "1"},
            True,
        ),
        (
            {du.REVISION_ANNOTATION: "3", du.REVISION_HISTORY_ANNOTATION: "1"},
            5,
            {du.REVISION_ANNOTATION: "5", du.REVISION_HISTORY_ANNOTATION: "1,3"},
            True,
        ),
        # Only upward: old ReplicaSets deleted can make the next revision smaller than its own.
        ({du.REVISION_ANNOTATION: "5"}, 3, {du.REVISION_ANNOTATION: "5"}, False),
        ({du.REVISION_ANNOTATION: "5"}, 5, {du.REVISION_ANNOTATION: "5"}, False),
        # Numbers, not strings: "10" is above "9".
        ({du.REVISION_ANNOTATION: "10"}, 9, {du.REVISION_ANNOTATION: "10"}, False),
        (
            {du.REVISION_ANNOTATION: "9"},
            10,
            {du.REVISION_ANNOTATION: "10", du.REVISION_HISTORY_ANNOTATION: "9"},
            True,
        ),
    ],
)
def test_revision_is_bumped_only_upward(
    before: dict[str, str], new_revision: int, expected: dict[str, str], changed: bool
) -> None:
    """SetNewReplicaSetAnnotations: the revision only rises, and each revision it leaves is
    appended to revision-history."""
    rs = replica_set("new", 1, annotations=dict(before))
    assert du.set_new_rs_annotations(deployment(), rs, new_revision, exists=True) is changed
    assert rs["metadata"]["annotations"] == expected


def test_revision_history_drops_the_oldest_past_its_length_limit() -> None:
    """SetNewReplicaSetAnnotations: revision-history stays within revHistoryLimitInChars (2000)
    by dropping its oldest entries."""
    history = ",".join(str(n) for n in range(1000, 1400))  # 400 x 4 digits + commas = 1999
    assert len(history) == 1999
    rs = replica_set(
        "new",
        1,
        annotations={du.REVISION_ANNOTATION: "1400", du.REVISION_HISTORY_ANNOTATION: history},
    )
    du.set_new_rs_annotations(deployment(), rs, 1401, exists=True)
    kept = rs["metadata"]["annotations"][du.REVISION_HISTORY_ANNOTATION]
    assert len(kept) <= du.MAX_REVISION_HISTORY_CHARS
    assert kept.endswith(",1399,1400")
    assert kept.startswith("1001,")


def test_deployment_annotations_are_copied_onto_an_existing_rs() -> None:
    """copyDeploymentAnnotationsToReplicaSet: a changed Deployment annotation is a change."""
    d = deployment(annotations={"team": "b"})
    rs = replica_set("new", 1, annotations={du.REVISION_ANNOTATION: "2", "team": "a"})
    assert du.set_new_rs_annotations(d, rs, 2, exists=True) is True
    assert rs["metadata"]["annotations"]["team"] == "b"


def test_an_unparseable_revision_is_left_alone() -> None:
    """SetNewReplicaSetAnnotations: a revision that is not an integer is not replaced (the
    function gives up and reports no change)."""
    rs = replica_set("new", 1, annotations={du.REVISION_ANNOTATION: "abc"})
    du.set_new_rs_annotations(deployment(), rs, 3, exists=True)
    assert rs["metadata"]["annotations"] == {du.REVISION_ANNOTATION: "abc"}


# --- find_active_or_latest, is_saturated -------------------------------------------------------


def test_find_active_or_latest() -> None:
    """FindActiveOrLatest: the only ReplicaSet with pods; with none, the new one or else the
    newest old one; with several, none (they are scaled proportionally)."""
    new_active = replica_set("new", 2, created=NEWER)
    new_empty = replica_set("new", 0, created=NEWER)
    old_active = replica_set("old", 3, created=NEW)
    old_empty = replica_set("old", 0, created=NEW)
    oldest_empty = replica_set("oldest", 0, created=OLD)
    assert du.find_active_or_latest(None, []) is None
    assert du.find_active_or_latest(new_active, [old_empty]) is new_active
    assert du.find_active_or_latest(new_empty, [old_active, oldest_empty]) is old_active
    assert du.find_active_or_latest(new_active, [old_active]) is None
    assert du.find_active_or_latest(new_empty, [old_empty]) is new_empty
    assert du.find_active_or_latest(None, [oldest_empty, old_empty]) is old_empty


@pytest.mark.parametrize(
    ("rs", "expected"),
    [
        (None, False),
        (
            replica_set(
                "new",
                3,
                annotations={du.DESIRED_REPLICAS_ANNOTATION: "3"},
                status={"availableReplicas": 3},
            ),
            True,
        ),
        (replica_set("new", 3, status={"availableReplicas": 3}), False),
        (
            replica_set(
                "new",
                3,
                annotations={du.DESIRED_REPLICAS_ANNOTATION: "3"},
                status={"availableReplicas": 2},
            ),
            False,
        ),
        (
            replica_set(
                "new",
                3,
                annotations={du.DESIRED_REPLICAS_ANNOTATION: "5"},
                status={"availableReplicas": 3},
            ),
            False,
        ),
        (
            replica_set(
                "new",
                2,
                annotations={du.DESIRED_REPLICAS_ANNOTATION: "3"},
                status={"availableReplicas": 3},
            ),
            False,
        ),
    ],
)
def test_is_saturated(rs: Obj | None, expected: bool) -> None:
    """IsSaturated: spec.replicas, the desired-replicas annotation and availableReplicas all
    equal the Deployment's replicas."""
    assert du.is_saturated(deployment(3), rs) is expected


# --- calculate_status ------------------------------------------------------------------------


def counted(name: str, spec: int, replicas: int, ready: int, available: int) -> Obj:
    status = {"replicas": replicas, "readyReplicas": ready, "availableReplicas": available}
    return replica_set(name, spec, status=status)


def test_calculate_status_counts() -> None:
    """calculateStatus: replicas, ready and available summed over all ReplicaSets, updated
    from the new one, unavailable against spec.replicas, observedGeneration the generation,
    collisionCount carried over."""
    d = deployment(4, generation=7, status={"collisionCount": 2})
    new = counted("new", 2, 2, 1, 1)
    old = counted("old", 3, 3, 3, 2)
    status = du.calculate_status([old, new], new, d, NOW)
    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "observedGeneration": 7,
        "replicas": 5,
        "updatedReplicas": 2,
        "readyReplicas": 4,
        "availableReplicas": 3,
        "unavailableReplicas": 2,
        # Neither ReplicaSet was synced yet: they count nothing, the sum is 0.
        "terminatingReplicas": 0,
        "collisionCount": 2,
    }


def synced(name: str, terminating: int | None) -> Obj:
    status: Obj = {"observedGeneration": 1, "replicas": 1}
    if terminating is not None:
        status["terminatingReplicas"] = terminating
    return replica_set(name, 1, status=status)


@pytest.mark.parametrize(
    ("rss", "expected"),
    [
        ([synced("a", 2), synced("b", 1), None], 3),
        ([synced("a", 2), replica_set("fresh", 1)], 2),
        # A synced ReplicaSet without a count: the sum is unknown.
        ([synced("a", 2), synced("b", None)], None),
        ([], 0),
    ],
    ids=["summed", "unsynced-adds-nothing", "unknown", "none"],
)
def test_terminating_replicas(rss: list[Obj | None], expected: int | None) -> None:
    """GetTerminatingReplicaCountForReplicaSets."""
    assert du.terminating_replicas(rss) == expected


def test_calculate_status_sums_terminating_replicas_or_leaves_them_out() -> None:
    """DeploymentReplicaSetTerminatingReplicas (beta, on in 1.37): the Deployment's
    terminatingReplicas is its ReplicaSets' sum, and absent when that is unknown."""
    new, old = synced("new", 1), synced("old", 3)
    status = du.calculate_status([old, new], new, deployment(1), NOW)
    assert status["terminatingReplicas"] == 4
    status = du.calculate_status([synced("old", None), new], new, deployment(1), NOW)
    assert "terminatingReplicas" not in status


def test_calculate_status_clamps_unavailable_at_zero() -> None:
    """calculateStatus: more available pods than wanted (scaling down) is no unavailability."""
    rs = counted("new", 2, 4, 4, 4)
    status = du.calculate_status([rs], rs, deployment(2), NOW)
    assert status["unavailableReplicas"] == 0


@pytest.mark.parametrize(
    ("strategy", "available", "expected"),
    [
        # 4 replicas, maxUnavailable 25% = 1: 3 available is the minimum.
        ("RollingUpdate", 3, ("True", du.MIN_AVAILABLE)),
        ("RollingUpdate", 2, ("False", du.MIN_UNAVAILABLE)),
        # Recreate allows no unavailability.
        ("Recreate", 3, ("False", du.MIN_UNAVAILABLE)),
        ("Recreate", 4, ("True", du.MIN_AVAILABLE)),
    ],
)
def test_calculate_status_available_condition(
    strategy: str, available: int, expected: tuple[str, str]
) -> None:
    """calculateStatus: Available is True when availableReplicas >= replicas - maxUnavailable."""
    rs = counted("new", 4, 4, available, available)
    status = du.calculate_status([rs], rs, deployment(4, strategy=strategy), NOW)
    (cond,) = status["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == (du.AVAILABLE, *expected)


def test_calculate_status_keeps_other_conditions_and_an_unchanged_available() -> None:
    """calculateStatus: starts from the Deployment's conditions; an Available of the same
    status and reason is left as it was."""
    earlier = stamp(NOW - dt.timedelta(hours=1))
    available = {
        "type": du.AVAILABLE,
        "status": "True",
        "reason": du.MIN_AVAILABLE,
        "message": "Deployment has minimum availability.",
        "lastUpdateTime": earlier,
        "lastTransitionTime": earlier,
    }
    progressing = {"type": du.PROGRESSING, "status": "True", "reason": du.NEW_RS_AVAILABLE}
    d = deployment(1, status={"conditions": [progressing, available]})
    rs = counted("new", 1, 1, 1, 1)
    status = du.calculate_status([rs], rs, d, NOW)
    assert status["conditions"] == [progressing, available]
    assert d["status"]["conditions"][1] is available  # the Deployment is not changed


# --- set_condition -----------------------------------------------------------------------------


def cond(type_: str, status: str, reason: str, when: dt.datetime, message: str = "") -> Obj:
    return du.new_condition(type_, status, reason, message, when)


T1 = NOW - dt.timedelta(minutes=10)
T2 = NOW


@pytest.mark.parametrize(
    ("before", "new", "after"),
    [
        pytest.param(
            [],
            cond(du.AVAILABLE, "True", "A", T2),
            [cond(du.AVAILABLE, "True", "A", T2)],
            id="first time",
        ),
        pytest.param(
            [cond(du.PROGRESSING, "False", "P", T1)],
            cond(du.AVAILABLE, "True", "A", T2),
            [cond(du.PROGRESSING, "False", "P", T1), cond(du.AVAILABLE, "True", "A", T2)],
            id="another type is appended",
        ),
        pytest.param(
            [cond(du.PROGRESSING, "False", "P", T1)],
            cond(du.PROGRESSING, "True", "Q", T2),
            [cond(du.PROGRESSING, "True", "Q", T2)],
            id="a new status replaces everything",
        ),
        pytest.param(
            [cond(du.PROGRESSING, "True", "P", T1, "old message")],
            cond(du.PROGRESSING, "True", "P", T2, "new message"),
            [cond(du.PROGRESSING, "True", "P", T1, "old message")],
            id="same status and reason change nothing",
        ),
        pytest.param(
            [cond(du.PROGRESSING, "True", "P", T1)],
            cond(du.PROGRESSING, "True", "Q", T2),
            [{**cond(du.PROGRESSING, "True", "Q", T2), "lastTransitionTime": stamp(T1)}],
            id="same status keeps lastTransitionTime",
        ),
        pytest.param(
            [cond(du.PROGRESSING, "True", "P", T1), cond(du.AVAILABLE, "True", "A", T1)],
            cond(du.PROGRESSING, "False", "Q", T2),
            [cond(du.AVAILABLE, "True", "A", T1), cond(du.PROGRESSING, "False", "Q", T2)],
            id="the changed condition goes last",
        ),
    ],
)
def test_set_condition(before: list[Obj], new: Obj, after: list[Obj]) -> None:
    """SetDeploymentCondition (TestSetCondition)."""
    status: Obj = {"conditions": before} if before else {}
    du.set_condition(status, new)
    assert status["conditions"] == after


# --- complete, progressing, timed_out ----------------------------------------------------------


@pytest.mark.parametrize(
    ("desired", "current", "updated", "available", "observed", "expected"),
    [
        # TestDeploymentComplete.
        (5, 5, 5, 4, 1, False),
        (5, 5, 5, 3, 1, False),
        (5, 5, 5, 5, 1, True),
        (5, 5, 4, 5, 1, False),
        (1, 2, 1, 1, 1, False),
        (1, 1, 1, 0, 1, False),
        # The controller has not seen the latest spec yet.
        (5, 5, 5, 5, 0, False),
    ],
)
def test_complete(
    desired: int, current: int, updated: int, available: int, observed: int, expected: bool
) -> None:
    """DeploymentComplete: all replicas updated and available, none old, generation seen."""
    d = deployment(desired)
    status = {
        "replicas": current,
        "updatedReplicas": updated,
        "availableReplicas": available,
        "observedGeneration": observed,
    }
    assert du.complete(d, status) is expected


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # TestDeploymentProgressing: (replicas, updated, ready, available).
        ((10, 4, 4, 4), (10, 6, 4, 4), True),
        ((10, 4, 4, 4), (10, 4, 4, 4), False),
        ((10, 4, 6, 6), (8, 4, 6, 6), True),
        ((10, 7, 3, 3), (10, 6, 3, 3), False),
        ((10, 4, 7, 7), (8, 8, 5, 5), True),
        ((10, 10, 9, 8), (10, 10, 10, 8), True),
        ((10, 10, 10, 9), (10, 10, 10, 10), True),
    ],
)
def test_progressing(
    old: tuple[int, int, int, int], new: tuple[int, int, int, int], expected: bool
) -> None:
    """DeploymentProgressing: more updated, fewer old, more ready or more available pods."""
    fields = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    d = deployment(10, status=dict(zip(fields, old, strict=True)))
    assert du.progressing(d, dict(zip(fields, new, strict=True))) is expected


def progressing_since(reason: str, when: dt.datetime, status: str = "True") -> Obj:
    return {"conditions": [cond(du.PROGRESSING, status, reason, when)]}


@pytest.mark.parametrize(
    ("deadline", "status", "expected"),
    [
        # TestDeploymentTimedOut: now is 00:01:20.
        (None, progressing_since("", NOW - dt.timedelta(seconds=11)), False),
        (10, progressing_since("", NOW - dt.timedelta(seconds=11)), True),
        (10, progressing_since("", NOW - dt.timedelta(seconds=9)), False),
        # Before, strictly: exactly at the deadline is not past it.
        (10, progressing_since("", NOW - dt.timedelta(seconds=10)), False),
        (10, progressing_since(du.RS_UPDATED, NOW - dt.timedelta(hours=1)), True),
        # A finished rollout never times out, however long ago it finished.
        (10, progressing_since(du.NEW_RS_AVAILABLE, NOW - dt.timedelta(days=30)), False),
        # Already timed out stays timed out.
        (10, progressing_since(du.TIMED_OUT, NOW, "False"), True),
        # No Progressing condition: nothing to measure from.
        (10, {}, False),
        # MaxInt32 means no deadline.
        (2**31 - 1, progressing_since("", NOW - dt.timedelta(days=30)), False),
    ],
)
def test_timed_out(deadline: int | None, status: Obj, expected: bool) -> None:
    """DeploymentTimedOut: progressDeadlineSeconds past the Progressing condition's
    lastUpdateTime."""
    d = deployment(progress_deadline=deadline)
    assert du.timed_out(d, status, NOW) is expected
