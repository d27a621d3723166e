"""The `kubelite` kubectl-like commands against a real server, side by side with kubectl 1.32.

Where both tools read the same objects, their output is compared as it is, except for ages,
which the server computes at the moment of each request and which are masked.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
import yaml
from cluster import Cluster, wait_for
from tests.examples import COMPANIONS, MANIFESTS

# kubelite's own commands print what kubectl of the release kubelite serves prints; a machine
# without that build compares with the build it has, which these commands print alike.
PRINTS_AS = "1.37"
SEED_PODS = (
    "adapter-container-demo.yaml",
    "ambassador-example.yaml",
    "myapp-pod.yaml",
    "nginx-sidecar.yaml",
)
# An age as kubectl prints one (`5s`, `3m20s`, `2d4h`), alone or in `2m (x5 over 7m)`.
AGE = re.compile(r"(?<![^\s(])(?:\d+[smhdy])+(?=[\s)]|$)")


def masked(text: str) -> list[list[str]]:
    """Lines as lists of words, ages replaced, so that a second's difference does not count."""
    return [AGE.sub("AGE", line).split() for line in text.splitlines()]


def both(cluster: Cluster, *args: str, check: bool = True) -> tuple[str, str]:
    """What kubectl and kubelite print on stdout for the same command."""
    theirs = cluster.kubectl(*args, check=check, version=PRINTS_AS)
    ours = cluster.kubelite(*args, check=check)
    assert ours.returncode == theirs.returncode, ours.stderr
    return theirs.stdout, ours.stdout


def apply_seed_pods(cluster: Cluster, namespace: str) -> None:
    """The seed's pods, and the services myapp-pod waits for."""
    args = [a for name in SEED_PODS for a in ("-f", str(MANIFESTS / name))]
    args += ["-f", str(COMPANIONS / "myapp-services.yaml")]
    cluster.kubelite("apply", "-n", namespace, *args)


# --- apply ------------------------------------------------------------------------------------


def test_apply_creates_then_reports_what_kubectl_reports(cluster: Cluster, namespace: str):
    files = [str(MANIFESTS / name) for name in SEED_PODS]
    files.append(str(COMPANIONS / "simple-pod-fixed.yaml"))
    first = cluster.kubelite("apply", "-n", namespace, *(a for f in files for a in ("-f", f)))
    assert first.stdout.splitlines() == [
        "pod/adapter-container-demo created",
        "pod/ambassador-example created",
        "pod/myapp-pod created",
        "pod/nginx-sidecar created",
        "pod/simple-pod created",
    ]
    # Applying again changes nothing; where the server added a volume to a list the manifest
    # orders (the service account token), kubectl itself reports `configured`, and so do we.
    for f in files:
        ours = cluster.kubelite("apply", "-n", namespace, "-f", f).stdout
        theirs = cluster.kubectl("apply", "-n", namespace, "-f", f).stdout
        assert ours == theirs
    again = cluster.kubelite("apply", "-n", namespace, "-f", files[2], "-f", files[4])
    assert again.stdout.splitlines() == ["pod/myapp-pod unchanged", "pod/simple-pod unchanged"]


def test_apply_writes_the_annotation_kubectl_writes(cluster: Cluster, namespace: str):
    manifest = str(MANIFESTS / "myapp-pod.yaml")
    cluster.kubelite("apply", "-n", namespace, "-f", manifest)
    other = f"{namespace}-k"
    cluster.kubectl("create", "namespace", other)
    cluster.kubectl("apply", "-n", other, "-f", manifest)
    annotation = "kubectl.kubernetes.io/last-applied-configuration"

    def last_applied(ns: str) -> str:
        pod = json.loads(cluster.kubectl("get", "pod", "myapp-pod", "-n", ns, "-o", "json").stdout)
        return pod["metadata"]["annotations"][annotation]

    assert last_applied(namespace).replace(namespace, "NS") == last_applied(other).replace(
        other, "NS"
    )
    # kubectl takes over where kubelite left off, and the other way round.
    assert cluster.kubectl("apply", "-n", namespace, "-f", manifest).stdout == (
        "pod/myapp-pod unchanged\n"
    )
    assert cluster.kubelite("apply", "-n", other, "-f", manifest).stdout == (
        "pod/myapp-pod unchanged\n"
    )


def test_a_changed_manifest_is_configured_with_a_patch(cluster: Cluster, namespace: str):
    manifest = yaml.safe_load((COMPANIONS / "simple-pod-fixed.yaml").read_text())
    cluster.kubelite("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(manifest))
    manifest["spec"]["containers"][0]["image"] = "nginx:1.27"
    manifest["metadata"]["labels"] = {"tier": "web"}
    out = cluster.kubelite("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(manifest))
    assert out.stdout == "pod/simple-pod configured\n"
    pod = json.loads(
        cluster.kubectl(
            "get", "pod", "simple-pod", "-n", namespace, "-o", "json", "--show-managed-fields"
        ).stdout
    )
    assert pod["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert pod["metadata"]["labels"] == {"tier": "web"}
    managers = {m["manager"] for m in pod["metadata"]["managedFields"]}
    assert managers == {"kubectl-client-side-apply"}
    # Removing the label from the manifest removes it from the object.
    del manifest["metadata"]["labels"]
    cluster.kubelite("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(manifest))
    labels = cluster.kubectl(
        "get", "pod", "simple-pod", "-n", namespace, "-o", "jsonpath={.metadata.labels}"
    ).stdout
    assert labels == ""


def test_apply_of_a_directory_with_several_documents(cluster: Cluster, namespace: str):
    out = cluster.kubelite("apply", "-n", namespace, "-f", str(COMPANIONS))
    assert out.stdout.splitlines() == [
        "service/myservice created",
        "service/mydb created",
        "deployment.apps/mydeployment created",
        "service/redis-svc created",
        "statefulset.apps/redis-st created",
        "pod/simple-pod created",
    ]


def test_server_dry_run_creates_nothing(cluster: Cluster, namespace: str):
    manifest = str(COMPANIONS / "simple-pod-fixed.yaml")
    out = cluster.kubelite("apply", "-n", namespace, "--dry-run=server", "-f", manifest)
    assert out.stdout == "pod/simple-pod created (server dry run)\n"
    assert cluster.kubectl("get", "pods", "-n", namespace, "-o", "name").stdout == ""


def test_server_side_apply_reports_conflicts_like_kubectl(cluster: Cluster, namespace: str):
    manifest = (MANIFESTS / "nginx-sidecar.yaml").read_text()
    changed = manifest.replace("image: nginx\n", "image: nginx:1.27\n")
    first = cluster.kubelite(
        "apply",
        "--server-side",
        "--field-manager=alice",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=manifest,
    )
    assert first.stdout == "pod/nginx-sidecar serverside-applied\n"
    ours = cluster.kubelite(
        "apply",
        "--server-side",
        "--field-manager=bob",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=changed,
        check=False,
    )
    theirs = cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager=bob",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=changed,
        check=False,
    )
    assert ours.returncode == theirs.returncode == 1
    assert ours.stderr == theirs.stderr
    assert ours.stderr.startswith(
        'error: Apply failed with 1 conflict: conflict with "alice": '
        '.spec.containers[name="nginx"].image\n'
    )
    forced = cluster.kubelite(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=bob",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=changed,
    )
    assert forced.stdout == "pod/nginx-sidecar serverside-applied\n"
    image = cluster.kubectl(
        "get", "pod", "nginx-sidecar", "-n", namespace, "-o", "jsonpath={.spec.containers[0].image}"
    ).stdout
    assert image == "nginx:1.27"


# --- bad input --------------------------------------------------------------------------------


def test_the_broken_seed_manifest_names_its_file_and_line(cluster: Cluster, namespace: str):
    broken = str(MANIFESTS / "simple-pod.yaml")
    out = cluster.kubelite("apply", "-n", namespace, "-f", broken, check=False)
    assert out.returncode == 1
    assert out.stdout == ""
    assert out.stderr.startswith(f"error: error parsing {broken}: ")
    assert "line 4, column 1" in out.stderr and "tab" in out.stderr
    assert "Traceback" not in out.stderr
    assert cluster.kubectl("get", "pods", "-n", namespace, "-o", "name").stdout == ""


def test_strict_decoding_errors_print_as_kubectl_prints_them(cluster: Cluster, namespace: str):
    typo = (MANIFESTS / "simple-pod.yaml").read_text().replace("\t\t", "    ")
    typo = typo.replace("\t", "  ")
    for command in ("apply", "create"):
        ours = cluster.kubelite(command, "-n", namespace, "-f", "-", stdin=typo, check=False)
        theirs = cluster.kubectl(command, "-n", namespace, "-f", "-", stdin=typo, check=False)
        assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr)
    assert 'unknown field "spec.containers[0].imgae"' in ours.stderr
    invalid = cluster.kubelite(
        "create", "--validate=false", "-n", namespace, "-f", "-", stdin=typo, check=False
    )
    assert invalid.stderr == (
        'The Pod "simple-pod" is invalid: spec.containers[0].image: Required value\n'
    )


def test_create_of_an_existing_object(cluster: Cluster, namespace: str):
    manifest = str(COMPANIONS / "simple-pod-fixed.yaml")
    assert cluster.kubelite("create", "-n", namespace, "-f", manifest).stdout == (
        "pod/simple-pod created\n"
    )
    again = cluster.kubelite("create", "-n", namespace, "-f", manifest, check=False)
    assert again.returncode == 1
    assert again.stderr == (
        f'Error from server (AlreadyExists): error when creating "{manifest}": '
        'pods "simple-pod" already exists\n'
    )


# --- get --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("get", "pods"),
        ("get", "pods", "-o", "wide"),
        ("get", "pods", "--show-labels"),
        ("get", "pods", "-l", "app=myapp"),
        ("get", "pod", "myapp-pod", "-L", "app", "-L", "tier"),
        ("get", "pod/myapp-pod", "svc/myservice"),
        ("get", "pods,services"),
        ("get", "pods", "--no-headers"),
    ],
)
def test_get_tables_match_kubectl(cluster: Cluster, namespace: str, args: tuple[str, ...]):
    apply_seed_pods(cluster, namespace)
    theirs, ours = both(cluster, *args, "-n", namespace)
    assert masked(ours) == masked(theirs)
    if "--no-headers" not in args:
        assert ours.splitlines()[0] == theirs.splitlines()[0]


def test_get_all_namespaces(cluster: Cluster, namespace: str):
    apply_seed_pods(cluster, namespace)
    theirs, ours = both(cluster, "get", "pods", "-A", "--show-labels")
    assert masked(ours) == masked(theirs)
    assert ours.splitlines()[0].split() == [
        "NAMESPACE",
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "LABELS",
    ]
    row = next(line for line in ours.splitlines() if line.startswith(f"{namespace} "))
    assert row.split()[1] == "adapter-container-demo"
    assert any(line.split()[-1] == "app=myapp" for line in ours.splitlines())


@pytest.mark.parametrize(
    "args",
    [
        ("get", "pods", "-o", "name"),
        ("get", "pods", "-o", "yaml"),
        ("get", "pods", "-o", "json"),
        ("get", "pod", "myapp-pod", "-o", "yaml"),
        ("get", "pod", "myapp-pod", "-o", "json"),
        ("get", "pods", "-l", "app=none", "-o", "json"),
    ],
)
def test_get_objects_match_kubectl_exactly(cluster: Cluster, namespace: str, args: tuple[str, ...]):
    apply_seed_pods(cluster, namespace)
    theirs, ours = both(cluster, *args, "-n", namespace)
    assert ours == theirs


def test_get_reports_what_is_missing(cluster: Cluster, namespace: str):
    apply_seed_pods(cluster, namespace)
    ours = cluster.kubelite("get", "pods", "myapp-pod", "nosuch", "-n", namespace, check=False)
    theirs = cluster.kubectl("get", "pods", "myapp-pod", "nosuch", "-n", namespace, check=False)
    assert ours.returncode == theirs.returncode == 1
    assert ours.stderr == theirs.stderr == 'Error from server (NotFound): pods "nosuch" not found\n'
    assert masked(ours.stdout) == masked(theirs.stdout)
    empty = cluster.kubelite("get", "pods", "-n", namespace, "-l", "app=none", "-o", "wide")
    assert empty.stdout == "" and empty.stderr == f"No resources found in {namespace} namespace.\n"


def test_get_watch_prints_rows_as_changes_happen(cluster: Cluster, namespace: str):
    cluster.kubelite("apply", "-n", namespace, "-f", str(MANIFESTS / "myapp-pod.yaml"))
    watcher = subprocess.Popen(
        [sys.executable, "-m", "kubelite", "get", "pods", "-n", namespace, "-w", "--show-labels"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cluster.env(),
    )
    try:
        assert watcher.stdout is not None
        assert watcher.stdout.readline().split() == [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "LABELS",
        ]
        assert watcher.stdout.readline().split()[-1] == "app=myapp"
        cluster.kubectl("label", "pod", "myapp-pod", "-n", namespace, "tier=web")
        deadline = time.monotonic() + 20
        line = ""
        while time.monotonic() < deadline and not line:
            line = watcher.stdout.readline()
        assert line.split()[0] == "myapp-pod" and line.split()[-1] == "app=myapp,tier=web"
    finally:
        watcher.kill()
        watcher.wait()


# --- describe, events, delete -----------------------------------------------------------------


def _event(namespace: str, uid: str, name: str, reason: str, message: str, **extra: object) -> str:
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {
            "kind": "Pod",
            "apiVersion": "v1",
            "name": "myapp-pod",
            "namespace": namespace,
            "uid": uid,
        },
        "reason": reason,
        "message": message,
        "type": "Normal",
        "source": {"component": "default-scheduler"},
        **extra,
    }
    return json.dumps(event)


def test_describe_pod_with_events_matches_kubectl(cluster: Cluster, namespace: str):
    cluster.kubelite("apply", "-n", namespace, "-f", str(MANIFESTS / "myapp-pod.yaml"))
    pod = json.loads(
        cluster.kubectl("get", "pod", "myapp-pod", "-n", namespace, "-o", "json").stdout
    )
    created = pod["metadata"]["creationTimestamp"]
    for name, reason, extra in (
        ("e1", "Scheduled", {"firstTimestamp": created, "lastTimestamp": created, "count": 1}),
        ("e2", "Pulling", {"firstTimestamp": created, "lastTimestamp": created, "count": 4}),
    ):
        body = _event(namespace, pod["metadata"]["uid"], name, reason, f"{reason} it", **extra)
        cluster.kubectl("create", "-f", "-", stdin=body)
    theirs, ours = both(cluster, "describe", "pod", "myapp-pod", "-n", namespace)
    assert masked(ours) == masked(theirs)
    assert "Init Containers:" in ours and "QoS Class:                   BestEffort" in ours
    assert "  Normal  Scheduled" in ours and "Pulling it" in ours


def test_describe_of_other_kinds_and_missing_objects(cluster: Cluster, namespace: str):
    cluster.kubelite("apply", "-n", namespace, "-f", str(COMPANIONS / "mydeployment.yaml"))
    # The controllers make its ReplicaSet and (unscheduled: no scheduler here) pods; once they
    # have, the description settles and must be kubectl's.
    wait_for(
        "the deployment's status to count 3 replicas",
        lambda: (
            '"replicas":3'
            in cluster.kubectl(
                "get", "deployment", "mydeployment", "-n", namespace, "-o", "jsonpath={.status}"
            ).stdout
        ),
    )
    theirs, ours = both(cluster, "describe", "deployment", "mydeployment", "-n", namespace)
    assert masked(ours) == masked(theirs)
    assert ours.startswith(
        f"Name:                   mydeployment\nNamespace:              {namespace}\n"
    )
    assert "Replicas:               3 desired | 3 updated | 3 total | 0 available" in ours
    assert "NewReplicaSet:   mydeployment-" in ours and "ScalingReplicaSet" in ours
    ours = cluster.kubelite("describe", "pod", "nosuch", "-n", namespace, check=False)
    assert (ours.returncode, ours.stderr) == (
        1,
        'Error from server (NotFound): pods "nosuch" not found\n',
    )


def test_events_for_an_object_match_kubectl(cluster: Cluster, namespace: str):
    cluster.kubelite("apply", "-n", namespace, "-f", str(MANIFESTS / "myapp-pod.yaml"))
    for name, reason, stamp in (
        ("late", "Pulled", "2026-01-01T00:05:00Z"),
        ("early", "Scheduled", "2026-01-01T00:00:00Z"),
    ):
        body = _event(
            namespace, "", name, reason, f"{reason} it", firstTimestamp=stamp, lastTimestamp=stamp
        )
        cluster.kubectl("create", "-f", "-", stdin=body)
    theirs, ours = both(cluster, "events", "-n", namespace, "--for", "pod/myapp-pod")
    assert masked(ours) == masked(theirs)
    assert [line.split()[2] for line in ours.splitlines()[1:]] == ["Scheduled", "Pulled"]
    theirs, ours = both(cluster, "events", "-A")
    # Events of one second tie, and kubectl orders ties with Go's sort.Sort, which is not
    # stable: the same rows, in an order that may differ among equals.
    assert masked(ours)[0] == masked(theirs)[0]
    assert sorted(masked(ours)[1:]) == sorted(masked(theirs)[1:])
    none = cluster.kubelite("events", "-n", namespace, "--for", "pod/other")
    assert none.stderr == f"No events found in {namespace} namespace.\n"


def test_delete_waits_until_the_pod_is_gone(cluster: Cluster, namespace: str):
    # A pod bound to a node terminates gracefully: it stays until its kubelet (here, a forced
    # delete standing in for it) finishes the deletion.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bound"},
        "spec": {"nodeName": "node-x", "containers": [{"name": "c", "image": "busybox"}]},
    }
    cluster.kubelite("create", "-n", namespace, "-f", "-", stdin=json.dumps(pod))
    deleter = subprocess.Popen(
        [sys.executable, "-m", "kubelite", "delete", "pod", "bound", "-n", namespace],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cluster.env(),
    )
    try:
        assert deleter.stdout is not None
        assert deleter.stdout.readline() == 'pod "bound" deleted\n'
        time.sleep(1)
        assert deleter.poll() is None, "delete returned while the pod was still terminating"
        status = cluster.kubectl("get", "pod", "bound", "-n", namespace).stdout
        assert "Terminating" in status
        cluster.kubectl("delete", "pod", "bound", "-n", namespace, "--force", "--grace-period=0")
        assert deleter.wait(20) == 0
    finally:
        if deleter.poll() is None:
            deleter.kill()
            deleter.wait()


def test_delete_by_file_label_and_force(cluster: Cluster, namespace: str):
    apply_seed_pods(cluster, namespace)
    by_file = cluster.kubelite(
        "delete", "-n", namespace, "-f", str(MANIFESTS / "nginx-sidecar.yaml")
    )
    assert by_file.stdout == 'pod "nginx-sidecar" deleted\n'
    by_label = cluster.kubelite("delete", "pods", "-l", "app=myapp", "-n", namespace)
    assert by_label.stdout == 'pod "myapp-pod" deleted\n'
    forced = cluster.kubelite("delete", "pods", "--all", "--force", "-n", namespace)
    assert forced.stdout.splitlines() == [
        'pod "adapter-container-demo" force deleted',
        'pod "ambassador-example" force deleted',
    ]
    assert forced.stderr.startswith("Warning: Immediate deletion does not wait")
    missing = cluster.kubelite("delete", "pod", "nosuch", "-n", namespace, check=False)
    assert (missing.returncode, missing.stderr) == (
        1,
        'Error from server (NotFound): pods "nosuch" not found\n',
    )
    nothing = cluster.kubelite("delete", "pods", "-l", "app=none", "-n", namespace)
    assert nothing.stdout == "No resources found\n"


# --- api-resources, version -------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("api-resources",),
        ("api-resources", "-o", "wide"),
        ("api-resources", "-o", "name"),
        ("api-resources", "--namespaced=false"),
        ("api-resources", "--api-group=apps"),
    ],
)
def test_api_resources_match_kubectl_exactly(cluster: Cluster, args: tuple[str, ...]):
    theirs, ours = both(cluster, *args)
    assert ours == theirs


def test_version(cluster: Cluster):
    out = cluster.kubelite("version").stdout.splitlines()
    server = json.loads(cluster.kubectl("version", "-o", "json").stdout)["serverVersion"]
    assert out == [
        f"Client Version: {server['gitVersion']}",
        f"Server Version: {server['gitVersion']}",
    ]
    versions = json.loads(cluster.kubelite("version", "-o", "json").stdout)
    assert versions["serverVersion"]["gitVersion"] == server["gitVersion"]
    assert set(versions["clientVersion"]) >= {"major", "minor", "gitVersion", "platform"}
