"""The control plane's HTTPS endpoint: /healthz, and client-go's work-queue metrics per
controller on /metrics, as kube-controller-manager serves them on its secure port."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import yaml
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


def _context(cluster: Cluster | None = None) -> ssl.SSLContext:
    """A client context for the self-signed port (as kube-controller-manager makes without
    --tls-cert-file), presenting the admin's certificate when `cluster` is given."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if cluster is not None:
        kubeconfig = yaml.safe_load(cluster.kubeconfig.read_text())
        user = kubeconfig["users"][0]["user"]
        folder = cluster.data_dir.parent / "metrics-client"
        folder.mkdir(exist_ok=True)
        cert, key = folder / "admin.crt", folder / "admin.key"
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        context.load_cert_chain(cert, key)
    return context


def _fetch(port: int, path: str, context: ssl.SSLContext, token: str = "") -> tuple[int, str]:
    request = urllib.request.Request(f"https://127.0.0.1:{port}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _get(port: int, path: str, cluster: Cluster | None = None) -> str:
    status, body = _fetch(port, path, _context(cluster))
    assert status == 200, (status, body)
    return body


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
        text = _get(port, "/metrics", cluster)
        return _samples(text, "workqueue_adds_total").get('{name="replicaset"}', 0.0)

    assert wait_for("replicaset adds counted", adds) >= 1
    text = _get(port, "/metrics", cluster)
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


def test_metrics_callers_are_authorized_by_the_api_server(served: tuple[Cluster, int]) -> None:
    cluster, port = served
    assert wait_for("/healthz", lambda: _probe(port), 30) == "ok"
    # Health is open to anyone; the metrics are not.
    assert _fetch(port, "/readyz", _context()) == (200, "ok")
    status, body = _fetch(port, "/metrics", _context())
    assert status == 403
    assert json.loads(body)["message"] == (
        'forbidden: User "system:anonymous" cannot get path "/metrics"'
    )
    # A token the API server does not know is a 401.
    assert _fetch(port, "/metrics", _context(), token="not-a-token")[0] == 401
    # A service account's token is reviewed: refused until bound to system:monitoring.
    cluster.kubectl("create", "serviceaccount", "scraper", "-n", "default")
    token = cluster.kubectl("create", "token", "scraper", "-n", "default").stdout.strip()
    status, body = _fetch(port, "/metrics", _context(), token=token)
    assert (status, json.loads(body)["message"]) == (
        403,
        'forbidden: User "system:serviceaccount:default:scraper" cannot get path "/metrics"',
    )
    cluster.kubectl(
        "create",
        "clusterrolebinding",
        "scraper-monitoring",
        "--clusterrole=system:monitoring",
        "--serviceaccount=default:scraper",
    )
    # The refusal is remembered for 10 s, as kube-controller-manager's cache does.
    allowed = wait_for(
        "the scraper allowed",
        lambda: _fetch(port, "/metrics", _context(), token=token)[0] == 200,
        30,
    )
    assert allowed
    assert "workqueue_depth" in _fetch(port, "/metrics", _context(), token=token)[1]
