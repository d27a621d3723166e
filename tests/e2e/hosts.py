"""Several "machines" on one: each a network namespace on a test bridge, running a kubelite.

A `Hosts` owns a Linux bridge in the root namespace (the "switch") with one gateway address per
test subnet (172.31.<random>.1/24, a private range Docker and k3s leave alone), and a registry
on that bridge that holds the example images (`images/`) as docker.io's mirror. Each `Host`
is a network namespace wired to the bridge by a veth pair (`eth0` inside), with its own
address, a default route via the bridge, and its own `--data-dir`. Hosts on one subnet are
directly connected; hosts on different subnets reach each other through the root namespace,
which routes between the subnets as a router would.

Processes run in a host with `nsenter --net=/run/netns/<ns>`: only the network namespace is
the host's. `ip netns exec` would also unshare the mount namespace (and remount /sys): the
overlay mounts, pinned pod namespaces and volume mounts a kubelet makes inside would then be
invisible from the root mount namespace, where `kubelite reset` and the tests' checks for
leftover mounts look. Nothing in kubelite's runtime reads /sys/class/net (the CNI plugins talk
netlink, and /proc/sys/net follows the caller's network namespace), so the root /sys is fine.

In separate network namespaces two kubelites need nothing apart but `--data-dir` and node name:
ports (6443, 10250, the cluster DNS'), bridges (`kubelite0`), the service proxy's nftables table
and iptables are all per namespace. The cgroup root (/kubelite) is shared, as on one machine
with test_join's second agent: pods' cgroups are by pod UID, and reset removes only empty ones.

    with Hosts(tmp_path) as hosts:
        a = hosts.add("a")
        server = hosts.start_server(a)
        b = hosts.start_agent(hosts.add("b"), server)
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.cluster import kubectl_binary

API_PORT = 6443
START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
# The example images the hosts can pull (as docker.io/library/<name>).
IMAGES = ["busybox"]


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll `check` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


def _netns_inode(path: str) -> int:
    return os.stat(path).st_ino


@dataclass
class Host:
    """One machine: a network namespace, an address on the test bridge, a data directory."""

    name: str
    netns: str
    veth: str  # the root namespace's end of its cable
    address: str
    prefix: int
    gateway: str
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    role: str = ""

    @property
    def netns_path(self) -> str:
        return f"/run/netns/{self.netns}"

    def argv(self, *argv: str) -> list[str]:
        """`argv` as run inside this host."""
        return ["nsenter", f"--net={self.netns_path}", "--", *argv]

    def run(
        self, *argv: str, check: bool = True, timeout: float = 60, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the host, e.g. `host.run("curl", "-s", url)`."""
        done = subprocess.run(
            self.argv(*argv), input=stdin, capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(
                f"on {self.name}: {' '.join(argv)} failed ({done.returncode}):\n"
                f"{done.stdout}\n{done.stderr}"
            )
        return done

    def kubelite(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, "-m", "kubelite", *args, check=check, timeout=120)

    def pids(self) -> list[int]:
        """Every process whose network namespace is this host's (its kubelite and children,
        conmon included; containers have namespaces of their own)."""
        try:
            inode = _netns_inode(self.netns_path)
        except OSError:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if os.stat(entry / "ns" / "net").st_ino == inode:
                        found.append(int(entry.name))
        return found

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


@dataclass
class Server:
    """A `kubelite server` running on a host: how agents join it and how tests reach it."""

    host: Host
    url: str
    token: str
    kubeconfig: Path  # the admin's, pointing at the host's address (usable from the root ns)
    cache_dir: Path

    def kubectl(
        self, *args: str, check: bool = True, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HOME": str(self.cache_dir)}
        env["KUBECACHEDIR"] = str(self.cache_dir)
        env["KUBECTL_KUBERC"] = "false"
        done = subprocess.run(
            [kubectl_binary(), *args], input=stdin, capture_output=True, text=True, env=env,
            timeout=timeout, check=False,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {done.stdout}\n{done.stderr}")
        return done

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)


@dataclass
class Hosts:
    """The test bridge, its registry and its hosts; `close` leaves nothing behind."""

    base: Path
    subnets: int = 2
    tag: str = field(default_factory=lambda: secrets.token_hex(2))
    hosts: list[Host] = field(default_factory=list)
    gateways: list[ipaddress.IPv4Interface] = field(default_factory=list)
    registry: subprocess.Popen[bytes] | None = None
    registry_address: str = ""
    registries_config: Path | None = None

    @property
    def bridge(self) -> str:
        return f"klhb{self.tag}"

    def __enter__(self) -> Hosts:
        try:
            self.setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the switch and the registry ----------------------------------------------------------

    def setup(self) -> None:
        third = int(self.tag, 16) % 200 + 16
        self.gateways = [
            ipaddress.IPv4Interface(f"172.31.{(third + i) % 256}.1/24") for i in range(self.subnets)
        ]
        _ip("link", "add", self.bridge, "type", "bridge")
        for gateway in self.gateways:
            _ip("addr", "add", str(gateway), "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        # The root namespace routes between the subnets, as the router between two racks.
        Path("/proc/sys/net/ipv4/ip_forward").write_text("1")
        self._start_registry()

    def _start_registry(self) -> None:
        """docker-registry with the example images: pushed over loopback (plain HTTP, as the
        image client speaks to loopback registries), then served on the bridge's first address
        for the hosts, which name it `http://...` as docker.io's mirror."""
        from images import build, publish
        from images.recipe import load_all, select

        storage = self.base / "registry"
        storage.mkdir(parents=True, exist_ok=True)
        self.registry_address = f"127.0.0.1:{_free_port('127.0.0.1')}"
        self._run_registry(storage)
        for recipe in select(IMAGES, load_all()):
            built = build.build(
                recipe, cache_dir=build.cache_dir_from_env(), out_dir=storage / "out"
            )
            publish.push(built.archive, recipe.references, self.registry_address)
        self._stop_registry()
        gateway = str(self.gateways[0].ip)
        self.registry_address = f"{gateway}:{_free_port(gateway)}"
        self._run_registry(storage)
        self.registries_config = self.base / "registries.yaml"
        self.registries_config.write_text(
            f'mirrors:\n  docker.io:\n    endpoint: ["http://{self.registry_address}"]\n'
        )

    def _run_registry(self, storage: Path) -> None:
        config = storage / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {storage / 'data'}\n"
            f"http:\n  addr: {self.registry_address}\n"
        )
        self.registry = subprocess.Popen(
            ["docker-registry", "serve", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=(storage / "registry.log").open("a"),
        )
        url = f"http://{self.registry_address}/v2/"
        wait_for(f"the registry at {url}", lambda: _answers(url), timeout=15)

    def _stop_registry(self) -> None:
        if self.registry is not None:
            self.registry.terminate()
            try:
                self.registry.wait(10)
            except subprocess.TimeoutExpired:
                self.registry.kill()
                self.registry.wait()
            self.registry = None

    # --- hosts --------------------------------------------------------------------------------

    def add(self, name: str, *, subnet: int = 0) -> Host:
        """A new host on subnet `subnet` (0 .. subnets-1), wired and addressed, running nothing."""
        index = len(self.hosts)
        gateway = self.gateways[subnet]
        address = str(gateway.network.network_address + 10 + index)
        host = Host(
            name=f"{name}-{self.tag}",
            netns=f"klh{self.tag}-{index}",
            veth=f"klh{self.tag}v{index}",
            address=address,
            prefix=gateway.network.prefixlen,
            gateway=str(gateway.ip),
            data_dir=self.base / f"host-{index}" / "data",
        )
        self.hosts.append(host)
        host.data_dir.mkdir(parents=True, exist_ok=True)
        _ip("netns", "add", host.netns)
        _ip("link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns)
        _ip("link", "set", host.veth, "master", self.bridge, "up")
        for args in (
            ["link", "set", "lo", "up"],
            ["addr", "add", f"{address}/{host.prefix}", "dev", "eth0"],
            ["link", "set", "eth0", "up"],
            ["route", "add", "default", "via", host.gateway],
        ):
            _ip("-n", host.netns, *args)
        return host

    def _launch(self, host: Host, role: str, args: list[str]) -> None:
        host.role = role
        host.log_path = host.data_dir.parent / f"{role}.log"
        log = host.log_path.open("ab")
        host.process = subprocess.Popen(
            host.argv(sys.executable, "-m", "kubelite", role, *args),
            stdout=log,
            stderr=subprocess.STDOUT,
            # A process group of its own, so that `stop` reaches every child.
            start_new_session=True,
            env={
                **os.environ,
                "KUBELITE_CONTROL_PLANE_SECURE_PORT": "0",
                "KUBELITE_CLUSTER_DNS_PORT": "0",
            },
        )
        log.close()

    def start_server(self, host: Host, *extra: str) -> Server:
        """`kubelite server` (with its own agent) on `host`; returns once the API answers and
        the node is Ready. `extra`: more flags (--pod-cidr, --cluster-cidr, --flannel-backend,
        later --cluster-init ...)."""
        assert self.registries_config is not None
        self._launch(
            host,
            "server",
            [
                "--data-dir", str(host.data_dir), "--https-port", str(API_PORT),
                "--bind-address", "0.0.0.0", "--advertise-address", host.address,
                "--tls-san", host.address, "--node-name", host.name,
                "--local-registry", "", "--registries-config", str(self.registries_config),
                *extra,
            ],
        )  # fmt: skip
        token_file = host.data_dir / "node-token"
        admin = host.data_dir / "kubeconfig.yaml"
        wait_for(
            f"{host.name}'s server to write its kubeconfig",
            lambda: self._alive(host) and token_file.exists() and admin.exists(),
            START_TIMEOUT,
        )
        url = f"https://{host.address}:{API_PORT}"
        kubeconfig = host.data_dir.parent / "admin.yaml"
        kubeconfig.write_text(re.sub(r"server: \S+", f"server: {url}", admin.read_text()))
        cache = host.data_dir.parent / "kubectl-cache"
        cache.mkdir(exist_ok=True)
        server = Server(host, url, token_file.read_text().strip(), kubeconfig, cache)
        self.wait_ready(server, host)
        return server

    def start_agent(self, host: Host, server: Server, *extra: str) -> Host:
        """`kubelite agent` on `host`, joined to `server` with its node token; returns once the
        node is Ready."""
        assert self.registries_config is not None
        self._launch(
            host,
            "agent",
            [
                "--server", server.url, "--token", server.token,
                "--data-dir", str(host.data_dir), "--node-name", host.name,
                "--registries-config", str(self.registries_config), *extra,
            ],
        )  # fmt: skip
        self.wait_ready(server, host)
        return host

    def wait_ready(self, server: Server, host: Host) -> None:
        def ready() -> bool:
            self._alive(host)
            done = server.kubectl("get", "node", host.name, "-o", "json", check=False)
            if done.returncode != 0:
                return False
            conditions = json.loads(done.stdout)["status"].get("conditions") or []
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        wait_for(f"node {host.name} to be Ready", ready, START_TIMEOUT)

    @staticmethod
    def _alive(host: Host) -> bool:
        if host.process is not None and host.process.poll() is not None:
            raise RuntimeError(f"{host.role} on {host.name} exited:\n{host.log()[-3000:]}")
        return True

    def stop(self, host: Host, *, graceful: bool = True) -> None:
        """Stop everything running in `host`: SIGTERM to its kubelite first when `graceful`,
        then SIGKILL to its process group and to any process left in its namespace. Its pods'
        containers keep running, as on a machine whose kubelite stopped."""
        process = host.process
        if process is not None and process.poll() is None and graceful:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_TIMEOUT)
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        host.process = None
        for pid in host.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def partition(self, host: Host) -> None:
        """Cut the host's cable: it keeps running but reaches no one, and no one reaches it."""
        _ip("link", "set", host.veth, "down")

    def heal(self, host: Host) -> None:
        _ip("link", "set", host.veth, "up")

    # --- teardown -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every host, `kubelite reset` each inside its namespace, delete the namespaces,
        cables and bridge, stop the registry; fail if a mount under `base` is left."""
        problems = []
        # Killed, not stopped: reset removes what they leave, and a graceful stop of servers
        # that lose their etcd quorum one after another takes seconds each.
        for host in self.hosts:
            self.stop(host, graceful=False)
        # The resets, one per namespace, run side by side.
        with concurrent.futures.ThreadPoolExecutor(max(1, len(self.hosts))) as pool:
            resets = pool.map(
                lambda h: h.kubelite("reset", "--data-dir", str(h.data_dir), check=False),
                self.hosts,
            )
            for host, done in zip(self.hosts, resets, strict=True):
                if done.returncode != 0:
                    problems.append(f"reset of {host.name}: {done.stdout}{done.stderr}")
        for host in self.hosts:
            # Whatever reset's containers left (conmon exits with its container).
            for pid in host.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            _ip("netns", "del", host.netns, check=False)
            _ip("link", "del", host.veth, check=False)
        self.hosts.clear()
        self._stop_registry()
        _ip("link", "del", self.bridge, check=False)
        mounts = [
            m for m in Path("/proc/self/mounts").read_text().splitlines() if str(self.base) in m
        ]
        if mounts:
            problems.append(f"mounts left: {mounts}")
        if problems:
            raise AssertionError("\n".join(problems))


def _free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def hosts_of(base: Path, subnets: int = 2) -> Iterator[Hosts]:
    """`Hosts` as a context manager, for fixtures."""
    with Hosts(base, subnets=subnets) as hosts:
        yield hosts
