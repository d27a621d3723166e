"""Pod Security admission against a real server, with the real kubectl.

A namespace labelled `pod-security.kubernetes.io/enforce: restricted` refuses a pod that breaks
the restricted level, naming every violation as Kubernetes does; one labelled `warn` admits it
and kubectl prints the warnings; an unlabelled namespace is privileged, as by default. A
baseline namespace refuses a probe with a host (policy v1.34 on) unless pinned to v1.33.
"""

from __future__ import annotations

import json

from tests.integration.cluster import Cluster

PRIVILEGED_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "root"},
    "spec": {
        "containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]
    },
}

VIOLATIONS = (
    'privileged (container "c" must not set securityContext.privileged=true), '
    'allowPrivilegeEscalation != false (container "c" must set '
    "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "
    '"c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
    'container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or '
    'container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
    '"Localhost")'
)


def _label(cluster: Cluster, namespace: str, *labels: str) -> None:
    cluster.kubectl("label", "namespace", namespace, *labels)


def test_enforce_restricted_refuses_a_privileged_pod_naming_every_violation(
    cluster: Cluster, namespace: str
) -> None:
    _label(cluster, namespace, "pod-security.kubernetes.io/enforce=restricted")
    refused = cluster.kubectl(
        "create", "-n", namespace, "-f", "-", stdin=json.dumps(PRIVILEGED_POD), check=False
    )
    assert refused.returncode != 0
    assert (
        'Error from server (Forbidden): error when creating "STDIN": pods "root" is forbidden: '
        f'violates PodSecurity "restricted:latest": {VIOLATIONS}'
    ) in refused.stderr
    assert cluster.kubectl("get", "pods", "-n", namespace, "-o", "name").stdout == ""


def test_warn_admits_the_pod_and_kubectl_prints_the_warning(
    cluster: Cluster, namespace: str
) -> None:
    _label(cluster, namespace, "pod-security.kubernetes.io/warn=restricted")
    created = cluster.kubectl(
        "create", "-n", namespace, "-f", "-", stdin=json.dumps(PRIVILEGED_POD)
    )
    assert f'Warning: would violate PodSecurity "restricted:latest": {VIOLATIONS}' in (
        created.stderr
    )
    assert "pod/root created" in created.stdout


def test_an_unlabelled_namespace_is_privileged(cluster: Cluster, namespace: str) -> None:
    created = cluster.kubectl(
        "create", "-n", namespace, "-f", "-", stdin=json.dumps(PRIVILEGED_POD)
    )
    assert created.stderr == ""


def test_an_invalid_level_is_refused_naming_the_label(cluster: Cluster, namespace: str) -> None:
    refused = cluster.kubectl(
        "label", "namespace", namespace, "pod-security.kubernetes.io/enforce=strict", check=False
    )
    assert refused.returncode != 0
    assert (
        f'The Namespace "{namespace}" is invalid: '
        "metadata.labels[pod-security.kubernetes.io/enforce]: "
        'Invalid value: "strict": must be one of privileged, baseline, restricted'
    ) in refused.stderr


PROBING_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "probe"},
    "spec": {
        "containers": [
            {
                "name": "c",
                "image": "busybox",
                "readinessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80, "path": "/"}},
            }
        ]
    },
}


def test_baseline_refuses_a_probe_host_from_policy_v1_34_and_admits_it_pinned_at_v1_33(
    cluster: Cluster, namespace: str
) -> None:
    # hostProbesAndHostLifecycle (kubernetes/kubernetes#125271): the kubelet would make the
    # request from the node, so baseline at v1.34 and later (latest is v1.37) refuses a host.
    _label(cluster, namespace, "pod-security.kubernetes.io/enforce=baseline")
    refused = cluster.kubectl(
        "create", "-n", namespace, "-f", "-", stdin=json.dumps(PROBING_POD), check=False
    )
    assert refused.returncode != 0
    assert refused.stderr == (
        'Error from server (Forbidden): error when creating "STDIN": pods "probe" is forbidden: '
        'violates PodSecurity "baseline:latest": probe or lifecycle host (container "c" uses '
        'probe or lifecycle host "10.0.0.1")\n'
    )
    assert cluster.kubectl("get", "pods", "-n", namespace, "-o", "name").stdout == ""

    _label(cluster, namespace, "pod-security.kubernetes.io/enforce-version=v1.33")
    created = cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(PROBING_POD))
    assert (created.stdout, created.stderr) == ("pod/probe created\n", "")
    assert cluster.kubectl("get", "pods", "-n", namespace, "-o", "name").stdout == "pod/probe\n"
