"""Services on a real node: cluster DNS, the service proxy and the seed's two examples that need
them, with the real kubectl and the seed's files unchanged.

`myapp-pod.yaml`'s init containers wait for two Service names to resolve; the ambassador's
twemproxy reaches a StatefulSet's pods by their names under a headless Service; a Deployment
behind a ClusterIP Service is reached by every form of its name, from every replica.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest
from images import build, publish
from images.recipe import load_all, select
from tests.examples import COMPANIONS, MANIFESTS
from tests.integration.cluster import Cluster

from conftest import apply_manifest, get_pod, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]

TIMEOUT = 90.0

# Replicas that answer HTTP with their own hostname, and a client pod to call them from.
WHOAMI = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: whoami}
spec:
  replicas: 3
  selector: {matchLabels: {app: whoami}}
  template:
    metadata: {labels: {app: whoami}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: busybox
        command:
        - sh
        - -c
        - mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www
        ports: [{name: http, containerPort: 8080}]
        readinessProbe:
          tcpSocket: {port: http}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: whoami}
spec:
  selector: {app: whoami}
  ports: [{name: web, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: whoami-sticky}
spec:
  selector: {app: whoami}
  sessionAffinity: ClientIP
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: whoami-np}
spec:
  type: NodePort
  selector: {app: whoami}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: client
    image: busybox
    command: ["sleep", "3600"]
"""


def _ready(node: Cluster, name: str) -> bool:
    """Whether pod `name` exists and is Ready."""
    done = node.kubectl("get", "pod", name, "-o", "json", check=False)
    if done.returncode != 0:
        return False
    conditions = json.loads(done.stdout)["status"].get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@pytest.fixture(scope="module")
def redis_images(node: Cluster, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The ambassador's images (redis and malexer/twemproxy) in the node's registry."""
    out = tmp_path_factory.mktemp("ambassador-images")
    registry = node.extra_args[node.extra_args.index("--local-registry") + 1]
    for recipe in select(["redis", "twemproxy"], load_all()):
        built = build.build(recipe, cache_dir=build.cache_dir_from_env(), out_dir=out)
        publish.push(built.archive, recipe.references, registry)


def _apply(node: Cluster, path: Path) -> None:
    node.kubectl("apply", "-f", str(path))


def _delete(node: Cluster, path: Path) -> None:
    node.kubectl("delete", "-f", str(path), "--grace-period=2", "--timeout=60s", check=False)


def _init_progress(node: Cluster) -> str:
    """The STATUS column of `kubectl get pod myapp-pod`."""
    table = node.kubectl("get", "pod", "myapp-pod", "--no-headers").stdout.split()
    return table[2] if len(table) > 2 else ""


def test_myapp_pod_finishes_its_init_containers_once_its_services_exist(node: Cluster) -> None:
    pod, services = MANIFESTS / "myapp-pod.yaml", COMPANIONS / "myapp-services.yaml"
    _apply(node, pod)
    try:
        wait_for(
            "the first init container to wait for myservice",
            lambda: (
                "waiting for myservice"
                in node.kubectl("logs", "myapp-pod", "-c", "init-myservice", check=False).stdout
            ),
            TIMEOUT,
        )
        seen = {_init_progress(node)}
        assert seen == {"Init:0/2"}
        _apply(node, services)

        def running() -> bool:
            seen.add(_init_progress(node))
            return "Running" in seen

        wait_for("myapp-pod to run", running, TIMEOUT)
        # Each step is seen by a poll unless it passes faster than one (the second init
        # container's wait is one lookup); the order is the pod's own.
        assert "Init:0/2" in seen and "Running" in seen
        assert seen <= {"Init:0/2", "Init:1/2", "PodInitializing", "Running"}
        logs = node.kubectl("logs", "myapp-pod", "-c", "myapp-container").stdout
        assert "The app is running!" in logs
        status = get_pod(node, "myapp-pod")["status"]
        assert [s["state"]["terminated"]["reason"] for s in status["initContainerStatuses"]] == [
            "Completed",
            "Completed",
        ]
    finally:
        _delete(node, pod)
        _delete(node, services)


def test_the_ambassador_reaches_the_statefulsets_redis_pods_by_name(
    node: Cluster, redis_images: None
) -> None:
    backends, ambassador = COMPANIONS / "redis-backends.yaml", MANIFESTS / "ambassador-example.yaml"
    _apply(node, backends)
    try:
        wait_for("redis-st-1 to be ready", lambda: _ready(node, "redis-st-1"), TIMEOUT)
        _apply(node, ambassador)
        wait_for(
            "ambassador-example to run",
            lambda: get_pod(node, "ambassador-example")["status"].get("phase") == "Running",
            TIMEOUT,
        )

        def redis(*args: str) -> str:
            done = node.kubectl(
                "exec", "ambassador-example", "-c", "redis-client", "--",
                "redis-cli", "-p", "6380", *args, check=False,
            )  # fmt: skip
            return done.stdout.strip()

        # twemproxy resolves its servers at start and reconnects on its own.
        wait_for("a write through twemproxy", lambda: redis("set", "k", "v") == "OK", TIMEOUT)
        assert redis("get", "k") == "v"
        # The key lives on one of the StatefulSet's pods, reached by its stable name.
        held = [
            node.kubectl("exec", f"redis-st-{i}", "--", "redis-cli", "get", "k").stdout.strip()
            for i in (0, 1)
        ]
        assert sorted(held) == ["", "v"]
    finally:
        _delete(node, ambassador)
        _delete(node, backends)


def _wget(node: Cluster, url: str) -> tuple[int, str]:
    done = node.kubectl("exec", "client", "--", "wget", "-q", "-O", "-", url, check=False)
    return done.returncode, done.stdout.strip() + done.stderr.strip()


def _node_ip(node: Cluster) -> str:
    item = json.loads(node.kubectl("get", "nodes", "-o", "json").stdout)["items"][0]
    return next(a["address"] for a in item["status"]["addresses"] if a["type"] == "InternalIP")


@pytest.fixture
def whoami(node: Cluster):  # type: ignore[no-untyped-def]
    apply_manifest(node, WHOAMI)
    try:
        wait_for(
            "three ready endpoints",
            lambda: len(
                (json.loads(node.kubectl("get", "endpoints", "whoami", "-o", "json").stdout)
                 .get("subsets") or [{}])[0].get("addresses") or []
            ) == 3,
            TIMEOUT,
        )  # fmt: skip
        wait_for("the client pod", lambda: _ready(node, "client"), TIMEOUT)
        yield
    finally:
        node.kubectl("delete", "-f", "-", "--grace-period=1", "--timeout=60s",
                     stdin=WHOAMI, check=False)  # fmt: skip


def test_a_deployment_behind_a_service_answers_by_every_name_from_every_replica(
    node: Cluster, whoami: None
) -> None:
    namespace = "default"
    cluster_ip = node.kubectl(
        "get", "svc", "whoami", "-o", "jsonpath={.spec.clusterIP}"
    ).stdout.strip()
    pods = set(
        node.kubectl(
            "get", "pods", "-l", "app=whoami", "-o", "jsonpath={.items[*].metadata.name}"
        ).stdout.split()
    )
    for name in (
        "whoami",
        f"whoami.{namespace}",
        f"whoami.{namespace}.svc.cluster.local",
        cluster_ip,
    ):
        _, body = wait_for(
            f"an answer at {name}", lambda n=name: (r := _wget(node, f"http://{n}/"))[0] == 0 and r
        )
        assert body in pods, (name, body)
    answered: set[str] = set()

    def every_replica() -> bool:
        code, body = _wget(node, "http://whoami/")
        if code == 0:
            answered.add(body)
        return answered == pods

    wait_for("answers from every replica", every_replica, TIMEOUT)


def test_client_ip_affinity_sticks_and_a_node_port_answers(node: Cluster, whoami: None) -> None:
    answers = Counter(_wget(node, "http://whoami-sticky/") for _ in range(8))
    assert len(answers) == 1, answers
    ((code, body),) = answers
    assert code == 0 and body
    port = node.kubectl(
        "get", "svc", "whoami-np", "-o", "jsonpath={.spec.ports[0].nodePort}"
    ).stdout.strip()
    assert 30000 <= int(port) <= 32767
    code, body = _wget(node, f"http://{_node_ip(node)}:{port}/")
    assert code == 0 and body.startswith("whoami-"), body


def test_a_service_scaled_to_zero_refuses_at_once(node: Cluster, whoami: None) -> None:
    node.kubectl("scale", "deployment", "whoami", "--replicas=0")
    wait_for(
        "the Service's EndpointSlice to empty",
        lambda: (
            not json.loads(
                node.kubectl(
                    "get", "endpointslices", "-l", "kubernetes.io/service-name=whoami", "-o", "json"
                ).stdout
            )["items"][0].get("endpoints")
        ),
        TIMEOUT,
    )

    def refused() -> str:
        # Until the node's proxy has synced, a connection may still go to a pod that is gone
        # and hang: `timeout` ends such a try, and the next one is made.
        done = node.kubectl(
            "exec", "client", "--", "timeout", "5", "wget", "-q", "-O", "-", "http://whoami/",
            check=False,
        )  # fmt: skip
        timed_out = "exit code 143" in done.stderr
        return done.returncode != 0 and not timed_out and done.stderr

    output = wait_for("a refusal", refused, TIMEOUT)
    # The proxy rejects (ICMP port unreachable), so the client is told at once, not timed out.
    assert re.search(r"refused|unreachable", output, re.I), output
