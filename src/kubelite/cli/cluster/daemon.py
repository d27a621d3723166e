"""`kubelite start` and `kubelite stop`: the server as a background process.

Machines without systemd (these ones, many edge boxes) still need a one-command way to bring a
cluster up and down. `start` launches `kubelite server` detached from the terminal, logging to
`<data-dir>/server.log` and recording its pid in `<data-dir>/server.pid`, and returns once the
API server answers `/readyz`; `stop` sends SIGTERM and waits for a clean shutdown.
"""

from __future__ import annotations

import argparse
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from kubelite.cli.cluster import server
from kubelite.runtime.images.records import pid_alive

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def _pid_file(data_dir: Path) -> Path:
    return data_dir / "server.pid"


def _read_pid(data_dir: Path) -> int | None:
    try:
        pid = int(_pid_file(data_dir).read_text().strip())
    except (OSError, ValueError):
        return None
    # pid_alive refuses 0 and negative numbers: a corrupt pid file must not make `stop`
    # signal its own process group (kill(0, ...)) or every process (kill(-1, ...)).
    return pid if pid_alive(pid) else None


def _ready(data_dir: Path, port: int) -> bool:
    """The API server is ready and the `default` namespace has its `default` service account
    (what kind and k3d wait for too): until the controller manager has made it, ServiceAccount
    admission refuses pods there, so a first `kubectl apply` right after `start` would fail."""
    tls = data_dir / "tls"
    context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    base = f"https://127.0.0.1:{port}"
    try:
        with urllib.request.urlopen(f"{base}/readyz", context=context, timeout=2) as response:
            if response.status != 200:
                return False
        context.load_cert_chain(str(tls / "admin.crt"), str(tls / "admin.key"))
        with urllib.request.urlopen(
            f"{base}/api/v1/namespaces/default/serviceaccounts/default",
            context=context,
            timeout=2,
        ) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False


def start(args: argparse.Namespace) -> int:
    flags = server.flags_from(args)
    flags.data_dir.mkdir(parents=True, exist_ok=True)
    pid = _read_pid(flags.data_dir)
    if pid is not None:
        print(f"kubelite server is already running (pid {pid})")
        return 0
    command = [sys.executable, "-m", "kubelite", "server", *args.server_argv]
    log_path = flags.data_dir / "server.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    _pid_file(flags.data_dir).write_text(f"{process.pid}\n")
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            print(f"error: kubelite server exited; see {log_path}", file=sys.stderr)
            return 1
        if (flags.data_dir / "tls" / "ca.crt").exists() and _ready(
            flags.data_dir, flags.https_port
        ):
            for path in server.kubeconfig_paths(flags):
                print(f"kubeconfig: {path}")
            print(f"kubelite server is running (pid {process.pid}); log: {log_path}")
            print(f"try: export KUBECONFIG={server.kubeconfig_paths(flags)[-1]}; kubectl get ns")
            return 0
        time.sleep(0.2)
    print(f"error: kubelite server did not become ready; see {log_path}", file=sys.stderr)
    return 1


def stop(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir)
    pid = _read_pid(data_dir)
    if pid is None:
        print("kubelite server is not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    _pid_file(data_dir).unlink(missing_ok=True)
    print(f"kubelite server stopped (pid {pid})")
    return 0
