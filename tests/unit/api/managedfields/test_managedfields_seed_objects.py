"""The exact managedFields of the seed's objects, pinned byte for byte.

`seed_objects.json` holds each object of the seed's manifests and companions (the pods first) as
the API server creates it: decoded, defaulted and prepared (the service account token volume
named `kube-api-access-x7k2p`), with the managedFields that a create by
`kubectl-client-side-apply` (`update(None, ...)`) and a server-side apply of the manifest by
`kubectl` (`apply(None, ...)`) recorded for it. They were written by the code before the create
path got its own walk (`managedfields.created`); any change to a single byte of fieldsV1, the
order of its keys included, fails here.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from kubelite.api import schema
from kubelite.api.managedfields import apply, update

T0 = "2024-05-01T10:00:00Z"
CASES: list[dict[str, Any]] = json.loads((Path(__file__).parent / "seed_objects.json").read_text())


def node_of(obj: dict[str, Any]) -> schema.Node:
    group, _, version = obj["apiVersion"].rpartition("/")
    node = schema.load().for_kind(group, version, obj["kind"])
    assert node is not None
    return node


def exact(value: Any) -> str:
    """JSON text that keeps key order: equal texts are equal bytes on the wire."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("case", CASES, ids=[c["manifest"]["metadata"]["name"] for c in CASES])
def test_a_create_records_the_pinned_managed_fields(case: dict[str, Any]) -> None:
    created = copy.deepcopy(case["created"])
    update(
        None,
        created,
        manager="kubectl-client-side-apply",
        node=node_of(created),
        api_version=created["apiVersion"],
        time=T0,
        reset_fields=case["resetFields"],
    )
    assert exact(created["metadata"]["managedFields"]) == exact(case["createdManagedFields"])
    # Nothing but managedFields changes.
    del created["metadata"]["managedFields"]
    assert created == case["created"]


@pytest.mark.parametrize("case", CASES, ids=[c["manifest"]["metadata"]["name"] for c in CASES])
def test_an_apply_that_creates_records_the_pinned_managed_fields(case: dict[str, Any]) -> None:
    manifest = case["manifest"]
    applied = apply(
        None,
        copy.deepcopy(manifest),
        manager="kubectl",
        force=False,
        node=node_of(manifest),
        api_version=manifest["apiVersion"],
        time=T0,
        reset_fields=case["resetFields"],
    )
    assert exact(applied["metadata"]["managedFields"]) == exact(case["appliedManagedFields"])


def test_the_pods_come_first_and_all_are_tracked() -> None:
    kinds = [c["manifest"]["kind"] for c in CASES]
    assert kinds[:5] == ["Pod"] * 5
    assert all(c["createdManagedFields"] and c["appliedManagedFields"] for c in CASES)
