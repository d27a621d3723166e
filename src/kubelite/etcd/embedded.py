"""Getting this server's etcd member ready to start: a new cluster, a join, or a reset.

`kubelite server` calls `prepare()` before anything else, then runs `EtcdMember.argv()` as a
supervised child, waits for it to be healthy (and, a learner, promoted) and points the API
server at it (`--datastore-endpoint` and the etcd client certificate), as it would at an
external etcd.

- `--cluster-init` (or a data dir that already holds a member): this member alone, state new.
- `--server URL --token T`: fetch the shared files and the members with the server token
  (`join.fetch`), write the files, MemberAdd this member's peer URL as a learner at a member of
  the cluster, and start with the others in --initial-cluster and state existing (k3s'
  ETCD.join); the servers promote the learner once it has caught up. A data
  dir that already holds a member starts as it is: the join happened before.
- `--cluster-reset`: this member alone again under a new name (etcd's --force-new-cluster
  keeps the data); with `--cluster-reset-restore-path FILE`, the data dir is first set aside
  (`db/etcd-old-<time>`) and the snapshot restored into a fresh one (`etcdctl snapshot restore`),
  as k3s' Reset does. A reset is a run of its own, as in k3s: the server resets, leaves the
  marker `<data-dir>/db/reset-flag` and exits (`cli.cluster.embedded_etcd.reset`), and is then
  started again without the flag. `reset_step` decides, as k3s' Cluster.start: a plain
  `--cluster-reset` with the marker present is refused (a flag left in a unit must not reset
  the cluster at every start), one with a restore path is done again (the path asks for that
  snapshot), and a start without the flag removes the marker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from kubelite.etcd import client, join, pki, process
from kubelite.etcd.process import EtcdMember
from kubelite.etcd.snapshot import COMPRESSED_EXTENSION, decompress
from kubelite.etcd.snapshot_schedule import SnapshotPolicy

ETCDCTL = "/usr/bin/etcdctl"
# The files every server of a cluster shares, under the data dir (k3s' bootstrap data: the
# cluster CAs, the service-account key, the token files, the encryption configuration).
SHARED_FILES = [
    "tls/ca.crt",
    "tls/ca.key",
    "tls/sa.key",
    "tls/sa.pub",
    "tls/tokens.csv",
    "node-token",
    "token",
    "cred/encryption-config.json",
    *(f"tls/etcd/{p.name}" for p in pki.EtcdPki(Path()).ca_files),
]


# etcd's answers to a MemberAdd that come right after another member joined (etcdserver's
# mayAddMember, with --strict-reconfig-check on by default): ErrUnhealthy until the member asked
# has been connected to every voting peer for HealthInterval (5 s), and
# ErrNotEnoughStartedMembers while an added member has not started yet; and, as members join as
# learners, ErrTooManyLearners while another server's learner waits for its promotion (etcd 3.4
# allows one learner at a time; k3s retries the join on it too). All pass.
TRANSIENT_ADD_ERRORS = (
    "etcdserver: unhealthy cluster",
    "etcdserver: re-configuration failed due to not enough started members",
    "etcdserver: too many learner members in cluster",
)
ADD_MEMBER_TIMEOUT = 60.0
ADD_MEMBER_RETRY = 1.0

log = logging.getLogger(__name__)


class EmbeddedEtcdError(Exception):
    """The member cannot be made ready; the message says why."""


class ResetStep(Enum):
    """What a start does about `--cluster-reset` and the marker a reset leaves."""

    # Reset (restoring first with a path), leave the marker, exit.
    RESET = "reset"
    # `--cluster-reset` again after a reset, with no start between: refused.
    REFUSE = "refuse"
    # No reset asked: remove the marker, if any, and start as usual.
    START = "start"


def reset_file(data_dir: Path) -> Path:
    """k3s' ResetFile: `<data-dir>/db/reset-flag`, left by a reset until a start without it."""
    return data_dir / "db" / "reset-flag"


def reset_step(*, cluster_reset: bool, restore_path: Path | None, reset_done: bool) -> ResetStep:
    """k3s' Cluster.start: with a restore path the reset is done whatever the marker says (the
    user named a snapshot to go back to); without one, a second reset in a row is refused, so
    that a `--cluster-reset` left in a unit file does not throw the other members out again."""
    if not cluster_reset:
        return ResetStep.START
    if restore_path is not None or not reset_done:
        return ResetStep.RESET
    return ResetStep.REFUSE


def refusal(data_dir: Path) -> str:
    marker = reset_file(data_dir)
    return (
        f"--cluster-reset: this server's etcd was reset already ({marker} is there). Start "
        "`kubelite server` without --cluster-reset now; to reset once more, delete "
        f"{marker} first"
    )


def mark_reset(data_dir: Path) -> None:
    marker = reset_file(data_dir)
    marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    marker.touch(mode=0o600)


def clear_reset(data_dir: Path) -> None:
    """A start without --cluster-reset: the reset is over (k3s' clearReset)."""
    marker = reset_file(data_dir)
    if marker.exists():
        marker.unlink()
        print(f"cluster reset done: removed {marker}", flush=True)


@dataclass(frozen=True)
class Options:
    data_dir: Path
    node_name: str
    address: str
    client_port: int = process.CLIENT_PORT
    peer_port: int = process.PEER_PORT
    cluster_init: bool = False
    server: str = ""
    token: str = ""
    cluster_reset: bool = False
    cluster_reset_restore_path: Path | None = None
    # Scheduled snapshots while the member runs (none with --etcd-disable-snapshots).
    snapshots: SnapshotPolicy | None = None

    @property
    def enabled(self) -> bool:
        return (
            self.cluster_init
            or bool(self.server)
            or self.cluster_reset
            or process.is_initialized(self.data_dir)
        )


async def prepare(options: Options) -> EtcdMember:
    data_dir = options.data_dir
    if options.cluster_reset_restore_path is not None and not options.cluster_reset:
        raise EmbeddedEtcdError("--cluster-reset-restore-path needs --cluster-reset")
    step = reset_step(
        cluster_reset=options.cluster_reset,
        restore_path=options.cluster_reset_restore_path,
        reset_done=reset_file(data_dir).exists(),
    )
    if step is ResetStep.REFUSE:
        raise EmbeddedEtcdError(refusal(data_dir))
    if step is ResetStep.START:
        clear_reset(data_dir)
    joining = bool(options.server) and not options.cluster_reset
    if joining and not process.is_initialized(data_dir):
        if not options.token:
            raise EmbeddedEtcdError("--server needs --token (the server's <data-dir>/token)")
        try:
            bootstrap = await join.fetch(options.server, options.token)
        except join.JoinError as e:
            raise EmbeddedEtcdError(str(e)) from e
        _check_unique(bootstrap.members, options.node_name)
        join.write(data_dir, bootstrap.files)
        etcd_pki = pki.ensure(data_dir, options.address, make_cas=False)
        member = _member(options, etcd_pki, process.member_name(data_dir, options.node_name))
        await _add_self(member, bootstrap.members)
        return member
    etcd_pki = pki.ensure(data_dir, options.address)
    if options.cluster_reset and options.cluster_reset_restore_path is not None:
        name = f"{options.node_name}-{uuid.uuid4().hex[:8]}"
        member = _member(options, etcd_pki, name)
        await asyncio.to_thread(_restore, member, options.cluster_reset_restore_path)
        (process.db_dir(data_dir) / "name").write_text(name)
        return member
    if options.cluster_reset:
        if not process.is_initialized(data_dir):
            raise EmbeddedEtcdError(f"--cluster-reset: no etcd data in {process.db_dir(data_dir)}")
        # A new name, as k3s' setName(true): the reset member is a new cluster's first.
        name = process.member_name(data_dir, options.node_name, renew=True)
        member = _member(options, etcd_pki, name)
        member.extra_args.append("--force-new-cluster")
        return member
    return _member(options, etcd_pki, process.member_name(data_dir, options.node_name))


def _member(options: Options, etcd_pki: pki.EtcdPki, name: str) -> EtcdMember:
    return EtcdMember(
        name=name,
        data_dir=options.data_dir,
        address=options.address,
        pki=etcd_pki,
        client_port=options.client_port,
        peer_port=options.peer_port,
    )


def _node_of(member_name: str) -> str:
    """The node a member name was made for (`<node>-<8 hex>`), as k3s reads it back."""
    head, sep, _ = member_name.rpartition("-")
    return head if sep and len(head) > 1 else member_name


def _check_unique(members: list[client.Member], node_name: str) -> None:
    for m in members:
        if m.name and _node_of(m.name) == node_name:
            raise EmbeddedEtcdError(
                f"etcd member {m.name} already has node name {node_name!r}: give this server "
                "a unique --node-name"
            )


async def _add_self(member: EtcdMember, members: list[client.Member]) -> None:
    """MemberAdd, as a learner, at the first member that answers, unless this peer URL is a
    member already (a join that failed after the add); sets the member's --initial-cluster.
    The servers' learner managers promote it once it has caught up (`kubelite.etcd.learners`)."""
    cluster = [f"{m.name}={m.peer_urls[0]}" for m in members if m.name and m.peer_urls]
    present = any(member.peer_url in m.peer_urls for m in members)
    if not present:
        endpoints = [u for m in members if not m.is_learner for u in m.client_urls]
        deadline = time.monotonic() + ADD_MEMBER_TIMEOUT
        while True:
            problems = []
            for endpoint in endpoints:
                try:
                    added = await client.add_member(endpoint, member.pki, member.peer_url)
                    # What etcd answered, so that the log shows the member joined as a learner.
                    log.info(
                        "added etcd member %s (%x) at %s, isLearner=%s",
                        member.peer_url,
                        added.id,
                        endpoint,
                        str(added.is_learner).lower(),
                    )
                    break
                except client.EtcdError as e:
                    problems.append(str(e))
            else:
                # etcd refuses a MemberAdd for a while after the last one (strict reconfig
                # check): retry that, as k3s retries its join, and fail on anything else.
                transient = problems and all(
                    any(m in p for m in TRANSIENT_ADD_ERRORS) for p in problems
                )
                if transient and time.monotonic() < deadline:
                    await asyncio.sleep(ADD_MEMBER_RETRY)
                    continue
                raise EmbeddedEtcdError(
                    "cannot add this member: " + "; ".join(problems or ["none"])
                )
            break
    cluster = [c for c in cluster if not c.endswith(f"={member.peer_url}")]
    cluster.append(f"{member.name}={member.peer_url}")
    member.initial_cluster = ",".join(cluster)
    member.initial_cluster_state = "existing"


def _restore(member: EtcdMember, snapshot: Path) -> None:
    if not snapshot.is_file():
        raise EmbeddedEtcdError(f"--cluster-reset-restore-path: no snapshot file at {snapshot}")
    db = process.db_dir(member.data_dir)
    if db.exists():
        old = db.with_name(f"etcd-old-{int(time.time())}")
        db.rename(old)
        print(f"etcd data set aside in {old}", flush=True)
    db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(dir=db.parent) as scratch:
        # A compressed snapshot (`--etcd-snapshot-compress`) is unzipped first, as k3s does.
        plain = snapshot
        if snapshot.name.endswith(COMPRESSED_EXTENSION):
            plain = decompress(snapshot, Path(scratch))
        result = subprocess.run(
            [
                ETCDCTL,
                "snapshot",
                "restore",
                str(plain),
                f"--name={member.name}",
                f"--data-dir={db}",
                f"--initial-cluster={member.name}={member.peer_url}",
                f"--initial-advertise-peer-urls={member.peer_url}",
            ],
            env={**process.env(), "ETCDCTL_API": "3"},
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        shutil.rmtree(db, ignore_errors=True)
        raise EmbeddedEtcdError(f"restoring {snapshot}: {result.stderr.strip()}")
    os.chmod(db, 0o700)
    print(f"etcd restored from {snapshot} as member {member.name}", flush=True)


async def members_json(member: EtcdMember) -> list[dict[str, object]]:
    """The members, as /db/info answers them."""
    return [m.as_json() for m in await client.members(member.local_client_url, member.pki)]
