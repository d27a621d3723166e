"""The seed's workloads on a real node: `kubectl apply -f mydeployment.yaml`, and the Redis
StatefulSet behind the ambassador example.

The Deployment's ReplicaSet makes three nginx pods that answer on their IPs; a new image rolls
out without ever having fewer available pods than the Deployment allows (seen through a watch
with the official client); `rollout undo` goes back; a deleted pod is replaced; `kubectl scale`
grows and shrinks it. The second tag of nginx is the same image pushed again under another
name in the node's registry, as a person re-tagging an image would.

`redis-backends.yaml` makes `redis-st-0`, and `redis-st-1` only once `redis-st-0` runs and is
ready (OrderedReady), each a redis that answers PING, with the stable hostname the headless
Service names.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest
from images import build, publish
from images.recipe import load_all, select
from tests.examples import COMPANIONS
from tests.integration.cluster import Cluster

from conftest import http_get, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]

DEPLOYMENT = "mydeployment"
SELECTOR = "app=web"
ROLLOUT_TIMEOUT = "120s"
_MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


def _registry(node: Cluster) -> str:
    return node.extra_args[node.extra_args.index("--local-registry") + 1]


def _retag(registry: str, repository: str, tag: str, new_tag: str) -> None:
    """Put an image's manifest under a second tag (the registry API's retag)."""
    get = urllib.request.Request(
        f"http://{registry}/v2/{repository}/manifests/{tag}", headers={"Accept": _MANIFEST_TYPES}
    )
    with urllib.request.urlopen(get, timeout=30) as answer:
        body, media_type = answer.read(), answer.headers["Content-Type"]
    put = urllib.request.Request(
        f"http://{registry}/v2/{repository}/manifests/{new_tag}",
        data=body,
        method="PUT",
        headers={"Content-Type": media_type},
    )
    with urllib.request.urlopen(put, timeout=30) as answer:
        assert answer.status == 201


def _pods(node: Cluster) -> list[dict[str, Any]]:
    out = node.kubectl("get", "pods", "-l", SELECTOR, "-o", "json").stdout
    return json.loads(out)["items"]


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _running(node: Cluster, count: int, image: str | None = None) -> list[dict[str, Any]] | None:
    """The deployment's pods if exactly `count` exist, all Ready (and running `image`)."""
    pods = _pods(node)
    if len(pods) != count or not all(_ready(p) for p in pods):
        return None
    if image is not None and any(p["spec"]["containers"][0]["image"] != image for p in pods):
        return None
    return pods


class ReadyWatch:
    """Counts the Ready, not terminating pods of the deployment at every watch event."""

    def __init__(self, node: Cluster) -> None:
        self.api = kubernetes.client.CoreV1Api(node.client())
        self.watch = kubernetes.watch.Watch()
        self.pods: dict[str, bool] = {}
        self.lowest: int | None = None
        self.events = 0
        # Set if the watch broke before the test was done with it.
        self.error: BaseException | None = None
        self.stopping = False
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ReadyWatch:
        self.thread.start()
        assert self.started.wait(30), "the watch did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping = True
        self.watch.stop()

    def _run(self) -> None:
        try:
            self._follow()
        except Exception as e:  # reported to the test through `error`
            if not self.stopping:
                self.error = e

    def _follow(self) -> None:
        listing = self.api.list_namespaced_pod("default", label_selector=SELECTOR)
        for pod in listing.items:
            self.pods[pod.metadata.name] = self._counts(pod)
        self.started.set()
        for event in self.watch.stream(
            self.api.list_namespaced_pod,
            "default",
            label_selector=SELECTOR,
            resource_version=listing.metadata.resource_version,
        ):
            pod = event["object"]
            if event["type"] == "DELETED":
                self.pods.pop(pod.metadata.name, None)
            else:
                self.pods[pod.metadata.name] = self._counts(pod)
            self.events += 1
            ready = sum(self.pods.values())
            self.lowest = ready if self.lowest is None else min(self.lowest, ready)

    @staticmethod
    def _counts(pod: Any) -> bool:
        if pod.metadata.deletion_timestamp is not None:
            return False
        conditions = pod.status.conditions or []
        return any(c.type == "Ready" and c.status == "True" for c in conditions)


@pytest.fixture
def deployment(node: Cluster) -> Iterator[None]:
    node.kubectl("apply", "-f", str(COMPANIONS / "mydeployment.yaml"))
    try:
        yield
    finally:
        node.kubectl("delete", "deployment", DEPLOYMENT, "--timeout=90s", check=False)
        wait_for("the deployment's pods to go", lambda: not _pods(node), timeout=90)


def test_seed_deployment_runs_rolls_out_heals_and_scales(node: Cluster, deployment: None) -> None:
    pods = wait_for("3 Ready nginx pods", lambda: _running(node, 3), timeout=90)
    for pod in pods:
        ip = pod["status"]["podIP"]
        assert "Welcome to nginx" in wait_for(
            f"nginx on {ip}", lambda ip=ip: http_get(f"http://{ip}/")
        )
    assert {p["metadata"]["ownerReferences"][0]["kind"] for p in pods} == {"ReplicaSet"}
    status = node.kubectl(
        "rollout", "status", f"deployment/{DEPLOYMENT}", f"--timeout={ROLLOUT_TIMEOUT}"
    )
    assert f'deployment "{DEPLOYMENT}" successfully rolled out' in status.stdout

    # A new image: with 3 replicas, 25% maxUnavailable rounds down to 0, so all 3 stay
    # available throughout, and 25% maxSurge rounds up to 1 extra pod at a time.
    _retag(_registry(node), "library/nginx", "latest", "1.27")
    with ReadyWatch(node) as watch:
        node.kubectl("set", "image", f"deployment/{DEPLOYMENT}", "nginx=nginx:1.27")
        done = node.kubectl(
            "rollout", "status", f"deployment/{DEPLOYMENT}", f"--timeout={ROLLOUT_TIMEOUT}"
        )
        assert done.returncode == 0 and "successfully rolled out" in done.stdout
        wait_for("3 pods of nginx:1.27", lambda: _running(node, 3, "nginx:1.27"), timeout=60)
    assert watch.error is None, f"the watch broke during the rollout: {watch.error!r}"
    # 3 new pods created and become ready, 3 old ones marked for deletion and gone: at least 9.
    assert watch.events >= 9, watch.events
    assert watch.lowest is not None and watch.lowest >= 3, watch.lowest
    history = node.kubectl("rollout", "history", f"deployment/{DEPLOYMENT}").stdout
    assert history.split()[-4:] == ["1", "<none>", "2", "<none>"], history

    node.kubectl("rollout", "undo", f"deployment/{DEPLOYMENT}")
    node.kubectl("rollout", "status", f"deployment/{DEPLOYMENT}", f"--timeout={ROLLOUT_TIMEOUT}")
    pods = wait_for("3 pods of nginx again", lambda: _running(node, 3, "nginx"), timeout=60)
    revision = node.kubectl(
        "get", "deployment", DEPLOYMENT, "-o",
        "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}",
    ).stdout  # fmt: skip
    assert revision == "3"

    # A deleted pod is replaced by a new one.
    victim = pods[0]["metadata"]["name"]
    node.kubectl("delete", "pod", victim, "--wait=false")
    replaced = wait_for(
        "a replacement pod",
        lambda: (p := _running(node, 3)) and victim not in {x["metadata"]["name"] for x in p},
        timeout=90,
    )
    assert replaced

    node.kubectl("scale", f"deployment/{DEPLOYMENT}", "--replicas=5")
    wait_for("5 Ready pods", lambda: _running(node, 5), timeout=90)
    node.kubectl("scale", f"deployment/{DEPLOYMENT}", "--replicas=1")
    wait_for("1 pod left", lambda: _running(node, 1), timeout=90)
    shown = node.kubectl("get", "deployment", DEPLOYMENT).stdout.split()
    assert shown[5:9] == [DEPLOYMENT, "1/1", "1", "1"], shown


@pytest.fixture
def redis_backends(node: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The redis image in the node's registry, and redis-backends.yaml applied."""
    out = tmp_path_factory.mktemp("redis-image")
    for recipe in select(["redis"], load_all()):
        built = build.build(recipe, cache_dir=build.cache_dir_from_env(), out_dir=out)
        publish.push(built.archive, recipe.references, _registry(node))
    manifest = str(COMPANIONS / "redis-backends.yaml")
    node.kubectl("apply", "-f", manifest)
    try:
        yield
    finally:
        node.kubectl("delete", "-f", manifest, "--timeout=90s", check=False)
        wait_for(
            "the redis pods to go",
            lambda: (
                not json.loads(
                    node.kubectl("get", "pods", "-l", "app=redis-st", "-o", "json").stdout
                )["items"]
            ),
            timeout=90,
        )


def test_redis_statefulset_starts_its_pods_in_order(node: Cluster, redis_backends: None) -> None:
    seen: list[tuple[set[str], set[str]]] = []

    def both_ready() -> bool:
        pods = json.loads(node.kubectl("get", "pods", "-l", "app=redis-st", "-o", "json").stdout)
        names = {p["metadata"]["name"] for p in pods["items"]}
        ready = {p["metadata"]["name"] for p in pods["items"] if _ready(p)}
        seen.append((names, ready))
        return ready == {"redis-st-0", "redis-st-1"}

    wait_for("redis-st-0 and redis-st-1 Ready", both_ready, timeout=120)
    # redis-st-1 never existed before redis-st-0 was Ready.
    for names, ready in seen:
        if "redis-st-1" in names:
            assert "redis-st-0" in ready, seen
    assert any(names == {"redis-st-0"} for names, _ in seen), "redis-st-0 came alone first"
    for ordinal in (0, 1):
        name = f"redis-st-{ordinal}"
        pong = node.kubectl("exec", name, "--", "redis-cli", "ping").stdout
        assert pong.strip() == "PONG"
        pod = json.loads(node.kubectl("get", "pod", name, "-o", "json").stdout)
        assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == (name, "redis-svc")
        hostname = node.kubectl("exec", name, "--", "hostname").stdout.strip()
        assert hostname == name
    status = node.kubectl("rollout", "status", "statefulset/redis-st", "--timeout=60s")
    assert "partitioned roll out complete" in status.stdout or "roll out complete" in status.stdout


def _job(name: str, command: str, **spec: Any) -> str:
    return json.dumps(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name},
            "spec": {
                **spec,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "terminationGracePeriodSeconds": 1,
                        "containers": [
                            {"name": "work", "image": "busybox", "command": ["sh", "-c", command]}
                        ],
                    }
                },
            },
        }
    )


def _condition(node: Cluster, kind: str, name: str, type_: str) -> dict[str, Any] | None:
    obj = json.loads(node.kubectl("get", kind, name, "-o", "json").stdout)
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition["type"] == type_ and condition["status"] == "True":
            return condition
    return None


def test_jobs_complete_or_fail_and_a_cron_job_starts_one(node: Cluster) -> None:
    cron_job = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "every-minute"},
        "spec": {
            "schedule": "*/1 * * * *",
            "jobTemplate": {"spec": json.loads(_job("unused", "echo tick"))["spec"]},
        },
    }
    created = time.monotonic()
    node.kubectl("apply", "-f", "-", stdin=json.dumps(cron_job))
    try:
        node.kubectl(
            "apply", "-f", "-", stdin=_job("three", "echo done", completions=3, parallelism=2)
        )
        done = node.kubectl("wait", "--for=condition=complete", "job/three", "--timeout=120s")
        assert done.returncode == 0
        status = json.loads(node.kubectl("get", "job", "three", "-o", "json").stdout)["status"]
        assert (status["succeeded"], status.get("failed", 0)) == (3, 0)

        node.kubectl("apply", "-f", "-", stdin=_job("failing", "exit 1", backoffLimit=1))
        failed = wait_for(
            "the failing job to fail",
            lambda: _condition(node, "job", "failing", "Failed"),
            timeout=120,
        )
        assert failed["reason"] == "BackoffLimitExceeded"
        assert failed["message"] == "Job has reached the specified backoff limit"
        status = json.loads(node.kubectl("get", "job", "failing", "-o", "json").stdout)["status"]
        assert status["failed"] == 2  # the first pod and one retry (backoffLimit 1)

        def cron_job_started() -> str | None:
            jobs = json.loads(node.kubectl("get", "jobs", "-o", "json").stdout)["items"]
            for job in jobs:
                owners = job["metadata"].get("ownerReferences") or []
                if any(o["kind"] == "CronJob" and o["name"] == "every-minute" for o in owners):
                    return str(job["metadata"]["name"])
            return None

        started = wait_for(
            "a Job of the CronJob",
            cron_job_started,
            timeout=max(1.0, created + 70 - time.monotonic()),
        )
        assert started.startswith("every-minute-")
        wait_for("it to complete", lambda: _condition(node, "job", started, "Complete"), timeout=60)
    finally:
        node.kubectl("delete", "cronjob", "every-minute", "--timeout=60s", check=False)
        node.kubectl("delete", "jobs", "--all", "--timeout=60s", check=False)
