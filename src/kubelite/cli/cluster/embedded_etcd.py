"""`kubelite server`'s embedded etcd: its flags, and running it beside the API server.

The flags are k3s' (`--cluster-init`, `--server`, `--token`, `--cluster-reset`,
`--cluster-reset-restore-path`) plus `--etcd-client-port` and `--etcd-peer-port` (2379 and
2380 by default; `KUBELITE_ETCD_CLIENT_PORT` and `KUBELITE_ETCD_PEER_PORT`), so that several
servers can run on one machine. With any of them, or with a data dir that already holds a
member, the server starts etcd first (`kubelite.etcd.embedded.prepare`, then etcd as a
supervised child restarted if it dies), waits until it has a leader and is a voting member
(`_wait_voting`: a joining server's member starts as a learner), and then opens the API
server's store on it exactly as on an external etcd (`--datastore-endpoint` and certificates).
Beside the member runs the learner manager (`kubelite.etcd.learners`), which on the etcd leader
promotes a joining server's learner once it is in sync, or removes one that stalls. Once the
member votes, the server snapshots it on k3s' schedule (`kubelite.etcd.snapshot_schedule`;
`--etcd-disable-snapshots`, `--etcd-snapshot-schedule-cron`, `--etcd-snapshot-retention`,
`--etcd-snapshot-dir`, `--etcd-snapshot-name`, `--etcd-snapshot-compress`).

`--cluster-reset` is a run of its own, as in k3s: `reset` starts the member as a cluster of one
(restored first with `--cluster-reset-restore-path`), waits until etcd lists it alone under its
new name, leaves the marker `<data-dir>/db/reset-flag`, stops it and returns, and the server
exits 0 asking to be started again without the flag; no API server runs in between.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from kubelite.api.cron import CronError
from kubelite.apiserver.server_join import ServerJoin
from kubelite.cli.cluster.supervisor import Supervised
from kubelite.cli.flags import Env
from kubelite.etcd import client, embedded, learners, process, snapshot, snapshot_schedule
from kubelite.etcd.member_controller import MemberController
from kubelite.etcd.pki import CLIENT_CERT
from kubelite.etcd.snapshot_schedule import SnapshotPolicy, SnapshotSchedule
from kubelite.etcd.voter_condition import VoterCondition

if TYPE_CHECKING:
    from kubelite.apiserver.server import ServerConfig
    from kubelite.client.api import APIClient

# How long a member may take to find its leader at start (a joining member replays the log).
HEALTHY_TIMEOUT = 60.0
# How often a learner asks whether it has been promoted, and how often it says it still waits
# (k3s tests its datastore every 5 s and logs "Waiting for etcd server" every 30 s).
PROMOTION_POLL = 0.5
PROMOTION_REMINDER = 30.0

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    parser.add_argument(
        "--cluster-init",
        action="store_true",
        default=env.flag("CLUSTER_INIT"),
        help="start a new cluster on embedded etcd, which further servers can join",
    )
    parser.add_argument(
        "--server",
        default=env("URL", ""),
        help="join the cluster of the server at this URL as a further server (embedded etcd)",
    )
    parser.add_argument(
        "--token",
        default=env("TOKEN", ""),
        help="the server token (<data-dir>/token of a server) to join with --server",
    )
    parser.add_argument(
        "--cluster-reset",
        action="store_true",
        default=env.flag("CLUSTER_RESET"),
        help="make this server's etcd a cluster of one member again, keeping its data, "
        "then exit; start again without it",
    )
    parser.add_argument(
        "--cluster-reset-restore-path",
        default=env("CLUSTER_RESET_RESTORE_PATH", ""),
        help="with --cluster-reset: restore etcd from this snapshot file first",
    )
    parser.add_argument(
        "--etcd-client-port",
        type=int,
        default=int(env("ETCD_CLIENT_PORT", str(process.CLIENT_PORT))),
        help="embedded etcd's client port (default %(default)s)",
    )
    parser.add_argument(
        "--etcd-peer-port",
        type=int,
        default=int(env("ETCD_PEER_PORT", str(process.PEER_PORT))),
        help="embedded etcd's peer port (default %(default)s)",
    )
    _add_snapshot_arguments(parser, env)


def _add_snapshot_arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    """k3s' scheduled-snapshot flags, with its names and defaults (pkg/cli/cmds/server.go)."""
    parser.add_argument(
        "--etcd-disable-snapshots",
        action="store_true",
        default=env.flag("ETCD_DISABLE_SNAPSHOTS"),
        help="disable automatic etcd snapshots",
    )
    parser.add_argument(
        "--etcd-snapshot-schedule-cron",
        default=env("ETCD_SNAPSHOT_SCHEDULE_CRON", snapshot_schedule.DEFAULT_SCHEDULE),
        help="snapshot interval time in cron spec, e.g. every 5 hours '0 */5 * * *' "
        "(default %(default)r)",
    )
    parser.add_argument(
        "--etcd-snapshot-retention",
        type=int,
        default=int(env("ETCD_SNAPSHOT_RETENTION", str(snapshot_schedule.DEFAULT_RETENTION))),
        help="number of scheduled snapshots to retain (default %(default)s)",
    )
    parser.add_argument(
        "--etcd-snapshot-dir",
        default=env("ETCD_SNAPSHOT_DIR", ""),
        help="directory to save etcd snapshots (default <data-dir>/db/snapshots)",
    )
    parser.add_argument(
        "--etcd-snapshot-name",
        default=env("ETCD_SNAPSHOT_NAME", snapshot.SCHEDULED_NAME),
        help="base name of scheduled etcd snapshots (default %(default)s)",
    )
    parser.add_argument(
        "--etcd-snapshot-compress",
        action="store_true",
        default=env.flag("ETCD_SNAPSHOT_COMPRESS"),
        help="compress etcd snapshots (zip)",
    )


def snapshot_policy(args: argparse.Namespace) -> SnapshotPolicy | None:
    """The scheduled snapshots the flags ask for; None with --etcd-disable-snapshots."""
    if args.etcd_disable_snapshots:
        return None
    try:
        schedule = snapshot_schedule.parse_schedule(args.etcd_snapshot_schedule_cron)
    except CronError as e:
        raise SystemExit(
            f"kubelite server: --etcd-snapshot-schedule-cron {args.etcd_snapshot_schedule_cron!r}"
            f": {e}"
        ) from None
    if schedule.next(datetime.now(UTC)) is None:
        raise SystemExit(
            f"kubelite server: --etcd-snapshot-schedule-cron: "
            f"{args.etcd_snapshot_schedule_cron!r} never fires"
        )
    if not args.etcd_snapshot_name or "/" in args.etcd_snapshot_name:
        raise SystemExit(
            f"kubelite server: --etcd-snapshot-name {args.etcd_snapshot_name!r} is not a "
            "file name prefix"
        )
    data_dir = Path(args.data_dir)
    return SnapshotPolicy(
        spec=args.etcd_snapshot_schedule_cron,
        schedule=schedule,
        directory=(
            Path(args.etcd_snapshot_dir)
            if args.etcd_snapshot_dir
            else snapshot.default_dir(data_dir)
        ),
        retention=args.etcd_snapshot_retention,
        name=args.etcd_snapshot_name,
        compress=args.etcd_snapshot_compress,
    )


def options_from(args: argparse.Namespace, node_name: str) -> embedded.Options:
    for flag, port in (
        ("--etcd-client-port", args.etcd_client_port),
        ("--etcd-peer-port", args.etcd_peer_port),
    ):
        if not 0 < port <= 65535:
            raise SystemExit(f"kubelite server: {flag} {port} is not a port")
    if args.cluster_reset_restore_path and not args.cluster_reset:
        raise SystemExit("kubelite server: --cluster-reset-restore-path needs --cluster-reset")
    if args.server and not args.token:
        raise SystemExit("kubelite server: --server needs --token")
    return embedded.Options(
        data_dir=Path(args.data_dir),
        node_name=node_name,
        address=args.advertise_address or _default_address(),
        client_port=args.etcd_client_port,
        peer_port=args.etcd_peer_port,
        cluster_init=args.cluster_init,
        server=args.server,
        token=args.token,
        cluster_reset=args.cluster_reset,
        cluster_reset_restore_path=(
            Path(args.cluster_reset_restore_path) if args.cluster_reset_restore_path else None
        ),
        snapshots=snapshot_policy(args),
    )


def _default_address() -> str:
    from kubelite.apiserver.server import default_advertise_address

    return default_advertise_address()


@dataclass
class RunningEtcd:
    """This server's member, running under supervision."""

    member: process.EtcdMember
    supervised: Supervised
    node_name: str
    controller: MemberController | None = None
    snapshots: SnapshotSchedule | None = None
    learner_manager: learners.LearnerManager | None = None
    voter_condition: VoterCondition | None = None

    def configure(self, config: ServerConfig) -> None:
        """Point the API server at the member (as at an external etcd), and let servers join."""
        pki = self.member.pki
        config.datastore_endpoint = self.member.local_client_url
        config.datastore_cafile = pki.server_ca
        config.datastore_certfile = pki.crt(CLIENT_CERT)
        config.datastore_keyfile = pki.key(CLIENT_CERT)

        async def members() -> list[dict[str, object]]:
            return await embedded.members_json(self.member)

        config.server_join = ServerJoin(config.data_dir, list(embedded.SHARED_FILES), members)

    def start_controller(self, api: APIClient) -> None:
        self.controller = MemberController(api, self.member, self.node_name)
        self.controller.start()
        # The EtcdIsVoter Node condition, set by the server whose member leads (k3s).
        admin = learners.EtcdAdmin(self.member.local_client_url, self.member.pki)
        self.voter_condition = VoterCondition(api, admin, self.member.local_client_url)
        self.voter_condition.start()

    async def stop(self) -> None:
        if self.snapshots is not None:
            await self.snapshots.stop()
        if self.voter_condition is not None:
            await self.voter_condition.stop()
        if self.controller is not None:
            await self.controller.stop()
        if self.learner_manager is not None:
            await self.learner_manager.stop()
        await self.supervised.stop()


async def _wait_healthy(supervised: Supervised, member: process.EtcdMember) -> None:
    """Until the member started here has a leader. Its first exit fails the start: another
    etcd on its ports (whose health would pass for its own) or a data dir it refuses."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HEALTHY_TIMEOUT
    while True:
        child = supervised.process
        if child is not None and child.returncode is not None:
            raise embedded.EmbeddedEtcdError(
                f"etcd exited with {child.returncode} at start (its log is above): are "
                f"ports {member.client_port} and {member.peer_port} free?"
            )
        if child is not None and await client.healthy(member.local_client_url, member.pki):
            return
        if loop.time() > deadline:
            raise embedded.EmbeddedEtcdError(
                f"etcd at {member.local_client_url} is not healthy after {HEALTHY_TIMEOUT:.0f} s"
            )
        await asyncio.sleep(0.3)


async def _wait_voting(supervised: Supervised, member: process.EtcdMember) -> None:
    """Until the member is a voting member: a joining server's starts as a learner, and the
    API server's store opens only once the etcd leader has promoted it, as k3s' apiserver waits
    for ETCDReady, which its datastore test ("this server has not yet been promoted from
    learner to voting member") holds back while the member is a learner.

    Why the joining API server does not use the other members meanwhile: a learner serves no
    store at all (etcd 3.4 answers only Status and serializable Range on a learner: no
    linearizable read, no write, no watch), and the API server's store is opened once, on one
    endpoint, with its watches; pointing it at another server's etcd would make this server
    depend on that machine for as long as it runs, or need a switch-over under open watches.
    The wait is short: the learner copies the cluster's data and the leader's next tick
    (`kubelite.etcd.learners`, every 2 s) promotes it once in sync. A learner that makes no
    progress is removed after 5 minutes; its etcd then exits, and so does this start."""
    loop = asyncio.get_running_loop()
    said: float | None = None
    while True:
        child = supervised.process
        if child is not None and child.returncode is not None:
            raise embedded.EmbeddedEtcdError(
                f"etcd exited with {child.returncode} while member {member.name} was a learner "
                "(its log is above): a learner that makes no progress for "
                f"{learners.LEARNER_MAX_STALL:.0f} s is removed from the cluster"
            )
        try:
            learner = (await client.status(member.local_client_url, member.pki)).is_learner
        except client.EtcdError:
            learner = True
        if not learner:
            if said is not None:
                print(f"etcd member {member.name} promoted to a voting member", flush=True)
            return
        if said is None or loop.time() - said >= PROMOTION_REMINDER:
            said = loop.time()
            print(
                f"etcd member {member.name} is a learner: waiting for the etcd leader to "
                "promote it to a voting member",
                flush=True,
            )
        await asyncio.sleep(PROMOTION_POLL)


# What a reset run prints last (k3s: "Managed etcd cluster membership has been reset, restart
# without --cluster-reset flag now. Backup and delete ${datadir}/server/db on each peer etcd
# server and rejoin the nodes").
RESET_DONE = (
    "etcd cluster membership has been reset: start `kubelite server` again without "
    "--cluster-reset and --cluster-reset-restore-path now. On every other server of the "
    "cluster, back its <data-dir>/db/etcd up and delete it, then start it with --server and "
    "--token to join again."
)


async def reset(options: embedded.Options) -> None:
    """k3s' Reset: make the member a cluster of one, confirm it, mark the data dir, stop."""
    member = await embedded.prepare(options)
    argv = [sys.executable, "-m", "kubelite.etcd.launch", *member.argv()]
    supervised = Supervised("etcd", argv, process.env())
    supervised.start()
    try:
        await _wait_healthy(supervised, member)
        await _wait_alone(member)
        embedded.mark_reset(options.data_dir)
    finally:
        await supervised.stop()
    print(f"etcd member {member.name} is alone in its cluster", flush=True)
    print(RESET_DONE, flush=True)


async def _wait_alone(member: process.EtcdMember) -> None:
    """Until etcd lists this member alone under its new name (the name is published through
    raft once the member has started), as k3s' Reset waits for before it exits."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HEALTHY_TIMEOUT
    seen: list[str] = []
    while True:
        try:
            members = await client.members(member.local_client_url, member.pki)
            seen = [m.name for m in members]
            if seen == [member.name]:
                return
        except client.EtcdError as e:
            seen = [str(e)]
        if loop.time() > deadline:
            raise embedded.EmbeddedEtcdError(
                f"--cluster-reset: etcd does not list {member.name} alone after "
                f"{HEALTHY_TIMEOUT:.0f} s: {seen}"
            )
        await asyncio.sleep(0.3)


async def start(options: embedded.Options | None) -> RunningEtcd | None:
    """Prepare and start the member, if this server runs one; None otherwise."""
    if options is None or not options.enabled:
        return None
    member = await embedded.prepare(options)
    argv = [sys.executable, "-m", "kubelite.etcd.launch", *member.argv()]
    supervised = Supervised("etcd", argv, process.env())
    supervised.start()
    running = RunningEtcd(member, supervised, options.node_name)
    try:
        await _wait_healthy(supervised, member)
        # On every server, as k3s runs manageLearners: only the one whose member leads acts.
        admin = learners.EtcdAdmin(member.local_client_url, member.pki)
        running.learner_manager = learners.LearnerManager(admin, member.local_client_url)
        running.learner_manager.start()
        await _wait_voting(supervised, member)
    except BaseException:
        await running.stop()
        raise
    print(
        f"etcd member {member.name} ready: clients {member.client_url}, peers {member.peer_url}",
        flush=True,
    )
    # Every server snapshots its own member, as each k3s server runs the cron job.
    if options.snapshots is not None:
        running.snapshots = SnapshotSchedule(options.snapshots, member, options.node_name)
        running.snapshots.start()
    return running
