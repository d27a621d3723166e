"""The control plane's HTTPS endpoint: /healthz, and client-go's work-queue metrics per
controller on /metrics, as kube-controller-manager serves them on its secure port."""

from __future__ import annotations

import json
import socket
import ssl
import urllib.request
from collections.abc import Iterator

import pytest
from cluster import Cluster, wait_for


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, int]]:
    base = tmp_path_factory.mktemp("metrics")
    port = _free_port()
    c = Cluster(
        base / "data",
        base / "cache",
        extra_args=["--disable-scheduler"],
        server_env={"KUBELITE_CONTROL_PLANE_SECURE_PORT": str(port)},
    )
    c.start()
    try:
        yield c, port
    finally:
        c.stop()


def _get(port: int, path: str) -> str:
    # A self-signed certificate, as kube-controller-manager makes without --tls-cert-file.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(
        f"https://127.0.0.1:{port}{path}", context=context, timeout=10
    ) as r:
        return r.read().decode()


def _samples(text: str, name: str) -> dict[str, float]:
    """Sample label sets (as written) -> value, for one metric name."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, _, value = line[len(name) :].rpartition(" ")
            found[labels] = float(value)
    return found


def test_healthz_and_work_queue_metrics(served: tuple[Cluster, int]) -> None:
    cluster, port = served
    assert wait_for("/healthz", lambda: _probe(port), 30) == "ok"
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "counted"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "counted"}},
            "template": {
                "metadata": {"labels": {"app": "counted"}},
                "spec": {"containers": [{"name": "c", "image": "registry.local/app:1"}]},
            },
        },
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(rs))
    wait_for(
        "the ReplicaSet's pods",
        lambda: (
            len(
                json.loads(
                    cluster.kubectl("get", "pods", "-l", "app=counted", "-o", "json").stdout
                )["items"]
            )
            == 2
        ),
    )

    def adds() -> float:
        text = _get(port, "/metrics")
        return _samples(text, "workqueue_adds_total").get('{name="replicaset"}', 0.0)

    assert wait_for("replicaset adds counted", adds) >= 1
    text = _get(port, "/metrics")
    for name in ("replicaset", "deployment", "statefulset", "namespace"):
        assert f'{{name="{name}"}}' in _samples(text, "workqueue_depth"), name
    work = _samples(text, "workqueue_work_duration_seconds_count")
    assert work.get('{name="replicaset"}', 0) >= 1
    assert (
        "workqueue_retries_total" in text and "workqueue_longest_running_processor_seconds" in text
    )


def _probe(port: int) -> str | None:
    try:
        return _get(port, "/healthz")
    except OSError:
        return None
