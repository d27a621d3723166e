"""How far the etcd store's watch falls behind its own writes when the event loop is busy.

Writers create pod-sized values through `EtcdStore` (one Debian etcd of the benchmark's own),
each spending `--work` seconds of CPU in the loop before its create, as the API server spends
on a request (decoding, admission, encoding: about 0.6 ms); one watch on the prefix times each
event from the moment its create was answered. Printed per writer count: creates per second and
answer -> event p50, p99 and max.

Why it exists: `api_bench.py` measured the event after the answer at p99 0.7 to 0.8 s with 16
writers on etcd, against a few ms on SQLite (issue #17's aim is 10 ms). This isolates the cause
from the HTTP side. The store's one watch stream is a `grpc.aio` stream, and each message read
from it costs the loop a round trip (the read completes on grpc's poller thread and resumes
the reader at the loop's next iteration); etcd sends one message per revision. A loop whose
every iteration runs many writers' steps therefore reads fewer messages per second than the
writers make revisions, and the lag grows for as long as the load lasts. The store therefore
reads its stream through a relay process by default (`storage/etcd_watch.py`); `--watch`
measures that, the in-process reader, or both. `--switch-interval` sets
`sys.setswitchinterval`, for trying readers on threads (the GIL hand-over then decides).

Run: `.venv/bin/python bench/etcd_watch_lag.py [--writers 1 16 64] [--creates N] [--work S]
[--watch relay|in-process|both]`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.etcd_server import EtcdServer  # noqa: E402

from kubelite.storage.etcd import EtcdStore  # noqa: E402

PODS = "/registry/pods/"
VALUE = b"x" * 1500  # about a small pod's JSON


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def measure(
    endpoint: str, writers: int, creates: int, work: float, relay: bool
) -> dict[str, float]:
    store = await EtcdStore.open([endpoint], watch_relay=relay)
    try:
        start = (await store.list(PODS, limit=1)).revision
        watch = await store.watch(PODS, start)
        answered: dict[str, float] = {}
        arrived: dict[str, float] = {}

        async def read() -> None:
            while len(arrived) < creates:
                for event in await watch.next():
                    arrived[event.kv.key] = time.perf_counter()

        numbers = iter(range(creates))

        async def write() -> None:
            for n in numbers:
                key = f"{PODS}bench/{relay}-w{writers}-p{n}"
                _busy(work)
                await store.create(key, VALUE)
                answered[key] = time.perf_counter()

        reader = asyncio.create_task(read())
        began = time.perf_counter()
        await asyncio.gather(*(write() for _ in range(writers)))
        elapsed = time.perf_counter() - began
        await asyncio.wait_for(reader, 120)
        watch.close()
        # An event may come before its create's answer is read: a lag of 0.
        lags = sorted(max(0.0, arrived[key] - when) for key, when in answered.items())
        return {
            "creates_per_s": creates / elapsed,
            "p50_ms": lags[len(lags) // 2] * 1e3,
            "p99_ms": lags[int(len(lags) * 0.99)] * 1e3,
            "max_ms": lags[-1] * 1e3,
        }
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--creates", type=int, default=4000)
    parser.add_argument("--work", type=float, default=0.0006, help="CPU seconds per create")
    parser.add_argument("--switch-interval", type=float, default=0.0)
    parser.add_argument(
        "--watch",
        choices=["relay", "in-process", "both"],
        default="both",
        help="how the store reads its watch stream (etcd_watch.py)",
    )
    args = parser.parse_args()
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    with tempfile.TemporaryDirectory() as tmp:
        etcd = EtcdServer.start(Path(tmp))
        try:
            print(
                f"{'watch':>10} {'writers':>7} {'creates/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
                f"{'max ms':>8}"
            )
            ways = ["relay", "in-process"] if args.watch == "both" else [args.watch]
            for way in ways:
                for writers in args.writers:
                    row = asyncio.run(
                        measure(etcd.endpoint, writers, args.creates, args.work, way == "relay")
                    )
                    print(
                        f"{way:>10} {writers:>7} {row['creates_per_s']:>9.0f} "
                        f"{row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['max_ms']:>8.1f}"
                    )
        finally:
            etcd.stop()


if __name__ == "__main__":
    main()
