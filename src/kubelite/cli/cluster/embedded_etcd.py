"""`kubelite server`'s embedded etcd: its flags, and running it beside the API server.

The flags are k3s' (`--cluster-init`, `--server`, `--token`, `--cluster-reset`,
`--cluster-reset-restore-path`) plus `--etcd-client-port` and `--etcd-peer-port` (2379 and
2380 by default; `KUBELITE_ETCD_CLIENT_PORT` and `KUBELITE_ETCD_PEER_PORT`), so that several
servers can run on one machine. With any of them, or with a data dir that already holds a
member, the server starts etcd first (`kubelite.etcd.embedded.prepare`, then etcd as a
supervised child restarted if it dies), waits until it has a leader, and then opens the API
server's store on it exactly as on an external etcd (`--datastore-endpoint` and certificates).

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
from pathlib import Path
from typing import TYPE_CHECKING

from kubelite.apiserver.server_join import ServerJoin
from kubelite.cli.cluster.supervisor import Supervised
from kubelite.cli.flags import Env
from kubelite.etcd import client, embedded, process
from kubelite.etcd.member_controller import MemberController
from kubelite.etcd.pki import CLIENT_CERT

if TYPE_CHECKING:
    from kubelite.apiserver.server import ServerConfig
    from kubelite.client.api import APIClient

# How long a member may take to find its leader at start (a joining member replays the log).
HEALTHY_TIMEOUT = 60.0

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

    async def stop(self) -> None:
        if self.controller is not None:
            await self.controller.stop()
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
    except BaseException:
        await supervised.stop()
        raise
    print(
        f"etcd member {member.name} ready: clients {member.client_url}, peers {member.peer_url}",
        flush=True,
    )
    return running
