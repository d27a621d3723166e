"""`kubelite server --datastore-endpoint`: the cluster's objects in a real etcd (over TLS with a
client certificate), and the server riding out etcd going away and coming back."""

from __future__ import annotations

import json
import selectors
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster import Cluster, kubectl_binary, wait_for
from tests.etcd_server import EtcdServer

# An etcd of its own: the same in both passes of scripts/test.sh, run in the SQLite one.
pytestmark = [pytest.mark.integration, pytest.mark.own_store]

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "NAME"},
    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
}


def _pod(name: str) -> str:
    pod = json.loads(json.dumps(POD))
    pod["metadata"]["name"] = name
    return json.dumps(pod)


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[EtcdServer]:
    server = EtcdServer.start(tmp_path / "etcd", tls=True)
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def cluster(tmp_path: Path, etcd: EtcdServer) -> Iterator[Cluster]:
    c = Cluster(
        tmp_path / "data",
        tmp_path / "cache",
        extra_args=[
            "--disable-scheduler",
            "--datastore-endpoint",
            etcd.endpoint,
            "--datastore-cafile",
            str(etcd.ca_file),
            "--datastore-certfile",
            str(etcd.cert_file),
            "--datastore-keyfile",
            str(etcd.key_file),
        ],
    )
    try:
        c.start()
        yield c
    finally:
        c.stop()


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        assert selector.select(timeout), "kubectl --watch printed nothing in time"
    return process.stdout.readline().strip()


def test_pods_live_in_etcd_and_the_server_rides_out_an_outage(
    cluster: Cluster, etcd: EtcdServer
) -> None:
    cluster.kubectl("create", "-f", "-", stdin=_pod("web"))
    got = json.loads(cluster.kubectl("get", "pod", "web", "-o", "json").stdout)
    assert got["metadata"]["name"] == "web"
    listed = cluster.kubectl("get", "pods", "-o", "name").stdout.split()
    assert listed == ["pod/web"]

    # A watch follows what is written next: it lists (web), then watches from the list.
    watcher = subprocess.Popen(
        [kubectl_binary(), "get", "pods", "--watch", "-o", "name"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=cluster.env(),
    )
    try:
        assert _read_line(watcher, 20) == "pod/web"
        cluster.kubectl("create", "-f", "-", stdin=_pod("db"))
        assert _read_line(watcher, 20) == "pod/db"
    finally:
        watcher.kill()
        watcher.wait()

    # The pod is in etcd under kube-apiserver's key, as JSON.
    out = etcd.etcdctl("get", "--prefix", "/registry/pods/default/", "--print-value-only")
    stored = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert sorted(p["metadata"]["name"] for p in stored) == ["db", "web"]
    assert int(got["metadata"]["resourceVersion"]) > 0

    etcd.stop()
    failed = cluster.kubectl("get", "pods", check=False)
    assert failed.returncode != 0
    assert "ServiceUnavailable" in failed.stderr, failed.stderr
    assert f"the datastore at {etcd.endpoint} can't be reached" in failed.stderr
    status, body, _ = cluster.request("GET", "/api/v1/namespaces/default/pods/web")
    assert status == 503 and body["reason"] == "ServiceUnavailable"
    for path in ("/readyz", "/readyz/etcd", "/livez/etcd"):
        assert cluster.request("GET", path)[0] == 500, path
    verbose = cluster.request("GET", "/readyz?verbose")[1]
    assert b"[-]etcd failed" in verbose

    etcd.restart()
    wait_for("the server to reach etcd again", lambda: cluster.request("GET", "/readyz")[0] == 200)
    assert cluster.request("GET", "/livez/etcd")[0] == 200
    listed = cluster.kubectl("get", "pods", "-o", "name").stdout.split()
    assert listed == ["pod/db", "pod/web"]
    cluster.kubectl("delete", "pod", "web", "--wait=false")
    assert etcd.etcdctl("get", "/registry/pods/default/web", "--print-value-only").strip() == ""
    # The server started its watch relay, control plane and cluster DNS while gRPC calls were
    # in flight; with gRPC's fork support on, each start logged a line about fork handlers.
    assert cluster.log_path is not None
    assert "fork() handlers" not in cluster.log_path.read_text()
