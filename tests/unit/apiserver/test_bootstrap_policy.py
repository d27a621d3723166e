"""The RBAC objects kube-apiserver bootstraps, checked on facts that a wrong table would break."""

from __future__ import annotations

from collections import Counter

from kubelite.api.types import Obj
from kubelite.apiserver.rbac.bootstrap_policy import (
    cluster_role_bindings,
    cluster_roles,
    namespace_role_bindings,
    namespace_roles,
)


def _named(objs: list[Obj], name: str) -> Obj:
    (found,) = [obj for obj in objs if obj["metadata"]["name"] == name]
    return found


def _allows(role: Obj, verb: str, group: str, resource: str) -> bool:
    """Whether one of the role's resource rules covers the request, `*` included."""
    return any(
        (verb in r["verbs"] or "*" in r["verbs"])
        and (group in r["apiGroups"] or "*" in r["apiGroups"])
        and (resource in r["resources"] or "*" in r["resources"])
        and "resourceNames" not in r
        for r in role["rules"]
        if "resources" in r
    )


def _every_object() -> list[Obj]:
    objs = cluster_roles() + cluster_role_bindings()
    for namespaced in (namespace_roles(), namespace_role_bindings()):
        for items in namespaced.values():
            objs += items
    return objs


def test_cluster_admin_may_do_anything() -> None:
    rules = _named(cluster_roles(), "cluster-admin")["rules"]
    assert rules == [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ]


def test_discovery_reads_exactly_the_discovery_and_health_paths() -> None:
    (only,) = _named(cluster_roles(), "system:discovery")["rules"]
    assert only == {
        "nonResourceURLs": [
            "/api",
            "/api/*",
            "/apis",
            "/apis/*",
            "/healthz",
            "/livez",
            "/openapi",
            "/openapi/*",
            "/readyz",
            "/version",
            "/version/",
        ],
        "verbs": ["get"],
    }


def test_view_is_aggregated_from_its_label_and_has_no_rules_of_its_own() -> None:
    view = _named(cluster_roles(), "view")
    assert view["aggregationRule"] == {
        "clusterRoleSelectors": [
            {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}
        ]
    }
    assert view["rules"] == []
    # view's rules aggregate into edit's.
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"


def test_aggregate_to_edit_creates_pods_but_endpoints_stay_read_only() -> None:
    edit = _named(cluster_roles(), "system:aggregate-to-edit")
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert _allows(edit, "create", "", "pods")
    assert _allows(edit, "create", "apps", "deployments")
    # Write access to Endpoints was taken out of edit (CVE-2021-25740).
    assert not _allows(edit, "create", "", "endpoints")


def test_kube_scheduler_binds_pods_and_the_controller_manager_lists_everything() -> None:
    roles = cluster_roles()
    scheduler = _named(roles, "system:kube-scheduler")
    assert _allows(scheduler, "create", "", "pods/binding")
    assert not _allows(scheduler, "create", "", "pods")
    assert _allows(_named(roles, "system:kube-controller-manager"), "watch", "batch", "jobs")


def test_kube_controller_manager_binding_names_its_user() -> None:
    binding = _named(cluster_role_bindings(), "system:kube-controller-manager")
    assert binding["subjects"] == [
        {
            "kind": "User",
            "apiGroup": "rbac.authorization.k8s.io",
            "name": "system:kube-controller-manager",
        }
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "system:kube-controller-manager",
    }


def test_each_controller_role_is_bound_to_its_service_account_in_kube_system() -> None:
    binding = _named(cluster_role_bindings(), "system:controller:replicaset-controller")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "replicaset-controller", "namespace": "kube-system"}
    ]
    role = _named(cluster_roles(), "system:controller:replicaset-controller")
    assert _allows(role, "create", "", "pods")
    assert _allows(role, "update", "apps", "replicasets/status")


def test_names_are_unique_per_kind_and_namespace() -> None:
    keys = Counter(
        (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
        for obj in _every_object()
    )
    assert [key for key, count in keys.items() if count > 1] == []


def test_every_binding_refers_to_a_bootstrapped_role() -> None:
    role_names = {role["metadata"]["name"] for role in cluster_roles()}
    for binding in cluster_role_bindings():
        assert binding["roleRef"]["name"] in role_names
    for namespace, bindings in namespace_role_bindings().items():
        names = {role["metadata"]["name"] for role in namespace_roles()[namespace]}
        for binding in bindings:
            assert binding["roleRef"] == {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": binding["roleRef"]["name"],
            }
            assert binding["roleRef"]["name"] in names


def test_every_object_is_labelled_and_reconciled() -> None:
    for obj in _every_object():
        assert obj["apiVersion"] == "rbac.authorization.k8s.io/v1"
        assert obj["metadata"]["annotations"] == {
            "rbac.authorization.kubernetes.io/autoupdate": "true"
        }
        assert obj["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"


def test_rule_keys_come_in_the_order_of_the_api() -> None:
    order = ["apiGroups", "resources", "resourceNames", "nonResourceURLs", "verbs"]
    for obj in _every_object():
        for r in obj.get("rules", []):
            assert list(r) == [key for key in order if key in r]


def test_namespaced_objects_live_in_kube_system_and_kube_public() -> None:
    assert sorted(namespace_roles()) == ["kube-public", "kube-system"]
    assert sorted(namespace_role_bindings()) == ["kube-public", "kube-system"]
    reader = _named(namespace_roles()["kube-system"], "extension-apiserver-authentication-reader")
    assert reader["rules"][0]["resourceNames"] == ["extension-apiserver-authentication"]


def test_each_call_returns_new_objects() -> None:
    _named(cluster_roles(), "cluster-admin")["rules"].clear()
    namespace_roles()["kube-system"].clear()
    assert _named(cluster_roles(), "cluster-admin")["rules"]
    assert namespace_roles()["kube-system"]
