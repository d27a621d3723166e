"""`kubelite describe` of workloads against a real server, side by side with kubectl 1.37.

The module's cluster runs the workload controllers but no scheduler, so the pods they make stay
Pending (and a StatefulSet stops at its first). Each test waits until the controllers have done
all they will do (statuses counted, and one event recorded per pod or claim made or removed)
before comparing, since the two descriptions would otherwise catch them at different moments.
The waits also hold for a kind no controller runs for yet: it then has no pods and no events.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cluster import Cluster, wait_for
from test_cli import PRINTS_AS, both, masked
from tests import kubectl_builds
from tests.examples import COMPANIONS

Obj = dict[str, Any]

# A pod template with a line of every block DescribePodTemplate prints, but the priority class
# (a pod naming a missing class is refused, and this one's pods are really made).
RICH_TEMPLATE: Obj = {
    "metadata": {
        "labels": {"app": "rich", "tier": "back"},
        "annotations": {"note": "hello", "other": "x"},
    },
    "spec": {
        "serviceAccountName": "default",
        "initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "true"]}],
        "containers": [
            {
                "name": "main",
                "image": "nginx:1.27",
                "args": ["a", "b\nc"],
                "ports": [
                    {"containerPort": 80},
                    {"containerPort": 53, "protocol": "UDP", "hostPort": 5353},
                ],
                "env": [
                    {"name": "PLAIN", "value": "v"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                    {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                ],
                "envFrom": [
                    {"configMapRef": {"name": "cm"}},
                    {"prefix": "P_", "secretRef": {"name": "s"}},
                ],
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
                "readinessProbe": {"httpGet": {"path": "/", "port": 80}},
                "volumeMounts": [
                    {"name": "data", "mountPath": "/data"},
                    {"name": "cfg", "mountPath": "/etc/cfg", "readOnly": True, "subPath": "x"},
                ],
            }
        ],
        "volumes": [
            {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "cfg", "configMap": {"name": "cfg"}},
            {"name": "claim", "persistentVolumeClaim": {"claimName": "pvc"}},
        ],
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "rich"}},
            },
            {"maxSkew": 2, "topologyKey": "host", "whenUnsatisfiable": "ScheduleAnyway"},
        ],
        "nodeSelector": {"disk": "ssd", "kubernetes.io/os": "linux"},
        "tolerations": [
            {"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"},
            {"operator": "Exists"},
        ],
    },
}


# --- reading the cluster ----------------------------------------------------------------------


def get(cluster: Cluster, namespace: str, what: str, *args: str) -> Obj:
    return json.loads(cluster.kubectl("get", what, *args, "-n", namespace, "-o", "json").stdout)


def controlled(items: list[Obj], owner: Obj) -> list[Obj]:
    uid = owner["metadata"]["uid"]
    return [
        item
        for item in items
        if any(
            ref.get("controller") and ref.get("uid") == uid
            for ref in item["metadata"].get("ownerReferences") or []
        )
    ]


def event_count(cluster: Cluster, namespace: str, obj: Obj, reason: str) -> int:
    """How many times events of `reason` were recorded about the object (repeats included)."""
    events = get(
        cluster,
        namespace,
        "events",
        f"--field-selector=involvedObject.uid={obj['metadata']['uid']}",
    )["items"]
    return sum(e.get("count") or 1 for e in events if e.get("reason") == reason)


def claims_made(cluster: Cluster, namespace: str, stateful_set: Obj) -> int:
    """How many PersistentVolumeClaims a StatefulSet made from its templates
    (`<template>-<set>-<ordinal>`); none for other kinds."""
    prefixes = [
        f"{t['metadata']['name']}-{stateful_set['metadata']['name']}-"
        for t in stateful_set["spec"].get("volumeClaimTemplates") or []
    ]
    names = [c["metadata"]["name"] for c in get(cluster, namespace, "pvc")["items"]]
    return sum(
        1
        for name in names
        for prefix in prefixes
        if name.startswith(prefix) and name[len(prefix) :].isdigit()
    )


def pods_settled(cluster: Cluster, namespace: str, what: str, name: str) -> bool:
    """Whether the controller of `what/name` is done for now: the status counts the pods it
    controls, and every pod (and a StatefulSet's every claim) it made or removed has its event
    (SuccessfulCreate/Delete). True at once where no controller runs for the kind."""
    obj = get(cluster, namespace, what, name)
    pods = controlled(get(cluster, namespace, "pods")["items"], obj)
    status = obj.get("status") or {}
    made = event_count(cluster, namespace, obj, "SuccessfulCreate")
    removed = event_count(cluster, namespace, obj, "SuccessfulDelete")
    claims = claims_made(cluster, namespace, obj) if what == "sts" else 0
    return (status.get("replicas") or 0) == len(pods) == made - removed - claims


def waiting_pods(cluster: Cluster, namespace: str, what: str, name: str) -> int:
    """How many pods `what/name` controls, all Pending with no scheduler."""
    obj = get(cluster, namespace, what, name)
    return len(controlled(get(cluster, namespace, "pods")["items"], obj))


def deployment_settled(
    cluster: Cluster, namespace: str, name: str, replica_sets: int, scalings: int
) -> bool:
    """Whether a Deployment has reached the state its test expects: `replica_sets` of its own,
    each settled, its status up to date with them, and `scalings` ScalingReplicaSet events."""
    deployment = get(cluster, namespace, "deployment", name)
    status = deployment.get("status") or {}
    if status.get("observedGeneration") != deployment["metadata"]["generation"]:
        return False
    owned = controlled(get(cluster, namespace, "replicasets")["items"], deployment)
    if len(owned) != replica_sets:
        return False
    if any(not pods_settled(cluster, namespace, "rs", rs["metadata"]["name"]) for rs in owned):
        return False
    total = sum((rs.get("status") or {}).get("replicas") or 0 for rs in owned)
    return (status.get("replicas") or 0) == total and scalings == event_count(
        cluster, namespace, deployment, "ScalingReplicaSet"
    )


def describe_alike(cluster: Cluster, *args: str) -> str:
    """kubelite's description, checked to be kubectl's (PRINTS_AS, 1.37) but for ages.

    Releases change these descriptions (1.36 adds `Time Zone:` to CronJobs, 1.37 `Service
    Name:` to StatefulSets and spells probes `successThreshold=1`), so a machine without a build
    of that release compares nothing; each test's own assertions on kubelite's text still hold.
    """
    if kubectl_builds.find(PRINTS_AS).minor != int(PRINTS_AS.split(".")[1]):
        return cluster.kubelite("describe", *args).stdout
    theirs, ours = both(cluster, "describe", *args)
    assert masked(ours) == masked(theirs)
    return ours


def apply(cluster: Cluster, namespace: str, obj: Obj) -> None:
    cluster.kubelite("apply", "-n", namespace, "-f", "-", stdin=json.dumps(obj))


def served(cluster: Cluster, group_version: str, plural: str) -> bool:
    path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    code, body, _ = cluster.request("GET", path)
    return code == 200 and any(r.get("name") == plural for r in body.get("resources") or [])


# --- Deployments and their ReplicaSets --------------------------------------------------------


def test_a_deployment_and_the_replica_set_it_made(cluster: Cluster, namespace: str):
    cluster.kubelite("apply", "-n", namespace, "-f", str(COMPANIONS / "mydeployment.yaml"))
    wait_for(
        "the deployment's replica set and pods",
        lambda: deployment_settled(cluster, namespace, "mydeployment", 1, 1),
    )
    ours = describe_alike(cluster, "deployment", "mydeployment", "-n", namespace)
    assert "Replicas:               3 desired | 3 updated | 3 total | 0 available" in ours
    assert "RollingUpdateStrategy:  25% max unavailable, 25% max surge" in ours
    assert "OldReplicaSets:  <none>\n" in ours
    (rs,) = get(cluster, namespace, "rs")["items"]
    name = rs["metadata"]["name"]
    assert f"NewReplicaSet:   {name} (3/3 replicas created)\n" in ours
    ours = describe_alike(cluster, "rs", name, "-n", namespace)
    assert "Controlled By:  Deployment/mydeployment\n" in ours
    assert "Replicas:       3 current / 3 desired\n" in ours
    assert "Pods Status:    0 Running / 3 Waiting / 0 Succeeded / 0 Failed\n" in ours
    assert ours.count("SuccessfulCreate") == 3
    # Without events, the description ends with the last block and no Events line.
    ours = describe_alike(
        cluster, "deployment", "mydeployment", "-n", namespace, "--show-events=false"
    )
    assert "Events" not in ours and ours.endswith("replicas created)\n")


def test_a_recreated_deployment_lists_its_old_replica_set_at_zero(cluster: Cluster, namespace: str):
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]},
            },
        },
    }
    apply(cluster, namespace, deployment)
    wait_for("the first rollout", lambda: deployment_settled(cluster, namespace, "web", 1, 1))
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    apply(cluster, namespace, deployment)
    # Recreate scales the old ReplicaSet to nothing, then makes the new one.
    wait_for("the second rollout", lambda: deployment_settled(cluster, namespace, "web", 2, 3))
    ours = describe_alike(cluster, "deployment", "web", "-n", namespace)
    words = masked(ours)
    assert ["StrategyType:", "Recreate"] in words and "RollingUpdateStrategy" not in ours
    replica_sets = sorted(
        get(cluster, namespace, "rs")["items"],
        key=lambda rs: rs["spec"]["template"]["spec"]["containers"][0]["image"],
    )
    old, new = (rs["metadata"]["name"] for rs in replica_sets)
    assert ["OldReplicaSets:", old, "(0/0", "replicas", "created)"] in words
    assert ["NewReplicaSet:", new, "(2/2", "replicas", "created)"] in words
    ours = describe_alike(cluster, "rs", old, "-n", namespace)
    assert "Pods Status:    0 Running / 0 Waiting / 0 Succeeded / 0 Failed\n" in ours


def test_a_bare_replica_set_prints_its_whole_pod_template(cluster: Cluster, namespace: str):
    replica_set = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "rich", "labels": {"a": "b"}, "annotations": {"x": "y"}},
        "spec": {
            "replicas": 2,
            "selector": {
                "matchLabels": {"app": "rich"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["back", "front"]}
                ],
            },
            "template": RICH_TEMPLATE,
        },
    }
    apply(cluster, namespace, replica_set)
    wait_for("the replica set's pods", lambda: pods_settled(cluster, namespace, "rs", "rich"))
    ours = describe_alike(cluster, "replicaset", "rich", "-n", namespace)
    assert "Selector:     app=rich,tier in (back,front)\n" in ours
    assert "Controlled By" not in ours
    assert "Pods Status:  0 Running / 2 Waiting / 0 Succeeded / 0 Failed\n" in ours
    # The template's blocks are indented under it, container and volume names by one more.
    assert "  Annotations:      note: hello\n" in ours
    assert "  Init Containers:\n   init:\n" in ours and "  Containers:\n   main:\n" in ours
    assert "  Volumes:\n   data:\n" in ours
    # No pod to resolve a downward-API field against; a core for 500m of CPU, rounded up.
    assert "      POD:     (v1:metadata.name)\n" in ours
    assert "      CPU:    1 (limits.cpu)\n" in ours
    assert "  Topology Spread Constraints:  host:ScheduleAnyway" in ours


# --- StatefulSets and DaemonSets ----------------------------------------------------------------


def test_a_stateful_set_with_claim_templates(cluster: Cluster, namespace: str):
    stateful_set = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "st"},
        "spec": {
            "replicas": 2,
            "serviceName": "st",
            "selector": {"matchLabels": {"app": "st"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
            "template": {
                "metadata": {"labels": {"app": "st"}},
                "spec": {"containers": [{"name": "c", "image": "redis"}]},
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {
                        "name": "data",
                        "labels": {"l": "1", "m": "2"},
                        "annotations": {"volume.beta.kubernetes.io/storage-class": "fast"},
                    },
                    "spec": {
                        "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                },
                # A claim needs a size to be made (without one, kubectl says `<default>`).
                {
                    "metadata": {"name": "logs"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": "slow",
                        "resources": {"requests": {"storage": "500Mi"}},
                    },
                },
            ],
        },
    }
    apply(cluster, namespace, stateful_set)
    wait_for("the stateful set to settle", lambda: pods_settled(cluster, namespace, "sts", "st"))
    ours = describe_alike(cluster, "statefulset", "st", "-n", namespace)
    waiting = waiting_pods(cluster, namespace, "sts", "st")
    # The claim retention block (kubectl 1.37) ends the alignment of the lines above it.
    assert f"Pods Status:    0 Running / {waiting} Waiting / 0 Succeeded / 0 Failed\n" in ours
    assert "Update Strategy:        RollingUpdate\n  Partition:            1\n" in ours
    assert "Pod Management Policy:  OrderedReady\n" in ours
    assert "  StorageClass:  fast\n" in ours and "  StorageClass:  slow\n" in ours
    assert "  Access Modes:  [ReadWriteOnce ReadOnlyMany]\n" in ours
    # The seed's StatefulSet, whose partition the server defaults to 0.
    cluster.kubelite("apply", "-n", namespace, "-f", str(COMPANIONS / "redis-backends.yaml"))
    wait_for(
        "the seed's stateful set to settle",
        lambda: pods_settled(cluster, namespace, "sts", "redis-st"),
    )
    ours = describe_alike(cluster, "sts", "redis-st", "-n", namespace)
    assert "  Partition:            0\n" in ours and "Volume Claims:     <none>\n" in ours


def test_a_daemon_set(cluster: Cluster, namespace: str):
    daemon_set = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "ds", "labels": {"app": "ds"}},
        "spec": {
            "selector": {"matchLabels": {"app": "ds"}},
            "template": {
                "metadata": {"labels": {"app": "ds"}},
                "spec": {
                    "nodeSelector": {"disk": "ssd"},
                    "containers": [{"name": "c", "image": "busybox"}],
                },
            },
        },
    }
    apply(cluster, namespace, daemon_set)
    wait_for("the daemon set to settle", lambda: pods_settled(cluster, namespace, "ds", "ds"))
    ours = describe_alike(cluster, "daemonset", "ds", "-n", namespace)
    assert "Node-Selector:  disk=ssd\n" in ours
    # These lines have no tab, so they stand outside the alignment.
    assert "\nNumber of Nodes Misscheduled: 0\n" in ours


def test_a_replication_controller(cluster: Cluster, namespace: str):
    controller = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "rc"},
        "spec": {
            "replicas": 2,
            "selector": {"app": "rc"},
            "template": {
                "metadata": {"labels": {"app": "rc"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    apply(cluster, namespace, controller)
    wait_for("the controller's pods", lambda: pods_settled(cluster, namespace, "rc", "rc"))
    ours = describe_alike(cluster, "rc", "rc", "-n", namespace)
    assert "Selector:     app=rc\n" in ours
    assert "Pods Status:  0 Running / 2 Waiting / 0 Succeeded / 0 Failed\n" in ours


# --- batch -------------------------------------------------------------------------------------


def test_a_job_and_a_cron_job(cluster: Cluster, namespace: str):
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "work"},
        "spec": {
            "completions": 4,
            "parallelism": 2,
            "backoffLimit": 3,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox", "command": ["true"]}],
                }
            },
        },
    }
    apply(cluster, namespace, job)

    def job_settled() -> bool:
        live = get(cluster, namespace, "job", "work")
        pods = controlled(get(cluster, namespace, "pods")["items"], live)
        made = event_count(cluster, namespace, live, "SuccessfulCreate")
        return (live.get("status") or {}).get("active") == len(pods) == made == 2

    wait_for("the job's two pods", job_settled)
    ours = describe_alike(cluster, "job", "work", "-n", namespace)
    assert "Parallelism:      2\nCompletions:      4\n" in ours
    assert "Pods Statuses:    2 Active (0 Ready) / 0 Succeeded / 0 Failed\n" in ours
    cron_job = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "yearly"},
        "spec": {
            "schedule": "@yearly",
            "timeZone": "Europe/Berlin",
            "jobTemplate": {"spec": {"template": job["spec"]["template"]}},
        },
    }
    apply(cluster, namespace, cron_job)
    ours = describe_alike(cluster, "cronjob", "yearly", "-n", namespace)
    assert "Schedule:                      @yearly\n" in ours
    # These follow the pod template, whose lines set no alignment for them.
    assert "Last Schedule Time:  <unset>\nActive Jobs:         <none>\n" in ours


# --- policy ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("budget", "line"),
    [
        ({"minAvailable": 1}, "Min available: 1"),
        ({"maxUnavailable": "50%"}, "Max unavailable: 50%"),
    ],
)
def test_a_pod_disruption_budget(cluster: Cluster, namespace: str, budget: Obj, line: str):
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "budget"},
        "spec": {**budget, "selector": {"matchLabels": {"app": "guarded"}}},
    }
    apply(cluster, namespace, pdb)
    wait_for(
        "the disruption controller to look at the budget",
        lambda: (get(cluster, namespace, "pdb", "budget").get("status") or {}).get(
            "observedGeneration"
        ),
    )
    ours = describe_alike(cluster, "pdb", "budget", "-n", namespace)
    shown = [" ".join(row.split()) for row in ours.splitlines()]
    assert line in shown and "Selector: app=guarded" in shown
