"""A real `kubelite server` in a subprocess, for tests that talk to it over HTTPS.

Each `Cluster` has its own data directory and a port the kernel picked, so tests never share
state with each other or with a cluster on the machine, and it is stopped (or killed) by the
test that started it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes
from tests import kubectl_builds
from tests.etcd_server import EtcdServer

# The real kubectl builds tests drive the server with (docs/kubectl-wire.md), where the machine has
# them: one old release and the newest.
KUBECTL_VERSIONS = kubectl_builds.VERSIONS
# The build a test gets when it asks for none in particular: the newest release, the one the
# server's version matches (1.37), on every machine.
DEFAULT_KUBECTL = kubectl_builds.NEWEST
START_TIMEOUT = 30.0
# The store test servers keep their objects in unless a test picks one itself: "sqlite" (the
# server's default) or "etcd" (`scripts/test.sh --store etcd`).
STORES = ("sqlite", "etcd")
# Flags with which a test chooses its server's store itself (an etcd of its own, or embedded).
_STORE_FLAGS = ("--datastore-endpoint", "--cluster-init", "--server", "--cluster-reset")


def free_ports(n: int) -> list[int]:
    """`n` distinct ports the kernel picked on loopback, free when this returns (for servers
    whose ports a test must name up front, such as an embedded etcd's client and peer)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_store() -> str:
    """The store of this run: KUBELITE_TEST_STORE, which `--store` sets (tests/conftest.py)."""
    store = os.environ.get("KUBELITE_TEST_STORE", "sqlite")
    if store not in STORES:
        raise ValueError(f"KUBELITE_TEST_STORE={store!r}: expected one of {', '.join(STORES)}")
    return store


def wait_for(what: str, check: Any, timeout: float = 30.0) -> Any:
    """Poll `check` until it returns something true, and return that; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


def kubectl_binary(version: str = DEFAULT_KUBECTL) -> str:
    """The build a test asking for `version` runs (kubectl_builds says which, and its version)."""
    return kubectl_builds.find(version).path


def processes_with_args(*args: str) -> list[int]:
    """The pids of the processes whose command line has each of `args` as a whole argument."""
    wanted = [arg.encode() for arg in args]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(arg in argv for arg in wanted):
            found.append(int(entry.name))
    return found


@dataclass
class Cluster:
    data_dir: Path
    cache_dir: Path
    extra_args: list[str] = field(default_factory=list)
    # Whether the server runs its kubelet (real containers, root only); off for API tests.
    agent: bool = False
    # Environment added to the server's (and so its control plane's): KUBELITE_CONTROL_PLANE_*.
    server_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None
    url: str = ""
    log_path: Path | None = None
    # Where the cluster DNS answers (the node's address, a port the kernel picked).
    dns_address: tuple[str, int] | None = None
    # "sqlite" or "etcd": with etcd, the cluster runs a Debian etcd of its own beside its data
    # directory, stopped with it and started again on the same data by the next start().
    store: str = field(default_factory=test_store)
    etcd: EtcdServer | None = None

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig.yaml"

    def start(self) -> None:
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kubelite",
                "server",
                "--data-dir",
                str(self.data_dir),
                "--https-port",
                "0",
                "--bind-address",
                "127.0.0.1",
                *self.extra_args,
                *self._store_args(),
                *([] if self.agent else ["--disable-agent"]),
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            # The control plane's /metrics port (10257) is one per machine: off unless a test
            # asks for it, since test clusters run side by side; so is DNS' port 53.
            env={
                "KUBELITE_CONTROL_PLANE_SECURE_PORT": "0",
                "KUBELITE_CLUSTER_DNS_PORT": "0",
                **os.environ,
                **self.server_env,
            },
        )
        try:
            self._wait_until_serving()
        except BaseException:
            # Nothing outlives a start that failed: neither the server nor its etcd.
            self.stop()
            raise

    def _wait_until_serving(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"kubelite server exited: see {self.log_path}")
            dns = re.search(r"cluster DNS listening on (\S+):(\d+)", line)
            if dns:
                self.dns_address = (dns.group(1), int(dns.group(2)))
            found = re.search(r"listening on (https://\S+)", line)
            if found:
                self.url = found.group(1)
                # Ready as kind and k3d call a cluster ready: its `default` service account
                # exists, so pods may be created (ServiceAccount admission wants it).
                self.wait_for_service_account("default")
                return
        raise TimeoutError("kubelite server did not start")

    def wait_for_service_account(self, namespace: str, timeout: float = START_TIMEOUT) -> None:
        """Wait for the controller manager to make the namespace's `default` account, as
        Kubernetes' e2e framework does after making a namespace."""
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/default"
        wait_for(
            f"the default service account of {namespace}",
            lambda: self.request("GET", path)[0] == 200,
            timeout,
        )

    def _store_args(self) -> list[str]:
        """`--datastore-endpoint` of the cluster's etcd (started here), if it runs on one."""
        if self.store != "etcd" or any(flag in self.extra_args for flag in _STORE_FLAGS):
            return []
        if self.etcd is None:
            self.etcd = EtcdServer.start(self.data_dir.parent / f"{self.data_dir.name}-etcd")
        elif self.etcd.process is None:
            self.etcd.restart()
        return ["--datastore-endpoint", self.etcd.endpoint]

    def stop(self) -> None:
        self._stop_server()
        if self.etcd is not None:
            self.etcd.stop()

    def _stop_server(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no chance to flush or close anything."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        self.process = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["KUBECACHEDIR"] = str(self.cache_dir)
        env["HOME"] = str(self.cache_dir)
        # A developer's kuberc (KUBERC, ~/.kube/kuberc) must not change what kubectl prints;
        # tests of kuberc itself set their own.
        env["KUBECTL_KUBERC"] = "false"
        env.pop("KUBERC", None)
        return env

    def kubectl(
        self,
        *args: str,
        version: str = DEFAULT_KUBECTL,
        stdin: str | None = None,
        check: bool = True,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [kubectl_binary(version), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def agent_pid(self, *, missing_ok: bool = False) -> int:
        """The node's kubelet process (`kubelite agent`), which the server restarts when it dies;
        0 when none runs and `missing_ok`."""
        found = processes_with_args("agent", str(self.data_dir))
        if found:
            return found[0]
        if missing_ok:
            return 0
        raise AssertionError("no kubelite agent runs for this node")

    @staticmethod
    def kubectl_build(version: str = DEFAULT_KUBECTL) -> kubectl_builds.KubectlBuild:
        """The build `kubectl(..., version=version)` runs, to know which text it prints."""
        return kubectl_builds.find(version)

    def kubelite(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "kubelite", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubelite {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        authenticated: bool = True,
        accept: str = "",
    ) -> tuple[int, Any, dict[str, str]]:
        """A raw HTTPS request as the admin (client certificate) or as nobody.

        `body` may be bytes or a JSON value; the answer is decoded as JSON when it is JSON.
        """
        tls = self.data_dir / "tls"
        context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
        if authenticated:
            context.load_cert_chain(str(tls / "admin.crt"), str(tls / "admin.key"))
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        if accept:
            request.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(request, context=context, timeout=30) as response:
                raw, status, headers = response.read(), response.status, dict(response.headers)
        except urllib.error.HTTPError as err:
            raw, status, headers = err.read(), err.code, dict(err.headers)
        if headers.get("Content-Type", "").startswith("application/json") and raw:
            return status, json.loads(raw), headers
        return status, raw, headers

    def client(self) -> kubernetes.client.ApiClient:
        """The official Python client, configured from the admin kubeconfig."""
        config = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(
            config_file=str(self.kubeconfig), client_configuration=config
        )
        return kubernetes.client.ApiClient(config)
