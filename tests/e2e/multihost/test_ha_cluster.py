"""A highly available kubelite cluster on five "machines", told as one story (issue #17).

Three servers with embedded etcd (A starts it with `--cluster-init`, B and C join A with the
server token) and two agents (D joined through A, E through B), all on one subnet of the test
bridge, with no `--pod-cidr`: node IPAM gives every node its block. The tests run in order on
one cluster, each going on from where the last left it:

1. the cluster is whole: three etcd members, five Ready nodes, the three servers in the
   `kubernetes` Endpoints;
2. a Deployment spreads over the nodes, and its pods reach each other across hosts by pod IP
   and through a ClusterIP Service (the service proxy in every node's namespace);
3. the server holding both leader Leases is killed (every process of its host) while a client
   writes ConfigMaps through it: the API goes on through the others (agents through their load
   balancers), the Leases move within 20 s, a new pod is scheduled and runs, and every write the
   dead server acknowledged is still there;
4. an agent's host is cut off the network: its node becomes NotReady after the node monitor
   grace period, its pods are evicted by the unreachable taint and replaced on other nodes,
   and the node comes back when healed;
5. an etcd snapshot restores the objects after every server's etcd data is wiped (k3s'
   `--cluster-reset --cluster-reset-restore-path`, a run that exits when done, then a start
   without the flags).
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import shutil
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.e2e.hosts import API_PORT, Host, Hosts, Server, wait_for

from kubelite.client.leaderelection import JITTER_FACTOR, LEASE_DURATION, RETRY_PERIOD
from kubelite.controllers.nodelifecycle_config import EVICTION_RATE, MONITOR_PERIOD
from kubelite.etcd.process import ELECTION_TIMEOUT_MS

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path("/usr/bin/etcd").exists(), reason="no etcd"),
]

ETCDCTL = "/usr/bin/etcdctl"
LEASES = ("kube-scheduler", "kube-controller-manager")
# How long after the API answers again (etcd has a quorum and a leader) another candidate may
# take a Lease whose holder died, with client-go's timings (which kubelite keeps): a candidate
# tries every retryPeriod jittered by up to 1.2 times it (wait.JitterUntil), and takes the Lease
# leaseDuration after it last *observed* a change of it. The holder renews every retryPeriod, so
# the last change a candidate sees may come one jittered period after the holder died (or after
# etcd is back, when the candidate's read was waiting on it), and the take one period after the
# expiry: 15 + 2 * 2 * 2.2 = 23.8 s, plus a second for this test's polling.
LEASE_TAKEOVER_LIMIT = LEASE_DURATION + 2 * RETRY_PERIOD * (1 + JITTER_FACTOR) + 1
# etcd elects a new leader within one or two election timeouts (raft randomizes it in
# [timeout, 2 * timeout)) when the leader died with the server; the API waits for it.
API_OUTAGE_LIMIT = 2 * ELECTION_TIMEOUT_MS / 1000 + 3
PORT = 8080
# A busybox httpd that answers /name with its pod's name (a pod's hostname is its name).
WEB_SERVER = (
    f"mkdir -p /www && hostname > /www/name && exec httpd -f -p {PORT} -h /www"
)  # fmt: skip
REPLICAS = 6
# How long the pods stay on a NotReady or unreachable node, as Kubernetes' own e2e set it,
# instead of DefaultTolerationSeconds' 300.
TOLERATION_SECONDS = 2
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": REPLICAS,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "tolerations": [
                    {
                        "key": f"node.kubernetes.io/{key}",
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": TOLERATION_SECONDS,
                    }
                    for key in ("unreachable", "not-ready")
                ],
                # One pod a node (two on one of them) while every node is up; nodes tainted
                # NotReady or unreachable are no domain (Honor), so replacements fit the rest.
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "DoNotSchedule",
                        "nodeTaintsPolicy": "Honor",
                        "labelSelector": {"matchLabels": {"app": "web"}},
                    }
                ],
                "containers": [
                    {
                        "name": "web",
                        "image": "busybox",
                        "command": ["sh", "-c", WEB_SERVER],
                        "ports": [{"containerPort": PORT}],
                        "readinessProbe": {
                            "tcpSocket": {"port": PORT},
                            "periodSeconds": 2,
                        },
                    }
                ],
            },
        },
    },
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": PORT}]},
}


@dataclass
class Cluster:
    hosts: Hosts
    servers: dict[str, Server]  # host name -> its server
    agents: list[Host]
    cluster_cidr: str
    # Filled in as the story goes on.
    leader: str = ""
    acked: list[str] = field(default_factory=list)

    @property
    def server_hosts(self) -> list[Host]:
        return [s.host for s in self.servers.values()]

    @property
    def all_hosts(self) -> list[Host]:
        return [*self.server_hosts, *self.agents]

    def api(self) -> Server:
        """A live server to talk to: any but the one stopped."""
        return next(s for name, s in self.servers.items() if name != self.leader)


# The servers' --node-monitor-grace-period (50 s by default): shortened, as people running
# small clusters do for a faster failover, so that the partition test waits 20 s, not 50.
GRACE_PERIOD = 20.0


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def cluster(hosts: Hosts, monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Cluster]:
    # Read by `kubelite control-plane`, which every server runs (hosts inherit the environment).
    monkeypatch_module.setenv(
        "KUBELITE_CONTROL_PLANE_NODE_MONITOR_GRACE_PERIOD", f"{GRACE_PERIOD:.0f}s"
    )
    started = time.monotonic()
    cidr = f"10.{100 + int(hosts.tag, 16) % 100}.0.0/16"
    common = ["--cluster-cidr", cidr]
    a, b, c = hosts.add("a"), hosts.add("b"), hosts.add("c")
    d, e = hosts.add("d"), hosts.add("e")
    first = hosts.start_server(a, "--cluster-init", *common)
    token = (a.data_dir / "token").read_text().strip()
    servers = {a.name: first}
    # One at a time: etcd refuses a MemberAdd while an added member has not started yet, and
    # for 5 s after the last one joined (--strict-reconfig-check); the join waits that out.
    for host in (b, c):
        servers[host.name] = hosts.start_server(
            host, "--server", first.url, "--token", token, *common
        )
    second = servers[b.name]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        joined = [
            pool.submit(hosts.start_agent, d, first, *common),
            pool.submit(hosts.start_agent, e, second, *common),
        ]
        for future in joined:
            future.result()
    print(f"\ncluster of 5 hosts up in {time.monotonic() - started:.0f} s", flush=True)
    yield Cluster(hosts, servers, [d, e], cidr)
    print(f"\nthe HA story took {time.monotonic() - started:.0f} s", flush=True)


# --- helpers ------------------------------------------------------------------------------------


def etcdctl(host: Host, *args: str) -> str:
    tls = host.data_dir / "tls" / "etcd"
    done = host.run(
        ETCDCTL, "--endpoints=https://127.0.0.1:2379", f"--cacert={tls / 'server-ca.crt'}",
        f"--cert={tls / 'client.crt'}", f"--key={tls / 'client.key'}", *args, timeout=30,
    )  # fmt: skip
    return done.stdout


def conditions(node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in node.get("status", {}).get("conditions") or []}


def get(server: Server, *args: str) -> Any | None:
    """`kubectl get ... -o json`, or None when the API does not answer in time: while etcd
    elects a new leader, requests wait (up to the store's deadline) instead of failing."""
    try:
        done = server.kubectl("get", *args, "-o", "json", check=False, timeout=15)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(done.stdout) if done.returncode == 0 else None


def ready_status(server: Server, name: str) -> str:
    node = get(server, "node", name)
    return str(conditions(node).get("Ready", {}).get("status", "")) if node else ""


def web_pods(server: Server) -> list[dict[str, Any]] | None:
    found = get(server, "pods", "-l", "app=web")
    return list(found["items"]) if found else None


def serving(pods: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The pods that run and are not being deleted."""
    return [
        p
        for p in pods or []
        if not p["metadata"].get("deletionTimestamp")
        and p["status"].get("phase") == "Running"
        and p["status"].get("podIP")
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions") or []
        )
    ]


def fetch(server: Server, client: str, url: str) -> str:
    """What `client` pod gets from `url` ("" when nothing answers)."""
    done = server.kubectl(
        "exec", client, "--", "timeout", "5", "wget", "-q", "-O", "-", url,
        check=False, timeout=40,
    )  # fmt: skip
    return done.stdout.strip() if done.returncode == 0 else ""


def lease_holders(server: Server) -> dict[str, str] | None:
    found = get(server, "lease", "-n", "kube-system", *LEASES)
    if not found:
        return None
    return {
        item["metadata"]["name"]: item["spec"].get("holderIdentity", "") for item in found["items"]
    }


def node_of(identity: str) -> str:
    """The node name in a server's control-plane identity, `<node name>_<uuid>`."""
    return identity.rpartition("_")[0]


def micro_time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def admin_context(server: Server) -> ssl.SSLContext:
    """TLS as the admin of `server`'s kubeconfig (for writes kubectl would make slowly)."""
    config = yaml.safe_load(server.kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    context = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
    )
    cert = server.cache_dir / "admin.crt"
    key = server.cache_dir / "admin.key"
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    key.write_bytes(base64.b64decode(user["client-key-data"]))
    key.chmod(0o600)
    context.load_cert_chain(cert, key)
    return context


def create_configmap(
    server: Server,
    context: ssl.SSLContext,
    name: str,
    labels: dict[str, str] | None = None,
    timeout: float = 5,
) -> str:
    """POST a ConfigMap through `server`: "201" when acknowledged, else the status or error."""
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels or {}},
        "data": {"k": "v"},
    }
    request = urllib.request.Request(
        f"{server.url}/api/v1/namespaces/default/configmaps",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=timeout) as answer:
            return str(answer.status)
    except urllib.error.HTTPError as e:
        return str(e.code)
    except OSError as e:
        return f"{type(e).__name__}: {e}"


class ConfigMapWriter(threading.Thread):
    """Creates ConfigMaps `acked-<n>` through one server, one after the other, and keeps the
    names the server answered 201 for; stops when told, or after three failures in a row (its
    server is gone)."""

    def __init__(self, server: Server, limit: int = 400) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.context = admin_context(server)
        self.limit = limit
        self.acked: list[str] = []
        self.failed: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        failures = 0
        for n in range(self.limit):
            if self.done.is_set() or failures >= 3:
                break
            name = f"acked-{n}"
            answer = create_configmap(self.server, self.context, name, {"story": "acked"})
            if answer == "201":
                self.acked.append(name)
                failures = 0
            else:
                self.failed.append(f"{name}: {answer}")
                failures += 1


# --- the story ----------------------------------------------------------------------------------


def test_three_servers_share_one_etcd_and_five_nodes_are_ready(cluster: Cluster) -> None:
    a = cluster.server_hosts[0]
    members = json.loads(etcdctl(a, "member", "list", "-w", "json"))["members"]
    assert len(members) == 3, members
    assert sorted(m["name"].rpartition("-")[0] for m in members) == sorted(
        h.name for h in cluster.server_hosts
    )
    assert sorted(m["peerURLs"][0] for m in members) == sorted(
        f"https://{h.address}:2380" for h in cluster.server_hosts
    )
    server = cluster.servers[a.name]
    nodes = {n["metadata"]["name"]: n for n in server.get("nodes")["items"]}
    assert sorted(nodes) == sorted(h.name for h in cluster.all_hosts)
    for name, node in nodes.items():
        assert conditions(node)["Ready"]["status"] == "True", name
        # Node IPAM gave every node a block of the cluster CIDR.
        assert node["spec"].get("podCIDR"), name
    assert len({n["spec"]["podCIDR"] for n in nodes.values()}) == 5

    def endpoints() -> list[str] | bool:
        found = server.get("endpoints", "kubernetes")
        addresses = sorted(
            f"{a['ip']}:{p['port']}"
            for s in found.get("subsets") or []
            for a in s.get("addresses") or []
            for p in s.get("ports") or []
        )
        return addresses == sorted(f"{h.address}:{API_PORT}" for h in cluster.server_hosts)

    wait_for("the kubernetes Endpoints to list the three servers", endpoints, 30)


def test_a_deployment_spreads_and_its_pods_reach_each_other_across_hosts(
    cluster: Cluster,
) -> None:
    server = cluster.api()
    server.kubectl("apply", "-f", "-", stdin=json.dumps(DEPLOYMENT))
    server.kubectl("apply", "-f", "-", stdin=json.dumps(SERVICE))
    pods = wait_for(
        "the Deployment's pods to be Ready",
        lambda: len(ready := serving(web_pods(server))) == REPLICAS and ready,
        180,
    )
    by_node: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        by_node.setdefault(pod["spec"]["nodeName"], []).append(pod)
    # maxSkew 1 over five nodes: all of them, none with more than two.
    assert sorted(by_node) == sorted(h.name for h in cluster.all_hosts)
    assert max(len(p) for p in by_node.values()) == 2

    # By pod IP: a pod on agent D fetches from a pod on agent E.
    d, e = cluster.agents
    client = by_node[d.name][0]["metadata"]["name"]
    target = by_node[e.name][0]
    url = f"http://{target['status']['podIP']}:{PORT}/name"
    assert (
        wait_for("D's pod to reach E's pod", lambda: fetch(server, client, url), 30)
        == (target["metadata"]["name"])
    )

    # Through the Service's cluster IP: D's service proxy sends to pods on other hosts too.
    cluster_ip = server.get("service", "web")["spec"]["clusterIP"]
    names = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods}
    answers: set[str] = set()

    def from_another_host() -> bool:
        answer = fetch(server, client, f"http://{cluster_ip}/name")
        if answer:
            assert answer in names, answer
            answers.add(answer)
        return any(names[a] != d.name for a in answers)

    wait_for(f"an answer through {cluster_ip} from another host", from_another_host, 60)


def test_the_leading_server_dies_and_the_cluster_goes_on(cluster: Cluster) -> None:
    server = cluster.api()
    holders = wait_for("both Leases to be held", lambda: lease_holders(server), 30)
    leaders = {node_of(holders[name]) for name in LEASES}
    assert len(leaders) == 1, holders
    [leader] = leaders
    assert leader in cluster.servers, holders
    leader_server = cluster.servers[leader]
    survivor = next(s for name, s in cluster.servers.items() if name != leader)

    # Writes through the leader, up to and across its death.
    writer = ConfigMapWriter(leader_server)
    writer.start()
    wait_for("25 acknowledged writes", lambda: len(writer.acked) >= 25, 60)
    killed_wall = time.time()
    killed = time.monotonic()
    cluster.hosts.stop(leader_server.host, graceful=False)
    cluster.leader = leader
    writer.join(30)
    writer.done.set()
    assert not writer.is_alive()
    assert writer.failed, "the writes through the killed server should have stopped failing"
    cluster.acked = list(writer.acked)

    # The API goes on through the others: writes through a surviving server succeed again as
    # soon as etcd has a leader (at once, if the dead server's member was not the leader).
    context = admin_context(survivor)
    api_back = wait_for(
        "a write through a surviving server",
        lambda: (
            # A short timeout: the moment it answers is measured. (409: an earlier try
            # went through after its client gave up.)
            create_configmap(survivor, context, "after-failover", timeout=1) in ("201", "409")
            and time.monotonic()
        ),
        60,
    )
    outage = api_back - killed
    assert outage < API_OUTAGE_LIMIT, f"no write through {survivor.host.name} for {outage:.1f} s"

    # Both Leases move to another server's control plane.
    def moved() -> dict[str, str] | None:
        found = lease_holders(survivor)
        if found and all(node_of(found[n]) not in ("", leader) for n in LEASES):
            return found
        return None

    new_holders = wait_for("both Leases to move", moved, 60)
    takeover = time.monotonic() - killed
    print(
        f"\nLeases moved from {leader} {takeover:.1f} s after the kill, "
        f"{takeover - outage:.1f} s after the API answered again ({outage:.1f} s): {new_holders}",
        flush=True,
    )
    assert takeover - outage < LEASE_TAKEOVER_LIMIT, (
        f"Leases moved {takeover - outage:.1f} s after the API answered again"
    )
    assert {node_of(h) for h in new_holders.values()} <= set(cluster.servers) - {leader}

    # The agents' kubelets go on through their load balancers: their node Leases are renewed.
    for agent in cluster.agents:

        def renewed(name: str = agent.name) -> bool:
            lease = get(survivor, "lease", "-n", "kube-node-lease", name)
            return lease is not None and micro_time(lease["spec"]["renewTime"]) > killed_wall + 1

        wait_for(f"{agent.name}'s node Lease to be renewed after the kill", renewed, 45)
        assert ready_status(survivor, agent.name) == "True"

    # A new pod is scheduled by the new scheduler and runs (anywhere but the dead host).
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "after-failover"},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "kubernetes.io/hostname",
                                        "operator": "NotIn",
                                        "values": [leader],
                                    }
                                ]
                            }
                        ]
                    }
                }
            },
            "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}],
        },
    }
    survivor.kubectl("apply", "-f", "-", stdin=json.dumps(pod))
    wait_for(
        "the new pod to run",
        lambda: (
            (get(survivor, "pod", "after-failover") or {"status": {}})["status"].get("phase")
            == "Running"
        ),
        90,
    )

    # Every write the dead server acknowledged is there.
    stored = {
        cm["metadata"]["name"] for cm in survivor.get("configmaps", "-l", "story=acked")["items"]
    }
    missing = sorted(set(cluster.acked) - stored, key=lambda n: int(n.split("-")[1]))
    assert not missing, f"acknowledged but lost: {missing}"
    print(f"{len(cluster.acked)} acknowledged writes all kept", flush=True)


def test_a_partitioned_agents_pods_are_evicted_and_replaced(cluster: Cluster) -> None:
    if not cluster.leader:
        pytest.skip("needs the failover test before it")
    server = cluster.api()
    d = cluster.agents[0]
    d_pods = {
        p["metadata"]["name"] for p in serving(web_pods(server)) if p["spec"]["nodeName"] == d.name
    }
    assert d_pods
    cluster.hosts.partition(d)
    partitioned = time.monotonic()
    try:
        wait_for(
            f"{d.name} to be NotReady",
            lambda: ready_status(server, d.name) == "Unknown",
            GRACE_PERIOD + 3 * MONITOR_PERIOD + 20,
        )
        not_ready = time.monotonic() - partitioned
        print(f"\n{d.name} NotReady {not_ready:.0f} s after the partition", flush=True)
        # Not before the grace period: the kubelet's last status is that old at most.
        assert not_ready > GRACE_PERIOD - 15

        def tainted() -> bool:
            node = get(server, "node", d.name) or {"spec": {}}
            taints = {(t["key"], t["effect"]) for t in node["spec"].get("taints") or []}
            return ("node.kubernetes.io/unreachable", "NoExecute") in taints

        # The node lifecycle controller queues it for the taint at its next pass and taints
        # the queue at --node-eviction-rate (0.1 nodes/s): the dead server's node, whose grace
        # period the new controller counts from its own start, may go first.
        wait_for(
            f"{d.name}'s unreachable NoExecute taint",
            tainted,
            3 * MONITOR_PERIOD + 2 / EVICTION_RATE,
        )

        def evicted() -> bool:
            pods = web_pods(server)
            if pods is None:
                return False
            current = {p["metadata"]["name"]: p for p in pods}
            return all(
                name not in current or current[name]["metadata"].get("deletionTimestamp")
                for name in d_pods
            )

        wait_for(f"{d.name}'s pods to be evicted", evicted, 60)
        down = {d.name, cluster.leader}

        def replaced() -> list[dict[str, Any]] | bool:
            live = [p for p in serving(web_pods(server)) if p["spec"]["nodeName"] not in down]
            return len(live) == REPLICAS and live

        live = wait_for("the Deployment's pods to run on the other nodes", replaced, 120)
        assert not d_pods & {p["metadata"]["name"] for p in live}
    finally:
        cluster.hosts.heal(d)
    wait_for(f"{d.name} to be Ready again", lambda: ready_status(server, d.name) == "True", 90)
    # Once it hears of it, the kubelet finishes the eviction of its old pods.
    wait_for(
        f"{d.name}'s evicted pods to be gone",
        lambda: (
            (pods := web_pods(server)) is not None
            and not d_pods & {p["metadata"]["name"] for p in pods}
        ),
        90,
    )


def test_an_etcd_snapshot_restores_the_cluster_after_its_data_is_wiped(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    if not cluster.leader:
        pytest.skip("needs the failover test before it")
    server = cluster.api()
    host = server.host
    snapshots = tmp_path_factory.mktemp("snapshots")
    host.kubelite(
        "etcd-snapshot", "save", "--data-dir", str(host.data_dir),
        "--etcd-snapshot-dir", str(snapshots), "--node-name", host.name,
    )  # fmt: skip
    [snapshot] = list(snapshots.iterdir())
    server.kubectl("create", "configmap", "after-snapshot", "--from-literal=k=v")

    for each in cluster.all_hosts:
        cluster.hosts.stop(each, graceful=False)
    for each in cluster.server_hosts:
        shutil.rmtree(each.data_dir / "db" / "etcd", ignore_errors=True)
    # The kubeconfig is written anew once the restored server serves.
    (host.data_dir / "kubeconfig.yaml").unlink()
    # As k3s: the reset run restores, leaves db/reset-flag and exits 0, asking for a start
    # without the flags; the start without them serves the restored objects.
    reset = host.kubelite(
        "server", "--data-dir", str(host.data_dir), "--advertise-address", host.address,
        "--node-name", host.name, "--cluster-reset", "--cluster-reset-restore-path", str(snapshot),
    )  # fmt: skip
    assert "etcd cluster membership has been reset" in reset.stdout, reset.stdout + reset.stderr
    marker = host.data_dir / "db" / "reset-flag"
    assert marker.is_file()
    restored = cluster.hosts.start_server(host, "--cluster-cidr", cluster.cluster_cidr)
    assert not marker.exists()
    members = json.loads(etcdctl(host, "member", "list", "-w", "json"))["members"]
    assert [m["name"].rpartition("-")[0] for m in members] == [host.name]
    deployment = restored.get("deployment", "web")
    assert deployment["spec"]["replicas"] == REPLICAS
    stored = {cm["metadata"]["name"] for cm in restored.get("configmaps")["items"]}
    assert set(cluster.acked) <= stored
    assert "after-failover" in stored
    # Written after the snapshot: not in it.
    assert "after-snapshot" not in stored
