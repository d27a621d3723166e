"""Cluster DNS benchmark: queries per second and latency of `kubelite cluster-dns` against dnsmasq.

Both servers answer the same names on loopback, measured in the same run:

- cluster names: `--services` (200) ClusterIP Services created in a real `kubelite server`
  (its own data directory and ports), which `kubelite cluster-dns` learns from its informers,
  and which dnsmasq serves from a hosts file (`--addn-hosts`) with the same addresses;
- the same names in random case (DNS 0x20), a new spelling for every query: the same answers,
  but kubelite's cache of packed answers (keyed by the query's bytes) never has the query, so
  every query takes its slow path (parse, look up, pack);
- a cached external name: `www.example.com`, which both forward to one upstream (a third,
  authoritative dnsmasq on loopback) and answer from their caches after the first query.

The load comes from one client process with `--concurrency` (4) queries outstanding on one
UDP socket, each answered query replaced at once by the next (cycling through the names), for
`--seconds` (3) per measurement after a second of warm-up; it reports queries per second and
the p50/p99 of the time from sending a query to its answer, and the CPU time the server
process spent per query (from /proc: with a Python client on one of two cores, the client may
well be what limits the rate, and CPU per query then tells the servers apart better). Each
measurement is repeated `--rounds` (3) times, the two servers taking turns, and the median
round is reported, since the machine's two cores are shared. The client pre-packs its
queries once (dnslib) and only puts a fresh ID in front of each; it checks each answer's ID
and RCODE, and the first answer to every name is parsed in full and compared with the address
expected.

Run: `.venv/bin/python bench/dns_bench.py` (needs dnsmasq: Debian `dnsmasq-base`). Figures are
printed with the ratio kubelite/dnsmasq, and written as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dns.exception
import dns.resolver
from dnslib import QTYPE, RCODE, DNSRecord

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from tests.integration.cluster import Cluster  # noqa: E402

from api_bench import percentile, write_results  # noqa: E402

NAMESPACE = "dns-bench"
EXTERNAL_NAME = "www.example.com"
EXTERNAL_ADDRESS = "192.0.2.10"
WARMUP = 1.0
# Spellings of each cluster name in the workload that defeats kubelite's cache of packed
# answers (20,000 kept): 150 x 200 names, so that no spelling is asked twice before the cache
# has been dropped.
VARIANTS = 150
NEW_BYTES = "cluster names, 0x20 case"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def free_port() -> int:
    """A port free for both UDP and TCP on loopback (for the dnsmasq processes)."""
    from kubelite.cli.cluster.cluster_dns import bind

    udp, tcp = bind("127.0.0.1", 0)
    port = udp.getsockname()[1]
    udp.close()
    tcp.close()
    return port


def dnsmasq(port: int, *args: str) -> subprocess.Popen[bytes]:
    """dnsmasq in the foreground on 127.0.0.1:port, with nothing of the machine's own
    configuration (no /etc/resolv.conf, /etc/hosts or /etc/dnsmasq.conf)."""
    return subprocess.Popen(
        [
            shutil.which("dnsmasq") or "/usr/sbin/dnsmasq",
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            f"--port={port}",
            "--user=root",
            "--pid-file=",
            "--cache-size=10000",
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def ask(port: int, name: str, timeout: float = 1.0) -> str:
    """One A question with dnspython: the address, or what went wrong."""
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = port
    r.lifetime = timeout
    try:
        return str(r.resolve(name, "A", search=False)[0])
    except dns.exception.DNSException as e:
        return type(e).__name__


def wait_until(what: str, check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


def create_services(cluster: Cluster, count: int) -> dict[str, str]:
    """`count` ClusterIP Services in one apply; their DNS names -> cluster IPs."""
    items = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}]
    items += [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"svc-{i}", "namespace": NAMESPACE},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
        }
        for i in range(count)
    ]
    cluster.kubectl(
        "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    )
    listing = json.loads(cluster.kubectl("get", "svc", "-n", NAMESPACE, "-o", "json").stdout)
    return {
        f"{s['metadata']['name']}.{NAMESPACE}.svc.cluster.local": s["spec"]["clusterIP"]
        for s in listing["items"]
    }


def packed_queries(names: list[str]) -> list[bytes]:
    """A questions for `names`, packed, without their first two octets (the ID)."""
    packets = []
    for name in names:
        query = DNSRecord.question(name, "A")
        query.header.id = 0
        packets.append(bytes(query.pack())[2:])
    return packets


def case_variants(names: list[str], count: int) -> list[str]:
    """`count` spellings of each name in random case (DNS 0x20, as resolvers that randomize
    case send them), variant after variant, so that a spelling comes back only after
    `count * len(names)` queries."""
    rng = random.Random(0x20)
    return [
        "".join(c.upper() if rng.random() < 0.5 else c for c in name)
        for _ in range(count)
        for name in names
    ]


def load(
    port: int,
    pid: int,
    names: list[str],
    packets: list[bytes],
    expected: dict[str, str],
    concurrency: int,
    seconds: float,
) -> dict[str, Any]:
    """Drive one server: `concurrency` queries outstanding, for `seconds` after a warm-up."""
    checked: set[int] = set()
    wrong: list[str] = []
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(2.0)
    sent: dict[int, tuple[float, int]] = {}
    latencies: list[float] = []
    errors = timeouts = 0
    next_id = 0
    position = 0

    def send() -> None:
        nonlocal next_id, position
        which = position % len(packets)
        position += 1
        qid = next_id
        next_id = (next_id + 1) & 0xFFFF
        sent[qid] = (time.perf_counter(), which)
        sock.send(struct.pack("!H", qid) + packets[which])

    cpu_before = cpu_seconds(pid)
    total = 0
    start = time.perf_counter()
    measuring_from = start + WARMUP
    stop = measuring_from + seconds
    answered = 0
    for _ in range(concurrency):
        send()
    while True:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            # A lost datagram: forget what is outstanding and start again.
            timeouts += len(sent)
            sent.clear()
            for _ in range(concurrency):
                send()
            continue
        now = time.perf_counter()
        qid, flags = struct.unpack_from("!HH", data)
        began = sent.pop(qid, None)
        if began is None:
            continue
        total += 1
        if flags & 0xF != RCODE.NOERROR:
            errors += 1
        which = began[1]
        if which not in checked:
            checked.add(which)
            answer = DNSRecord.parse(data)
            got = [str(r.rdata) for r in answer.rr if r.rtype == QTYPE.A]
            if got != [expected[names[which].lower()]]:
                wrong.append(f"{names[which]}: {got}")
        if now >= measuring_from:
            latencies.append(now - began[0])
            answered += 1
        if now >= stop:
            break
        send()
    elapsed = time.perf_counter() - measuring_from
    cpu = cpu_seconds(pid) - cpu_before
    sock.close()
    return {
        "qps": answered / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "server_cpu_us_per_query": cpu / total * 1e6,
        "errors": errors,
        "timeouts": timeouts,
        "wrong": wrong[:5],
    }


def median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(rounds, key=lambda r: r["qps"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["qps_rounds"] = [round(r["qps"]) for r in rounds]
    return chosen


def run(args: argparse.Namespace, cluster: Cluster, tmp: Path) -> dict[str, Any]:
    records = create_services(cluster, args.services)
    upstream_port, dnsmasq_port = free_port(), free_port()
    hosts = tmp / "hosts"
    hosts.write_text("".join(f"{ip} {name}\n" for name, ip in records.items()))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        # The upstream both forward www.example.com to: an authoritative answer, TTL 300.
        processes.append(
            dnsmasq(
                upstream_port,
                f"--host-record={EXTERNAL_NAME},{EXTERNAL_ADDRESS}",
                "--local-ttl=300",
            )
        )
        # The peer: the cluster's names from a hosts file with CoreDNS' TTL of 5 s; the rest
        # forwarded to the same upstream, and cached.
        processes.append(
            dnsmasq(
                dnsmasq_port,
                f"--addn-hosts={hosts}",
                "--local-ttl=5",
                f"--server=127.0.0.1#{upstream_port}",
            )
        )
        kubelite_port = free_port()
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "kubelite.cli.cluster.cluster_dns",
                    "--kubeconfig",
                    str(cluster.kubeconfig),
                    "--bind-address",
                    "127.0.0.1",
                    "--port",
                    str(kubelite_port),
                    "--upstream",
                    f"127.0.0.1:{upstream_port}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=open(tmp / "cluster-dns.log", "w"),  # noqa: SIM115
            )
        )
        names = sorted(records)
        for port in (kubelite_port, dnsmasq_port):
            wait_until(
                f"all names on port {port}",
                lambda port=port: (
                    all(ask(port, n) == records[n] for n in names[-3:])
                    and ask(port, names[0]) == records[names[0]]
                ),
            )
        for port in (kubelite_port, dnsmasq_port):
            assert all(ask(port, n) == records[n] for n in names), f"port {port} answers wrong"
            assert ask(port, EXTERNAL_NAME) == EXTERNAL_ADDRESS, f"port {port}: external name"
        expected = {**records, EXTERNAL_NAME: EXTERNAL_ADDRESS}
        results: dict[str, Any] = {
            "services": args.services,
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "rounds": args.rounds,
        }
        for workload, workload_names in (
            ("cluster names", names),
            (NEW_BYTES, case_variants(names, VARIANTS)),
            ("external name, cached", [EXTERNAL_NAME]),
        ):
            packets = packed_queries(workload_names)
            rounds: dict[str, list[dict[str, Any]]] = {"kubelite": [], "dnsmasq": []}
            for _ in range(args.rounds):
                for server, port, pid in (
                    ("kubelite", kubelite_port, processes[2].pid),
                    ("dnsmasq", dnsmasq_port, processes[1].pid),
                ):
                    rounds[server].append(
                        load(
                            port,
                            pid,
                            workload_names,
                            packets,
                            expected,
                            args.concurrency,
                            args.seconds,
                        )
                    )
            results[workload] = {server: median_round(r) for server, r in rounds.items()}
        return results
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def report(results: dict[str, Any]) -> None:
    print(
        f"\n{results['services']} Services; {results['concurrency']} queries outstanding; "
        f"{results['seconds']:g} s per measurement, median of {results['rounds']} rounds"
    )
    print(
        f"{'workload':24} {'server':9} {'qps':>9} {'p50 ms':>8} {'p99 ms':>8} {'cpu us/q':>9}"
        "  rounds (qps)"
    )
    for workload in ("cluster names", NEW_BYTES, "external name, cached"):
        figures = results[workload]
        for server in ("kubelite", "dnsmasq"):
            f = figures[server]
            problems = ""
            if f["errors"] or f["timeouts"] or f["wrong"]:
                problems = f"  errors {f['errors']} timeouts {f['timeouts']} wrong {f['wrong']}"
            print(
                f"{workload:24} {server:9} {f['qps']:9.0f} {f['p50_ms']:8.3f} {f['p99_ms']:8.3f}"
                f" {f['server_cpu_us_per_query']:9.1f}  {f['qps_rounds']}{problems}"
            )
        ratio = figures["kubelite"]["qps"] / figures["dnsmasq"]["qps"]
        cpu_ratio = (
            figures["kubelite"]["server_cpu_us_per_query"]
            / figures["dnsmasq"]["server_cpu_us_per_query"]
        )
        figures["ratio"] = ratio
        figures["cpu_ratio"] = cpu_ratio
        print(
            f"{workload:24} {'ratio':9} {ratio:9.2f} {'':17} {cpu_ratio:9.1f}  "
            "(kubelite/dnsmasq: queries per second; CPU per query)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=200, help="cluster names (default 200)")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="queries outstanding (default 4)"
    )
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="length of one measurement (default 3)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server (default 3)")
    args = parser.parse_args()
    if not (shutil.which("dnsmasq") or Path("/usr/sbin/dnsmasq").exists()):
        print("dnsmasq is missing: apt-get install dnsmasq-base", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="kubelite-bench-") as tmp:
        cluster = Cluster(
            Path(tmp) / "data",
            Path(tmp) / "cache",
            extra_args=["--disable-scheduler", "--disable-cluster-dns"],
        )
        cluster.start()
        try:
            results = run(args, cluster, Path(tmp))
        finally:
            cluster.stop()
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    report(results)
    write_results("dns", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
