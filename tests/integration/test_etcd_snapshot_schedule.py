"""Scheduled etcd snapshots as k3s takes them: a `--cluster-init` server snapshots its member on
`--etcd-snapshot-schedule-cron` into `<data-dir>/db/snapshots` as
`etcd-snapshot-<node>-<unix time>`, keeps `--etcd-snapshot-retention` of them, and never prunes
an on-demand `etcd-snapshot save`.

The schedule is robfig's `@every 10s` (k3s' parser takes it as CronJobs' does), so that two
ticks come within half a minute; a five-field one would take up to two minute marks.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from tests.integration.cluster import Cluster, free_ports, wait_for

ETCDCTL = "/usr/bin/etcdctl"
NODE = "srv-snap"
# Seconds between ticks; each snapshot waits a jitter of up to 5 s after its tick.
EVERY = 10

pytestmark = [
    pytest.mark.skipif(not Path("/usr/bin/etcd").exists(), reason="no etcd"),
    pytest.mark.own_store,
]


def _scheduled(directory: Path) -> list[str]:
    """The scheduled snapshots, oldest first (the unix times in the names have one length)."""
    return sorted(
        p.name for p in directory.glob(f"etcd-snapshot-{NODE}-*") if not p.name.endswith(".part")
    )


def _snapshot_keys(path: Path) -> int:
    status = subprocess.run(
        [ETCDCTL, "snapshot", "status", str(path), "-w", "json"],
        env={**os.environ, "ETCDCTL_API": "3"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return int(json.loads(status.stdout)["totalKey"])


def test_scheduled_snapshots_are_taken_and_pruned_but_on_demand_ones_stay(tmp_path: Path) -> None:
    client_port, peer_port = free_ports(2)
    data_dir = tmp_path / NODE
    cluster = Cluster(
        data_dir=data_dir,
        cache_dir=tmp_path / "cache",
        extra_args=[
            "--cluster-init",
            "--advertise-address", "127.0.0.1",
            "--node-name", NODE,
            "--etcd-client-port", str(client_port),
            "--etcd-peer-port", str(peer_port),
            "--etcd-snapshot-schedule-cron", f"@every {EVERY}s",
            "--etcd-snapshot-retention", "1",
        ],
    )  # fmt: skip
    snapshots = data_dir / "db" / "snapshots"
    cluster.start()
    try:
        saved = cluster.kubelite(
            "etcd-snapshot", "save", "--data-dir", str(data_dir),
            "--etcd-client-port", str(client_port), "--node-name", NODE,
        )  # fmt: skip
        [on_demand] = list(snapshots.glob(f"on-demand-{NODE}-*"))
        assert on_demand.name in saved.stdout

        # Retention 1, so that two ticks show both the save and the pruning.
        first = wait_for("a scheduled snapshot", lambda: _scheduled(snapshots), 3 * EVERY)[0]
        # Each is a whole etcd snapshot of the cluster's keys.
        assert _snapshot_keys(snapshots / first) > 0

        wait_for(
            "a second scheduled snapshot",
            lambda: any(name > first for name in _scheduled(snapshots)),
            3 * EVERY,
        )
        # Retention runs right after the save: the older one goes.
        kept = wait_for(
            "retention 1", lambda: len(_scheduled(snapshots)) == 1 and _scheduled(snapshots), 15
        )
        assert kept[0] > first, (first, kept)
        assert on_demand.exists(), "retention pruned an on-demand snapshot"

        listed = cluster.kubelite(
            "etcd-snapshot", "ls", "--data-dir", str(data_dir)
        ).stdout  # fmt: skip
        for name in (*kept, on_demand.name):
            assert name in listed, listed
        assert cluster.log_path is not None
        log = cluster.log_path.read_text()
        assert f"etcd snapshot {kept[-1]} saved" in log
        assert f"etcd snapshot {snapshots / first} removed (retention 1)" in log
    finally:
        cluster.stop()
