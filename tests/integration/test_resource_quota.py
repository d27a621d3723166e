"""ResourceQuota with the real kubectl: the quota controller fills the status, `kubectl
describe quota` shows it, admission refuses what goes beyond it with Kubernetes' 403, and a
deleted pod gives its share back."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.cluster import Cluster, wait_for

Obj = dict[str, Any]


def quota_manifest(name: str, hard: Obj) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": name},
            "spec": {"hard": hard},
        }
    )


def pod_manifest(name: str, cpu: str | None) -> str:
    resources = {"requests": {"cpu": cpu}} if cpu else {}
    container = {"name": "app", "image": "busybox", "resources": resources}
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"containers": [container]},
        }
    )


def used(cluster: Cluster, namespace: str, name: str) -> Obj:
    out = cluster.kubectl("get", "quota", name, "-n", namespace, "-o", "json").stdout
    return dict((json.loads(out).get("status") or {}).get("used") or {})


def create_pod(cluster: Cluster, namespace: str, name: str, cpu: str | None = "400m"):
    return cluster.kubectl(
        "create", "-n", namespace, "-f", "-", stdin=pod_manifest(name, cpu), check=False
    )


def describe(cluster: Cluster, namespace: str) -> str:
    return cluster.kubectl("describe", "quota", "compute", "-n", namespace).stdout


def expected_description(namespace: str, pods: str, cpu: str) -> str:
    return (
        "Name:         compute\n"
        f"Namespace:    {namespace}\n"
        "Resource      Used  Hard\n"
        "--------      ----  ----\n"
        f"pods          {pods:<6}2\n"
        f"requests.cpu  {cpu:<6}1\n"
    )


def test_a_quota_limits_pods_and_gives_back_what_is_deleted(
    cluster: Cluster, namespace: str
) -> None:
    # The service account controller makes `default`, which every pod is admitted with.
    wait_for(
        "the default service account",
        lambda: (
            cluster.kubectl("get", "sa", "default", "-n", namespace, check=False).returncode == 0
        ),
    )
    cluster.kubectl(
        "create",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=quota_manifest("compute", {"pods": "2", "requests.cpu": "1"}),
    )
    wait_for(
        "the controller to fill the quota's status",
        lambda: used(cluster, namespace, "compute") == {"pods": "0", "requests.cpu": "0"},
    )
    assert describe(cluster, namespace) == expected_description(namespace, "0", "0")
    ours = cluster.kubelite("describe", "quota", "compute", "-n", namespace).stdout
    assert ours == describe(cluster, namespace)
    table = cluster.kubectl("get", "quota", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
    assert table[1].split()[2:] == ["pods:", "0/2,", "requests.cpu:", "0/1"]

    assert create_pod(cluster, namespace, "a").returncode == 0
    assert create_pod(cluster, namespace, "b").returncode == 0
    assert used(cluster, namespace, "compute") == {"pods": "2", "requests.cpu": "800m"}
    assert describe(cluster, namespace) == expected_description(namespace, "2", "800m")

    third = create_pod(cluster, namespace, "c", cpu="100m")
    assert third.returncode != 0
    assert third.stderr.strip() == (
        'Error from server (Forbidden): error when creating "STDIN": pods "c" is forbidden: '
        "exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2"
    )

    cluster.kubectl("delete", "pod", "a", "-n", namespace, "--wait=false")
    wait_for(
        "the deleted pod's share to come back",
        lambda: used(cluster, namespace, "compute") == {"pods": "1", "requests.cpu": "400m"},
    )
    assert create_pod(cluster, namespace, "c", cpu="100m").returncode == 0
    assert used(cluster, namespace, "compute") == {"pods": "2", "requests.cpu": "500m"}


def test_a_pod_without_requests_is_refused_under_a_requests_quota(
    cluster: Cluster, namespace: str
) -> None:
    wait_for(
        "the default service account",
        lambda: (
            cluster.kubectl("get", "sa", "default", "-n", namespace, check=False).returncode == 0
        ),
    )
    cluster.kubectl(
        "create",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=quota_manifest("cpu", {"requests.cpu": "1"}),
    )
    wait_for(
        "the controller to fill the quota's status",
        lambda: used(cluster, namespace, "cpu") == {"requests.cpu": "0"},
    )
    refused = create_pod(cluster, namespace, "bare", cpu=None)
    assert refused.returncode != 0
    assert refused.stderr.strip() == (
        'Error from server (Forbidden): error when creating "STDIN": pods "bare" is forbidden: '
        "failed quota: cpu: must specify requests.cpu for: app"
    )
