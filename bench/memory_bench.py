"""The API server's memory under abuse: RSS before and after N hostile requests, and after.

Starts a fresh `kubelite server` (its own data directory, a port the kernel picks, its
scheduler off), reads its VmRSS, and sends `--requests` (default 100,000) requests drawn from a
fixed mix (the shapes of issue 14's hostile run, and ordinary traffic with big bodies):

- bodies nested 10,000 deep, integers past 64 bits, a lone surrogate in a name, a non-ASCII
  bearer token, `Content-Encoding: gzip` on plain bytes, malformed strategic merge patches,
  40 KB label selectors, bad selectors, resourceVersions and limits, unknown HTTP methods,
  made-up paths, protobuf that is not protobuf, a 3 MB+ body (413);
- creates of odd objects (ConfigMaps and Pods with labels, annotations, images, container and
  field names never seen twice; server-side apply with new field managers and fields), updates
  and deletes of them; 1 MB ConfigMaps created, updated and deleted; LISTs of thousands of
  objects as JSON and as Tables; watches opened from a past revision and closed.

The requests go over a pool of keep-alive connections, and one request in twenty asks for
`Connection: close`, so that new TLS connections keep coming; 200 watches and 100 connections
that never send anything are held open for the whole run. Then the RSS is read again: with all
of that still open; after every connection has gone; and after everything the run created has
been deleted. `--tracemalloc N` runs the server with KUBELITE_TRACEMALLOC=N and prints what
Python holds that it did not hold at the start, by traceback (slow: use fewer requests).

`--rounds N` repeats the run, the cleanup and the quiet wait N times: memory held for reuse
settles at one level round after round, memory leaked climbs.

Run: `.venv/bin/python bench/memory_bench.py [--requests N] [--rounds N] [--tracemalloc FRAMES]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import ssl
import string
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from tests.integration.cluster import Cluster  # noqa: E402

from api_bench import rss_mb, write_results  # noqa: E402

SERVER_ARGS = ["--disable-scheduler"]
# Requests in flight at once, on the pool of keep-alive connections.
CONCURRENCY = 32
HELD_WATCHES = 200
IDLE_CONNECTIONS = 100
LISTED = 3000  # ConfigMaps in the namespace that is listed whole
ODD_LIVE = 2000  # odd objects kept alive at once: the oldest is deleted past this
BIG_LIVE = 8  # 1 MB ConfigMaps kept alive at once
NEW_CONNECTION_EVERY = 20
BENCH_NS = "mem-bench"
LIST_NS = "mem-list"
JSON = {"Content-Type": "application/json"}


def open_sockets(pid: int) -> int:
    """Sockets the process holds open (its listeners and the clients' connections)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if os.readlink(fd).startswith("socket:"):
                count += 1
    return count


def tls_context(cluster: Cluster, certificate: bool = True) -> ssl.SSLContext:
    tls = cluster.data_dir / "tls"
    context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    if certificate:
        context.load_cert_chain(str(tls / "admin.crt"), str(tls / "admin.key"))
    return context


def word(rng: random.Random, n: int = 10) -> str:
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=n))


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@dataclass
class Run:
    """What the workers share: the sessions, the objects made so far, the answers counted."""

    url: str
    session: aiohttp.ClientSession
    anonymous: aiohttp.ClientSession
    rng: random.Random
    odd: list[str] = field(default_factory=list)  # "configmaps/name" or "pods/name"
    big: list[str] = field(default_factory=list)
    codes: Counter[tuple[str, int]] = field(default_factory=Counter)
    sent: int = 0
    revision: str = "1"
    # The watch session, its watches and the idle connections, held until dropped.
    held: Any = None

    def ns_path(self, resource: str, namespace: str = BENCH_NS) -> str:
        return f"{self.url}/api/v1/namespaces/{namespace}/{resource}"

    async def send(
        self,
        shape: str,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        anonymous: bool = False,
    ) -> tuple[int, bytes]:
        headers = dict(headers or {})
        self.sent += 1
        if self.sent % NEW_CONNECTION_EVERY == 0:
            headers["Connection"] = "close"
        session = self.anonymous if anonymous else self.session
        try:
            async with session.request(method, url, data=body, headers=headers) as response:
                data = await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            # A refused body may close the connection before all of it was sent.
            self.codes[(shape, -1)] += 1
            return -1, str(exc).encode()
        self.codes[(shape, status)] += 1
        return status, data


def configmap(name: str, data: dict[str, str], labels: dict[str, str] | None = None) -> bytes:
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = labels
    return orjson.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
    )


# --- the shapes ---------------------------------------------------------------------------------


async def deep_nesting(run: Run) -> None:
    body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"x":' + nested(10_000)
    await run.send("deep-nesting", "POST", run.ns_path("configmaps"), body + b"}", JSON)


async def deep_patch(run: Run) -> None:
    if not run.odd:
        return
    target = run.odd[-1]
    body = b'{"metadata":{"annotations":' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}}"
    headers = {"Content-Type": "application/merge-patch+json"}
    await run.send("deep-patch", "PATCH", run.ns_path(target), body, headers)


async def huge_integers(run: Run) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "huge-" + word(run.rng), "generation": 2**70},
        "spec": {
            "terminationGracePeriodSeconds": 99999999999999999999999,
            "containers": [{"name": "c", "image": "busybox"}],
        },
    }
    await run.send("huge-int", "POST", run.ns_path("pods"), json.dumps(pod).encode(), JSON)


async def bad_unicode(run: Run) -> None:
    body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x\\ud800' + (
        word(run.rng).encode() + b'"}}'
    )
    await run.send("bad-unicode", "POST", run.ns_path("configmaps"), body, JSON)


async def bad_token(run: Run) -> None:
    path = run.rng.choice(["/healthz", "/api/v1/pods", f"/api/v1/{word(run.rng)}"])
    headers = {"Authorization": "Bearer éé" + word(run.rng, 4)}
    await run.send("bad-token", "GET", run.url + path, headers=headers, anonymous=True)


async def bad_gzip(run: Run) -> None:
    headers = {**JSON, "Content-Encoding": run.rng.choice(["gzip", "deflate"])}
    body = configmap("gz-" + word(run.rng), {"a": "b"})
    await run.send("bad-gzip", "POST", run.ns_path("configmaps"), body, headers)


async def bad_strategic_patch(run: Run) -> None:
    if not run.odd:
        return
    target = run.odd[run.rng.randrange(len(run.odd))]
    body = run.rng.choice(
        [
            b'{"$patch":"nope"}',
            b'{"metadata":{"$setElementOrder/finalizers":5}}',
            b'{"metadata":{"finalizers":[{"$patch":"delete"}]}}',
        ]
    )
    headers = {"Content-Type": "application/strategic-merge-patch+json"}
    await run.send("bad-smp", "PATCH", run.ns_path(target), body, headers)


async def long_selector(run: Run) -> None:
    # Every one different: a cache keyed on selectors would keep them all.
    terms = [f"k{word(run.rng, 6)}={word(run.rng, 20)}" for _ in range(1400)]
    selector = ",".join(terms)
    await run.send(
        "long-selector",
        "GET",
        run.ns_path("configmaps", LIST_NS) + f"?limit=5&labelSelector={selector}",
    )


async def bad_query(run: Run) -> None:
    w = word(run.rng)
    query = run.rng.choice(
        [
            f"labelSelector=a%20in%20({w}",
            f"fieldSelector=metadata.{w}=x",
            f"resourceVersion={w}",
            "resourceVersion=99999999999&resourceVersionMatch=NotOlderThan",
            f"limit={w}",
            f"timeoutSeconds={w}",
            f"labelSelector={w}!!==",
            f"continue={w}",
        ]
    )
    await run.send("bad-query", "GET", run.ns_path("configmaps") + "?" + query)


async def unknown_method(run: Run) -> None:
    method = "X" + word(run.rng, 8).upper()
    await run.send("unknown-method", method, run.ns_path("configmaps"))


async def made_up_path(run: Run) -> None:
    w = word(run.rng)
    path = run.rng.choice(
        [
            f"/api/v1/namespaces/{BENCH_NS}/{w}",
            f"/apis/{w}.example.com/v1/{w}",
            f"/api/v1/namespaces/{BENCH_NS}/configmaps/{w}",
            f"/api/v1/namespaces/{BENCH_NS}/pods/{w}/{w}",
            f"/{w}/{w}",
            f"/openapi/v3/apis/{w}/v1",
        ]
    )
    await run.send("made-up-path", "GET", run.url + path)


async def bad_protobuf(run: Run) -> None:
    body = bytes(run.rng.randrange(256) for _ in range(200))
    headers = {"Content-Type": "application/vnd.kubernetes.protobuf"}
    await run.send("bad-protobuf", "POST", run.ns_path("configmaps"), b"k8s\x00" + body, headers)


async def too_big(run: Run) -> None:
    body = configmap("too-big", {"a": "x" * (3 * 1024 * 1024 + 10)})
    await run.send("too-big", "POST", run.ns_path("configmaps"), body, JSON)


async def _forget_oldest(run: Run, names: list[str], keep: int, shape: str) -> None:
    while len(names) > keep:
        target = names.pop(0)
        await run.send(shape, "DELETE", run.ns_path(target))


async def odd_configmap(run: Run) -> None:
    rng = run.rng
    labels = {f"{word(rng, 5)}.example.com/{word(rng, 12)}": word(rng, 20) for _ in range(8)}
    data = {f"{word(rng, 8)}.conf": word(rng, 200) for _ in range(10)}
    body = orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "generateName": "odd-",
                "labels": labels,
                "annotations": {f"{word(rng, 8)}/{word(rng)}": word(rng, 300) for _ in range(4)},
            },
            "data": data,
        }
    )
    query = f"?fieldManager={word(rng, 12)}"
    status, answer = await run.send(
        "odd-create", "POST", run.ns_path("configmaps") + query, body, JSON
    )
    if status == 201:
        run.odd.append("configmaps/" + orjson.loads(answer)["metadata"]["name"])
    await _forget_oldest(run, run.odd, ODD_LIVE, "odd-delete")


async def odd_pod(run: Run) -> None:
    rng = run.rng
    containers = [
        {
            "name": word(rng, 10),
            "image": f"{word(rng, 6)}.example.com/{word(rng)}/{word(rng)}:{word(rng, 6)}",
            "env": [{"name": word(rng, 12).upper(), "value": word(rng, 30)} for _ in range(5)],
            "resources": {"limits": {"cpu": f"{rng.randrange(1, 4000)}m"}},
        }
        for _ in range(3)
    ]
    body = orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"generateName": "odd-", "labels": {word(rng, 6): word(rng, 6)}},
            "spec": {"containers": containers},
        }
    )
    status, answer = await run.send("odd-pod", "POST", run.ns_path("pods"), body, JSON)
    if status == 201:
        # Deleted with grace period 0 at once, as there is no kubelet to confirm it.
        name = orjson.loads(answer)["metadata"]["name"]
        await run.send(
            "odd-pod-delete",
            "DELETE",
            run.ns_path(f"pods/{name}"),
            orjson.dumps({"gracePeriodSeconds": 0}),
            JSON,
        )


async def odd_apply(run: Run) -> None:
    rng = run.rng
    name = "apply-" + word(rng, 6)
    data = {f"{word(rng, 10)}": word(rng, 40) for _ in range(20)}
    body = configmap(name, data, {word(rng, 8): word(rng, 8)})
    headers = {"Content-Type": "application/apply-patch+yaml"}
    manager = "m-" + word(rng, 12)
    status, _ = await run.send(
        "odd-apply",
        "PATCH",
        run.ns_path(f"configmaps/{name}") + f"?fieldManager={manager}&force=true",
        body,
        headers,
    )
    if status in (200, 201):
        run.odd.append(f"configmaps/{name}")


async def odd_update(run: Run) -> None:
    configmaps = [o for o in run.odd[-200:] if o.startswith("configmaps/")]
    if not configmaps:
        return
    target = run.rng.choice(configmaps)
    rng = run.rng
    patch = {
        "metadata": {"labels": {word(rng, 7): word(rng, 9)}},
        "data": {word(rng, 9): word(rng, 50)},
    }
    headers = {"Content-Type": "application/strategic-merge-patch+json"}
    await run.send(
        "odd-update",
        "PATCH",
        run.ns_path(target) + f"?fieldManager={word(rng, 10)}",
        orjson.dumps(patch),
        headers,
    )


async def yaml_create(run: Run) -> None:
    name = "yaml-" + word(run.rng)
    body = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n"
    status, _ = await run.send(
        "yaml-create",
        "POST",
        run.ns_path("configmaps"),
        body.encode(),
        {"Content-Type": "application/yaml"},
    )
    if status == 201:
        run.odd.append(f"configmaps/{name}")


async def big_configmap(run: Run) -> None:
    name = "big-" + word(run.rng)
    value = word(run.rng, 64) * (1024 * 1024 // 64 - 8)
    status, _ = await run.send(
        "big-create", "POST", run.ns_path("configmaps"), configmap(name, {"v": value}), JSON
    )
    if status != 201:
        return
    run.big.append(f"configmaps/{name}")
    updated = configmap(name, {"v": value[::-1]})
    await run.send("big-update", "PUT", run.ns_path(f"configmaps/{name}"), updated, JSON)
    await _forget_oldest(run, run.big, BIG_LIVE, "big-delete")


async def list_all(run: Run) -> None:
    await run.send("list-3000", "GET", run.ns_path("configmaps", LIST_NS))


async def list_table(run: Run) -> None:
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    await run.send(
        "list-table", "GET", run.ns_path("configmaps", LIST_NS), headers={"Accept": accept}
    )


async def watch_from_past(run: Run) -> None:
    url = run.ns_path("configmaps") + f"?watch=true&resourceVersion={run.revision}"
    run.sent += 1
    try:
        timeout = aiohttp.ClientTimeout(total=2)
        async with run.session.get(url, timeout=timeout) as response:
            with contextlib.suppress(asyncio.TimeoutError):
                async with asyncio.timeout(0.3):
                    async for _ in response.content.iter_any():
                        pass
            run.codes[("watch-past", response.status)] += 1
    except (TimeoutError, aiohttp.ClientError):
        run.codes[("watch-past", -1)] += 1


async def missing_get(run: Run) -> None:
    await run.send("get-missing", "GET", run.ns_path(f"configmaps/{word(run.rng)}"))


# (shape, weight per thousand requests)
MIX: list[tuple[Callable[[Run], Awaitable[None]], int]] = [
    (deep_nesting, 40),
    (deep_patch, 20),
    (huge_integers, 40),
    (bad_unicode, 40),
    (bad_token, 40),
    (bad_gzip, 30),
    (bad_strategic_patch, 30),
    (long_selector, 30),
    (bad_query, 60),
    (unknown_method, 20),
    (made_up_path, 60),
    (bad_protobuf, 20),
    (too_big, 3),
    (odd_configmap, 170),
    (odd_pod, 50),
    (odd_apply, 60),
    (odd_update, 100),
    (yaml_create, 30),
    (big_configmap, 6),
    (list_all, 4),
    (list_table, 2),
    (watch_from_past, 25),
    (missing_get, 120),
]


# --- phases -------------------------------------------------------------------------------------


async def setup(cluster: Cluster) -> None:
    connector = aiohttp.TCPConnector(ssl=tls_context(cluster), limit=32)
    async with aiohttp.ClientSession(connector=connector) as session:
        for ns in (BENCH_NS, LIST_NS):
            body = orjson.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            async with session.post(f"{cluster.url}/api/v1/namespaces", data=body, headers=JSON):
                pass
        names = iter(range(LISTED))

        async def worker() -> None:
            for i in names:
                body = configmap(f"cm-{i:05d}", {"key": "value " * 20}, {"app": "listed"})
                url = f"{cluster.url}/api/v1/namespaces/{LIST_NS}/configmaps"
                async with session.post(url, data=body, headers=JSON) as response:
                    assert response.status == 201, await response.text()

        await asyncio.gather(*(worker() for _ in range(16)))


async def hold_watch(session: aiohttp.ClientSession, url: str, ready: asyncio.Event) -> None:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=None)) as response:
        ready.set()
        async for _ in response.content.iter_any():
            pass


async def idle_connection(cluster: Cluster) -> asyncio.StreamWriter:
    host, port = cluster.url.removeprefix("https://").rsplit(":", 1)
    _, writer = await asyncio.open_connection(
        host, int(port), ssl=tls_context(cluster), server_hostname=host
    )
    return writer


async def hostile(
    cluster: Cluster, requests: int, seed: int, skip: frozenset[str], max_rss_mb: float
) -> Run:
    """Send `requests` requests of the mix, with watches and idle connections held open.

    Returns once every request has been answered, with everything still open; the caller
    closes the sessions."""
    rng = random.Random(seed)
    connector = aiohttp.TCPConnector(ssl=tls_context(cluster), limit=CONCURRENCY)
    anonymous = aiohttp.TCPConnector(ssl=tls_context(cluster, certificate=False), limit=4)
    timeout = aiohttp.ClientTimeout(total=120)
    run = Run(
        cluster.url,
        aiohttp.ClientSession(connector=connector, timeout=timeout),
        aiohttp.ClientSession(connector=anonymous, timeout=timeout),
        rng,
    )
    async with run.session.get(run.ns_path("configmaps") + "?limit=1") as response:
        run.revision = (await response.json())["metadata"]["resourceVersion"]
    shapes = [shape for shape, weight in MIX for _ in range(weight) if shape.__name__ not in skip]
    plan = iter(range(requests))

    async def worker() -> None:
        for _ in plan:
            await rng.choice(shapes)(run)

    watch_session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=tls_context(cluster), limit=0)
    )
    readies = [asyncio.Event() for _ in range(HELD_WATCHES)]
    watches = [
        asyncio.create_task(
            hold_watch(
                watch_session,
                # Pods come and go all through the run; the listed ConfigMaps stay still.
                run.ns_path("pods" if i % 2 else "configmaps", BENCH_NS if i % 2 else LIST_NS)
                + f"?watch=true&resourceVersion={run.revision}",
                ready,
            )
        )
        for i, ready in enumerate(readies)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
    idle = [await idle_connection(cluster) for _ in range(IDLE_CONNECTIONS)]
    started = time.monotonic()
    last = started
    pid = cluster.process.pid if cluster.process else 0
    progress = asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    while not progress.done():
        await asyncio.wait([progress], timeout=10)
        if rss_mb(pid) > max_rss_mb:
            # The machine is shared: a server that grows without bound is stopped, not followed.
            progress.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await progress
            print(f"  stopped after {run.sent} requests: server RSS past {max_rss_mb} MB")
            break
        now = time.monotonic()
        if now - last >= 10:
            rate = run.sent / (now - started)
            print(f"  {run.sent} requests ({rate:.0f}/s), server RSS {rss_mb(pid):.0f} MB")
            last = now
    if not progress.cancelled():
        progress.result()
    run.held = (watch_session, watches, idle)
    return run


async def drop_connections(run: Run) -> None:
    watch_session, watches, idle = run.held
    for task in watches:
        task.cancel()
    for task in watches:
        with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
            await task
    for writer in idle:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    await watch_session.close()
    await run.session.close()
    await run.anonymous.close()


async def cleanup(cluster: Cluster) -> None:
    """Delete what the run (and the setup) created: every ConfigMap and Pod of both namespaces."""
    connector = aiohttp.TCPConnector(ssl=tls_context(cluster), limit=4)
    async with aiohttp.ClientSession(connector=connector) as session:
        for ns in (BENCH_NS, LIST_NS):
            for resource in ("configmaps", "pods"):
                url = f"{cluster.url}/api/v1/namespaces/{ns}/{resource}?gracePeriodSeconds=0"
                async with session.delete(url) as response:
                    assert response.status == 200, await response.text()


def wait_until(what: str, check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    print(f"  (gave up waiting for {what})")
    return False


def settled(pid: int, quiet: float = 3.0, timeout: float = 60.0) -> None:
    """Wait until the server's count of open sockets has not changed for `quiet` seconds: the
    connections the client closed are gone (the control plane's stay)."""
    deadline = time.monotonic() + timeout
    count, since = open_sockets(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = open_sockets(pid)
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
    print("  (the server's sockets did not settle)")


def snapshot(cluster: Cluster, written: list[Path], suffix: str = "snapshot") -> None:
    """Ask the server for a tracemalloc snapshot (or a memory report: suffix "json"), and wait
    until it is written."""
    assert cluster.process is not None
    path = cluster.data_dir / "tracemalloc" / f"{len(written) + 1}.{suffix}"
    cluster.process.send_signal(signal.SIGUSR2)
    wait_until("the snapshot", path.exists, 120)
    # Written in one go by dump(); wait for its size to settle before reading.
    size = -1
    while path.stat().st_size != size:
        size = path.stat().st_size
        time.sleep(0.5)
    written.append(path)


def compare(first: Path, last: Path, limit: int = 25) -> None:
    """What Python holds at `last` that it did not at `first`, by traceback."""
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    old = tracemalloc.Snapshot.load(str(first)).filter_traces(ignore)
    new = tracemalloc.Snapshot.load(str(last)).filter_traces(ignore)
    total = sum(s.size for s in new.statistics("filename")) - sum(
        s.size for s in old.statistics("filename")
    )
    print(f"\ntracemalloc: {total / 1e6:+.1f} MB traced between {first.name} and {last.name}")
    for stat in new.compare_to(old, "traceback")[:limit]:
        print(f"{stat.size_diff / 1e6:+8.2f} MB {stat.count_diff:+8d} blocks")
        for line in stat.traceback.format(limit=6):
            print("      " + line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="send --requests, clean up and wait --quiet this many times over: an RSS that "
        "settles at the same level each round is held, one that climbs is leaked",
    )
    parser.add_argument(
        "--tracemalloc",
        type=int,
        default=0,
        metavar="FRAMES",
        help="trace the server's allocations, FRAMES deep, and compare snapshots by traceback",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment for the server (MALLOC_ARENA_MAX=2, say)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="SHAPE",
        help="leave a shape of the mix out (its function's name: watch_from_past, ...)",
    )
    parser.add_argument(
        "--quiet",
        type=float,
        default=90,
        metavar="SECONDS",
        help="after the cleanup, wait this long and measure again (default %(default)s: past "
        "the 75 s the store keeps a burst's events for)",
    )
    parser.add_argument(
        "--max-rss",
        type=float,
        default=6000,
        metavar="MB",
        help="stop sending once the server's RSS passes this (default %(default)s)",
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="at each phase, have the server report its objects by type and its RSS after "
        "malloc_trim (which then lowers the RSS of later phases)",
    )
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.server_env)
    if args.tracemalloc:
        env["KUBELITE_TRACEMALLOC"] = str(args.tracemalloc)
    elif args.report:
        env.setdefault("KUBELITE_MEMORY_REPORT", "1")
    rows: list[tuple[str, float, int]] = []
    snapshots: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="kubelite-bench-") as tmp:
        cluster = Cluster(
            Path(tmp) / "data", Path(tmp) / "cache", extra_args=SERVER_ARGS, server_env=env
        )
        cluster.start()
        assert cluster.process is not None
        pid = cluster.process.pid

        def measure(phase: str) -> None:
            rows.append((phase, rss_mb(pid), open_sockets(pid)))
            print(f"{phase}: RSS {rows[-1][1]:.0f} MB, {rows[-1][2]} sockets", flush=True)
            if args.tracemalloc:
                snapshot(cluster, snapshots)
            elif args.report:
                snapshot(cluster, snapshots, "json")
                report = json.loads(snapshots[-1].read_text())
                print(
                    f"  after malloc_trim: RSS {report['rss_after_trim'] / 2**20:.0f} MB; "
                    f"{report['objects']} objects tracked by the GC; largest by type:"
                )
                parts = report.get("rss_parts", {})
                pymalloc = report.get("pymalloc", {})
                print(
                    "  of it: "
                    + ", ".join(f"{k} {v / 2**20:.0f} MB" for k, v in parts.items())
                    + f"; pymalloc {pymalloc.get('arenas', 0)} arenas (high-water "
                    f"{pymalloc.get('arenas_highwater', 0)}), "
                    f"{pymalloc.get('allocated_bytes', 0) / 2**20:.0f} MB in live blocks; "
                    f"SQLite {report.get('sqlite_bytes', 0) / 2**20:.0f} MB"
                )
                if "rss_after_clearing" in report:
                    print(
                        f"  after clearing caches: RSS {report['rss_after_clearing'] / 2**20:.0f}"
                        f" MB; pymalloc {report['pymalloc_after_clearing']}"
                    )
                print(f"  caches: {report.get('caches')}")
                for name, count, size in report["by_type"][:8]:
                    print(f"    {name:<24} {count:>9} {size / 2**20:>8.1f} MB")
                for chain, size in report["big_values"].items():
                    print(f"    {size / 2**20:8.1f} MB of big values held by {chain}")
                print("  coroutines:")
                for where, count in report["coroutines"][:8]:
                    print(f"    {count:>6} {where}")

        try:
            measure("started")
            seconds = 0.0
            sent = 0
            codes: Counter[tuple[str, int]] = Counter()
            for round_ in range(1, args.rounds + 1):
                # Each round starts from the same state: the listed ConfigMaps stored again.
                suffix = f" (round {round_})" if args.rounds > 1 else ""

                def measure_in_round(phase: str, suffix: str = suffix) -> None:
                    measure(phase + suffix)

                asyncio.run(setup(cluster))
                measure(f"{LISTED} ConfigMaps stored{suffix}")
                began = time.monotonic()
                run = asyncio.run(
                    _hostile_then_drop(
                        cluster,
                        args.requests,
                        args.seed + round_ - 1,
                        frozenset(args.skip),
                        args.max_rss,
                        measure_in_round,
                    )
                )
                seconds += time.monotonic() - began
                sent += run.sent
                codes += run.codes
                settled(pid)
                measure(f"connections dropped{suffix}")
                asyncio.run(cleanup(cluster))
                measure(f"everything created deleted{suffix}")
                if args.quiet > 0:
                    time.sleep(args.quiet)
                    measure(f"then {args.quiet:.0f} s without requests{suffix}")
        finally:
            cluster.stop()
        if len(snapshots) >= 2 and args.tracemalloc:
            compare(snapshots[1], snapshots[-1])
    first = rows[0][1]
    print(f"\n{sent} requests sent in {seconds:.0f} s ({sent / seconds:.0f}/s)")
    print(f"\n{'phase':<32} {'RSS MB':>8} {'vs start':>9} {'sockets':>8}")
    for phase, rss, sockets in rows:
        print(f"{phase:<32} {rss:>8.0f} {(rss / first - 1) * 100:>+8.0f}% {sockets:>8}")
    print("\nanswers by shape and code:")
    for (shape, code), count in sorted(codes.items()):
        print(f"  {shape:<16} {code:>4} {count:>7}")
    write_results(
        "memory",
        {
            "requests": sent,
            "rounds": args.rounds,
            "seconds": seconds,
            "server_env": env,
            "phases": [{"phase": p, "rss_mb": r, "sockets": s} for p, r, s in rows],
            "codes": [[s, c, n] for (s, c), n in sorted(codes.items())],
        },
    )
    return 0


async def _hostile_then_drop(
    cluster: Cluster,
    requests: int,
    seed: int,
    skip: frozenset[str],
    max_rss_mb: float,
    measure: Callable[[str], None],
) -> Run:
    run = await hostile(cluster, requests, seed, skip, max_rss_mb)
    measure("after the run, connections open")
    await drop_connections(run)
    return run


if __name__ == "__main__":
    sys.exit(main())
