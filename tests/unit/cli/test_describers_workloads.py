"""The text of `describe` for workloads, as kubectl 1.33 lays it out.

The expected texts are kubectl 1.33's own output for the same objects (as the API server returns
them, defaults included), captured from a live cluster; where kubectl cannot be run on a kind
here yet (Jobs, CronJobs), they follow its describer line by line.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from testcluster import TestCluster

from kubelite.api import meta
from kubelite.api.resources import PODS, REPLICA_SETS
from kubelite.cli.kubectl.describe import command as describe
from kubelite.cli.kubectl.describe import workloads
from kubelite.cli.kubectl.describe.pods import describe_containers, describe_volumes
from kubelite.cli.kubectl.describe.printing import PrefixWriter, rfc1123z
from kubelite.client import Resource

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
Obj = dict[str, Any]


def ago(seconds: int) -> str:
    return meta.format_time(NOW - dt.timedelta(seconds=seconds))


def render(write: Any) -> str:
    w = PrefixWriter()
    write(w)
    return w.text()


def owner_ref(kind: str, name: str, uid: str, controller: bool = True) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": controller,
    }


def simple_template(**values: str) -> Obj:
    return {
        "metadata": {"labels": values or {"app": "web"}},
        "spec": {
            "containers": [
                {
                    "name": "nginx",
                    "image": "nginx",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                }
            ]
        },
    }


# The pod template of a ReplicaSet as the server returned it, and kubectl 1.33's description.
RICH_TEMPLATE: Obj = {
    "metadata": {
        "annotations": {"note": "hello", "other": "x"},
        "labels": {"app": "rich", "tier": "back"},
    },
    "spec": {
        "containers": [
            {
                "args": ["a", "b\nc"],
                "env": [
                    {"name": "PLAIN", "value": "v"},
                    {
                        "name": "POD",
                        "valueFrom": {
                            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}
                        },
                    },
                    {
                        "name": "CPU",
                        "valueFrom": {
                            "resourceFieldRef": {"divisor": "0", "resource": "limits.cpu"}
                        },
                    },
                    {"name": "S", "valueFrom": {"secretKeyRef": {"key": "k", "name": "s"}}},
                    {
                        "name": "C",
                        "valueFrom": {
                            "configMapKeyRef": {"key": "k", "name": "c", "optional": True}
                        },
                    },
                ],
                "envFrom": [
                    {"configMapRef": {"name": "cm"}},
                    {"prefix": "P_", "secretRef": {"name": "sec"}},
                ],
                "image": "nginx:1.27",
                "livenessProbe": {
                    "failureThreshold": 3,
                    "initialDelaySeconds": 3,
                    "periodSeconds": 10,
                    "successThreshold": 1,
                    "tcpSocket": {"port": 80},
                    "timeoutSeconds": 1,
                },
                "name": "main",
                "ports": [
                    {"containerPort": 80, "protocol": "TCP"},
                    {"containerPort": 53, "hostPort": 5353, "protocol": "UDP"},
                ],
                "readinessProbe": {
                    "failureThreshold": 3,
                    "httpGet": {"path": "/", "port": 80, "scheme": "HTTP"},
                    "periodSeconds": 10,
                    "successThreshold": 1,
                    "timeoutSeconds": 1,
                },
                "resources": {
                    "limits": {"cpu": "500m", "memory": "128Mi"},
                    "requests": {"cpu": "250m"},
                },
                "volumeMounts": [
                    {"mountPath": "/data", "name": "data"},
                    {"mountPath": "/etc/cfg", "name": "cfg", "readOnly": True, "subPath": "x"},
                ],
            }
        ],
        "initContainers": [
            {"command": ["sh", "-c", "true"], "image": "busybox", "name": "init", "resources": {}}
        ],
        "nodeSelector": {"disk": "ssd", "kubernetes.io/os": "linux"},
        "priorityClassName": "high",
        "serviceAccount": "default",
        "serviceAccountName": "default",
        "tolerations": [
            {"effect": "NoSchedule", "key": "k", "operator": "Equal", "value": "v"},
            {"operator": "Exists"},
        ],
        "topologySpreadConstraints": [
            {
                "labelSelector": {"matchLabels": {"app": "rich"}},
                "maxSkew": 1,
                "topologyKey": "zone",
                "whenUnsatisfiable": "DoNotSchedule",
            },
            {"maxSkew": 2, "topologyKey": "host", "whenUnsatisfiable": "ScheduleAnyway"},
        ],
        "volumes": [
            {"emptyDir": {"sizeLimit": "1Gi"}, "name": "data"},
            {"configMap": {"defaultMode": 420, "name": "cfg"}, "name": "cfg"},
            {
                "name": "sec",
                "secret": {"defaultMode": 420, "optional": True, "secretName": "sec"},
            },
            {"hostPath": {"path": "/tmp", "type": "Directory"}, "name": "host"},
            {"name": "claim", "persistentVolumeClaim": {"claimName": "pvc"}},
            {
                "name": "proj",
                "projected": {
                    "sources": [
                        {"configMap": {"name": "a"}},
                        {"downwardAPI": {"items": [{"fieldRef": {"fieldPath": "x"}, "path": "l"}]}},
                    ]
                },
            },
            {
                "downwardAPI": {
                    "items": [
                        {
                            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"},
                            "path": "n",
                        }
                    ]
                },
                "name": "down",
            },
        ],
    },
}
RICH_TEMPLATE_TEXT = [
    "Pod Template:",
    "  Labels:           app=rich",
    "                    tier=back",
    "  Annotations:      note: hello",
    "                    other: x",
    "  Service Account:  default",
    "  Init Containers:",
    "   init:",
    "    Image:      busybox",
    "    Port:       <none>",
    "    Host Port:  <none>",
    "    Command:",
    "      sh",
    "      -c",
    "      true",
    "    Environment:  <none>",
    "    Mounts:       <none>",
    "  Containers:",
    "   main:",
    "    Image:       nginx:1.27",
    "    Ports:       80/TCP, 53/UDP",
    "    Host Ports:  0/TCP, 5353/UDP",
    "    Args:",
    "      a",
    "      b",
    "      c",
    "    Limits:",
    "      cpu:     500m",
    "      memory:  128Mi",
    "    Requests:",
    "      cpu:      250m",
    "    Liveness:   tcp-socket :80 delay=3s timeout=1s period=10s "
    "successThreshold=1 failureThreshold=3",
    "    Readiness:  http-get http://:80/ delay=0s timeout=1s period=10s "
    "successThreshold=1 failureThreshold=3",
    "    Environment Variables from:",
    "      cm   ConfigMap                Optional: false",
    "      sec  Secret with prefix 'P_'  Optional: false",
    "    Environment:",
    "      PLAIN:  v",
    "      POD:     (v1:metadata.name)",
    "      CPU:    1 (limits.cpu)",
    "      S:      <set to the key 'k' in secret 's'>      Optional: false",
    "      C:      <set to the key 'k' of config map 'c'>  Optional: true",
    "    Mounts:",
    "      /data from data (rw)",
    '      /etc/cfg from cfg (ro,path="x")',
    "  Volumes:",
    "   data:",
    "    Type:       EmptyDir (a temporary directory that shares a pod's lifetime)",
    "    Medium:     ",
    "    SizeLimit:  1Gi",
    "   cfg:",
    "    Type:      ConfigMap (a volume populated by a ConfigMap)",
    "    Name:      cfg",
    "    Optional:  false",
    "   sec:",
    "    Type:        Secret (a volume populated by a Secret)",
    "    SecretName:  sec",
    "    Optional:    true",
    "   host:",
    "    Type:          HostPath (bare host directory volume)",
    "    Path:          /tmp",
    "    HostPathType:  Directory",
    "   claim:",
    "    Type:       PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same "
    "namespace)",
    "    ClaimName:  pvc",
    "    ReadOnly:   false",
    "   proj:",
    "    Type:           Projected (a volume that contains injected data from multiple sources)",
    "    ConfigMapName:  a",
    "    Optional:       false",
    "    DownwardAPI:    true",
    "   down:",
    "    Type:  DownwardAPI (a volume populated by information about the pod)",
    "    Items:",
    "      metadata.name -> n",
    "  Topology Spread Constraints:  host:ScheduleAnyway when max skew 2 is exceeded",
    "                                zone:DoNotSchedule when max skew 1 is exceeded for selector "
    "app=rich",
    "  Priority Class Name:          high",
    "  Node-Selectors:               disk=ssd",
    "                                kubernetes.io/os=linux",
    "  Tolerations:                  op=Exists",
    "                                k=v:NoSchedule",
]


# --- the pod template -------------------------------------------------------------------------


def test_a_pod_template_is_a_pod_without_statuses_indented_under_its_title():
    text = render(lambda w: workloads.describe_pod_template(w, RICH_TEMPLATE))
    assert text.splitlines() == RICH_TEMPLATE_TEXT


def test_a_minimal_pod_template_says_none_for_what_it_lacks():
    template = {"metadata": {}, "spec": {"containers": []}}
    assert render(lambda w: workloads.describe_pod_template(w, template)).splitlines() == [
        "Pod Template:",
        "  Labels:  <none>",
        "  Containers: <none>",
        "  Volumes:         <none>",
        "  Node-Selectors:  <none>",
        "  Tolerations:     <none>",
    ]


def test_a_pods_own_containers_and_volumes_are_not_indented_as_a_templates():
    # The pod layout must not change with the template variant beside it.
    pod: Obj = {"metadata": {"name": "p"}, "spec": RICH_TEMPLATE["spec"]}
    text = render(
        lambda w: describe_containers(w, pod, "Containers", pod["spec"]["containers"], [])
    )
    assert text.startswith("Containers:\n  main:\n")
    assert "      POD:    p (v1:metadata.name)\n" in text
    volumes = render(lambda w: describe_volumes(w, pod["spec"]["volumes"][:1]))
    assert volumes.startswith("Volumes:\n  data:\n")


@pytest.mark.parametrize(("divisor", "value"), [("0", "1"), ("1", "1"), ("1m", "500"), (None, "1")])
def test_a_cpu_limit_in_the_environment_is_rounded_up_to_the_divisor(
    divisor: str | None, value: str
):
    # The API returns an unset divisor as "0", which means one core.
    ref: Obj = {"resource": "limits.cpu"}
    if divisor is not None:
        ref["divisor"] = divisor
    container = {
        "name": "c",
        "resources": {"limits": {"cpu": "500m"}},
        "env": [{"name": "CPU", "valueFrom": {"resourceFieldRef": ref}}],
    }
    text = render(lambda w: describe_containers(w, {}, "Containers", [container], []))
    assert ["CPU:", value, "(limits.cpu)"] in [line.split() for line in text.splitlines()]


# --- Deployments ------------------------------------------------------------------------------


def deployment(**spec: Any) -> Obj:
    return {
        "metadata": {
            "name": "mydeployment",
            "namespace": "ns",
            "uid": "d-uid",
            "creationTimestamp": ago(60),
            "annotations": {"deployment.kubernetes.io/revision": "1"},
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "template": simple_template(),
            **spec,
        },
        "status": {
            "observedGeneration": 1,
            "replicas": 3,
            "updatedReplicas": 3,
            "unavailableReplicas": 3,
            "conditions": [
                {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
                {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"},
            ],
        },
    }


def replica_set(name: str, created: int, replicas: int, template: Obj, uid: str = "") -> Obj:
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": uid or f"{name}-uid",
            "creationTimestamp": ago(created),
            "ownerReferences": [owner_ref("Deployment", "mydeployment", "d-uid")],
        },
        "spec": {"replicas": replicas, "template": template},
        "status": {"replicas": replicas},
    }


def test_a_deployment_as_kubectl_describes_it():
    d = deployment()
    new = replica_set(
        "mydeployment-6dcd8f997f", 59, 3, simple_template(app="web", **{"pod-template-hash": "x"})
    )
    event = {
        "type": "Normal",
        "reason": "ScalingReplicaSet",
        "firstTimestamp": ago(7),
        "lastTimestamp": ago(7),
        "count": 1,
        "source": {"component": "deployment-controller"},
        "message": "Scaled up replica set mydeployment-6dcd8f997f from 0 to 3",
    }
    text = workloads.describe_deployment(d, [new], [event], NOW)
    assert text.splitlines() == [
        "Name:                   mydeployment",
        "Namespace:              ns",
        f"CreationTimestamp:      {rfc1123z(ago(60))}",
        "Labels:                 <none>",
        "Annotations:            deployment.kubernetes.io/revision: 1",
        "Selector:               app=web",
        "Replicas:               3 desired | 3 updated | 3 total | 0 available | 3 unavailable",
        "StrategyType:           RollingUpdate",
        "MinReadySeconds:        0",
        "RollingUpdateStrategy:  25% max unavailable, 25% max surge",
        "Pod Template:",
        "  Labels:  app=web",
        "  Containers:",
        "   nginx:",
        "    Image:         nginx",
        "    Port:          80/TCP",
        "    Host Port:     0/TCP",
        "    Environment:   <none>",
        "    Mounts:        <none>",
        "  Volumes:         <none>",
        "  Node-Selectors:  <none>",
        "  Tolerations:     <none>",
        "Conditions:",
        "  Type           Status  Reason",
        "  ----           ------  ------",
        "  Available      False   MinimumReplicasUnavailable",
        "  Progressing    True    ReplicaSetUpdated",
        "OldReplicaSets:  <none>",
        "NewReplicaSet:   mydeployment-6dcd8f997f (3/3 replicas created)",
        "Events:",
        "  Type    Reason             Age   From                   Message",
        "  ----    ------             ----  ----                   -------",
        "  Normal  ScalingReplicaSet  7s    deployment-controller  Scaled up replica set "
        "mydeployment-6dcd8f997f from 0 to 3",
    ]


def test_old_replica_sets_come_oldest_first_and_include_those_at_zero():
    d = deployment()
    other = simple_template(app="web", version="1")
    rss = [
        replica_set("c-newest-old", 10, 1, other),
        replica_set("new-b", 30, 1, simple_template(app="web", **{"pod-template-hash": "h"})),
        replica_set("a-oldest", 50, 0, other),
        # Same template, but created later than new-b: the oldest matching one is the new one.
        replica_set("new-later", 20, 2, simple_template()),
    ]
    old, new = workloads.split_replica_sets(d, rss)
    assert new is rss[1]
    assert [meta.name_of(rs) for rs in old] == ["a-oldest", "new-later", "c-newest-old"]
    text = workloads.describe_deployment(d, rss, None, NOW)
    lines = [line.split() for line in text.splitlines()]
    assert [
        "OldReplicaSets:",
        "a-oldest",
        "(0/0",
        "replicas",
        "created),",
        "new-later",
        "(2/2",
        "replicas",
        "created),",
        "c-newest-old",
        "(1/1",
        "replicas",
        "created)",
    ] in lines
    assert ["NewReplicaSet:", "new-b", "(1/1", "replicas", "created)"] in lines
    assert "Events" not in text


def test_a_deployment_without_a_new_replica_set_or_any_replica_set():
    d = deployment()
    old = replica_set("old", 50, 3, simple_template(app="web", version="1"))
    lines = workloads.describe_deployment(d, [old], [], NOW).splitlines()
    assert lines[-3:] == [
        "OldReplicaSets:  old (3/3 replicas created)",
        "NewReplicaSet:   <none>",
        "Events:          <none>",
    ]
    # None found, or the list failed: kubectl prints neither line.
    for replica_sets in ([], None):
        text = workloads.describe_deployment(d, replica_sets, [], NOW)
        assert "OldReplicaSets" not in text and "NewReplicaSet" not in text


def test_recreate_and_integer_rolling_update_values():
    recreate = workloads.describe_deployment(
        deployment(strategy={"type": "Recreate"}, minReadySeconds=5), None, None, NOW
    )
    assert "RollingUpdateStrategy" not in recreate
    assert ["StrategyType:", "Recreate"] in [line.split() for line in recreate.splitlines()]
    assert ["MinReadySeconds:", "5"] in [line.split() for line in recreate.splitlines()]
    rolling = workloads.describe_deployment(
        deployment(
            strategy={
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            }
        ),
        None,
        None,
        NOW,
    )
    assert "RollingUpdateStrategy:  0 max unavailable, 1 max surge\n" in rolling


# --- ReplicaSets and ReplicationControllers ---------------------------------------------------


def pod(phase: str, owner_uid: str | None, name: str = "p") -> Obj:
    refs = [owner_ref("ReplicaSet", "rs", owner_uid)] if owner_uid else []
    return {"metadata": {"name": name, "ownerReferences": refs}, "status": {"phase": phase}}


def test_only_the_pods_a_controller_controls_are_counted():
    owner = {"metadata": {"uid": "mine"}}
    not_controller = pod("Running", None)
    not_controller["metadata"]["ownerReferences"] = [
        owner_ref("ReplicaSet", "rs", "mine", controller=False)
    ]
    pods = [
        pod("Running", "mine"),
        pod("Running", "mine"),
        pod("Pending", "mine"),
        pod("Succeeded", "mine"),
        pod("Failed", "mine"),
        pod("Unknown", "mine"),
        pod("Running", "theirs"),
        pod("Running", None),
        not_controller,
    ]
    counts = workloads.count_pods(pods, owner)
    assert counts == workloads.PodCounts(running=2, waiting=1, succeeded=1, failed=1)
    assert str(counts) == "2 Running / 1 Waiting / 1 Succeeded / 1 Failed"


def test_a_replica_set_of_a_deployment():
    template = simple_template(app="web", **{"pod-template-hash": "6dcd8f997f"})
    rs = {
        "metadata": {
            "name": "mydeployment-6dcd8f997f",
            "namespace": "ns",
            "labels": {"app": "web", "pod-template-hash": "6dcd8f997f"},
            "annotations": {
                "deployment.kubernetes.io/desired-replicas": "3",
                "deployment.kubernetes.io/max-replicas": "4",
                "deployment.kubernetes.io/revision": "1",
            },
            "ownerReferences": [owner_ref("Deployment", "mydeployment", "d-uid")],
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "6dcd8f997f"}},
            "template": template,
        },
        "status": {"replicas": 3},
    }
    text = workloads.describe_replica_set(rs, workloads.PodCounts(waiting=3), [], NOW)
    assert text.splitlines() == [
        "Name:           mydeployment-6dcd8f997f",
        "Namespace:      ns",
        "Selector:       app=web,pod-template-hash=6dcd8f997f",
        "Labels:         app=web",
        "                pod-template-hash=6dcd8f997f",
        "Annotations:    deployment.kubernetes.io/desired-replicas: 3",
        "                deployment.kubernetes.io/max-replicas: 4",
        "                deployment.kubernetes.io/revision: 1",
        "Controlled By:  Deployment/mydeployment",
        "Replicas:       3 current / 3 desired",
        "Pods Status:    0 Running / 3 Waiting / 0 Succeeded / 0 Failed",
        "Pod Template:",
        "  Labels:  app=web",
        "           pod-template-hash=6dcd8f997f",
        "  Containers:",
        "   nginx:",
        "    Image:         nginx",
        "    Port:          80/TCP",
        "    Host Port:     0/TCP",
        "    Environment:   <none>",
        "    Mounts:        <none>",
        "  Volumes:         <none>",
        "  Node-Selectors:  <none>",
        "  Tolerations:     <none>",
        "Events:            <none>",
    ]


def test_a_replica_set_whose_pods_could_not_be_listed_and_its_conditions():
    rs = {
        "metadata": {"name": "rs", "namespace": "ns"},
        "spec": {"replicas": 2, "selector": {}, "template": simple_template()},
        "status": {
            "replicas": 1,
            "conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate"}],
        },
    }
    text = workloads.describe_replica_set(rs, 'pods is forbidden: "no"', None, NOW)
    lines = text.splitlines()
    assert lines[2] == "Selector:     <none>"
    assert "Controlled By" not in text
    assert lines[5:7] == [
        "Replicas:     1 current / 2 desired",
        'Pods Status:  error in fetching pods: pods is forbidden: "no"',
    ]
    assert lines[-3:] == [
        # "%v \t": the type's cell ends with a space.
        "  Type             Status  Reason",
        "  ----             ------  ------",
        "  ReplicaFailure   True    FailedCreate",
    ]


def test_a_replication_controller_prints_its_selector_map():
    rc = {
        "metadata": {"name": "rc", "namespace": "ns", "labels": {"app": "rc"}},
        "spec": {
            "replicas": 2,
            "selector": {"tier": "a", "app": "rc"},
            "template": simple_template(),
        },
        "status": {"replicas": 2},
    }
    lines = workloads.describe_replication_controller(
        rc, workloads.PodCounts(running=1, waiting=1), None, NOW
    ).splitlines()
    assert lines[:7] == [
        "Name:         rc",
        "Namespace:    ns",
        "Selector:     app=rc,tier=a",
        "Labels:       app=rc",
        "Annotations:  <none>",
        "Replicas:     2 current / 2 desired",
        "Pods Status:  1 Running / 1 Waiting / 0 Succeeded / 0 Failed",
    ]
    assert lines[7] == "Pod Template:"
    empty = {**rc, "spec": {**rc["spec"], "selector": {}}}
    text = workloads.describe_replication_controller(empty, workloads.PodCounts(), None, NOW)
    assert "Selector:     <none>\n" in text


# --- StatefulSets and DaemonSets --------------------------------------------------------------


def stateful_set(**spec: Any) -> Obj:
    return {
        "metadata": {"name": "st", "namespace": "ns", "creationTimestamp": ago(30)},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "st"}},
            "template": simple_template(app="st"),
            **spec,
        },
        "status": {"replicas": 1},
    }


def test_a_stateful_set_with_a_partition_and_claim_templates():
    sts = stateful_set(
        updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
        volumeClaimTemplates=[
            {
                "metadata": {
                    "name": "data",
                    "labels": {"l": "1", "m": "2"},
                    "annotations": {"a": "1", "volume.beta.kubernetes.io/storage-class": "fast"},
                },
                "spec": {
                    "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
                    "storageClassName": "ignored-for-the-annotation",
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            },
            {
                "metadata": {"name": "logs"},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "slow"},
            },
        ],
    )
    lines = workloads.describe_stateful_set(
        sts, workloads.PodCounts(waiting=1), [], NOW
    ).splitlines()
    assert lines[:10] == [
        "Name:               st",
        "Namespace:          ns",
        f"CreationTimestamp:  {rfc1123z(ago(30))}",
        "Selector:           app=st",
        "Labels:             <none>",
        "Annotations:        <none>",
        "Replicas:           2 desired | 1 total",
        "Update Strategy:    RollingUpdate",
        "  Partition:        1",
        "Pods Status:        0 Running / 1 Waiting / 0 Succeeded / 0 Failed",
    ]
    # Claim templates' annotations print as labels do, the storage-class one included.
    assert lines[lines.index("Volume Claims:") :] == [
        "Volume Claims:",
        "  Name:          data",
        "  StorageClass:  fast",
        "  Labels:        l=1",
        "                 m=2",
        "  Annotations:   a=1",
        "                 volume.beta.kubernetes.io/storage-class=fast",
        "  Capacity:      1Gi",
        "  Access Modes:  [ReadWriteOnce ReadOnlyMany]",
        "  Name:          logs",
        "  StorageClass:  slow",
        "  Labels:        <none>",
        "  Annotations:   <none>",
        "  Capacity:      <default>",
        "  Access Modes:  [ReadWriteOnce]",
        "Events:          <none>",
    ]


def test_a_stateful_sets_max_unavailable_shows_only_under_a_partition():
    with_partition = stateful_set(
        updateStrategy={
            "type": "RollingUpdate",
            "rollingUpdate": {"partition": 0, "maxUnavailable": "50%"},
        }
    )
    text = workloads.describe_stateful_set(with_partition, workloads.PodCounts(), None, NOW)
    assert "  Partition:        0\n  MaxUnavailable:   50%\n" in text
    without = stateful_set(
        updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}}
    )
    text = workloads.describe_stateful_set(without, workloads.PodCounts(), None, NOW)
    assert "Partition" not in text and "MaxUnavailable" not in text
    # Aligned with the end of the pod template, which no line without a tab separates it from.
    assert "  Tolerations:     <none>\nVolume Claims:     <none>\n" in text


def test_a_daemon_set_prints_its_node_counts_outside_the_alignment():
    ds = {
        "metadata": {
            "name": "ds",
            "namespace": "ns",
            "annotations": {"deprecated.daemonset.template.generation": "1"},
        },
        "spec": {
            "selector": {"matchLabels": {"app": "ds"}},
            "template": {
                "metadata": {"labels": {"app": "ds"}},
                "spec": {"nodeSelector": {"a": "b"}, "containers": []},
            },
        },
        "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 1, "numberAvailable": 1},
    }
    lines = workloads.describe_daemon_set(ds, workloads.PodCounts(running=1), [], NOW).splitlines()
    assert lines[:13] == [
        "Name:           ds",
        "Namespace:      ns",
        "Selector:       app=ds",
        "Node-Selector:  a=b",
        "Labels:         <none>",
        "Annotations:    deprecated.daemonset.template.generation: 1",
        "Desired Number of Nodes Scheduled: 2",
        "Current Number of Nodes Scheduled: 1",
        "Number of Nodes Scheduled with Up-to-date Pods: 0",
        "Number of Nodes Scheduled with Available Pods: 1",
        "Number of Nodes Misscheduled: 0",
        "Pods Status:  1 Running / 0 Waiting / 0 Succeeded / 0 Failed",
        "Pod Template:",
    ]
    assert lines[-1] == "Events:            <none>"


# --- Jobs and CronJobs ------------------------------------------------------------------------


def job(**extra: Any) -> Obj:
    spec = {
        "parallelism": 1,
        "completions": 3,
        "completionMode": "NonIndexed",
        "suspend": False,
        "backoffLimit": 6,
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "j-uid"}},
        "template": simple_template(app="job"),
    }
    return {
        "metadata": {
            "name": "pi",
            "namespace": "ns",
            "labels": {"app": "job"},
            "ownerReferences": [owner_ref("CronJob", "every", "c-uid")],
        },
        "spec": {**spec, **extra.pop("spec", {})},
        "status": extra.pop("status", {}),
    }


def test_a_finished_job():
    finished = job(
        spec={"ttlSecondsAfterFinished": 100, "activeDeadlineSeconds": 600},
        status={
            "startTime": ago(200),
            "completionTime": ago(65),
            "succeeded": 3,
            "ready": 0,
        },
    )
    lines = workloads.describe_job(finished, [], NOW).splitlines()
    assert lines[: lines.index("Pod Template:")] == [
        "Name:                        pi",
        "Namespace:                   ns",
        "Selector:                    batch.kubernetes.io/controller-uid=j-uid",
        "Labels:                      app=job",
        "Annotations:                 <none>",
        "Controlled By:               CronJob/every",
        "Parallelism:                 1",
        "Completions:                 3",
        "Completion Mode:             NonIndexed",
        "Suspend:                     false",
        "Backoff Limit:               6",
        "TTL Seconds After Finished:  100",
        f"Start Time:                  {rfc1123z(ago(200))}",
        f"Completed At:                {rfc1123z(ago(65))}",
        "Duration:                    2m15s",
        "Active Deadline Seconds:     600s",
        "Pods Statuses:               0 Active (0 Ready) / 3 Succeeded / 0 Failed",
    ]


def test_a_job_without_ready_counts_or_completions_and_an_indexed_one():
    bare = job()
    for unset in ("completions", "completionMode", "suspend"):
        del bare["spec"][unset]
    text = workloads.describe_job(bare, None, NOW)
    assert "Completions:    <unset>\n" in text
    assert "Pods Statuses:  0 Active / 0 Succeeded / 0 Failed\n" in text
    assert "Suspend" not in text and "Completion Mode" not in text and "Start Time" not in text
    indexed = job(
        spec={"completionMode": "Indexed"},
        status={"active": 1, "ready": 1, "completedIndexes": "0-2,4,6,8"},
    )
    lines = [
        " ".join(line.split()) for line in workloads.describe_job(indexed, None, NOW).splitlines()
    ]
    assert "Completed Indexes: 0-2,4,6,8" in lines
    assert "Pods Statuses: 1 Active (1 Ready) / 0 Succeeded / 0 Failed" in lines


def test_completed_indexes_are_cut_after_the_first_comma_past_the_limit():
    assert workloads.completed_indexes_text("") == "<none>"
    assert workloads.completed_indexes_text("1,3,5", soft_limit=10) == "1,3,5"
    assert workloads.completed_indexes_text("1,3,5,7,9", soft_limit=2) == "1,3,..."
    long = ",".join(str(i) for i in range(0, 60, 2))
    assert workloads.completed_indexes_text(long) == long[: long.index(",", 50) + 1] + "..."


def test_a_job_with_a_selector_kubernetes_cannot_read():
    bad = job(spec={"selector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}})
    lines = [" ".join(line.split()) for line in workloads.describe_job(bad, None, NOW).splitlines()]
    assert lines[2] == (
        'Selector: Failed to get selector: "Near" is not a valid label selector operator'
    )


def cron_job(**extra: Any) -> Obj:
    return {
        "metadata": {"name": "every", "namespace": "ns"},
        "spec": {
            "schedule": "*/5 * * * *",
            "concurrencyPolicy": "Allow",
            "suspend": False,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"spec": {"template": simple_template(app="cron")}},
            **extra.pop("spec", {}),
        },
        "status": extra.pop("status", {}),
    }


def test_a_cron_job():
    every = cron_job(
        spec={"startingDeadlineSeconds": 30},
        status={
            "lastScheduleTime": ago(120),
            "active": [{"kind": "Job", "name": "every-1"}, {"kind": "Job", "name": "every-2"}],
        },
    )
    lines = workloads.describe_cron_job(every, [], NOW).splitlines()
    assert lines[: lines.index("Pod Template:")] == [
        "Name:                          every",
        "Namespace:                     ns",
        "Labels:                        <none>",
        "Annotations:                   <none>",
        "Schedule:                      */5 * * * *",
        "Concurrency Policy:            Allow",
        "Suspend:                       False",
        # kubectl 1.36 (kubernetes/kubernetes#136663).
        "Time Zone:                     <unset>",
        "Successful Job History Limit:  3",
        "Failed Job History Limit:      1",
        "Starting Deadline Seconds:     30s",
        "Selector:                      <unset>",
        "Parallelism:                   <unset>",
        "Completions:                   <unset>",
    ]
    assert lines[-3:] == [
        f"Last Schedule Time:  {rfc1123z(ago(120))}",
        "Active Jobs:         every-1, every-2",
        "Events:              <none>",
    ]


def test_a_cron_job_with_nothing_set():
    bare = cron_job(status={})
    bare["spec"] = {"schedule": "@daily", "jobTemplate": {"spec": {"parallelism": 2}}}
    text = workloads.describe_cron_job(bare, None, NOW)
    words = [line.split() for line in text.splitlines()]
    for expected in (
        ["Concurrency", "Policy:"],
        ["Suspend:", "<unset>"],
        ["Successful", "Job", "History", "Limit:", "<unset>"],
        ["Failed", "Job", "History", "Limit:", "<unset>"],
        ["Starting", "Deadline", "Seconds:", "<unset>"],
        ["Parallelism:", "2"],
        ["Last", "Schedule", "Time:", "<unset>"],
        ["Active", "Jobs:", "<none>"],
    ):
        assert expected in words
    assert "Events" not in text


# --- what `describe` fetches for each kind ----------------------------------------------------
# Against the unit tests' real API server (`testcluster`): the objects are made there, and
# `Lister` notes the lists `describe` asks for.


class Lister:
    """The real client, noting each list asked for as (plural, label selector, field selector)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.asked: list[tuple[str, str | None, str | None]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    async def list(self, resource: Resource, **options: Any) -> Obj:
        self.asked.append(
            (resource.plural, options.get("label_selector"), options.get("field_selector"))
        )
        return await self.client.list(resource, **options)


def with_labels(obj: Obj, uid: str, **values: str) -> Obj:
    return {**obj, "metadata": {**obj["metadata"], "uid": uid, "labels": values}}


async def made(kube: TestCluster, resource: Resource, obj: Obj, **owner_uids: str) -> Obj:
    """`obj` created in the test's namespace with its status; owner references to the uids
    named in `owner_uids` (test uid -> server uid) point at the objects made before."""
    obj = copy.deepcopy(obj)
    md = obj["metadata"]
    for system in ("uid", "namespace", "creationTimestamp"):
        md.pop(system, None)
    for ref in md.get("ownerReferences") or ():
        ref["uid"] = owner_uids.get(ref["uid"], ref["uid"])
    return await kube.create_with_status(resource, obj)


def stored_replica_set(rs: Obj, *, match: str) -> Obj:
    """A fixture's ReplicaSet as one the server stores: with a selector (of `match`)."""
    rs = copy.deepcopy(rs)
    rs["spec"]["selector"] = {"matchLabels": {"app": match}}
    rs["spec"]["template"]["metadata"]["labels"] = {"app": match}
    return rs


async def test_a_deployment_is_described_with_the_replica_sets_it_controls(kube: TestCluster):
    deployments = Resource("apps", "v1", "deployments", kind="Deployment")
    d = await made(kube, deployments, deployment())
    uids = {"d-uid": d["metadata"]["uid"]}
    mine = with_labels(replica_set("mine", 50, 3, simple_template()), "mine-uid", app="web")
    orphan = with_labels(replica_set("orphan", 40, 1, simple_template()), "o-uid", app="web")
    orphan["metadata"]["ownerReferences"] = []
    elsewhere = with_labels(replica_set("other", 40, 1, simple_template()), "x-uid", app="db")
    await made(kube, REPLICA_SETS, stored_replica_set(mine, match="web"), **uids)
    await made(kube, REPLICA_SETS, stored_replica_set(orphan, match="web"), **uids)
    await made(kube, REPLICA_SETS, stored_replica_set(elsewhere, match="db"), **uids)
    client = Lister(kube.client)
    text = await describe.describe_object(client, deployments, d, False)  # type: ignore[arg-type]
    assert client.asked == [("replicasets", "app=web", None)]
    assert "NewReplicaSet:   mine (3/3 replicas created)\n" in text
    assert "OldReplicaSets:  <none>\n" in text and "Events" not in text


def owner_of(kind: str, selector: Obj) -> Obj:
    """A controller of pods, as its kind needs it to be made."""
    spec: Obj = {"replicas": 2, "selector": selector, "template": simple_template()}
    if kind == "StatefulSet":
        spec["serviceName"] = "web"
    if kind == "DaemonSet":
        del spec["replicas"]
    api_version = "v1" if kind == "ReplicationController" else "apps/v1"
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "web", "namespace": "ns", "uid": "owner"},
        "spec": spec,
    }


@pytest.mark.parametrize(
    ("group", "kind", "plural", "selector", "expected"),
    [
        ("apps", "ReplicaSet", "replicasets", {"matchLabels": {"app": "web"}}, "Replicas:"),
        ("", "ReplicationController", "replicationcontrollers", {"app": "web"}, "Replicas:"),
        ("apps", "StatefulSet", "statefulsets", {"matchLabels": {"app": "web"}}, "Update Strategy"),
        ("apps", "DaemonSet", "daemonsets", {"matchLabels": {"app": "web"}}, "Node-Selector"),
    ],
)
async def test_controllers_of_pods_count_the_pods_they_control(
    kube: TestCluster, group: str, kind: str, plural: str, selector: Obj, expected: str
):
    resource = Resource(group, "v1", plural, kind=kind)
    owner = await made(kube, resource, owner_of(kind, selector))
    uids = {"owner": owner["metadata"]["uid"]}
    pods = [
        with_labels(pod("Running", "owner", "a"), "a", app="web"),
        with_labels(pod("Pending", "owner", "b"), "b", app="web"),
        # Matched by the selector but another's, and the owner's but not matched.
        with_labels(pod("Running", "other", "c"), "c", app="web"),
        with_labels(pod("Running", "owner", "d"), "d", app="db"),
    ]
    for p in pods:
        p["spec"] = copy.deepcopy(simple_template()["spec"])
        await made(kube, PODS, p, **uids)
    client = Lister(kube.client)
    text = await describe.describe_object(client, resource, owner, True)  # type: ignore[arg-type]
    assert client.asked[0] == ("pods", "app=web", None)
    assert client.asked[1][0] == "events"
    assert "1 Running / 1 Waiting / 0 Succeeded / 0 Failed\n" in text
    assert expected in text and "Pod Template:\n" in text


@pytest.mark.parametrize(
    ("kind", "plural", "obj", "expected"),
    [
        ("Job", "jobs", job(), "Pods Statuses:"),
        ("CronJob", "cronjobs", cron_job(), "Schedule:"),
    ],
)
async def test_jobs_and_cron_jobs_have_their_own_describers(
    kube: TestCluster, kind: str, plural: str, obj: Obj, expected: str
):
    client = Lister(kube.client)
    obj = copy.deepcopy(obj)
    obj["metadata"]["namespace"] = kube.namespace
    text = await describe.describe_object(
        client,  # type: ignore[arg-type]
        Resource("batch", "v1", plural, kind=kind),
        obj,
        True,
    )
    assert [asked[0] for asked in client.asked] == ["events"]
    assert expected in text and "Pod Template:\n" in text and "Events:" in text
