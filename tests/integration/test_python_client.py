"""The official `kubernetes` Python client against kubelite: CRUD, lists, watches, patches."""

from __future__ import annotations

import json
import threading
import time

import pytest
from cluster import Cluster
from kubernetes import client, watch
from kubernetes.client.rest import ApiException


def _pod(name: str, image: str = "busybox:1.36", labels: dict[str, str] | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": "main", "image": image}]},
    }


@pytest.fixture(scope="module")
def core(cluster: Cluster) -> client.CoreV1Api:
    return client.CoreV1Api(cluster.client())


def test_create_read_update_delete(core: client.CoreV1Api, namespace: str):
    created = core.create_namespaced_pod(namespace, _pod("crud"))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.spec.scheduler_name == "default-scheduler"
    assert created.spec.dns_policy == "ClusterFirst"
    assert created.status.phase == "Pending" and created.status.qos_class == "BestEffort"
    tolerations = {(t.key, t.effect, t.toleration_seconds) for t in created.spec.tolerations}
    assert tolerations == {
        ("node.kubernetes.io/not-ready", "NoExecute", 300),
        ("node.kubernetes.io/unreachable", "NoExecute", 300),
    }
    read = core.read_namespaced_pod("crud", namespace)
    read.metadata.labels = {"app": "web"}
    updated = core.replace_namespaced_pod("crud", namespace, read)
    assert updated.metadata.labels == {"app": "web"}
    assert int(updated.metadata.resource_version) > int(created.metadata.resource_version)
    core.delete_namespaced_pod("crud", namespace)
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("crud", namespace)
    assert err.value.status == 404


def test_update_with_a_stale_resource_version_conflicts(core: client.CoreV1Api, namespace: str):
    first = core.create_namespaced_pod(namespace, _pod("stale"))
    core.patch_namespaced_pod("stale", namespace, {"metadata": {"labels": {"a": "1"}}})
    first.metadata.labels = {"b": "2"}
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_pod("stale", namespace, first)
    assert err.value.status == 409
    assert "the object has been modified" in err.value.body


def test_create_of_an_existing_name_is_already_exists(core: client.CoreV1Api, namespace: str):
    core.create_namespaced_pod(namespace, _pod("twice"))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod(namespace, _pod("twice"))
    assert err.value.status == 409 and "AlreadyExists" in err.value.body


def test_generate_name_makes_unique_names(core: client.CoreV1Api, namespace: str):
    body = _pod("")
    body["metadata"] = {"generateName": "gen-"}
    names = {core.create_namespaced_pod(namespace, body).metadata.name for _ in range(5)}
    assert len(names) == 5 and all(n.startswith("gen-") and len(n) == 9 for n in names)


def test_list_pages_with_limit_and_continue(core: client.CoreV1Api, namespace: str):
    for i in range(7):
        core.create_namespaced_pod(namespace, _pod(f"page-{i}"))
    first = core.list_namespaced_pod(namespace, limit=3)
    assert [p.metadata.name for p in first.items] == ["page-0", "page-1", "page-2"]
    assert first.metadata.remaining_item_count == 4 and first.metadata._continue
    # A write between pages does not change what the paged list shows: it is one snapshot.
    core.create_namespaced_pod(namespace, _pod("page-9"))
    rest = core.list_namespaced_pod(namespace, limit=10, _continue=first.metadata._continue)
    assert [p.metadata.name for p in rest.items] == [f"page-{i}" for i in range(3, 7)]
    assert rest.metadata.resource_version == first.metadata.resource_version


def test_selectors_filter_lists(core: client.CoreV1Api, namespace: str):
    core.create_namespaced_pod(namespace, _pod("web-1", labels={"app": "web", "tier": "front"}))
    core.create_namespaced_pod(namespace, _pod("web-2", labels={"app": "web", "tier": "back"}))
    core.create_namespaced_pod(namespace, _pod("db-1", labels={"app": "db"}))

    def names(**kw: str) -> list[str]:
        return sorted(p.metadata.name for p in core.list_namespaced_pod(namespace, **kw).items)

    assert names(label_selector="app=web") == ["web-1", "web-2"]
    assert names(label_selector="app in (web,db),tier!=back") == ["db-1", "web-1"]
    assert names(label_selector="!tier") == ["db-1"]
    assert names(field_selector="metadata.name=web-2") == ["web-2"]
    assert names(field_selector="status.phase=Pending,metadata.name!=db-1") == ["web-1", "web-2"]
    with pytest.raises(ApiException) as err:
        core.list_namespaced_pod(namespace, field_selector="spec.colour=blue")
    assert err.value.status == 400 and "field label not supported: spec.colour" in err.value.body


def test_watch_resumes_from_a_resource_version(core: client.CoreV1Api, namespace: str):
    listed = core.list_namespaced_pod(namespace)
    core.create_namespaced_pod(namespace, _pod("w1"))
    core.patch_namespaced_pod("w1", namespace, {"metadata": {"labels": {"x": "y"}}})
    core.delete_namespaced_pod("w1", namespace)
    seen = []
    for event in watch.Watch().stream(
        core.list_namespaced_pod,
        namespace,
        resource_version=listed.metadata.resource_version,
        timeout_seconds=5,
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 3:
            break
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


def test_watch_without_a_version_starts_with_the_current_state(
    core: client.CoreV1Api, namespace: str
):
    core.create_namespaced_pod(namespace, _pod("existing"))
    stream = watch.Watch()
    events = []

    def later() -> None:
        time.sleep(0.5)
        core.create_namespaced_pod(namespace, _pod("new"))

    thread = threading.Thread(target=later)
    thread.start()
    for event in stream.stream(core.list_namespaced_pod, namespace, timeout_seconds=10):
        events.append((event["type"], event["object"].metadata.name))
        if len(events) == 2:
            stream.stop()
    thread.join()
    assert events == [("ADDED", "existing"), ("ADDED", "new")]


def test_watch_with_a_label_selector_sees_objects_leave_it(core: client.CoreV1Api, namespace: str):
    listed = core.list_namespaced_pod(namespace)
    core.create_namespaced_pod(namespace, _pod("sel", labels={"app": "web"}))
    core.patch_namespaced_pod("sel", namespace, {"metadata": {"labels": {"app": "db"}}})
    seen = []
    for event in watch.Watch().stream(
        core.list_namespaced_pod,
        namespace,
        label_selector="app=web",
        resource_version=listed.metadata.resource_version,
        timeout_seconds=5,
    ):
        seen.append(event["type"])
        if len(seen) == 2:
            break
    assert seen == ["ADDED", "DELETED"]


def test_watch_bookmarks_carry_a_resource_version(cluster: Cluster, namespace: str):
    status, raw, _ = cluster.request(
        "GET",
        f"/api/v1/namespaces/{namespace}/pods?watch=true&allowWatchBookmarks=true&timeoutSeconds=3",
    )
    assert status == 200
    events = [raw] if isinstance(raw, dict) else [json.loads(x) for x in raw.splitlines() if x]
    assert [e["type"] for e in events] == ["BOOKMARK"]
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) > 0


def test_patch_types(core: client.CoreV1Api, namespace: str, cluster: Cluster):
    core.create_namespaced_pod(namespace, _pod("patched", labels={"a": "1"}))
    # Strategic merge (the client's default for a dict body): containers merge by name.
    core.patch_namespaced_pod(
        "patched", namespace, {"spec": {"containers": [{"name": "main", "image": "busybox:2"}]}}
    )
    # JSON patch (a list body).
    core.patch_namespaced_pod(
        "patched", namespace, [{"op": "add", "path": "/metadata/labels/b", "value": "2"}]
    )
    # Merge patch: null deletes.
    status, _, _ = cluster.request(
        "PATCH",
        f"/api/v1/namespaces/{namespace}/pods/patched",
        {"metadata": {"labels": {"a": None}}},
        content_type="application/merge-patch+json",
    )
    assert status == 200
    pod = core.read_namespaced_pod("patched", namespace)
    assert pod.spec.containers[0].image == "busybox:2"
    assert pod.metadata.labels == {"b": "2"}
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_pod(
            "patched", namespace, [{"op": "test", "path": "/metadata/name", "value": "other"}]
        )
    assert err.value.status == 422


def test_server_side_apply_records_managers_and_reports_conflicts(
    core: client.CoreV1Api, namespace: str
):
    config = _pod("applied", labels={"app": "web"})
    core.patch_namespaced_pod(
        "applied",
        namespace,
        config,
        field_manager="alice",
        _content_type="application/apply-patch+yaml",
    )
    pod = core.read_namespaced_pod("applied", namespace)
    managers = {(m.manager, m.operation) for m in pod.metadata.managed_fields}
    assert ("alice", "Apply") in managers
    config["spec"]["containers"][0]["image"] = "busybox:other"
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_pod(
            "applied",
            namespace,
            config,
            field_manager="bob",
            _content_type="application/apply-patch+yaml",
        )
    assert err.value.status == 409
    status = json.loads(err.value.body)
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Apply failed with 1 conflict: conflict with "alice": .spec.containers[name="main"].image'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "alice"',
            "field": '.spec.containers[name="main"].image',
        }
    ]
    core.patch_namespaced_pod(
        "applied",
        namespace,
        config,
        field_manager="bob",
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    assert (
        core.read_namespaced_pod("applied", namespace).spec.containers[0].image == "busybox:other"
    )


def test_dry_run_writes_nothing(core: client.CoreV1Api, namespace: str):
    answer = core.create_namespaced_pod(namespace, _pod("dry"), dry_run="All")
    assert answer.metadata.name == "dry"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("dry", namespace)
    assert err.value.status == 404


def test_binding_sets_the_node_once(core: client.CoreV1Api, namespace: str, cluster: Cluster):
    core.create_namespaced_pod(namespace, _pod("bound"))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "bound"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
    }
    path = f"/api/v1/namespaces/{namespace}/pods/bound/binding"
    status, answer, _ = cluster.request("POST", path, binding)
    assert (status, answer["status"]) == (201, "Success")
    pod = core.read_namespaced_pod("bound", namespace)
    assert pod.spec.node_name == "node-1"
    assert [(c.type, c.status) for c in pod.status.conditions] == [("PodScheduled", "True")]
    status, answer, _ = cluster.request("POST", path, binding)
    assert status == 409 and answer["reason"] == "Conflict"
    assert answer["message"] == (
        'Operation cannot be fulfilled on pods/binding "bound": pod bound is already assigned '
        'to node "node-1"'
    )


def test_scheduled_pods_are_deleted_gracefully(
    core: client.CoreV1Api, namespace: str, cluster: Cluster
):
    core.create_namespaced_pod(namespace, _pod("graceful"))
    core.patch_namespaced_pod("graceful", namespace, {"metadata": {"finalizers": []}})
    status, _, _ = cluster.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/pods/graceful/binding",
        {"metadata": {"name": "graceful"}, "target": {"kind": "Node", "name": "n1"}},
    )
    assert status == 201
    core.delete_namespaced_pod("graceful", namespace)
    pending = core.read_namespaced_pod("graceful", namespace)
    assert pending.metadata.deletion_timestamp is not None
    assert pending.metadata.deletion_grace_period_seconds == 30
    # The kubelet confirms with a zero grace period; then the pod is gone.
    core.delete_namespaced_pod("graceful", namespace, grace_period_seconds=0)
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("graceful", namespace)
    assert err.value.status == 404


def test_finalizers_hold_an_object_until_removed(core: client.CoreV1Api, namespace: str):
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "held", "finalizers": ["example.com/hold"]},
    }
    core.create_namespaced_config_map(namespace, body)
    core.delete_namespaced_config_map("held", namespace)
    held = core.read_namespaced_config_map("held", namespace)
    assert held.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("held", namespace, {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("held", namespace)
    assert err.value.status == 404


def test_status_changes_only_through_the_status_subresource(core: client.CoreV1Api, namespace: str):
    core.create_namespaced_pod(namespace, _pod("stat"))
    core.patch_namespaced_pod("stat", namespace, {"status": {"phase": "Running"}})
    assert core.read_namespaced_pod("stat", namespace).status.phase == "Pending"
    core.patch_namespaced_pod_status("stat", namespace, {"status": {"phase": "Running"}})
    assert core.read_namespaced_pod("stat", namespace).status.phase == "Running"


def test_apps_kinds_are_stored_with_defaults_and_generation(cluster: Cluster, namespace: str):
    apps = client.AppsV1Api(cluster.client())
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "mydeployment"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx"}]},
            },
        },
    }
    created = apps.create_namespaced_deployment(namespace, deployment)
    assert created.metadata.generation == 1
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.spec.revision_history_limit == 10
    patched = apps.patch_namespaced_deployment("mydeployment", namespace, {"spec": {"replicas": 5}})
    assert patched.metadata.generation == 2
    relabelled = apps.patch_namespaced_deployment(
        "mydeployment", namespace, {"metadata": {"labels": {"x": "y"}}}
    )
    assert relabelled.metadata.generation == 2
    scale = apps.read_namespaced_deployment_scale("mydeployment", namespace)
    assert scale.spec.replicas == 5 and scale.status.selector == "app=web"
