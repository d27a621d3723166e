"""LimitRanges and the LimitRanger admission plugin against a real server, with the real kubectl.

An applied LimitRange is served with its defaults filled in; a pod created without resources in
its namespace comes back with the defaults and the `kubernetes.io/limit-ranger` annotation; a pod
over a max, and an invalid LimitRange, are refused with Kubernetes' words; `kubelite describe
limits` prints what kubectl 1.33 prints.
"""

from __future__ import annotations

import json

import yaml
from cluster import Cluster, wait_for
from test_cli import both

LIMITS = {
    "apiVersion": "v1",
    "kind": "LimitRange",
    "metadata": {"name": "limits"},
    "spec": {
        "limits": [
            {
                "type": "Container",
                "max": {"cpu": "1"},
                "default": {"cpu": "500m", "memory": "256Mi"},
                "defaultRequest": {"cpu": "250m", "memory": "128Mi"},
            }
        ]
    },
}


def pod(name: str, resources: dict[str, object] | None = None) -> str:
    container: dict[str, object] = {"name": "app", "image": "busybox"}
    if resources is not None:
        container["resources"] = resources
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}}
    body["spec"] = {"containers": [container]}
    return json.dumps(body)


def _service_account_ready(cluster: Cluster, namespace: str) -> None:
    """Pods wait for their namespace's default service account (ServiceAccount admission)."""
    wait_for(
        f"the default service account of {namespace}",
        lambda: (
            cluster.kubectl("get", "sa", "default", "-n", namespace, check=False).returncode == 0
        ),
    )


def test_apply_serves_the_limit_range_with_its_defaults(cluster: Cluster, namespace: str) -> None:
    applied = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(LIMITS))
    assert applied.stdout.strip() == "limitrange/limits created"
    served = json.loads(
        cluster.kubectl("get", "limits", "limits", "-n", namespace, "-o", "json").stdout
    )
    item = served["spec"]["limits"][0]
    # default and defaultRequest were given; max fills nothing they lack.
    assert item == LIMITS["spec"]["limits"][0]
    table = cluster.kubectl("get", "limits", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "CREATED", "AT"]
    assert table[1].split()[0] == "limits"
    assert table[1].split()[1] == served["metadata"]["creationTimestamp"]


def test_a_max_alone_becomes_the_default_limit_and_request(
    cluster: Cluster, namespace: str
) -> None:
    body = {**LIMITS, "spec": {"limits": [{"type": "Container", "max": {"memory": "1Gi"}}]}}
    cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(body))
    served = yaml.safe_load(
        cluster.kubectl("get", "limitrange", "limits", "-n", namespace, "-o", "yaml").stdout
    )
    assert served["spec"]["limits"][0] == {
        "type": "Container",
        "max": {"memory": "1Gi"},
        "default": {"memory": "1Gi"},
        "defaultRequest": {"memory": "1Gi"},
    }


def test_a_pod_without_resources_gets_the_defaults(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(LIMITS))
    _service_account_ready(cluster, namespace)
    cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=pod("web"))
    served = yaml.safe_load(
        cluster.kubectl("get", "pod", "web", "-n", namespace, "-o", "yaml").stdout
    )
    assert served["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "500m", "memory": "256Mi"},
        "requests": {"cpu": "250m", "memory": "128Mi"},
    }
    assert served["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container app; "
        "cpu, memory limit for container app"
    )
    assert served["status"]["qosClass"] == "Burstable"


def test_a_pod_over_max_is_refused_with_kubernetes_message(
    cluster: Cluster, namespace: str
) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(LIMITS))
    _service_account_ready(cluster, namespace)
    refused = cluster.kubectl(
        "create",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=pod("greedy", {"limits": {"cpu": "2"}}),
        check=False,
    )
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        'Error from server (Forbidden): error when creating "STDIN": pods "greedy" is forbidden: '
        "maximum cpu usage per Container is 1, but limit is 2"
    )
    greedy = json.loads(pod("greedy", {"limits": {"cpu": "2"}}))
    status, body, _ = cluster.request("POST", f"/api/v1/namespaces/{namespace}/pods", greedy)
    assert (status, body["reason"], body["details"]) == (
        403,
        "Forbidden",
        {"name": "greedy", "kind": "pods"},
    )


def test_an_invalid_limit_range_is_refused_with_the_field_error(
    cluster: Cluster, namespace: str
) -> None:
    item = {"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}
    bad = {**LIMITS, "spec": {"limits": [item]}}
    refused = cluster.kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=json.dumps(bad), check=False
    )
    assert refused.returncode == 1

    def quantity(value: int) -> str:
        return (
            f"resource.Quantity{{i:resource.int64Amount{{value:{value}, scale:0}}, "
            f'd:resource.infDecAmount{{Dec:(*inf.Dec)(nil)}}, s:"{value}", Format:"DecimalSI"}}'
        )

    two = quantity(2)
    # The defaults, made from max, are under min too.
    assert refused.stderr.strip() == (
        'The LimitRange "limits" is invalid: \n'
        f"* spec.limits[0].min[cpu]: Invalid value: {two}: min value 2 is greater than max "
        "value 1\n"
        f"* spec.limits[0].defaultRequest[cpu]: Invalid value: {quantity(1)}: min value 2 is "
        "greater than default request value 1\n"
        f"* spec.limits[0].default[cpu]: Invalid value: {two}: min value 2 is greater than "
        "default value 1"
    )
    status, body, _ = cluster.request("POST", f"/api/v1/namespaces/{namespace}/limitranges", bad)
    assert (status, body["reason"]) == (422, "Invalid")
    assert body["details"]["causes"][0] == {
        "reason": "FieldValueInvalid",
        "message": f"Invalid value: {two}: min value 2 is greater than max value 1",
        "field": "spec.limits[0].min[cpu]",
    }


def test_describe_limits_prints_what_kubectl_prints(cluster: Cluster, namespace: str) -> None:
    # One resource per item: kubectl walks an item's resources in Go's random map order.
    body = {
        **LIMITS,
        "spec": {
            "limits": [
                {"type": "Container", "min": {"cpu": "100m"}, "maxLimitRequestRatio": {"cpu": "4"}},
                {"type": "Pod", "max": {"memory": "2Gi"}},
                {"type": "PersistentVolumeClaim", "max": {"storage": "10Gi"}},
            ]
        },
    }
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(body))
    theirs, ours = both(cluster, "describe", "limits", "limits", "-n", namespace)
    assert ours == theirs
    assert "Container              cpu       100m" in ours


def test_kubectl_knows_limit_ranges_by_their_short_name(cluster: Cluster) -> None:
    lines = cluster.kubectl("api-resources").stdout.splitlines()
    rows = {tuple(line.split()) for line in lines[1:]}
    assert ("limitranges", "limits", "v1", "true", "LimitRange") in rows
