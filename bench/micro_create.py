"""Micro-benchmark: where one pod create's CPU goes inside the API server, step by step.

The pod is `api_bench.pod_body`, like the seed's nginx-sidecar (two containers sharing an
emptyDir). Each step runs as the create path runs it (decode, default, prepare_for_create,
validate, managedFields, encode), on objects prepared beforehand, so that the figure of a step
that changes its object in place does not include copying it. Besides the create, it times the
writes that follow one: an update (PUT) that adds a label, and a server-side apply that creates
the pod and then changes one image.

Run: `.venv/bin/python bench/micro_create.py`. Prints microseconds of CPU time per call (process
time, so that other processes on the machine disturb the figures less), the best of a few rounds;
no arguments.
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_bench import pod_body
from kubelite.api import decoding, managedfields, quantity, schema
from kubelite.api.kinds import REGISTRY
from kubelite.apiserver import registry

Obj = dict[str, Any]

ROUNDS = 5
BATCH = 10
TIME = "2026-01-01T00:00:00Z"
LATER = "2026-01-01T00:01:00Z"

_PODS = REGISTRY.lookup("", "v1", "pods")
assert _PODS is not None
STRATEGY = _PODS.strategy
_POD_NODE = schema.load().for_kind("", "v1", "Pod")
assert _POD_NODE is not None
NODE: schema.Node = _POD_NODE


def measure(name: str, step: Callable[[Any], Any], inputs: Callable[[], Any], n: int) -> None:
    """Print the best per-call CPU time of `step` over ROUNDS rounds of `n` calls.

    `inputs()` makes the argument of one call. Arguments are made a few at a time, off the
    clock, just before they are used: a step that changes its argument gets a fresh one, and
    finds it in the CPU caches as it would in the server, right after the previous step.
    """
    step(inputs())
    best = float("inf")
    for _ in range(ROUNDS):
        spent = 0.0
        for _ in range(n // BATCH):
            args = [inputs() for _ in range(BATCH)]
            start = time.process_time()
            for arg in args:
                step(arg)
            spent += time.process_time() - start
        best = min(best, spent / (n // BATCH * BATCH))
    print(f"{name:36s} {best * 1e6:8.1f} us")


def same(value: Any) -> Callable[[], Any]:
    return lambda: value


def fresh(value: Obj) -> Callable[[], Obj]:
    return lambda: copy.deepcopy(value)


def record_create(obj: Obj, manager: str = "bench") -> Obj:
    managedfields.update(
        None,
        obj,
        manager=manager,
        node=NODE,
        api_version="v1",
        time=TIME,
        reset_fields=("status",),
    )
    return obj


def record_update(pair: tuple[Obj, Obj]) -> Obj:
    old, new = pair
    managedfields.update(
        old,
        new,
        manager="kubectl-edit",
        node=NODE,
        api_version="v1",
        time=LATER,
        reset_fields=("status",),
    )
    return new


def apply(live: Obj | None, config: Obj, when: str) -> Obj:
    return managedfields.apply(
        live,
        config,
        manager="kubectl",
        force=False,
        node=NODE,
        api_version="v1",
        time=when,
        reset_fields=("status",),
    )


def main() -> None:
    body = pod_body("web")
    measure("parse_json", decoding.parse_json, same(body), 2000)
    decode_args = (NODE, "Pod", "v1", quantity.canonical_json)
    measure(
        "decode walk",
        lambda raw: decoding.decode(decoding.parse_json(raw), *decode_args),
        same(body),
        2000,
    )
    decoded, _ = decoding.decode(decoding.parse_json(body), *decode_args)
    decoded["metadata"].update(namespace="default", uid="u", creationTimestamp=TIME)
    measure("deepcopy (not in the steps below)", copy.deepcopy, same(decoded), 2000)

    measure("PodStrategy.default", STRATEGY.default, fresh(decoded), 2000)
    defaulted = copy.deepcopy(decoded)
    STRATEGY.default(defaulted)
    measure("PodStrategy.prepare_for_create", STRATEGY.prepare_for_create, fresh(defaulted), 2000)
    prepared = copy.deepcopy(defaulted)
    STRATEGY.prepare_for_create(prepared)
    errors = STRATEGY.validate(prepared)
    assert not errors, errors
    measure("PodStrategy.validate", STRATEGY.validate, same(prepared), 2000)

    measure("managedfields.update(create)", record_create, fresh(prepared), 1000)
    created = record_create(copy.deepcopy(prepared))
    relabelled = copy.deepcopy(created)
    relabelled["metadata"]["labels"]["release"] = "canary"
    measure(
        "managedfields.update(add a label)",
        record_update,
        lambda: (created, copy.deepcopy(relabelled)),
        1000,
    )

    config = orjson.loads(body)
    measure("managedfields.apply(create)", lambda c: apply(None, c, TIME), same(config), 500)
    live = apply(None, config, TIME)
    STRATEGY.default(live)
    changed = copy.deepcopy(config)
    changed["spec"]["containers"][0]["image"] = "nginx:1.28"
    measure(
        "managedfields.apply(change image)", lambda c: apply(live, c, LATER), same(changed), 500
    )

    measure("encode", registry.encode, same(created), 2000)
    print(f"stored object: {len(orjson.dumps(created))} bytes")


if __name__ == "__main__":
    main()
