"""`kubelite proxy --kubeconfig F` as a process: it lists the cluster's Services and slices,
programs a table of the name it is given, keeps it when stopped (so that a restart interrupts
nothing), and `kubelite reset` removes it.

The test cluster gets a service range of its own, so that the table it puts on this machine
(the process runs in the machine's own network namespace, as kube-proxy does) cannot capture
the addresses of any other cluster here.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.cluster import Cluster

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("nft") is None,
        reason="needs root and nft to program the machine's nftables",
    ),
]


def _server_flags() -> str:
    return subprocess.run(
        [sys.executable, "-m", "kubelite", "server", "--help"], capture_output=True, text=True
    ).stdout


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Cluster, str]]:
    if "--service-cidr" not in _server_flags():
        pytest.skip("this server has no --service-cidr to give the test a range of its own")
    prefix = f"10.{200 + secrets.randbelow(50)}.{secrets.randbelow(250)}"
    c = Cluster(
        tmp_path / "data",
        tmp_path / "cache",
        extra_args=[
            "--disable-scheduler",
            "--advertise-address",
            "127.0.0.1",
            "--service-cidr",
            f"{prefix}.0/24",
        ],
    )
    c.start()
    try:
        yield c, f"{prefix}.1"
    finally:
        c.stop()


def _table(name: str) -> str:
    done = subprocess.run(["nft", "list", "table", "inet", name], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else ""


def test_kubelite_proxy_programs_its_table_and_reset_removes_it(
    cluster: tuple[Cluster, str], tmp_path: Path
) -> None:
    server, kubernetes_ip = cluster
    table = f"kubelite-cli{secrets.token_hex(3)}"
    log = (tmp_path / "proxy.log").open("w")
    proxy = subprocess.Popen(
        [
            sys.executable, "-m", "kubelite", "proxy",
            "--kubeconfig", str(server.kubeconfig),
            "--hostname-override", "cli-node",
            "--node-ip", "127.0.0.1",
            "--nftables-table", table,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        # The `kubernetes` Service, in `service-ips` or `no-endpoint-services` (whether it has
        # an endpoint is the API server's business: here it advertises a loopback address).
        while f"{kubernetes_ip} . tcp . 443 : goto " not in _table(table):
            assert proxy.poll() is None, (tmp_path / "proxy.log").read_text()
            assert time.monotonic() < deadline, _table(table) or "no table"
            time.sleep(0.1)
        proxy.send_signal(signal.SIGTERM)
        assert proxy.wait(10) == 0
        # Stopped, the proxy leaves its rules: open connections keep flowing until the next
        # one starts.
        assert kubernetes_ip in _table(table)
    finally:
        if proxy.poll() is None:
            proxy.kill()
            proxy.wait()
        reset = subprocess.run(
            [
                sys.executable, "-m", "kubelite", "reset",
                "--data-dir", str(tmp_path / "node"), "--bridge", "kpxnone",
                "--proxy-nftables-table", table,
            ],
            capture_output=True,
            text=True,
        )  # fmt: skip
    assert reset.returncode == 0, reset.stderr
    assert _table(table) == ""
