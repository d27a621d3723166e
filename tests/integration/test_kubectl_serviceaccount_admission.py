"""ServiceAccount admission against a real server, driven by the real kubectl: a pod naming a
missing account is refused with Kubernetes' words, a pod applied in the same breath as its
namespace waits for the controller's `default` account instead of failing, and an account that
turns its token off gets pods without the `kube-api-access` volume."""

from __future__ import annotations

import json

import pytest
import yaml
from cluster import Cluster

pytestmark = pytest.mark.integration


def _pod(name: str, namespace: str, **spec: object) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
        }
    )


def test_a_pod_naming_a_missing_account_is_forbidden(cluster: Cluster, namespace: str) -> None:
    result = cluster.kubectl(
        "create", "-f", "-", stdin=_pod("p", namespace, serviceAccountName="robot"), check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f'Error from server (Forbidden): error when creating "STDIN": pods "p" is forbidden: '
        f"error looking up service account {namespace}/robot: "
        'serviceaccount "robot" not found'
    )
    cluster.kubectl("create", "serviceaccount", "robot", "-n", namespace)
    cluster.kubectl("create", "-f", "-", stdin=_pod("p", namespace, serviceAccountName="robot"))
    account = cluster.kubectl(
        "get", "pod", "p", "-n", namespace, "-o", "jsonpath={.spec.serviceAccountName}"
    )
    assert account.stdout == "robot"


def test_a_pod_applied_with_its_namespace_waits_for_the_default_account(
    cluster: Cluster,
) -> None:
    # One apply, namespace first: the pod reaches admission before the controller has made
    # `default`, and is admitted once it has.
    manifest = yaml.safe_dump_all(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "eager"}},
            json.loads(_pod("first", "eager")),
        ]
    )
    cluster.kubectl("apply", "-f", "-", stdin=manifest)
    volumes = cluster.kubectl(
        "get", "pod", "first", "-n", "eager", "-o", "jsonpath={.spec.volumes[*].name}"
    )
    assert volumes.stdout.startswith("kube-api-access-")


def test_an_account_without_automount_gives_pods_no_token(cluster: Cluster, namespace: str) -> None:
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "quiet", "namespace": namespace},
        "automountServiceAccountToken": False,
    }
    cluster.kubectl("create", "-f", "-", stdin=json.dumps(account))
    cluster.kubectl("create", "-f", "-", stdin=_pod("q", namespace, serviceAccountName="quiet"))
    got = json.loads(cluster.kubectl("get", "pod", "q", "-n", namespace, "-o", "json").stdout)
    assert "volumes" not in got["spec"]
    assert "volumeMounts" not in got["spec"]["containers"][0]
