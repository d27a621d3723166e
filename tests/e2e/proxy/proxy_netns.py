"""A node made of network namespaces, for the proxy's data-path tests and its benchmark.

    client ns (10.245.N.2) --veth-- node ns (10.245.N.1 | bridge 10.244.N.1/24) --veth-- pod ns

The node namespace routes between a client outside the cluster and pods on a bridge, as a real
node does; the proxy's table is programmed there (`ip netns exec NODE nft`). Each pod runs a
tiny TCP and UDP server that answers with its name, and keeps TCP connections open, answering
every line (and `peer` with the client's address as the pod sees it). Every name carries a
random suffix, so that runs never meet; `close` deletes the namespaces (and with them every
veth, bridge, table and conntrack entry) and kills the servers.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
from dataclasses import dataclass, field

SERVER = r"""
import socket, sys, threading
name, port = sys.argv[1], int(sys.argv[2])
tcp = socket.socket(); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("0.0.0.0", port)); tcp.listen(128)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("0.0.0.0", port))
def serve(conn):
    peer = conn.getpeername()[0].encode()
    with conn, conn.makefile("rb") as lines:
        conn.sendall(name.encode() + b"\n")
        for line in lines:
            # "peer": the client address the pod sees (masqueraded or not).
            reply = peer + b"\n" if line.strip() == b"peer" else line
            conn.sendall(name.encode() + b" " + reply)
def udp_loop():
    while True:
        data, peer = udp.recvfrom(2048)
        udp.sendto(name.encode(), peer)
threading.Thread(target=udp_loop, daemon=True).start()
print("ready", flush=True)
while True:
    conn, _ = tcp.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""

# Prints one line per attempt: the server's name, "refused", "timeout" or the error.
CLIENT = r"""
import socket, sys, time
proto, host, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sport = int(sys.argv[5]) if len(sys.argv) > 5 else 0
for _ in range(count):
    start = time.monotonic()
    try:
        if proto == "tcp":
            with socket.create_connection((host, port), timeout=2) as s:
                print(s.makefile().readline().strip(), flush=True)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", sport)); s.settimeout(1); s.connect((host, port))
            s.send(b"hi"); print(s.recv(2048).decode(), flush=True); s.close()
    except ConnectionRefusedError:
        print(f"refused {time.monotonic() - start:.3f}", flush=True)
    except (TimeoutError, socket.timeout):
        print("timeout", flush=True)
    except OSError as e:
        print(f"error {e}", flush=True)
"""


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


@dataclass
class NetnsNode:
    subnet: int = field(default_factory=lambda: 100 + secrets.randbelow(100))
    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    pods: dict[str, str] = field(default_factory=dict)  # pod name -> IP
    _servers: list[subprocess.Popen[str]] = field(default_factory=list)
    _namespaces: list[str] = field(default_factory=list)

    @property
    def node(self) -> str:
        return f"kpx-node-{self.suffix}"

    @property
    def client(self) -> str:
        return f"kpx-client-{self.suffix}"

    @property
    def node_ip(self) -> str:
        return f"10.245.{self.subnet}.1"

    @property
    def client_ip(self) -> str:
        return f"10.245.{self.subnet}.2"

    @property
    def cluster_cidr(self) -> str:
        return "10.244.0.0/16"

    def _netns(self, name: str) -> str:
        sh("ip", "netns", "add", name)
        self._namespaces.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def setup(self) -> None:
        node, client = self._netns(self.node), self._netns(self.client)
        # Written directly: a minimal Debian has no `sysctl` (procps).
        sh("ip", "netns", "exec", node, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
        sh("ip", "-n", node, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", node, "addr", "add", f"10.244.{self.subnet}.1/24", "dev", "br0")
        sh("ip", "-n", node, "link", "set", "br0", "up")
        sh(
            "ip",
            "-n",
            node,
            "link",
            "add",
            "vc",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            client,
        )
        sh("ip", "-n", node, "addr", "add", f"{self.node_ip}/24", "dev", "vc")
        sh("ip", "-n", node, "link", "set", "vc", "up")
        sh("ip", "-n", client, "addr", "add", f"{self.client_ip}/24", "dev", "eth0")
        sh("ip", "-n", client, "link", "set", "eth0", "up")
        sh("ip", "-n", client, "route", "add", "default", "via", self.node_ip)
        # The node's uplink, apart from the client's link (as a node's default route is): a
        # real node reaches ClusterIPs by its default route too. Were it the client's link,
        # the node would answer the client's first packet with an ICMP redirect, which uses
        # up the per-host ICMP allowance the reject of a Service without endpoints needs.
        # (A veth whose peer stays behind: this kernel has no dummy links.)
        sh("ip", "-n", node, "link", "add", "uplink", "type", "veth", "peer", "name", "upl-peer")
        sh("ip", "-n", node, "addr", "add", f"10.246.{self.subnet}.1/24", "dev", "uplink")
        sh("ip", "-n", node, "link", "set", "uplink", "up")
        sh("ip", "-n", node, "link", "set", "upl-peer", "up")
        sh("ip", "-n", node, "route", "add", "default", "via", f"10.246.{self.subnet}.254")

    def add_pod(self, name: str, port: int = 8080) -> str:
        """A pod namespace on the bridge with a server answering `name`; its IP."""
        ns = self._netns(f"kpx-{name}-{self.suffix}")
        ip = f"10.244.{self.subnet}.{10 + len(self.pods)}"
        veth = f"v{len(self.pods)}"
        sh(
            "ip",
            "-n",
            self.node,
            "link",
            "add",
            veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            ns,
        )
        sh("ip", "-n", self.node, "link", "set", veth, "master", "br0", "up")
        # As the CNI bridge plugin's hairpinMode (kubelite's pod network sets it): a pod
        # reaching itself through its Service is DNATed on the bridge back out of its own port.
        sh("ip", "-n", self.node, "link", "set", veth, "type", "bridge_slave", "hairpin", "on")
        sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", f"10.244.{self.subnet}.1")
        server = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", SERVER, name, str(port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self._servers.append(server)
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        self.pods[name] = ip
        return ip

    def pod_ns(self, name: str) -> str:
        return f"kpx-{name}-{self.suffix}"

    def request(
        self, ns: str, host: str, port: int, count: int = 1, proto: str = "tcp", sport: int = 0
    ) -> list[str]:
        """Run `count` requests from namespace `ns`; one answer per request."""
        argv = [sys.executable, "-c", CLIENT, proto, host, str(port), str(count), str(sport)]
        out = sh("ip", "netns", "exec", ns, *argv).stdout
        return out.splitlines()

    def hold(self, ns: str, host: str, port: int) -> subprocess.Popen[str]:
        """A TCP connection kept open from `ns`: write lines to its stdin, read answers."""
        script = (
            "import socket,sys\n"
            f"s=socket.create_connection(({host!r},{port}),timeout=5)\n"
            "f=s.makefile()\nprint(f.readline().strip(),flush=True)\n"
            "for line in sys.stdin:\n"
            "    s.sendall(line.encode()); print(f.readline().strip(), flush=True)\n"
        )
        return subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def nft_command(self) -> list[str]:
        return ["ip", "netns", "exec", self.node, "nft"]

    def conntrack_command(self) -> list[str]:
        return ["ip", "netns", "exec", self.node, "conntrack"]

    def close(self) -> None:
        for server in self._servers:
            server.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(5)
        for ns in reversed(self._namespaces):
            sh("ip", "netns", "del", ns, check=False)
        self._namespaces.clear()


def leftovers(suffix: str) -> list[str]:
    """Namespaces of a node that are still on the machine."""
    return [ns for ns in sh("ip", "netns", "list").stdout.split() if ns.endswith(suffix)]
