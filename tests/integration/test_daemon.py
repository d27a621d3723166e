"""`kubelite start` brings a server up in the background; `kubelite stop` takes it down."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from cluster import kubectl_binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kubelite(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubelite", *args], capture_output=True, text=True, timeout=90
    )


def test_start_then_stop(tmp_path: Path):
    data = tmp_path / "data"
    port = _free_port()
    started = _kubelite(
        "start",
        "--data-dir",
        str(data),
        "--https-port",
        str(port),
        "--bind-address",
        "127.0.0.1",
        "--disable-agent",
    )
    try:
        assert started.returncode == 0, started.stderr
        assert f"kubeconfig: {data / 'kubeconfig.yaml'}" in started.stdout
        pid = int((data / "server.pid").read_text())
        env = dict(
            os.environ,
            KUBECONFIG=str(data / "kubeconfig.yaml"),
            KUBECACHEDIR=str(tmp_path / "cache"),
            # A developer's ~/.kube/kuberc must not change what kubectl prints here.
            KUBECTL_KUBERC="false",
        )
        names = subprocess.run(
            [kubectl_binary(), "get", "namespaces", "-o", "name"],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
            check=True,
        ).stdout.split()
        assert "namespace/default" in names
        again = _kubelite("start", "--data-dir", str(data), "--https-port", str(port))
        assert f"already running (pid {pid})" in again.stdout
    finally:
        stopped = _kubelite("stop", "--data-dir", str(data))
    assert stopped.returncode == 0
    assert "stopped" in stopped.stdout
    assert not (data / "server.pid").exists()
    assert not Path(f"/proc/{pid}").exists()
