"""Embedded etcd as k3s runs it: `--cluster-init`, a second server joining with the server
token, a wrong token refused, member removal with the Node, and snapshot save and restore.

Both servers run on 127.0.0.1 with ports the kernel picked and data dirs of their own; no root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.cluster import Cluster, free_ports, wait_for

ETCDCTL = "/usr/bin/etcdctl"
POD = """
apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  containers: [{name: c, image: busybox}]
"""

pytestmark = [
    pytest.mark.skipif(not Path("/usr/bin/etcd").exists(), reason="no etcd"),
    pytest.mark.own_store,
]


def _etcd_args(name: str, client: int, peer: int) -> list[str]:
    return [
        "--advertise-address",
        "127.0.0.1",
        "--node-name",
        name,
        "--etcd-client-port",
        str(client),
        "--etcd-peer-port",
        str(peer),
    ]


def etcdctl(data_dir: Path, client_port: int, *args: str) -> str:
    tls = data_dir / "tls" / "etcd"
    result = subprocess.run(
        [
            ETCDCTL,
            f"--endpoints=https://127.0.0.1:{client_port}",
            f"--cacert={tls / 'server-ca.crt'}",
            f"--cert={tls / 'client.crt'}",
            f"--key={tls / 'client.key'}",
            *args,
        ],
        env={**os.environ, "ETCDCTL_API": "3"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout


def member_list(data_dir: Path, client_port: int) -> list[dict[str, object]]:
    listing = json.loads(etcdctl(data_dir, client_port, "member", "list", "-w", "json"))
    return list(listing["members"])


def member_names(data_dir: Path, client_port: int) -> list[str]:
    return sorted(str(m.get("name", "")) for m in member_list(data_dir, client_port))


class Server:
    def __init__(self, tmp: Path, name: str, extra: list[str]) -> None:
        self.client_port, self.peer_port = free_ports(2)
        self.name = name
        self.cluster = Cluster(
            data_dir=tmp / name,
            cache_dir=tmp / f"{name}-cache",
            extra_args=[*_etcd_args(name, self.client_port, self.peer_port), *extra],
        )

    @property
    def data_dir(self) -> Path:
        return self.cluster.data_dir

    def members(self) -> list[str]:
        return member_names(self.data_dir, self.client_port)


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedded-etcd")


@pytest.fixture(scope="module")
def first(tmp: Path) -> Iterator[Server]:
    server = Server(tmp, "srv-a", ["--cluster-init"])
    try:
        server.cluster.start()
        yield server
    finally:
        server.cluster.stop()


def test_cluster_init_keeps_the_objects_in_its_etcd(first: Server) -> None:
    first.cluster.kubectl("apply", "-f", "-", stdin=POD % "web")
    keys = etcdctl(
        first.data_dir, first.client_port, "get", "--prefix", "--keys-only", "/registry/pods"
    )
    assert "/registry/pods/default/web" in keys
    assert [n.startswith("srv-a-") for n in first.members()] == [True]
    assert (first.data_dir / "db" / "etcd" / "member" / "wal").is_dir()


def _join(tmp: Path, first: Server, token: str, name: str) -> subprocess.CompletedProcess[str]:
    client, peer = free_ports(2)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "kubelite",
            "server",
            "--data-dir",
            str(tmp / name),
            "--https-port",
            "0",
            "--bind-address",
            "127.0.0.1",
            "--disable-agent",
            "--server",
            first.cluster.url,
            "--token",
            token,
            *_etcd_args(name, client, peer),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KUBELITE_CONTROL_PLANE_SECURE_PORT": "0"},
    )


def test_a_wrong_token_is_refused_and_nothing_changes(tmp: Path, first: Server) -> None:
    good = (first.data_dir / "token").read_text().strip()
    wrong = good.rsplit(":", 1)[0] + ":" + "0" * 32
    result = _join(tmp, first, wrong, "srv-wrong")
    assert result.returncode == 1, result.stderr
    assert "401" in result.stderr and "token" in result.stderr
    assert not (tmp / "srv-wrong").exists() or not any((tmp / "srv-wrong").iterdir())
    # The agent's token opens no server join either.
    node_token = (first.data_dir / "node-token").read_text().strip()
    result = _join(tmp, first, node_token, "srv-node")
    assert result.returncode == 1
    assert "403" in result.stderr
    assert not (tmp / "srv-node").exists() or not any((tmp / "srv-node").iterdir())
    assert len(first.members()) == 1


def test_a_second_server_joins_and_both_serve_the_same_objects(tmp: Path, first: Server) -> None:
    token = (first.data_dir / "token").read_text().strip()
    second = Server(tmp, "srv-b", ["--server", first.cluster.url, "--token", token])
    try:
        second.cluster.start()
        names = first.members()
        assert len(names) == 2 and names[1].startswith("srv-b-"), names
        assert second.members() == names
        # It joined as a learner (MemberAdd's answer, in its log), the first server, the etcd
        # leader, promoted it, and it served only then: a voter now (etcdctl's JSON leaves
        # isLearner out when false).
        assert second.cluster.log_path is not None and first.cluster.log_path is not None
        assert "isLearner=true" in second.cluster.log_path.read_text()
        assert f"promoted etcd learner {names[1]}" in first.cluster.log_path.read_text()
        listing = member_list(first.data_dir, first.client_port)
        assert [m.get("isLearner", False) for m in listing] == [False, False], listing
        # What one server wrote, the other serves.
        pods = second.cluster.kubectl("get", "pods", "-o", "name").stdout
        assert "pod/web" in pods
        second.cluster.kubectl("apply", "-f", "-", stdin=POD % "from-b")
        assert "pod/from-b" in first.cluster.kubectl("get", "pods", "-o", "name").stdout
        # Deleting the second server's Node removes its member (k3s' member controller);
        # without a kubelet here, the Node is made by hand and marked by its server.
        first.cluster.kubectl(
            "apply", "-f", "-", stdin="apiVersion: v1\nkind: Node\nmetadata: {name: srv-b}\n"
        )
        wait_for(
            "srv-b's Node to carry its etcd member's name",
            lambda: (
                "etcd.kubelite.io/node-name"
                in first.cluster.kubectl("get", "node", "srv-b", "-o", "json").stdout
            ),
        )
        # The server whose member leads sets k3s' EtcdIsVoter condition on each etcd Node
        # from the member list (etcd/voter_condition.py, every 15 s as k3s' learner tick).
        voter = wait_for(
            "srv-b's Node condition EtcdIsVoter=True",
            lambda: _voter_condition(first, "srv-b"),
            timeout=60,
        )
        assert voter["reason"] == "MemberNotLearner", voter
        assert voter["message"] == "Node is a voting member of the etcd cluster", voter
        # srv-a has no Node (no agent): nothing to set there, and nothing to complain about.
        assert "etcd voter condition" not in first.cluster.log_path.read_text()
        first.cluster.kubectl("delete", "node", "srv-b")
        wait_for("srv-b's member to be removed", lambda: len(first.members()) == 1)
    finally:
        second.cluster.stop()
    first.cluster.kubectl("delete", "pod", "from-b", "--wait=false")


def _voter_condition(server: Server, node: str) -> dict[str, object] | None:
    """The Node's EtcdIsVoter condition once True; None (after a second's pause) before."""
    got = json.loads(server.cluster.kubectl("get", "node", node, "-o", "json").stdout)
    for condition in got.get("status", {}).get("conditions") or []:
        if condition.get("type") == "EtcdIsVoter" and condition.get("status") == "True":
            return dict(condition)
    time.sleep(1)
    return None


def _run_once(server: Server, *flags: str) -> subprocess.CompletedProcess[str]:
    """`kubelite server` on `server`'s data dir and ports, run to its exit (a reset run)."""
    return subprocess.run(
        [
            sys.executable, "-m", "kubelite", "server", "--data-dir", str(server.data_dir),
            "--https-port", "0", "--bind-address", "127.0.0.1", "--disable-agent",
            *_etcd_args(server.name, server.client_port, server.peer_port), *flags,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "KUBELITE_CONTROL_PLANE_SECURE_PORT": "0"},
    )  # fmt: skip


def test_a_snapshot_restores_the_objects_after_the_data_is_wiped(tmp: Path, first: Server) -> None:
    snapshots = tmp / "snapshots"
    saved = first.cluster.kubelite(
        "etcd-snapshot",
        "save",
        "--data-dir",
        str(first.data_dir),
        "--etcd-client-port",
        str(first.client_port),
        "--etcd-snapshot-dir",
        str(snapshots),
        "--name",
        "before",
        "--node-name",
        "srv-a",
    )
    [snapshot] = list(snapshots.iterdir())
    assert snapshot.name.startswith("before-srv-a-"), saved.stdout
    listed = first.cluster.kubelite(
        "etcd-snapshot", "ls", "--etcd-snapshot-dir", str(snapshots)
    ).stdout
    assert snapshot.name in listed
    first.cluster.kubectl("apply", "-f", "-", stdin=POD % "after")
    first.cluster.stop()
    db = first.data_dir / "db"
    shutil.rmtree(db / "etcd")
    marker = db / "reset-flag"

    # As k3s: the reset run restores, confirms the member is alone, leaves the marker and
    # exits 0 asking for a start without the flags; it serves nothing meanwhile.
    restore = ("--cluster-reset", "--cluster-reset-restore-path", str(snapshot))
    done = _run_once(first, *restore)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "etcd cluster membership has been reset" in done.stdout
    assert "without --cluster-reset" in done.stdout
    assert "listening on https" not in done.stdout + done.stderr
    assert marker.is_file()

    # --cluster-reset again before a normal start: refused, naming the marker (k3s).
    again = _run_once(first, "--cluster-reset")
    assert again.returncode == 1, again.stdout + again.stderr
    assert f"{marker} is there" in again.stderr and "without --cluster-reset" in again.stderr
    # With the restore path still given, k3s does not look at the marker: it restores again
    # (setting the restored data aside first) and exits again.
    assert not list(db.glob("etcd-old-*"))
    twice = _run_once(first, *restore)
    assert twice.returncode == 0, twice.stdout + twice.stderr
    assert "etcd cluster membership has been reset" in twice.stdout
    assert len(list(db.glob("etcd-old-*"))) == 1

    # Started without the flags: the restored objects, one member, the marker gone.
    first.cluster.extra_args = _etcd_args("srv-a", first.client_port, first.peer_port)
    first.cluster.start()
    pods = first.cluster.kubectl("get", "pods", "-o", "name").stdout
    assert "pod/web" in pods and "pod/after" not in pods
    [name] = first.members()
    assert name.startswith("srv-a-")
    assert not marker.exists()
    # Now a plain --cluster-reset may run again (the marker is gone).
    first.cluster.stop()
    third = _run_once(first, "--cluster-reset")
    assert third.returncode == 0, third.stdout + third.stderr
    assert marker.is_file()
