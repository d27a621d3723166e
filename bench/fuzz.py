"""The API server under a long fuzzing run: 100,000 hostile and schema-generated requests.

The same generators as the suite's fuzzing test (tests/integration/test_fuzz_api.py): the
hostile shapes of `fuzz_shapes` crossed with the served resources, drawn from a seeded
`random.Random`, and schemathesis' cases from the served OpenAPI v3 documents, drawn by
hypothesis with a fixed seed. It prints the answers counted by status code and by shape, the
requests per second, every failure (a 5xx other than the too-large-resourceVersion 504, an
error that is not a Status, no answer) with the request that caused it, whether the server's
log holds a traceback or an ERROR, and the server's RSS (VmRSS) before and after.

    .venv/bin/python bench/fuzz.py                     # 100,000 requests, a fifth from the schema
    .venv/bin/python bench/fuzz.py --requests 5000     # a short run

The server keeps its data in /dev/shm where it can: the store fsyncs every write, and this
measures the request path, not the disk.
"""

from __future__ import annotations

import argparse
import collections
import heapq
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
sys.path.insert(0, str(HERE))

from fuzz_schema import load, requests_strategy  # noqa: E402
from fuzz_shapes import SHAPES, World, build_world, plant_seeds  # noqa: E402
from fuzz_wire import (  # noqa: E402
    Client,
    Credentials,
    NoAnswer,
    Request,
    is_known_server_error,
    judge,
    log_errors,
)
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from tests.integration.cluster import Cluster  # noqa: E402

from api_bench import rss_mb, write_results  # noqa: E402

# aiohttp logs each request its parser refused, with a traceback (the "conn" part of issue 14
# quiets it): counted apart from the server's own errors.
NOISY_LOGGERS = ("aiohttp.server",)
# The seeds are planted again this often: the shapes delete and replace them.
RESEED_EVERY = 2_000
# Distinct failures listed in full; the rest are counted.
SHOWN_FAILURES = 40
# The slowest requests listed: what holds the server's one event loop longest.
SLOWEST = 10


class Tally:
    """Counts of the answers, and the failures with their requests."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.by_status: collections.Counter[int] = collections.Counter()
        self.by_shape: dict[str, collections.Counter[int]] = collections.defaultdict(
            collections.Counter
        )
        self.failures: collections.Counter[str] = collections.Counter()
        self.examples: dict[str, str] = {}
        self.sent = 0
        # 500s of fuzz_wire.KNOWN_SERVER_ERRORS: follow-ups, counted apart from the failures.
        self.known = 0
        # The slowest answers (seconds, order, request), smallest first.
        self.slowest: list[tuple[float, int, str]] = []

    def send(self, request: Request) -> None:
        self.sent += 1
        # "schema positive PATCH" counts as "schema positive".
        shape = " ".join(request.shape.split(" ")[:2])
        started = time.perf_counter()
        try:
            response = self.client.send(request)
        except (NoAnswer, OSError) as exc:
            self._fail(f"[{shape}] no answer: {exc}", request)
            self.by_shape[shape][0] += 1
            return
        finally:
            took = time.perf_counter() - started
            if len(self.slowest) < SLOWEST or took > self.slowest[0][0]:
                heapq.heappush(self.slowest, (took, self.sent, request.describe()[:600]))
                if len(self.slowest) > SLOWEST:
                    heapq.heappop(self.slowest)
        self.by_status[response.status] += 1
        self.by_shape[shape][response.status] += 1
        if is_known_server_error(response):
            self.known += 1
        problem = judge(request, response)
        if problem is not None:
            self._fail(f"[{shape}] {problem[:120]}", request)

    def _fail(self, key: str, request: Request) -> None:
        self.failures[key] += 1
        if key not in self.examples and len(self.examples) < SHOWN_FAILURES:
            self.examples[key] = request.describe()


def hostile(tally: Tally, world: World, count: int, seed: int) -> None:
    rng = random.Random(seed)
    names = sorted(SHAPES)
    for i in range(count):
        if i and i % RESEED_EVERY == 0:
            plant_seeds(tally.client, world)
        tally.send(SHAPES[rng.choice(names)](rng, world))


def from_schema(tally: Tally, world: World, operations: list[Any], count: int) -> None:
    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(requests_strategy(operations, world))
    def send(request: Request) -> None:
        if tally.sent % RESEED_EVERY == 0:
            plant_seeds(tally.client, world)
        tally.send(request)

    send()


def report(results: dict[str, Any]) -> None:
    print(
        f"\n{results['requests']} requests in {results['seconds']:.0f} s: "
        f"{results['requests_per_second']:.0f} requests/s"
    )
    print("\nby status: " + ", ".join(f"{k}: {v}" for k, v in results["by_status"].items()))
    print("\nby shape:")
    for shape, counts in results["by_shape"].items():
        total = sum(counts.values())
        detail = ", ".join(f"{k}: {v}" for k, v in counts.items())
        print(f"  {shape:<28} {total:>7}  ({detail})")
    print(
        f"\nfailures: {sum(results['failures'].values())}; known 500s (fuzz_wire."
        f"KNOWN_SERVER_ERRORS, follow-ups): {results['known_server_errors']}"
    )
    for key, count in results["failures"].items():
        print(f"  {count:>6}  {key}")
        if key in results["failure_requests"]:
            print("          " + results["failure_requests"][key].replace("\n", "\n          "))
    print(
        f"\nserver log: {len(results['log_errors'])} ERROR records or tracebacks of its own, "
        f"{results['noisy_log_records']} of aiohttp's ({', '.join(NOISY_LOGGERS)})"
    )
    for text in results["log_errors"][:5]:
        print("  " + text[:600].replace("\n", "\n  "))
    print("\nslowest answers:")
    for slow in results["slowest"]:
        print(f"  {slow['seconds']:.3f} s  " + slow["request"][:300].replace("\n", "\n           "))
    print(f"\n/readyz after: {results['ready_after']}")
    rss = results["rss_mb"]
    print(
        f"server RSS: {rss['before']:.0f} MB before, {rss['after']:.0f} MB after "
        f"({rss['after'] / rss['before']:.2f}x)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000, help="how many in all")
    parser.add_argument(
        "--schema-share", type=float, default=0.2, help="the part drawn from the served OpenAPI"
    )
    parser.add_argument("--seed", type=int, default=0, help="the hostile shapes' random seed")
    args = parser.parse_args()
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="kubelite-fuzz-", dir=base) as tmp:
        cluster = Cluster(
            Path(tmp) / "data", Path(tmp) / "cache", extra_args=["--disable-scheduler"]
        )
        cluster.start()
        assert cluster.process is not None
        pid = cluster.process.pid
        client = Client.of_url(cluster.url, Credentials.of(cluster.data_dir))
        try:
            world = build_world(client)
            operations = load(client)
            rss_before = rss_mb(pid)
            tally = Tally(client)
            schema_count = int(args.requests * args.schema_share)
            started = time.monotonic()
            hostile(tally, world, args.requests - schema_count, args.seed)
            from_schema(tally, world, operations, schema_count)
            seconds = time.monotonic() - started
            ready = client.send(Request("GET", "/readyz"))
            rss_after = rss_mb(pid)
            assert cluster.log_path is not None
            log = cluster.log_path.read_text(errors="replace")
        finally:
            client.close()
            cluster.stop()
    own = log_errors(log, NOISY_LOGGERS)
    results: dict[str, Any] = {
        "requests": tally.sent,
        "seconds": seconds,
        "requests_per_second": tally.sent / seconds,
        "by_status": dict(sorted(tally.by_status.items())),
        "by_shape": {k: dict(sorted(v.items())) for k, v in sorted(tally.by_shape.items())},
        "failures": dict(tally.failures.most_common()),
        "known_server_errors": tally.known,
        "failure_requests": tally.examples,
        "slowest": [
            {"seconds": round(t, 3), "request": text} for t, _, text in sorted(tally.slowest)[::-1]
        ],
        "log_errors": own,
        "noisy_log_records": len(log_errors(log)) - len(own),
        "ready_after": f"{ready.status} {ready.body.decode(errors='replace')}",
        "rss_mb": {"before": rss_before, "after": rss_after},
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }
    report(results)
    write_results("fuzz", results)
    return 1 if tally.failures or own else 0


if __name__ == "__main__":
    sys.exit(main())
