"""Talking to etcd as its administrator: health, members, snapshots.

aetcd's `Client` opens insecure channels only, so this opens a TLS gRPC channel itself (the
etcd client certificate, checked against etcd's server CA) and uses the stubs aetcd generated
from etcd's protos (`aetcd.rpc`). Endpoints are URLs as etcd advertises them
(`https://10.0.0.1:2379`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kubelite.etcd.pki import CLIENT_CERT, EtcdPki

if TYPE_CHECKING:
    import grpc

# grpc and etcd's stubs (about 14 MB) are imported by the functions that call etcd, so that a
# server that does not run etcd never loads them.

# How long one administrative call may take (k3s' testTimeout is 10 s).
CALL_TIMEOUT = 10.0


class EtcdError(Exception):
    """etcd refused or could not be reached; the message says which endpoint and why."""


@dataclass(frozen=True)
class Member:
    id: int
    name: str
    peer_urls: list[str]
    client_urls: list[str]
    is_learner: bool = False

    def as_json(self) -> dict[str, Any]:
        """etcd's JSON names of a Member, as k3s' /db/info answers them."""
        return {
            "ID": self.id,
            "name": self.name,
            "peerURLs": self.peer_urls,
            "clientURLs": self.client_urls,
            "isLearner": self.is_learner,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Member:
        return cls(
            int(value.get("ID", 0)),
            str(value.get("name", "")),
            list(value.get("peerURLs") or []),
            list(value.get("clientURLs") or []),
            bool(value.get("isLearner", False)),
        )


def _target(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return parts.netloc or endpoint


def credentials(pki: EtcdPki) -> grpc.ChannelCredentials:
    import grpc

    return grpc.ssl_channel_credentials(
        root_certificates=pki.server_ca.read_bytes(),
        private_key=pki.key(CLIENT_CERT).read_bytes(),
        certificate_chain=pki.crt(CLIENT_CERT).read_bytes(),
    )


@contextlib.asynccontextmanager
async def channel(endpoint: str, pki: EtcdPki) -> AsyncIterator[grpc.aio.Channel]:
    import grpc

    async with grpc.aio.secure_channel(_target(endpoint), credentials(pki)) as ch:
        yield ch


def _member(m: Any) -> Member:
    return Member(m.ID, m.name, list(m.peerURLs), list(m.clientURLs), bool(m.isLearner))


async def members(endpoint: str, pki: EtcdPki) -> list[Member]:
    import grpc
    from aetcd import rpc  # type: ignore[import-untyped, unused-ignore]

    async with channel(endpoint, pki) as ch:
        try:
            answer = await rpc.ClusterStub(ch).MemberList(
                rpc.MemberListRequest(), timeout=CALL_TIMEOUT
            )
        except grpc.aio.AioRpcError as e:
            raise EtcdError(f"listing the members at {endpoint}: {e.details()}") from e
    return [_member(m) for m in answer.members]


async def add_member(endpoint: str, pki: EtcdPki, peer_url: str, *, learner: bool = True) -> Member:
    """MemberAdd, as a learner by default (k3s' MemberAddAsLearner): a learner receives the log
    but does not vote, so a member that is still catching up, or never starts, cannot cost the
    cluster its quorum. It is promoted by `kubelite.etcd.learners` once in sync."""
    import grpc
    from aetcd import rpc  # type: ignore[import-untyped, unused-ignore]

    async with channel(endpoint, pki) as ch:
        try:
            answer = await rpc.ClusterStub(ch).MemberAdd(
                rpc.MemberAddRequest(peerURLs=[peer_url], isLearner=learner),
                timeout=CALL_TIMEOUT,
            )
        except grpc.aio.AioRpcError as e:
            raise EtcdError(f"adding member {peer_url} at {endpoint}: {e.details()}") from e
    return _member(answer.member)


async def promote_member(endpoint: str, pki: EtcdPki, member_id: int) -> None:
    """MemberPromote of a learner; etcd refuses it ("can only promote a learner member which is
    in sync with leader") until the learner has most of the leader's log."""
    import grpc
    from aetcd import rpc  # type: ignore[import-untyped, unused-ignore]

    async with channel(endpoint, pki) as ch:
        try:
            await rpc.ClusterStub(ch).MemberPromote(
                rpc.MemberPromoteRequest(ID=member_id), timeout=CALL_TIMEOUT
            )
        except grpc.aio.AioRpcError as e:
            raise EtcdError(f"promoting member {member_id:x} at {endpoint}: {e.details()}") from e


async def remove_member(endpoint: str, pki: EtcdPki, member_id: int) -> bool:
    """MemberRemove; False if there was no such member (already removed)."""
    import grpc
    from aetcd import rpc  # type: ignore[import-untyped, unused-ignore]

    async with channel(endpoint, pki) as ch:
        try:
            await rpc.ClusterStub(ch).MemberRemove(
                rpc.MemberRemoveRequest(ID=member_id), timeout=CALL_TIMEOUT
            )
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise EtcdError(f"removing member {member_id:x} at {endpoint}: {e.details()}") from e
    return True


@dataclass(frozen=True)
class Status:
    """What a member says of itself (Maintenance.Status, which a learner answers too)."""

    member_id: int
    leader: int
    raft_applied_index: int
    is_learner: bool
    # What the member reports as wrong with itself (an alarm, e.g. "NOSPACE").
    errors: tuple[str, ...] = ()


async def status(endpoint: str, pki: EtcdPki, timeout: float = CALL_TIMEOUT) -> Status:
    import grpc
    from aetcd import rpc  # type: ignore[import-untyped, unused-ignore]

    try:
        async with channel(endpoint, pki) as ch:
            answer = await rpc.MaintenanceStub(ch).Status(rpc.StatusRequest(), timeout=timeout)
    except grpc.aio.AioRpcError as e:
        raise EtcdError(f"status of {endpoint}: {e.details()}") from e
    return Status(
        member_id=answer.header.member_id,
        leader=answer.leader,
        raft_applied_index=answer.raftAppliedIndex,
        is_learner=bool(answer.isLearner),
        errors=tuple(answer.errors),
    )


async def healthy(endpoint: str, pki: EtcdPki) -> bool:
    """Whether the member answers and has a leader (etcdctl endpoint health reads a key; a
    Status with a leader is the same test without touching the keyspace, and one a learner
    passes too)."""
    try:
        return bool((await status(endpoint, pki, timeout=2.0)).leader)
    except EtcdError:
        return False


async def get_value(endpoint: str, pki: EtcdPki, key: str) -> bytes | None:
    """One key's value (a linearizable Range), None if it is not there."""
    import grpc
    from aetcd import rpc  # type: ignore[import-untyped, unused-ignore]

    async with channel(endpoint, pki) as ch:
        try:
            answer = await rpc.KVStub(ch).Range(
                rpc.RangeRequest(key=key.encode()), timeout=CALL_TIMEOUT
            )
        except grpc.aio.AioRpcError as e:
            raise EtcdError(f"reading {key} at {endpoint}: {e.details()}") from e
    return bytes(answer.kvs[0].value) if answer.kvs else None


async def put_value(endpoint: str, pki: EtcdPki, key: str, value: bytes) -> None:
    import grpc
    from aetcd import rpc  # type: ignore[import-untyped, unused-ignore]

    async with channel(endpoint, pki) as ch:
        try:
            await rpc.KVStub(ch).Put(
                rpc.PutRequest(key=key.encode(), value=value), timeout=CALL_TIMEOUT
            )
        except grpc.aio.AioRpcError as e:
            raise EtcdError(f"writing {key} at {endpoint}: {e.details()}") from e


async def save_snapshot(endpoint: str, pki: EtcdPki, destination: Path) -> int:
    """Maintenance.Snapshot streamed to `destination` (via a temporary file, renamed when
    whole, as etcdctl snapshot save does); returns its size."""
    import grpc
    from aetcd import rpc  # type: ignore[import-untyped, unused-ignore]

    partial = destination.with_name(destination.name + ".part")
    size = 0
    try:
        async with channel(endpoint, pki) as ch:
            stream = rpc.MaintenanceStub(ch).Snapshot(rpc.SnapshotRequest())
            with partial.open("wb") as out:
                async for chunk in stream:
                    out.write(chunk.blob)
                    size += len(chunk.blob)
        partial.replace(destination)
    except grpc.aio.AioRpcError as e:
        partial.unlink(missing_ok=True)
        raise EtcdError(f"snapshot from {endpoint}: {e.details()}") from e
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return size
