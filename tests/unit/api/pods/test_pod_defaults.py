"""Pods get exactly the fields a Kubernetes 1.33 cluster shows in `kubectl get pod -o yaml`."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.defaulting.pods import (
    default_pod,
    default_pod_spec,
    image_pull_policy,
    mount_service_account_token,
)

SIMPLE_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "simple-pod"},
    "spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}]},
}

TOKEN_MOUNT = {
    "name": "kube-api-access-abcde",
    "readOnly": True,
    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
}

# What a 1.33 cluster serves for the seed's simple-pod.yaml (its author's intent: `image`).
SIMPLE_POD_SERVED: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "simple-pod"},
    "spec": {
        "containers": [
            {
                "name": "nginx",
                "image": "nginx:latest",
                "imagePullPolicy": "Always",
                "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "volumeMounts": [TOKEN_MOUNT],
            }
        ],
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": "default",
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
        ],
        "volumes": [
            {
                "name": "kube-api-access-abcde",
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "configMap": {
                                "name": "kube-root-ca.crt",
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            }
                        },
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "path": "namespace",
                                        "fieldRef": {
                                            "apiVersion": "v1",
                                            "fieldPath": "metadata.namespace",
                                        },
                                    }
                                ]
                            }
                        },
                    ],
                    "defaultMode": 420,
                },
            }
        ],
    },
}


def _defaulted(spec: dict[str, Any]) -> dict[str, Any]:
    pod = {"metadata": {"name": "p"}, "spec": copy.deepcopy(spec)}
    default_pod(pod)
    return pod["spec"]


def test_simple_pod_gets_the_fields_a_cluster_shows() -> None:
    pod = copy.deepcopy(SIMPLE_POD)
    default_pod(pod)
    mount_service_account_token(pod, suffix="abcde")
    assert pod == SIMPLE_POD_SERVED


def test_defaulting_twice_changes_nothing() -> None:
    pod = copy.deepcopy(SIMPLE_POD_SERVED)
    default_pod(pod)
    mount_service_account_token(pod, suffix="fghij")
    assert pod == SIMPLE_POD_SERVED


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("busybox:1.28", "IfNotPresent"),
        ("bbachin1/adapter-node-server", "Always"),
        ("malexer/twemproxy", "Always"),
        ("localhost:5000/app", "Always"),
        ("localhost:5000/app:v1", "IfNotPresent"),
        ("registry.example.com:443/team/app:latest", "Always"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "Always"),
        ("nginx:1.27@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx@sha256:abc", "IfNotPresent"),
        ("Nginx", "IfNotPresent"),
        ("", "IfNotPresent"),
    ],
)
def test_image_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy


def test_an_explicit_pull_policy_is_kept() -> None:
    spec = _defaulted({"containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Never"}]})
    assert spec["containers"][0]["imagePullPolicy"] == "Never"


def test_requests_default_to_limits_and_quantities_are_canonical() -> None:
    container = {
        "name": "c",
        "image": "busybox",
        "resources": {"limits": {"cpu": "0.5", "memory": "1024Mi"}, "requests": {"cpu": 0.0001}},
    }
    spec = _defaulted({"containers": [container], "initContainers": [copy.deepcopy(container)]})
    for c in spec["containers"] + spec["initContainers"]:
        assert c["resources"] == {
            "limits": {"cpu": "500m", "memory": "1Gi"},
            "requests": {"cpu": "1m", "memory": "1Gi"},
        }


def test_templates_keep_requests_as_written() -> None:
    spec = {"containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "1"}}}]}
    default_pod_spec(spec)
    assert spec["containers"][0]["resources"] == {"limits": {"cpu": "1"}}
    assert "enableServiceLinks" not in spec
    assert "tolerations" not in spec


def test_probes_get_their_timings_and_http_defaults() -> None:
    probe = {"httpGet": {"port": 80}}
    spec = _defaulted(
        {
            "containers": [
                {
                    "name": "c",
                    "image": "i",
                    "livenessProbe": probe,
                    "readinessProbe": {"grpc": {"port": 9000}, "periodSeconds": 5},
                    "lifecycle": {"preStop": {"httpGet": {"port": "http"}}},
                }
            ]
        }
    )
    container = spec["containers"][0]
    assert container["livenessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert container["readinessProbe"]["grpc"] == {"port": 9000, "service": ""}
    assert container["readinessProbe"]["periodSeconds"] == 5
    assert container["lifecycle"]["preStop"]["httpGet"] == {
        "port": "http",
        "path": "/",
        "scheme": "HTTP",
    }


def test_ports_default_to_tcp_and_to_host_ports_under_host_networking() -> None:
    spec = _defaulted(
        {
            "hostNetwork": True,
            "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}],
        }
    )
    assert spec["containers"][0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP", "hostPort": 80}
    ]


def test_env_field_and_resource_references_get_their_defaults() -> None:
    env = [
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
    ]
    spec = _defaulted({"containers": [{"name": "c", "image": "i", "env": env}]})
    assert spec["containers"][0]["env"] == [
        {
            "name": "NODE",
            "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName", "apiVersion": "v1"}},
        },
        {
            "name": "CPU",
            "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "0"}},
        },
    ]


def test_volumes_get_their_source_defaults() -> None:
    spec = _defaulted(
        {
            "containers": [{"name": "c", "image": "i"}],
            "volumes": [
                {"name": "scratch"},
                {"name": "host", "hostPath": {"path": "/srv"}},
                {"name": "secret", "secret": {"secretName": "s"}},
                {"name": "config", "configMap": {"name": "c", "defaultMode": 256}},
                {"name": "sized", "emptyDir": {"sizeLimit": "1024Mi"}},
                {
                    "name": "projected",
                    "projected": {
                        "sources": [
                            {"serviceAccountToken": {"path": "token"}},
                            {
                                "downwardAPI": {
                                    "items": [
                                        {"path": "l", "fieldRef": {"fieldPath": "metadata.labels"}}
                                    ]
                                }
                            },
                        ]
                    },
                },
            ],
        }
    )
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["scratch"] == {"name": "scratch", "emptyDir": {}}
    assert volumes["host"]["hostPath"] == {"path": "/srv", "type": ""}
    assert volumes["secret"]["secret"]["defaultMode"] == 420
    assert volumes["config"]["configMap"]["defaultMode"] == 256
    assert volumes["sized"]["emptyDir"]["sizeLimit"] == "1Gi"
    projected = volumes["projected"]["projected"]
    assert projected["defaultMode"] == 420
    assert projected["sources"][0]["serviceAccountToken"]["expirationSeconds"] == 3600
    assert projected["sources"][1]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"


@pytest.mark.parametrize(
    ("tolerations", "added"),
    [
        ([], 2),
        ([{"operator": "Exists"}], 0),
        ([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}], 1),
        ([{"key": "node.kubernetes.io/unreachable", "operator": "Exists"}], 1),
        (
            [
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoSchedule",
                }
            ],
            2,
        ),
    ],
)
def test_default_tolerations_are_added_only_when_not_already_tolerated(
    tolerations: list[dict[str, Any]], added: int
) -> None:
    spec = _defaulted({"containers": [{"name": "c", "image": "i"}], "tolerations": tolerations})
    assert len(spec["tolerations"]) == len(tolerations) + added
    assert spec["tolerations"][: len(tolerations)] == tolerations


def test_the_deprecated_service_account_field_names_the_account() -> None:
    spec = _defaulted({"containers": [{"name": "c", "image": "i"}], "serviceAccount": "builder"})
    assert spec["serviceAccountName"] == "builder"
    assert spec["serviceAccount"] == "builder"


@pytest.mark.parametrize(
    ("class_name", "priority"),
    [(None, 0), ("system-node-critical", 2000001000), ("system-cluster-critical", 2000000000)],
)
def test_priority_comes_from_the_built_in_classes(class_name: str | None, priority: int) -> None:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "i"}]}
    if class_name:
        spec["priorityClassName"] = class_name
    defaulted = _defaulted(spec)
    assert defaulted["priority"] == priority
    assert defaulted["preemptionPolicy"] == "PreemptLowerPriority"


def test_a_custom_priority_class_is_left_to_admission() -> None:
    spec = _defaulted({"containers": [{"name": "c", "image": "i"}], "priorityClassName": "batch"})
    assert "priority" not in spec


def test_the_token_is_mounted_in_init_and_regular_containers() -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {
            "initContainers": [{"name": "i", "image": "x"}],
            "containers": [{"name": "c", "image": "y"}],
        },
    }
    mount_service_account_token(pod, suffix="abcde")
    assert pod["spec"]["initContainers"][0]["volumeMounts"] == [TOKEN_MOUNT]
    assert pod["spec"]["containers"][0]["volumeMounts"] == [TOKEN_MOUNT]
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["kube-api-access-abcde"]


def test_generated_token_volume_names_use_kubernetes_letters() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "y"}]}}
    mount_service_account_token(pod)
    name = pod["spec"]["volumes"][0]["name"]
    assert name.startswith("kube-api-access-")
    assert len(name) == len("kube-api-access-") + 5
    assert set(name.removeprefix("kube-api-access-")) <= set("bcdfghjklmnpqrstvwxz2456789")


@pytest.mark.parametrize(
    "pod",
    [
        {
            "metadata": {},
            "spec": {"automountServiceAccountToken": False, "containers": [{"name": "c"}]},
        },
        {
            "metadata": {"annotations": {"kubernetes.io/config.mirror": "x"}},
            "spec": {"containers": [{"name": "c"}]},
        },
        {
            "metadata": {},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "volumeMounts": [{"name": "mine", "mountPath": TOKEN_MOUNT["mountPath"]}],
                    }
                ]
            },
        },
    ],
)
def test_no_token_volume_when_opted_out_mirrored_or_already_mounted(pod: dict[str, Any]) -> None:
    mount_service_account_token(pod, suffix="abcde")
    assert "volumes" not in pod["spec"]


def test_unset_condition_times_read_as_null() -> None:
    """metav1.Time is a value in Go: a zero one is served as null, never left out."""
    from kubelite.api.defaulting.core import default_node

    pod = {
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    default_pod(pod)
    assert pod["status"]["conditions"][0] == {
        "type": "Ready",
        "status": "True",
        "lastProbeTime": None,
        "lastTransitionTime": None,
    }
    node = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    default_node(node)
    assert node["status"]["conditions"][0]["lastHeartbeatTime"] is None


def test_match_label_keys_join_the_selector_when_a_pod_is_created() -> None:
    """KEP-3633: the API server adds `key In (value)` / `key NotIn (value)` from the pod."""
    from kubelite.api.strategies.pods import PodStrategy

    term = {
        "labelSelector": {"matchLabels": {"app": "web"}},
        "topologyKey": "kubernetes.io/hostname",
        "matchLabelKeys": ["pod-template-hash", "absent"],
        "mismatchLabelKeys": ["tenant"],
    }
    pod = {
        "metadata": {
            "name": "p",
            "namespace": "default",
            "labels": {"app": "web", "pod-template-hash": "abc", "tenant": "t1"},
        },
        "spec": {
            "containers": [{"name": "c", "image": "busybox"}],
            "affinity": {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [copy.deepcopy(term)],
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 10, "podAffinityTerm": copy.deepcopy(term)}
                    ],
                }
            },
        },
    }
    strategy = PodStrategy()
    strategy.default(pod)
    strategy.prepare_for_create(pod)
    anti = pod["spec"]["affinity"]["podAntiAffinity"]
    merged = [
        {"key": "pod-template-hash", "operator": "In", "values": ["abc"]},
        {"key": "tenant", "operator": "NotIn", "values": ["t1"]},
    ]
    required = anti["requiredDuringSchedulingIgnoredDuringExecution"][0]
    preferred = anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert required["labelSelector"]["matchExpressions"] == merged
    assert preferred["labelSelector"]["matchExpressions"] == merged
    assert strategy.validate(pod) == []
