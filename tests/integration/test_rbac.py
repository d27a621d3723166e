"""RBAC against a real server, with the real kubectl: who may do what, and in Kubernetes' words.

A user comes from `kubelite kubeconfig --user NAME --group G` (a client certificate signed by
the cluster CA); the admin binds roles with `kubectl create rolebinding`; the user's kubectl
then meets Kubernetes' 403s, `kubectl auth can-i` (with `--list` and `--as`), `kubectl auth
whoami`, the escalation check, and the default roles the server reconciles at start.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from tests.integration.cluster import Cluster, kubectl_binary, wait_for

_users = count()


class User:
    """A kubectl of a non-admin identity against the cluster."""

    def __init__(self, cluster: Cluster, kubeconfig: Path, name: str) -> None:
        self.cluster = cluster
        self.kubeconfig = kubeconfig
        self.name = name

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = self.cluster.env()
        env["KUBECONFIG"] = str(self.kubeconfig)
        return subprocess.run(
            [kubectl_binary(), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )


def _user(cluster: Cluster, tmp_path: Path, *groups: str) -> User:
    name = f"user{next(_users)}"
    path = tmp_path / f"{name}.kubeconfig"
    args = ["kubeconfig", "--user", name, "--data-dir", str(cluster.data_dir), "-o", str(path)]
    for group in groups:
        args += ["--group", group]
    cluster.kubelite(*args)
    return User(cluster, path, name)


@pytest.fixture
def other_namespace(cluster: Cluster) -> Iterator[str]:
    name = f"other-{next(_users)}"
    cluster.kubectl("create", "namespace", name)
    yield name


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
}


def _bind_edit(cluster: Cluster, namespace: str, group: str) -> None:
    cluster.kubectl(
        "create",
        "rolebinding",
        f"{group}-edit",
        "--clusterrole=edit",
        f"--group={group}",
        "-n",
        namespace,
    )


def _allowed(user: User, *args: str) -> bool:
    return user.kubectl("auth", "can-i", *args).stdout.strip() == "yes"


def test_a_group_bound_to_edit_creates_pods_there_and_nowhere_else(
    cluster: Cluster, namespace: str, other_namespace: str, tmp_path: Path
) -> None:
    dev = _user(cluster, tmp_path, "dev")
    refused = dev.kubectl("get", "pods", "-n", namespace)
    assert refused.returncode != 0
    assert (
        f'Error from server (Forbidden): pods is forbidden: User "{dev.name}" cannot list '
        f'resource "pods" in API group "" in the namespace "{namespace}"'
    ) in refused.stderr
    _bind_edit(cluster, namespace, "dev")
    # The aggregation controller fills `edit`; the binding reaches the server's cache by watch.
    wait_for(
        "edit to allow creating pods", lambda: _allowed(dev, "create", "pods", "-n", namespace)
    )
    created = dev.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(POD))
    assert created.returncode == 0, created.stderr
    elsewhere = dev.kubectl("create", "-n", other_namespace, "-f", "-", stdin=json.dumps(POD))
    assert (
        f'Error from server (Forbidden): error when creating "STDIN": pods is forbidden: User '
        f'"{dev.name}" cannot create resource "pods" in API group "" in the namespace '
        f'"{other_namespace}"'
    ) in elsewhere.stderr
    nodes = dev.kubectl("get", "nodes")
    assert (
        f'nodes is forbidden: User "{dev.name}" cannot list resource "nodes" in API group "" '
        "at the cluster scope"
    ) in nodes.stderr
    secrets = dev.kubectl("get", "secret", "x", "-n", other_namespace)
    assert (
        f'secrets "x" is forbidden: User "{dev.name}" cannot get resource "secrets" in API '
        f'group "" in the namespace "{other_namespace}"'
    ) in secrets.stderr


def test_can_i_answers_and_lists_what_the_user_holds(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    viewer = _user(cluster, tmp_path, "viewers")
    cluster.kubectl(
        "create", "role", "pod-reader", "--verb=get,list", "--resource=pods", "-n", namespace
    )
    cluster.kubectl(
        "create",
        "rolebinding",
        "read",
        "--role=pod-reader",
        f"--user={viewer.name}",
        "-n",
        namespace,
    )
    wait_for("the binding", lambda: _allowed(viewer, "list", "pods", "-n", namespace))
    assert viewer.kubectl("auth", "can-i", "delete", "pods", "-n", namespace).stdout == "no\n"
    listing = viewer.kubectl("auth", "can-i", "--list", "-n", namespace)
    assert listing.returncode == 0, listing.stderr
    rows = [line.split() for line in listing.stdout.splitlines()]
    assert rows[0] == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    assert ["pods", "[]", "[]", "[get", "list]"] in rows
    # system:basic-user and system:discovery, which every authenticated user holds.
    assert ["selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"] in rows
    assert ["[/api/*]", "[]", "[get]"] in rows
    # The admin asks on the user's behalf (impersonation, allowed to system:masters).
    as_user = cluster.kubectl(
        "auth", "can-i", "list", "pods", "-n", namespace, f"--as={viewer.name}"
    )
    assert as_user.stdout == "yes\n"
    as_nobody = cluster.kubectl(
        "auth", "can-i", "list", "pods", "-n", namespace, "--as=nobody", check=False
    )
    assert as_nobody.stdout == "no\n"


def test_whoami_and_impersonation(cluster: Cluster, tmp_path: Path) -> None:
    dev = _user(cluster, tmp_path, "dev", "qa")
    whoami = dev.kubectl("auth", "whoami", "-o", "json")
    assert whoami.returncode == 0, whoami.stderr
    info = json.loads(whoami.stdout)["status"]["userInfo"]
    assert info == {"username": dev.name, "groups": ["dev", "qa", "system:authenticated"]}
    as_other = cluster.kubectl("auth", "whoami", "--as=alice", "--as-group=ops", "-o", "json")
    assert json.loads(as_other.stdout)["status"]["userInfo"] == {
        "username": "alice",
        "groups": ["ops", "system:authenticated"],
    }
    # Without the impersonate verb, the user cannot become someone else.
    refused = dev.kubectl("get", "pods", "--as=alice")
    assert (
        f'users "alice" is forbidden: User "{dev.name}" cannot impersonate resource "users" '
        'in API group "" at the cluster scope'
    ) in refused.stderr


def test_no_one_grants_what_they_do_not_hold(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    lead = _user(cluster, tmp_path, "leads")
    cluster.kubectl(
        "create",
        "role",
        "binder",
        "--verb=create,get",
        "--resource=roles,rolebindings",
        "-n",
        namespace,
    )
    cluster.kubectl(
        "create", "rolebinding", "binder", "--role=binder", "--group=leads", "-n", namespace
    )
    wait_for("the binding", lambda: _allowed(lead, "create", "roles", "-n", namespace))
    escalating = lead.kubectl(
        "create", "role", "deleter", "--verb=delete", "--resource=pods", "-n", namespace
    )
    assert escalating.returncode != 0
    assert (
        f'roles.rbac.authorization.k8s.io "deleter" is forbidden: user "{lead.name}" '
        '(groups=["leads" "system:authenticated"]) is attempting to grant RBAC permissions not '
        'currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}'
    ) in escalating.stderr
    # What the user holds, they may grant.
    own = lead.kubectl(
        "create", "role", "role-reader", "--verb=get", "--resource=roles", "-n", namespace
    )
    assert own.returncode == 0, own.stderr
    # Binding cluster-admin to themselves is refused the same way.
    admin = lead.kubectl(
        "create",
        "rolebinding",
        "me-admin",
        "--clusterrole=cluster-admin",
        f"--user={lead.name}",
        "-n",
        namespace,
    )
    assert admin.returncode != 0
    assert "is attempting to grant RBAC permissions not currently held" in admin.stderr


def test_a_service_account_token_holds_nothing_by_default(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    wait_for(
        "the default service account",
        lambda: (
            cluster.kubectl("get", "sa", "default", "-n", namespace, check=False).returncode == 0
        ),
    )
    token = cluster.kubectl("create", "token", "default", "-n", namespace).stdout.strip()
    config = json.loads(cluster.kubectl("config", "view", "--raw", "-o", "json").stdout)
    config["users"] = [{"name": "default", "user": {"token": token}}]
    path = tmp_path / "sa.kubeconfig"
    path.write_text(json.dumps(config))
    account = User(cluster, path, f"system:serviceaccount:{namespace}:default")
    secrets = account.kubectl("get", "secrets", "-n", namespace)
    assert (
        f'secrets is forbidden: User "system:serviceaccount:{namespace}:default" cannot list '
        f'resource "secrets" in API group "" in the namespace "{namespace}"'
    ) in secrets.stderr
    # Discovery is everyone's (system:discovery), so kubectl gets as far as the 403.
    assert account.kubectl("api-versions").returncode == 0


def test_the_default_roles_are_there_and_aggregated(cluster: Cluster) -> None:
    names = cluster.kubectl("get", "clusterroles", "-o", "name").stdout.split()
    for role in (
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:kube-scheduler",
        "system:node",
        "system:controller:replicaset-controller",
    ):
        assert f"clusterrole.rbac.authorization.k8s.io/{role}" in names

    def view_rules() -> list[dict[str, object]]:
        role = json.loads(cluster.kubectl("get", "clusterrole", "view", "-o", "json").stdout)
        return list(role.get("rules") or [])

    rules = wait_for("view to be aggregated", view_rules)
    assert any("pods" in r.get("resources", []) and "list" in r["verbs"] for r in rules)
    table = cluster.kubectl("get", "clusterrolebinding", "cluster-admin", "-o", "wide").stdout
    header, row = table.splitlines()
    assert header.split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert row.split()[1] == "ClusterRole/cluster-admin"
    assert "system:masters" in row
