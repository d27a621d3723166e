"""The generic REST storage (`registry.ResourceStore`) over a real SQLite store."""

from __future__ import annotations

import asyncio
import base64
import re
from typing import Any

import orjson
import pytest
from apiserver_fixtures import WAIT, Stores

from kubelite.api import errors, fields, labels
from kubelite.apiserver.registry import (
    DeleteOptions,
    ListOptions,
    ResourceStore,
    WatchEvent,
    decode_continue,
    encode_continue,
)
from kubelite.storage.interface import Watch

Obj = dict[str, Any]

UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def configmap(name: str, **labels_: str) -> Obj:
    md: Obj = {"name": name}
    if labels_:
        md["labels"] = dict(labels_)
    return {"metadata": md, "data": {"k": name}}


def pod(name: str, node: str = "", **extra: Any) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "nginx"}]}
    if node:
        spec["nodeName"] = node
    obj: Obj = {"metadata": {"name": name, **extra}, "spec": spec}
    return obj


def deployment(name: str, **md: Any) -> Obj:
    return {
        "metadata": {"name": name, **md},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


async def status_of(call: Any) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as err:
        await call
    return err.value


# --- create -----------------------------------------------------------------------------------


async def test_create_stamps_the_system_fields(stores: Stores) -> None:
    cms = stores.of("configmaps")
    body = configmap("a")
    body["metadata"].update(
        uid="client-uid",
        resourceVersion="999",
        creationTimestamp="2000-01-01T00:00:00Z",
        deletionTimestamp="2000-01-01T00:00:00Z",
        selfLink="/api/v1/x",
    )
    created = await cms.create("default", body)
    md = created["metadata"]
    assert UID.match(md["uid"]) and md["uid"] != "client-uid"
    assert (
        TIMESTAMP.match(md["creationTimestamp"])
        and md["creationTimestamp"] != "2000-01-01T00:00:00Z"
    )
    assert md["resourceVersion"] == str(stores.store.revision)
    assert md["namespace"] == "default"
    assert "deletionTimestamp" not in md and "selfLink" not in md
    assert (created["apiVersion"], created["kind"]) == ("v1", "ConfigMap")
    assert await cms.get("default", "a") == created


async def test_create_runs_defaults_and_validation(stores: Stores) -> None:
    pods = stores.of("pods")
    created = await pods.create("default", pod("web"))
    spec = created["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["containers"][0]["imagePullPolicy"] == "Always"
    assert created["status"]["qosClass"] == "BestEffort"

    bad = pod("bad")
    del bad["spec"]["containers"][0]["image"]
    err = await status_of(pods.create("default", bad))
    assert (err.code, err.reason) == (422, "Invalid")
    assert err.message == 'Pod "bad" is invalid: spec.containers[0].image: Required value'
    assert err.details is not None
    assert err.details["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value",
            "field": "spec.containers[0].image",
        }
    ]
    assert await stores.store.get(pods.key("default", "bad")) is None


async def test_create_refuses_a_namespace_other_than_the_request_one(stores: Stores) -> None:
    body = configmap("a")
    body["metadata"]["namespace"] = "kube-system"
    err = await status_of(stores.of("configmaps").create("default", body))
    assert (err.code, err.reason) == (400, "BadRequest")


async def test_cluster_scoped_objects_lose_a_namespace(stores: Stores) -> None:
    created = await stores.of("namespaces").create(
        "", {"metadata": {"name": "n", "namespace": "default"}}
    )
    assert "namespace" not in created["metadata"]


async def test_generate_name_appends_five_characters(stores: Stores) -> None:
    cms = stores.of("configmaps")
    names = set()
    for _ in range(5):
        created = await cms.create("default", {"metadata": {"generateName": "job-"}})
        name = created["metadata"]["name"]
        assert re.fullmatch(r"job-[bcdfghjklmnpqrstvwxz2456789]{5}", name)
        names.add(name)
    assert len(names) == 5


async def test_generate_name_prefix_is_cut_to_fit_63_characters(stores: Stores) -> None:
    created = await stores.of("namespaces").create("", {"metadata": {"generateName": "a" * 62}})
    assert len(created["metadata"]["name"]) == 63
    assert created["metadata"]["name"].startswith("a" * 58)


async def test_create_of_an_existing_name_is_already_exists(stores: Stores) -> None:
    cms = stores.of("configmaps")
    await cms.create("default", configmap("a"))
    err = await status_of(cms.create("default", configmap("a")))
    assert (err.code, err.reason) == (409, "AlreadyExists")
    assert err.message == 'configmaps "a" already exists'
    assert err.details == {"name": "a", "kind": "configmaps"}
    deployments = stores.of("deployments", "apps")
    await deployments.create("default", deployment("d"))
    err = await status_of(deployments.create("default", deployment("d")))
    assert err.message == 'deployments.apps "d" already exists'
    assert err.details == {"name": "d", "group": "apps", "kind": "deployments"}


async def test_dry_run_create_stores_nothing(stores: Stores) -> None:
    cms = stores.of("configmaps")
    revision = stores.store.revision
    answer = await cms.create("default", configmap("a"), dry_run=True)
    assert answer["metadata"]["name"] == "a" and "uid" in answer["metadata"]
    assert "resourceVersion" not in answer["metadata"]
    assert stores.store.revision == revision
    err = await status_of(cms.get("default", "a"))
    assert err.code == 404


async def test_dry_run_create_of_an_existing_name_is_already_exists(stores: Stores) -> None:
    cms = stores.of("configmaps")
    await cms.create("default", configmap("a"))
    err = await status_of(cms.create("default", configmap("a"), dry_run=True))
    assert (err.code, err.reason) == (409, "AlreadyExists")


# --- update -----------------------------------------------------------------------------------


def replace_with(obj: Obj) -> Any:
    async def mutate(_current: Obj | None) -> Obj:
        return orjson.loads(orjson.dumps(obj))

    return mutate


async def test_update_with_a_stale_resource_version_is_a_conflict(stores: Stores) -> None:
    cms = stores.of("configmaps")
    first = await cms.create("default", configmap("a"))
    changed = dict(first, data={"k": "second"})
    await cms.update("default", "a", replace_with(changed))
    stale = dict(first, data={"k": "stale"})
    err = await status_of(cms.update("default", "a", replace_with(stale)))
    assert (err.code, err.reason) == (409, "Conflict")
    assert err.message == (
        'Operation cannot be fulfilled on configmaps "a": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert (await cms.get("default", "a"))["data"] == {"k": "second"}


async def test_update_without_a_resource_version_is_retried_and_applied(stores: Stores) -> None:
    """Another writer between our read and our write makes the store refuse the compare-and-
    swap; the update is then made again on the newer object (GuaranteedUpdate)."""
    cms = stores.of("configmaps")
    await cms.create("default", configmap("a"))
    seen: list[str] = []

    async def add_label(current: Obj | None) -> Obj:
        assert current is not None
        seen.append(current["data"]["k"])
        if len(seen) == 1:
            # Another client writes after our read, before our write.
            interloper = dict(current, data={"k": "other"})
            await cms.update("default", "a", replace_with(interloper))
        current["metadata"].pop("resourceVersion")
        current["metadata"]["labels"] = {"mine": "yes"}
        return current

    result, created = await cms.update("default", "a", add_label)
    assert not created
    assert seen == ["a", "other"]
    stored = await cms.get("default", "a")
    assert stored["data"] == {"k": "other"}
    assert stored["metadata"]["labels"] == {"mine": "yes"}
    assert result["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]


async def test_update_carries_the_system_fields(stores: Stores) -> None:
    cms = stores.of("configmaps")
    first = await cms.create("default", configmap("a"))
    body = configmap("a")
    body["metadata"].update(creationTimestamp="2001-01-01T00:00:00Z")
    updated, _ = await cms.update("default", "a", replace_with(body))
    for kept in ("uid", "creationTimestamp"):
        assert updated["metadata"][kept] == first["metadata"][kept]


async def test_an_update_naming_another_uid_is_refused(stores: Stores) -> None:
    """The uid is a precondition: a write for an earlier object of the name is not applied."""
    cms = stores.of("configmaps")
    first = await cms.create("default", configmap("a"))
    body = configmap("a")
    body["metadata"]["uid"] = "other"
    err = await status_of(cms.update("default", "a", replace_with(body)))
    assert (err.code, err.reason) == (409, "Conflict")
    assert err.message == (
        'Operation cannot be fulfilled on configmaps "a": StorageError: invalid object, '
        "Code: 4, Key: /registry/configmaps/default/a, ResourceVersion: 0, AdditionalErrorMsg: "
        f"Precondition failed: UID in precondition: other, UID in object meta: "
        f"{first['metadata']['uid']}"
    )


async def test_a_no_op_update_does_not_write(stores: Stores) -> None:
    cms = stores.of("configmaps")
    first = await cms.create("default", configmap("a"))
    revision = stores.store.revision
    result, _ = await cms.update("default", "a", replace_with(first))
    assert stores.store.revision == revision
    assert result["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


async def test_mutate_returning_none_leaves_the_object(stores: Stores) -> None:
    cms = stores.of("configmaps")
    first = await cms.create("default", configmap("a"))

    async def nothing(_current: Obj | None) -> None:
        return None

    assert await cms.update("default", "a", nothing) == (first, False)
    err = await status_of(cms.update("default", "missing", nothing))
    assert err.code == 404


async def test_update_of_a_missing_object_is_not_found_unless_the_kind_allows_it(
    stores: Stores,
) -> None:
    err = await status_of(
        stores.of("configmaps").update("default", "a", replace_with(configmap("a")))
    )
    assert (err.code, err.message) == (404, 'configmaps "a" not found')
    # Services are created by a PUT of a missing name (AllowCreateOnUpdate).
    svc = {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    created, was_created = await stores.of("services").update("default", "s", replace_with(svc))
    assert was_created and created["spec"]["clusterIP"]


async def test_update_refuses_another_name(stores: Stores) -> None:
    cms = stores.of("configmaps")
    await cms.create("default", configmap("a"))
    err = await status_of(cms.update("default", "a", replace_with(configmap("b"))))
    assert (err.code, err.reason) == (400, "BadRequest")
    assert err.message == "the name of the object (b) does not match the name on the URL (a)"


async def test_main_resource_update_keeps_the_status(stores: Stores) -> None:
    pods = stores.of("pods")
    created = await pods.create("default", pod("p"))
    body = dict(created, status={"phase": "Running"})
    body["metadata"] = dict(body["metadata"], labels={"a": "b"})
    updated, _ = await pods.update("default", "p", replace_with(body))
    assert updated["status"] == created["status"]
    assert updated["metadata"]["labels"] == {"a": "b"}


async def test_status_update_keeps_the_spec(stores: Stores) -> None:
    pods = stores.of("pods")
    created = await pods.create("default", pod("p"))
    body = orjson.loads(orjson.dumps(created))
    body["spec"]["containers"][0]["image"] = "changed"
    body["status"]["phase"] = "Running"
    updated, _ = await pods.update("default", "p", replace_with(body), subresource="status")
    assert updated["spec"]["containers"][0]["image"] == "nginx"
    assert updated["status"]["phase"] == "Running"


async def test_status_subresource_of_a_missing_object_is_not_created(stores: Stores) -> None:
    svc = {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    err = await status_of(
        stores.of("services").update("default", "s", replace_with(svc), subresource="status")
    )
    assert err.code == 404


async def test_generation_follows_spec_changes_only(stores: Stores) -> None:
    deployments = stores.of("deployments", "apps")
    created = await deployments.create("default", deployment("d"))
    assert created["metadata"]["generation"] == 1
    body = orjson.loads(orjson.dumps(created))
    body["metadata"]["labels"] = {"x": "y"}
    labelled, _ = await deployments.update("default", "d", replace_with(body))
    assert labelled["metadata"]["generation"] == 1
    body = orjson.loads(orjson.dumps(labelled))
    body["spec"]["replicas"] = 3
    body["metadata"].pop("resourceVersion")
    scaled, _ = await deployments.update("default", "d", replace_with(body))
    assert scaled["metadata"]["generation"] == 2


# --- delete and finalizers --------------------------------------------------------------------


async def test_delete_without_anything_holding_it_removes_the_object(stores: Stores) -> None:
    cms = stores.of("configmaps")
    await cms.create("default", configmap("a"))
    obj, gone = await cms.delete("default", "a", DeleteOptions())
    assert gone
    assert obj["metadata"]["resourceVersion"] == str(stores.store.revision)
    assert (await status_of(cms.get("default", "a"))).code == 404
    assert (await status_of(cms.delete("default", "a", DeleteOptions()))).code == 404


async def test_finalizers_hold_deletion_until_the_last_one_goes(stores: Stores) -> None:
    cms = stores.of("configmaps")
    body = configmap("a")
    body["metadata"]["finalizers"] = ["example.com/one", "example.com/two"]
    await cms.create("default", body)

    marked, gone = await cms.delete("default", "a", DeleteOptions())
    assert not gone
    assert TIMESTAMP.match(marked["metadata"]["deletionTimestamp"])
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 0
    assert await cms.get("default", "a") == marked
    # A second delete changes nothing while finalizers hold the object.
    again, gone = await cms.delete("default", "a", DeleteOptions())
    assert not gone and again == marked

    async def drop_finalizer(name: str) -> Any:
        async def mutate(current: Obj | None) -> Obj:
            assert current is not None
            current["metadata"]["finalizers"].remove(name)
            return current

        return mutate

    await cms.update("default", "a", await drop_finalizer("example.com/one"))
    assert (await cms.get("default", "a"))["metadata"]["finalizers"] == ["example.com/two"]
    await cms.update("default", "a", await drop_finalizer("example.com/two"))
    assert (await status_of(cms.get("default", "a"))).code == 404


async def test_deleting_a_held_object_bumps_its_generation(stores: Stores) -> None:
    deployments = stores.of("deployments", "apps")
    await deployments.create("default", deployment("d", finalizers=["example.com/x"]))
    marked, gone = await deployments.delete("default", "d", DeleteOptions())
    assert not gone
    assert marked["metadata"]["generation"] == 2


@pytest.mark.parametrize(
    ("policy", "finalizer"), [("Foreground", "foregroundDeletion"), ("Orphan", "orphan")]
)
async def test_propagation_policy_adds_the_garbage_collector_finalizer(
    stores: Stores, policy: str, finalizer: str
) -> None:
    deployments = stores.of("deployments", "apps")
    await deployments.create("default", deployment("d"))
    marked, gone = await deployments.delete(
        "default", "d", DeleteOptions(propagation_policy=policy)
    )
    assert not gone
    assert marked["metadata"]["finalizers"] == [finalizer]


@pytest.mark.parametrize(
    "opts",
    [
        DeleteOptions(),
        DeleteOptions(propagation_policy="Background"),
        DeleteOptions(orphan_dependents=False),
    ],
    ids=["default", "background", "orphan-dependents-false"],
)
async def test_a_background_cascade_deletes_at_once(stores: Stores, opts: DeleteOptions) -> None:
    # apps/v1 kinds default to cascading in the background: the collector does the rest.
    deployments = stores.of("deployments", "apps")
    await deployments.create("default", deployment("d"))
    _, gone = await deployments.delete("default", "d", opts)
    assert gone


async def test_the_legacy_orphan_dependents_option_adds_the_orphan_finalizer(
    stores: Stores,
) -> None:
    cms = stores.of("configmaps")
    await cms.create("default", configmap("a"))
    marked, gone = await cms.delete("default", "a", DeleteOptions(orphan_dependents=True))
    assert not gone
    assert marked["metadata"]["finalizers"] == ["orphan"]
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 0


async def test_a_later_delete_changes_the_cascade_of_a_held_object(stores: Stores) -> None:
    deployments = stores.of("deployments", "apps")
    await deployments.create("default", deployment("d", finalizers=["example.com/x"]))
    first, _ = await deployments.delete("default", "d", DeleteOptions(propagation_policy="Orphan"))
    assert first["metadata"]["finalizers"] == ["example.com/x", "orphan"]
    # Kubernetes updates the finalizers of an object whose deletion is held (shouldUpdate-
    # Finalizers); the deletion itself stays as it started.
    second, gone = await deployments.delete(
        "default", "d", DeleteOptions(propagation_policy="Foreground")
    )
    assert not gone
    assert second["metadata"]["finalizers"] == ["example.com/x", "foregroundDeletion"]
    md, first_md = second["metadata"], first["metadata"]
    assert md["deletionTimestamp"] == first_md["deletionTimestamp"]
    assert md["generation"] == first_md["generation"]
    # No policy: the object keeps the cascade it has, and nothing is written.
    same, gone = await deployments.delete("default", "d", DeleteOptions())
    assert not gone and same == second
    third, gone = await deployments.delete(
        "default", "d", DeleteOptions(propagation_policy="Background")
    )
    assert not gone
    assert third["metadata"]["finalizers"] == ["example.com/x"]


async def test_a_background_delete_of_an_object_held_only_for_orphaning_removes_it(
    stores: Stores,
) -> None:
    cms = stores.of("configmaps")
    await cms.create("default", configmap("a"))
    await cms.delete("default", "a", DeleteOptions(propagation_policy="Orphan"))
    _, gone = await cms.delete("default", "a", DeleteOptions(propagation_policy="Background"))
    assert gone
    assert (await status_of(cms.get("default", "a"))).code == 404


async def test_a_finalizer_set_by_the_client_chooses_the_cascade(stores: Stores) -> None:
    cms = stores.of("configmaps")
    await cms.create("default", {"metadata": {"name": "a", "finalizers": ["orphan"]}})
    marked, gone = await cms.delete("default", "a", DeleteOptions())
    assert not gone
    assert marked["metadata"]["finalizers"] == ["orphan"]


async def test_events_never_get_the_garbage_collector_finalizers(stores: Stores) -> None:
    events = stores.of("events")
    body = {
        "metadata": {"name": "e"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
        "reason": "Test",
    }
    await events.create("default", body)
    _, gone = await events.delete("default", "e", DeleteOptions(propagation_policy="Foreground"))
    assert gone


async def test_the_cascade_of_a_graceful_deletion_is_fixed_when_it_starts(stores: Stores) -> None:
    pods = stores.of("pods")
    await pods.create("default", pod("p", node="n1"))
    marked, _ = await pods.delete("default", "p", DeleteOptions(propagation_policy="Orphan"))
    assert marked["metadata"]["finalizers"] == ["orphan"]
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    # BeforeDelete: while the grace period runs, DeleteOptions cannot change the finalizers.
    again, gone = await pods.delete("default", "p", DeleteOptions(propagation_policy="Foreground"))
    assert not gone and again == marked
    # The kubelet's final delete leaves the pod to the garbage collector's finalizer.
    final, gone = await pods.delete("default", "p", DeleteOptions(grace_period=0))
    assert not gone
    assert final["metadata"]["finalizers"] == ["orphan"]
    assert final["metadata"]["deletionGracePeriodSeconds"] == 0


async def test_a_dry_run_cascade_writes_nothing(stores: Stores) -> None:
    cms = stores.of("configmaps")
    await cms.create("default", configmap("a"))
    revision = stores.store.revision
    marked, gone = await cms.delete(
        "default", "a", DeleteOptions(propagation_policy="Foreground", dry_run=True)
    )
    assert not gone and marked["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert stores.store.revision == revision
    assert "finalizers" not in (await cms.get("default", "a"))["metadata"]


@pytest.mark.parametrize(
    ("opts", "finalizers"),
    [
        (DeleteOptions(propagation_policy="Foreground"), ["foregroundDeletion"]),
        (DeleteOptions(propagation_policy="Orphan"), ["orphan"]),
        # The namespace registry's own rule: orphanDependents=false means foreground.
        (DeleteOptions(orphan_dependents=False), ["foregroundDeletion"]),
        (DeleteOptions(), None),
    ],
)
async def test_a_namespace_records_its_cascade_on_the_first_delete(
    stores: Stores, opts: DeleteOptions, finalizers: list[str] | None
) -> None:
    namespaces = stores.of("namespaces")
    await stores.namespace("x")
    marked, gone = await namespaces.delete("", "x", opts)
    assert not gone
    assert marked["metadata"].get("finalizers") == finalizers
    # While its content is removed a terminating namespace ignores further deletes.
    again, _ = await namespaces.delete("", "x", DeleteOptions(propagation_policy="Orphan"))
    assert again == marked


async def test_delete_preconditions(stores: Stores) -> None:
    cms = stores.of("configmaps")
    created = await cms.create("default", configmap("a"))
    err = await status_of(cms.delete("default", "a", DeleteOptions(precondition_uid="nope")))
    assert (err.code, err.reason) == (409, "Conflict")
    assert "Precondition failed: UID in precondition: nope" in err.message
    err = await status_of(cms.delete("default", "a", DeleteOptions(precondition_rv="1")))
    assert "Precondition failed: ResourceVersion in precondition: 1" in err.message
    _, gone = await cms.delete(
        "default",
        "a",
        DeleteOptions(
            precondition_uid=created["metadata"]["uid"],
            precondition_rv=created["metadata"]["resourceVersion"],
        ),
    )
    assert gone


async def test_dry_run_delete_keeps_the_object(stores: Stores) -> None:
    cms = stores.of("configmaps")
    await cms.create("default", configmap("a"))
    revision = stores.store.revision
    _, gone = await cms.delete("default", "a", DeleteOptions(dry_run=True))
    assert gone
    assert stores.store.revision == revision
    assert await cms.get("default", "a")


async def test_graceful_pod_deletion_then_the_second_delete_with_grace_zero(
    stores: Stores,
) -> None:
    pods = stores.of("pods")
    created = await pods.create("default", pod("p", node="n1"))
    marked, gone = await pods.delete("default", "p", DeleteOptions())
    assert not gone
    md = marked["metadata"]
    assert md["deletionGracePeriodSeconds"] == 30
    assert TIMESTAMP.match(md["deletionTimestamp"])
    assert md["generation"] == created["metadata"]["generation"] + 1
    assert (await pods.get("default", "p"))["metadata"]["deletionTimestamp"]
    # A longer or equal grace period changes nothing; only a shorter one counts.
    same, gone = await pods.delete("default", "p", DeleteOptions(grace_period=60))
    assert not gone and same == marked
    # The kubelet's final delete, after the containers stopped.
    final, gone = await pods.delete("default", "p", DeleteOptions(grace_period=0))
    assert gone
    assert (await status_of(pods.get("default", "p"))).code == 404
    assert final["metadata"]["name"] == "p"


async def test_pods_never_scheduled_are_deleted_at_once(stores: Stores) -> None:
    pods = stores.of("pods")
    await pods.create("default", pod("p"))
    _, gone = await pods.delete("default", "p", DeleteOptions())
    assert gone


async def test_a_shorter_grace_period_shortens_a_pending_deletion(stores: Stores) -> None:
    pods = stores.of("pods")
    await pods.create("default", pod("p", node="n1"))
    await pods.delete("default", "p", DeleteOptions(grace_period=100))
    shorter, gone = await pods.delete("default", "p", DeleteOptions(grace_period=10))
    assert not gone
    assert shorter["metadata"]["deletionGracePeriodSeconds"] == 10


async def test_force_delete_shortens_the_grace_of_a_pod_with_finalizers(stores: Stores) -> None:
    pods = stores.of("pods")
    await pods.create("default", pod("p", node="n1", finalizers=["example.com/x"]))
    await pods.delete("default", "p", DeleteOptions())
    forced, gone = await pods.delete("default", "p", DeleteOptions(grace_period=0))
    assert not gone
    assert forced["metadata"]["deletionGracePeriodSeconds"] == 0


async def test_namespace_deletion_enters_terminating_and_finalize_removes_it(
    stores: Stores,
) -> None:
    namespaces = stores.of("namespaces")
    created = await stores.namespace("x")
    assert created["spec"] == {"finalizers": ["kubernetes"]}
    assert created["status"] == {"phase": "Active"}
    marked, gone = await namespaces.delete("", "x", DeleteOptions())
    assert not gone
    assert marked["status"]["phase"] == "Terminating"
    assert TIMESTAMP.match(marked["metadata"]["deletionTimestamp"])
    again, gone = await namespaces.delete("", "x", DeleteOptions())
    assert (
        not gone
        and again["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]
    )

    async def finalize(current: Obj | None) -> Obj:
        assert current is not None
        current["spec"] = {"finalizers": []}
        current["metadata"].pop("resourceVersion")
        return current

    await namespaces.update("", "x", finalize, subresource="finalize")
    assert (await status_of(namespaces.get("", "x"))).code == 404


async def test_namespace_deletion_sets_no_grace_period(stores: Stores) -> None:
    await stores.namespace("x")
    marked, _ = await stores.of("namespaces").delete("", "x", DeleteOptions())
    assert "deletionGracePeriodSeconds" not in marked["metadata"]


# --- list -------------------------------------------------------------------------------------


async def fill(cms: ResourceStore, count: int) -> None:
    for i in range(count):
        await cms.create("default", configmap(f"cm{i}", parity="even" if i % 2 == 0 else "odd"))


def names(items: list[Obj]) -> list[str]:
    return [o["metadata"]["name"] for o in items]


async def test_list_pages_with_continue_at_the_first_page_revision(stores: Stores) -> None:
    cms = stores.of("configmaps")
    await fill(cms, 5)
    first = await cms.list("default", ListOptions(limit=2))
    assert names(first.items) == ["cm0", "cm1"]
    assert first.remaining == 3
    assert first.revision == stores.store.revision
    key, revision = decode_continue(first.continue_token)
    assert (key, revision) == ("cm1\x00", first.revision)

    # Changes after the first page are not seen by the rest of the list.
    await cms.create("default", configmap("cm9"))
    await cms.delete("default", "cm3", DeleteOptions())

    second = await cms.list(
        "default", ListOptions(limit=2, continue_key=key, continue_revision=revision)
    )
    assert names(second.items) == ["cm2", "cm3"]
    assert second.revision == first.revision
    assert second.remaining == 1
    key, revision = decode_continue(second.continue_token)
    last = await cms.list(
        "default", ListOptions(limit=2, continue_key=key, continue_revision=revision)
    )
    assert names(last.items) == ["cm4"]
    assert last.continue_token == "" and last.remaining is None


async def test_a_page_that_ends_the_list_has_no_continue(stores: Stores) -> None:
    cms = stores.of("configmaps")
    await fill(cms, 2)
    page = await cms.list("default", ListOptions(limit=2))
    assert names(page.items) == ["cm0", "cm1"]
    assert page.continue_token == "" and page.remaining is None


async def test_selectors_fill_the_limit_and_give_no_remaining_count(stores: Stores) -> None:
    cms = stores.of("configmaps")
    await fill(cms, 9)
    opts = ListOptions(label_selector=labels.parse("parity=odd"), limit=3)
    page = await cms.list("default", opts)
    assert names(page.items) == ["cm1", "cm3", "cm5"]
    assert page.remaining is None
    key, revision = decode_continue(page.continue_token)
    opts = ListOptions(
        label_selector=labels.parse("parity=odd"),
        limit=3,
        continue_key=key,
        continue_revision=revision,
    )
    rest = await cms.list("default", opts)
    assert names(rest.items) == ["cm7"]
    assert rest.continue_token == ""


async def test_field_selector_on_metadata_name(stores: Stores) -> None:
    cms = stores.of("configmaps")
    await fill(cms, 3)
    page = await cms.list("default", ListOptions(field_selector=fields.parse("metadata.name=cm1")))
    assert names(page.items) == ["cm1"]


async def test_a_list_transforms_each_object_after_the_selector_picked_it(
    stores: Stores,
) -> None:
    """A Table list turns each object into its row as it is read, not after the page."""
    cms = stores.of("configmaps")
    await fill(cms, 9)
    seen: list[str] = []

    def to_row(obj: dict[str, Any]) -> dict[str, Any]:
        seen.append(obj["metadata"]["name"])
        return {"row": obj["metadata"]["name"]}

    opts = ListOptions(label_selector=labels.parse("parity=odd"), limit=3)
    page = await cms.list("default", opts, transform=to_row)
    assert page.items == [{"row": "cm1"}, {"row": "cm3"}, {"row": "cm5"}]
    assert seen == ["cm1", "cm3", "cm5"]
    assert page.continue_token


async def test_list_of_all_namespaces_and_of_one(stores: Stores) -> None:
    cms = stores.of("configmaps")
    await cms.create("default", configmap("a"))
    await cms.create("kube-system", configmap("b"))
    assert names((await cms.list("", ListOptions())).items) == ["a", "b"]
    assert names((await cms.list("kube-system", ListOptions())).items) == ["b"]


async def test_exact_list_reads_the_past(stores: Stores) -> None:
    cms = stores.of("configmaps")
    await cms.create("default", configmap("a"))
    then = stores.store.revision
    await cms.create("default", configmap("b"))
    await cms.delete("default", "a", DeleteOptions())
    page = await cms.list(
        "default", ListOptions(resource_version=str(then), resource_version_match="Exact")
    )
    assert names(page.items) == ["a"]
    assert page.revision == then


async def test_continue_from_a_compacted_revision_is_gone(stores: Stores) -> None:
    cms = stores.of("configmaps")
    await fill(cms, 3)
    first = await cms.list("default", ListOptions(limit=1))
    key, revision = decode_continue(first.continue_token)
    await cms.create("default", configmap("later"))
    await stores.store.compact(stores.store.revision)
    err = await status_of(
        cms.list("default", ListOptions(limit=1, continue_key=key, continue_revision=revision))
    )
    assert (err.code, err.reason) == (410, "Expired")
    assert err.message.startswith("The provided continue parameter is too old")


async def test_exact_list_at_a_compacted_revision_is_gone(stores: Stores) -> None:
    cms = stores.of("configmaps")
    await cms.create("default", configmap("a"))
    then = stores.store.revision
    await cms.create("default", configmap("b"))
    await stores.store.compact(stores.store.revision)
    err = await status_of(
        cms.list("default", ListOptions(resource_version=str(then), resource_version_match="Exact"))
    )
    assert (err.code, err.reason) == (410, "Expired")
    assert "The resourceVersion for the provided list is too old" in err.message


async def test_list_newer_than_the_store_is_a_timeout(stores: Stores) -> None:
    cms = stores.of("configmaps")
    future = stores.store.revision + 10
    err = await status_of(cms.list("default", ListOptions(resource_version=str(future))))
    assert (err.code, err.reason) == (504, "Timeout")
    assert err.details is not None and err.details["retryAfterSeconds"] == 1


async def test_too_large_resource_version_carries_its_cause(stores: Stores) -> None:
    current = stores.store.revision
    err = await status_of(
        stores.of("configmaps").list("default", ListOptions(resource_version=str(current + 10)))
    )
    status = err.to_status()
    assert (
        status["message"]
        == f"Timeout: Too large resource version: {current + 10}, current: {current}"
    )
    assert status["details"]["causes"] == [
        {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
    ]


async def test_paginated_list_with_a_resource_version_reads_exactly_that_revision(
    stores: Stores,
) -> None:
    cms = stores.of("configmaps")
    await cms.create("default", configmap("a"))
    then = stores.store.revision
    await cms.create("default", configmap("b"))
    page = await cms.list("default", ListOptions(limit=10, resource_version=str(then)))
    assert names(page.items) == ["a"]
    assert page.revision == then


def test_continue_tokens_round_trip_and_bad_ones_are_400() -> None:
    token = encode_continue("ns/name", 42)
    assert "=" not in token
    payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert payload == {"v": "meta.k8s.io/v1", "rv": 42, "start": "ns/name\x00"}
    assert decode_continue(token) == ("ns/name\x00", 42)
    for bad in (
        "%%%",
        "bm90IGpzb24",
        base64.urlsafe_b64encode(b'{"v":"v2","rv":1,"start":"a"}').decode(),
    ):
        with pytest.raises(errors.StatusError) as err:
            decode_continue(bad)
        assert err.value.code == 400


# --- watch ------------------------------------------------------------------------------------


async def collect(
    store: ResourceStore, stream: Watch, opts: ListOptions, count: int
) -> list[WatchEvent]:
    """The next `count` events this watcher sees (store events it does not see are skipped)."""
    seen: list[WatchEvent] = []
    async with asyncio.timeout(WAIT):
        while len(seen) < count:
            for event in await stream.next():
                translated = store.translate(event, opts)
                if translated is not None:
                    seen.append(translated)
    return seen


def summary(events: list[WatchEvent]) -> list[tuple[str, str]]:
    return [(e.type, e.obj["metadata"]["name"]) for e in events]


async def test_watch_without_selectors_sees_every_change(stores: Stores) -> None:
    cms = stores.of("configmaps")
    opts = ListOptions()
    initial, stream, revision = await cms.watch("default", opts, send_initial=True)
    try:
        assert initial == [] and revision == stores.store.revision
        await cms.create("default", configmap("a"))
        await cms.update("default", "a", replace_with(dict(configmap("a"), data={"k": "2"})))
        await cms.delete("default", "a", DeleteOptions())
        events = await collect(cms, stream, opts, 3)
    finally:
        stream.close()
    assert summary(events) == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    assert [e.revision for e in events] == sorted(e.revision for e in events)
    assert events[-1].obj["metadata"]["resourceVersion"] == str(events[-1].revision)


async def test_watch_with_a_selector_reports_objects_entering_and_leaving_it(
    stores: Stores,
) -> None:
    cms = stores.of("configmaps")
    await cms.create("default", configmap("a", tier="web"))
    opts = ListOptions(label_selector=labels.parse("tier=web"))
    initial, stream, _ = await cms.watch("default", opts, send_initial=True)

    async def relabel(name: str, tier: str) -> None:
        async def mutate(current: Obj | None) -> Obj:
            assert current is not None
            current["metadata"]["labels"] = {"tier": tier}
            current["metadata"].pop("resourceVersion")
            return current

        await cms.update("default", name, mutate)

    try:
        assert summary(initial) == [("ADDED", "a")]
        await cms.create("default", configmap("b", tier="db"))  # never matches: not seen
        await relabel("a", "db")  # leaves the selector
        await relabel("b", "web")  # enters it
        await relabel("b", "web")  # no change: no write
        b = await cms.get("default", "b")
        await cms.update("default", "b", replace_with(dict(b, data={"k": "new"})))  # stays in
        await cms.delete("default", "a", DeleteOptions())  # deleted outside: not seen
        await cms.delete("default", "b", DeleteOptions())
        events = await collect(cms, stream, opts, 4)
    finally:
        stream.close()
    assert summary(events) == [
        ("DELETED", "a"),
        ("ADDED", "b"),
        ("MODIFIED", "b"),
        ("DELETED", "b"),
    ]


async def test_watch_from_a_resource_version_replays_what_followed(stores: Stores) -> None:
    cms = stores.of("configmaps")
    await cms.create("default", configmap("a"))
    since = stores.store.revision
    await cms.create("default", configmap("b"))
    await cms.delete("default", "a", DeleteOptions())
    opts = ListOptions(resource_version=str(since))
    initial, stream, revision = await cms.watch("default", opts, send_initial=False)
    try:
        assert initial == [] and revision == since
        events = await collect(cms, stream, opts, 2)
    finally:
        stream.close()
    assert summary(events) == [("ADDED", "b"), ("DELETED", "a")]


async def test_watch_from_a_compacted_revision_is_gone(stores: Stores) -> None:
    cms = stores.of("configmaps")
    await cms.create("default", configmap("a"))
    since = stores.store.revision
    await cms.create("default", configmap("b"))
    await cms.create("default", configmap("c"))
    await stores.store.compact(stores.store.revision - 1)
    err = await status_of(
        cms.watch("default", ListOptions(resource_version=str(since)), send_initial=False)
    )
    assert (err.code, err.reason) == (410, "Expired")
    assert err.message.startswith(f"too old resource version: {since}")


async def test_watch_of_one_namespace_sees_only_it(stores: Stores) -> None:
    cms = stores.of("configmaps")
    opts = ListOptions(resource_version=str(stores.store.revision))
    _, stream, _ = await cms.watch("kube-system", opts, send_initial=False)
    try:
        await cms.create("default", configmap("elsewhere"))
        await cms.create("kube-system", configmap("here"))
        events = await collect(cms, stream, opts, 1)
    finally:
        stream.close()
    assert summary(events) == [("ADDED", "here")]


async def test_raw_pages_match_decoded_pages(stores: Stores) -> None:
    """The byte-splicing list (raw=True) serves what the decoding list serves."""
    deployments = stores.of("deployments", "apps")
    for name in ("a", "b", "c"):
        await deployments.create("default", deployment(name))
    decoded = await deployments.list("default", ListOptions(limit=2))
    raw = await deployments.list("default", ListOptions(limit=2), raw=True)
    assert raw.raw is not None
    assert [orjson.loads(item) for item in raw.raw] == decoded.items
    assert (raw.continue_token, raw.remaining) == (decoded.continue_token, decoded.remaining)


async def test_raw_list_of_an_object_stored_with_spec_first(stores: Stores) -> None:
    deployments = stores.of("deployments", "apps")
    created = await deployments.create("default", deployment("d"))
    # The same object as the encoder of 4d11dd2 stored a body whose spec came first.
    earlier = {"spec": created["spec"], **{k: v for k, v in created.items() if k != "spec"}}
    del earlier["metadata"]["resourceVersion"]
    key = deployments.key("default", "d")
    stored = await stores.store.get(key)
    assert stored is not None
    await stores.store.update(key, orjson.dumps(earlier), stored.mod_revision)
    page = await deployments.list("default", ListOptions(), raw=True)
    assert page.raw is not None
    [item] = [orjson.loads(b) for b in page.raw]
    assert item["metadata"]["resourceVersion"] == str(stores.store.revision)
    assert "resourceVersion" not in item["spec"]["template"]["metadata"]
