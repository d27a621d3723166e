"""`kubelite etcd-snapshot save|ls|delete|prune|restore`: snapshots of a server's embedded etcd
(k3s' `etcd-snapshot` command).

- `save [--name N] [--etcd-snapshot-dir D] [--etcd-snapshot-compress]` streams etcd's
  Maintenance.Snapshot from the server's member to `D/<N>-<node name>-<unix time>` (k3s' name;
  N defaults to `on-demand` as in k3s, so that the server's retention, which prunes only its
  scheduled `etcd-snapshot-*` files, never takes these; D to `<data-dir>/db/snapshots`, where
  the server's scheduled snapshots go too);
- `ls` lists the snapshots in that directory, scheduled and on-demand;
- `delete NAME...` removes those snapshots, named as `ls` prints them (k3s prints
  `Snapshot NAME deleted.` for each, and so does kubelite). Unlike k3s, which logs a name it
  does not find and exits 0, a name that is not a snapshot there, or not a plain file name,
  is an error (exit 1) and nothing is removed;
- `prune [--snapshot-retention N] [--name P]` keeps the newest N (default 5) of the snapshots
  whose name starts with P (default `on-demand`, k3s' default for the command, so a bare
  `prune` tidies up after `save`) and deletes the others, oldest first, printing each as
  `delete` does; as in k3s' snapshotRetention, any file in the directory with that prefix
  counts, whichever node's name it carries. N below 1, which the server's retention reads as
  "keep all", is refused here: asked for explicitly, it is more likely a slip. N defaults to
  `KUBELITE_ETCD_SNAPSHOT_RETENTION` when set, the server's own setting, as k3s' prune takes
  the server's retention when the flag is not given;
- `restore FILE`, on a stopped server, sets its etcd data aside and restores FILE as a
  one-member cluster, which the next `kubelite server` starts; the same as k3s'
  `server --cluster-reset --cluster-reset-restore-path FILE`, which kubelite has too (that one
  also starts etcd to confirm the member is alone, then exits and leaves `db/reset-flag`).

As k3s, every sub-command takes every flag, and `--dir` is `--etcd-snapshot-dir`. Neither
`delete` nor `prune` ever removes a file outside that directory: both pick from what
`snapshot.list_dir` finds there, and a `--name` or snapshot name with a `/` in it is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from pathlib import Path

from kubelite.api.wellknown import DEFAULT_DATA_DIR
from kubelite.cli.flags import SERVER_ENV
from kubelite.etcd import client, embedded, pki, process, snapshot, snapshot_schedule

# k3s' `etcd-snapshot save --name` default (the server's scheduled ones are `etcd-snapshot`).
DEFAULT_NAME = snapshot.ON_DEMAND_NAME


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """k3s' `etcd-snapshot` sub-commands, each with all the flags (k3s' EtcdSnapshotFlags are
    shared the same way); flags go after the sub-command, before or after its names."""
    common = _common_flags()
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    # The help lines are k3s' Usage of each.
    actions.add_parser("save", parents=[common], help="trigger an immediate etcd snapshot")
    delete = actions.add_parser("delete", parents=[common], help="delete given snapshot(s)")
    delete.add_argument("names", nargs="*", metavar="NAME", help="as `ls` names them")
    actions.add_parser("ls", aliases=["list"], parents=[common], help="list snapshots")
    actions.add_parser(
        "prune",
        parents=[common],
        help="remove snapshots that match the name prefix that exceed the configured retention "
        "count",
    )
    restore = actions.add_parser(
        "restore", parents=[common], help="restore a snapshot into a stopped server's data dir"
    )
    restore.add_argument("file", nargs="?", default="", help="the snapshot to restore")


def _common_flags() -> argparse.ArgumentParser:
    env = SERVER_ENV
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        default=env("DATA_DIR", str(DEFAULT_DATA_DIR)),
        help="the server's data directory (default %(default)s)",
    )
    common.add_argument(
        "--name", default=DEFAULT_NAME, help="the snapshot's name prefix (default %(default)s)"
    )
    common.add_argument(
        "--etcd-snapshot-compress",
        action="store_true",
        default=env.flag("ETCD_SNAPSHOT_COMPRESS"),
        help="save: compress the snapshot (zip)",
    )
    common.add_argument(
        "--etcd-snapshot-dir",
        "--dir",
        default=env("ETCD_SNAPSHOT_DIR", ""),
        help="where snapshots go (default <data-dir>/db/snapshots)",
    )
    common.add_argument(
        "--snapshot-retention",
        "--etcd-snapshot-retention",
        type=int,
        # A string default goes through `type` too: a bad variable is a usage error, not a crash.
        default=env("ETCD_SNAPSHOT_RETENTION", str(snapshot_schedule.DEFAULT_RETENTION)),
        help="prune: how many snapshots with the --name prefix to keep (default %(default)s)",
    )
    common.add_argument(
        "--etcd-client-port",
        type=int,
        default=int(env("ETCD_CLIENT_PORT", str(process.CLIENT_PORT))),
        help="the server's embedded etcd client port (default %(default)s)",
    )
    common.add_argument(
        "--etcd-peer-port",
        type=int,
        default=int(env("ETCD_PEER_PORT", str(process.PEER_PORT))),
        help="restore: the peer port the server will use (default %(default)s)",
    )
    common.add_argument(
        "--advertise-address",
        default=env("ADVERTISE_ADDRESS", ""),
        help="restore: the address the server will advertise (default: the default route's)",
    )
    common.add_argument(
        "--node-name",
        default=env("NODE_NAME", ""),
        help="the node name in the snapshot's name (default: the host name)",
    )
    return common


def snapshot_dir(args: argparse.Namespace) -> Path:
    if args.etcd_snapshot_dir:
        return Path(args.etcd_snapshot_dir)
    return snapshot.default_dir(Path(args.data_dir))


def run(args: argparse.Namespace) -> int:
    node_name = args.node_name or socket.gethostname().lower()
    if args.action in ("save", "prune") and not snapshot.is_file_name(args.name):
        print(f"error: --name {args.name!r} is not a file name prefix", file=sys.stderr)
        return 1
    try:
        if args.action == "save":
            return asyncio.run(_save(args, node_name))
        if args.action in ("ls", "list"):
            return _list(snapshot_dir(args))
        if args.action == "delete":
            return _delete(snapshot_dir(args), args.names)
        if args.action == "prune":
            return _prune(snapshot_dir(args), args.name, args.snapshot_retention)
        return _restore(args, node_name)
    except (
        client.EtcdError,
        embedded.EmbeddedEtcdError,
        snapshot.SnapshotError,
        OSError,
    ) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


async def _save(args: argparse.Namespace, node_name: str) -> int:
    data_dir = Path(args.data_dir)
    etcd_pki = pki.EtcdPki(pki.directory(data_dir))
    if not etcd_pki.server_ca.exists():
        print(f"error: no embedded etcd in {data_dir}", file=sys.stderr)
        return 1
    endpoint = process.url("127.0.0.1", args.etcd_client_port)
    path = await snapshot.save(
        endpoint,
        etcd_pki,
        snapshot_dir(args),
        prefix=args.name,
        node_name=node_name,
        compress=args.etcd_snapshot_compress,
    )
    print(f"Snapshot {path.name} saved to {path} ({path.stat().st_size} bytes)")
    return 0


def _list(directory: Path) -> int:
    print(f"{'Name':<50} {'Location':<70} {'Size':>10} Created")
    for found in snapshot.list_dir(directory):
        location = f"file://{found.path}"
        print(f"{found.path.name:<50} {location:<70} {found.size:>10} {found.created_text}")
    return 0


def _delete(directory: Path, names: list[str]) -> int:
    if not names:
        # k3s' message.
        print("error: no snapshots given for removal", file=sys.stderr)
        return 1
    if not directory.is_dir():
        print(f"error: snapshot directory {directory} does not exist", file=sys.stderr)
        return 1
    for path in snapshot.delete(directory, names):
        print(f"Snapshot {path.name} deleted.")
    return 0


def _prune(directory: Path, prefix: str, retention: int) -> int:
    if retention < 1:
        print(f"error: --snapshot-retention {retention} must be at least 1", file=sys.stderr)
        return 1
    # k3s' PruneSnapshots fails on a missing directory too (it never creates one to prune).
    if not directory.is_dir():
        print(f"error: snapshot directory {directory} does not exist", file=sys.stderr)
        return 1
    for path in snapshot.prune(directory, prefix, retention):
        print(f"Snapshot {path.name} deleted.")
    return 0


def _restore(args: argparse.Namespace, node_name: str) -> int:
    if not args.file:
        print("error: etcd-snapshot restore needs the snapshot FILE", file=sys.stderr)
        return 2
    from kubelite.apiserver.server import default_advertise_address

    options = embedded.Options(
        data_dir=Path(args.data_dir),
        node_name=node_name,
        address=args.advertise_address or default_advertise_address(),
        peer_port=args.etcd_peer_port,
        client_port=args.etcd_client_port,
        cluster_reset=True,
        cluster_reset_restore_path=Path(args.file),
    )
    asyncio.run(embedded.prepare(options))
    print("restored: start `kubelite server` on this data dir (no --cluster-init needed)")
    return 0
