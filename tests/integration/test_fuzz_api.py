"""No request a client can send gets a 5xx, and the server is healthy and its log clean after.

A real `kubelite server` of this module's own is sent two streams of requests, both drawn by
hypothesis with a fixed seed (`derandomize`, no example database), so that every run sends the
same requests and a failure found once is found again:

- the hostile shapes of `fuzz_shapes`, crossed with every resource and subresource the
  server's discovery lists;
- schemathesis' positive and negative cases for every operation of the OpenAPI v3 documents
  the server serves (`fuzz_schema`).

Every answer must pass `fuzz_wire.judge`: no 5xx but Kubernetes' own 504 for a
resourceVersion the store has not reached, and an error body that is a `Status` of the same
code. A failure prints the request that caused it, as bytes that can be sent again. After both,
`/readyz` must answer ok and the server's log must hold no traceback and no ERROR line.

The budgets (examples per stream) keep the module under 60 s on a 2-core machine; the long run
is `bench/fuzz.py`. This is an integration test, not a unit one, because it needs what only a
server process of its own gives: a log file to read for tracebacks, and a server whose objects
and namespaces no other test shares (the fuzzer deletes and replaces what it finds).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cluster import Cluster
from fuzz_schema import load, requests_strategy
from fuzz_shapes import SHAPES, World, build_world
from fuzz_wire import Client, Credentials, NoAnswer, Request, judge, log_errors
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

# Examples per stream: 10 to 20 s each on this 2-core machine (30 to 45 s for the module,
# with other work beside it).
HOSTILE_EXAMPLES = 2000
SCHEMA_EXAMPLES = 300
# Repeatable: the same requests every run; no shrinking, as each request is printed whole.
FIXED = settings(
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
# Loggers whose ERROR lines are not the server's own errors. None: the server logs aiohttp's
# refusals of malformed requests and its clients' hang-ups at debug (`apiserver/server_log.py`).
NOISY_LOGGERS: tuple[str, ...] = ()


@dataclass
class Fuzzed:
    cluster: Cluster
    client: Client
    world: World
    operations: list[Any]

    def send(self, request: Request) -> None:
        try:
            response = self.client.send(request)
        except (NoAnswer, OSError) as exc:
            pytest.fail(f"no answer ({exc}) to:\n{request.describe()}")
        problem = judge(request, response)
        assert problem is None, f"{problem}\nfor the request:\n{request.describe()}"


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    base = tmp_path_factory.mktemp("fuzz")
    cluster = Cluster(base / "data", base / "cache", extra_args=["--disable-scheduler"])
    cluster.start()
    client = Client.of_url(cluster.url, Credentials.of(cluster.data_dir))
    try:
        yield Fuzzed(cluster, client, build_world(client), load(client))
    finally:
        client.close()
        cluster.stop()


def test_hostile_shapes_get_no_5xx_and_a_status(fuzzed: Fuzzed) -> None:
    @settings(FIXED, max_examples=HOSTILE_EXAMPLES)
    @given(st.sampled_from(sorted(SHAPES)), st.randoms(use_true_random=False))
    def hostile(shape: str, rng: random.Random) -> None:
        fuzzed.send(SHAPES[shape](rng, fuzzed.world))

    hostile()


def test_requests_from_the_served_openapi_get_no_5xx_and_a_status(fuzzed: Fuzzed) -> None:
    @settings(FIXED, max_examples=SCHEMA_EXAMPLES)
    @given(requests_strategy(fuzzed.operations, fuzzed.world))
    def from_schema(request: Request) -> None:
        fuzzed.send(request)

    from_schema()


def test_the_server_is_ready_and_its_log_clean_after_the_fuzzing(fuzzed: Fuzzed) -> None:
    ready = fuzzed.client.send(Request("GET", "/readyz"))
    assert (ready.status, ready.body) == (200, b"ok")
    assert fuzzed.cluster.log_path is not None
    log = Path(fuzzed.cluster.log_path).read_text(errors="replace")
    assert log_errors(log, NOISY_LOGGERS) == []
