"""`kubelite etcd-snapshot save|ls|restore`: snapshots of a server's embedded etcd (k3s'
`etcd-snapshot` command).

- `save [--name N] [--etcd-snapshot-dir D] [--etcd-snapshot-compress]` streams etcd's
  Maintenance.Snapshot from the server's member to `D/<N>-<node name>-<unix time>` (k3s' name;
  N defaults to `on-demand` as in k3s, so that the server's retention, which prunes only its
  scheduled `etcd-snapshot-*` files, never takes these; D to `<data-dir>/db/snapshots`, where
  the server's scheduled snapshots go too);
- `ls` lists the snapshots in that directory, scheduled and on-demand;
- `restore FILE`, on a stopped server, sets its etcd data aside and restores FILE as a
  one-member cluster, which the next `kubelite server` starts; the same as k3s'
  `server --cluster-reset --cluster-reset-restore-path FILE`, which kubelite has too (that one
  also starts etcd to confirm the member is alone, then exits and leaves `db/reset-flag`).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from pathlib import Path

from kubelite.api.wellknown import DEFAULT_DATA_DIR
from kubelite.cli.flags import SERVER_ENV
from kubelite.etcd import client, embedded, pki, process, snapshot

# k3s' `etcd-snapshot save --name` default (the server's scheduled ones are `etcd-snapshot`).
DEFAULT_NAME = snapshot.ON_DEMAND_NAME


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = SERVER_ENV
    parser.add_argument("action", choices=("save", "ls", "list", "restore"))
    parser.add_argument("file", nargs="?", default="", help="the snapshot to restore")
    parser.add_argument(
        "--data-dir",
        default=env("DATA_DIR", str(DEFAULT_DATA_DIR)),
        help="the server's data directory (default %(default)s)",
    )
    parser.add_argument(
        "--name", default=DEFAULT_NAME, help="the snapshot's name prefix (default %(default)s)"
    )
    parser.add_argument(
        "--etcd-snapshot-compress",
        action="store_true",
        default=env.flag("ETCD_SNAPSHOT_COMPRESS"),
        help="save: compress the snapshot (zip)",
    )
    parser.add_argument(
        "--etcd-snapshot-dir",
        default=env("ETCD_SNAPSHOT_DIR", ""),
        help="where snapshots go (default <data-dir>/db/snapshots)",
    )
    parser.add_argument(
        "--etcd-client-port",
        type=int,
        default=int(env("ETCD_CLIENT_PORT", str(process.CLIENT_PORT))),
        help="the server's embedded etcd client port (default %(default)s)",
    )
    parser.add_argument(
        "--etcd-peer-port",
        type=int,
        default=int(env("ETCD_PEER_PORT", str(process.PEER_PORT))),
        help="restore: the peer port the server will use (default %(default)s)",
    )
    parser.add_argument(
        "--advertise-address",
        default=env("ADVERTISE_ADDRESS", ""),
        help="restore: the address the server will advertise (default: the default route's)",
    )
    parser.add_argument(
        "--node-name",
        default=env("NODE_NAME", ""),
        help="the node name in the snapshot's name (default: the host name)",
    )


def snapshot_dir(args: argparse.Namespace) -> Path:
    if args.etcd_snapshot_dir:
        return Path(args.etcd_snapshot_dir)
    return snapshot.default_dir(Path(args.data_dir))


def run(args: argparse.Namespace) -> int:
    node_name = args.node_name or socket.gethostname().lower()
    try:
        if args.action == "save":
            return asyncio.run(_save(args, node_name))
        if args.action in ("ls", "list"):
            return _list(snapshot_dir(args))
        return _restore(args, node_name)
    except (client.EtcdError, embedded.EmbeddedEtcdError, OSError) as e:
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
