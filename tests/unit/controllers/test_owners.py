"""The status write and the owner re-check that the workload controllers share."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.client.api import Resource
from kubelite.client.errors import APIConflictError, APINotFoundError
from kubelite.controllers.owners import put_status, recheck_owner

Obj = dict[str, Any]
RS = Resource("apps", "v1", "replicasets", kind="ReplicaSet")


def _error(cls: type, code: int, reason: str) -> Exception:
    return cls({"code": code, "reason": reason, "message": reason})


class FakeClient:
    """Answers GETs with `stored`; each PUT fails with the next of `failures`, if any."""

    def __init__(self, stored: Obj | None, failures: list[Exception] | None = None) -> None:
        self.stored = stored
        self.failures = list(failures or [])
        self.puts: list[Obj] = []

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> Obj:
        if self.stored is None:
            raise _error(APINotFoundError, 404, "NotFound")
        return self.stored

    async def update(self, resource: Resource, body: Obj, **kw: Any) -> Obj:
        assert kw["subresource"] == "status"
        self.puts.append(body)
        if self.failures:
            raise self.failures.pop(0)
        return body


def rs(uid: str = "u1", **status: Any) -> Obj:
    return {"metadata": {"name": "web", "namespace": "ns", "uid": uid}, "status": status}


async def test_a_conflict_is_written_once_more_onto_the_fresh_object() -> None:
    fresh = rs(replicas=1, conditions=[{"type": "ReplicaFailure"}], resourceVersion="9")
    client = FakeClient(fresh, [_error(APIConflictError, 409, "Conflict")])
    await put_status(client, RS, rs(replicas=0), {"replicas": 3}, drop=("conditions",))  # type: ignore[arg-type]
    assert len(client.puts) == 2
    assert client.puts[1]["status"] == {"replicas": 3, "resourceVersion": "9"}
    assert (client.puts[1]["apiVersion"], client.puts[1]["kind"]) == ("apps/v1", "ReplicaSet")


async def test_a_second_conflict_is_left_to_the_queue_and_a_deleted_object_needs_nothing() -> None:
    conflict = _error(APIConflictError, 409, "Conflict")
    client = FakeClient(rs(), [conflict, _error(APIConflictError, 409, "Conflict")])
    with pytest.raises(APIConflictError):
        await put_status(client, RS, rs(), {"replicas": 1})  # type: ignore[arg-type]
    gone = FakeClient(None, [_error(APINotFoundError, 404, "NotFound")])
    await put_status(gone, RS, rs(), {"replicas": 1})  # type: ignore[arg-type]
    assert len(gone.puts) == 1


@pytest.mark.parametrize(
    ("stored", "may_adopt"),
    [
        (rs(), True),
        (rs(uid="u2"), False),  # deleted and made again under the same name
        (
            {**rs(), "metadata": {**rs()["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}},
            False,
        ),
        (None, False),
    ],
)
async def test_only_the_same_live_owner_may_adopt(stored: Obj | None, may_adopt: bool) -> None:
    assert await recheck_owner(FakeClient(stored), RS, rs()) is may_adopt  # type: ignore[arg-type]
