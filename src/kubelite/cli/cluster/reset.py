"""`kubelite reset`: tear a node down, leaving nothing of its pods on the machine.

Containers outlive the kubelet on purpose (a restarted kubelet adopts them), so stopping
`kubelite server` or `kubelite agent` leaves the node's pods running. This command, run after
stopping them (as k3s' killall script is), removes what the node made:

- every container (stopped, SIGKILL at once) and every pod sandbox of the runtime under
  `--data-dir`: their overlay mounts, pinned namespaces, network (CNI DEL gives back the IPs
  and removes the hostPort rules) and cgroups;
- the pods' volumes (tmpfs and subPath mounts unmounted) and the pods' files;
- the node's cgroup tree, where empty (other nodes on the same machine keep theirs), its
  bridge, the service proxy's nftables table, and the pod network's routes, VXLAN device and
  masquerade exemptions (what `<data-dir>/agent/podnet.json` says the route agent made).

The store, the certificates and the image store are kept: `kubelite server` starts again on
them. It says what it removed, and exits non-zero if anything could not be.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

from kubelite.api.wellknown import DEFAULT_DATA_DIR
from kubelite.cli.flags import AGENT_ENV, DEFAULT_BRIDGE, NodeLayout, default_proxy_table

# Where the kubelet puts its pods' cgroups (kubelet.KubeletConfig.cgroup_root).
CGROUP_ROOT = "/kubelite"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # The agent's environment variables: reset finds what the agent of the same environment made.
    parser.add_argument(
        "--data-dir",
        default=AGENT_ENV("DATA_DIR", str(DEFAULT_DATA_DIR)),
        help="the node's data directory (default %(default)s)",
    )
    parser.add_argument(
        "--bridge",
        default=AGENT_ENV("BRIDGE", DEFAULT_BRIDGE),
        help="the node's pod bridge (default %(default)s)",
    )
    parser.add_argument(
        "--proxy-nftables-table",
        default=AGENT_ENV("PROXY_NFTABLES_TABLE", ""),
        help="the service proxy's inet table (default: the one the agent of --bridge uses)",
    )


def _remove_proxy_table(table: str) -> list[str]:
    """Delete the proxy's table (only ours: `delete table inet NAME`), if nft is here."""
    from kubelite.proxy.nft import Nft, NftError
    from kubelite.proxy.rules import ProxyConfig
    from kubelite.proxy.transaction import delete_table

    if shutil.which("nft") is None:
        return []
    try:
        Nft().apply_sync(delete_table(ProxyConfig(table=table)))
    except NftError as e:
        return [f"nftables table inet {table}: {e}"]
    return []


async def _remove_runtime_objects(data_dir: Path) -> list[str]:
    from kubelite.runtime.images import LocalImageService
    from kubelite.runtime.service import OciRuntimeService

    problems: list[str] = []
    layout = NodeLayout(data_dir)
    if not layout.runtime_state.exists():
        return problems
    async with LocalImageService(layout.images) as images:
        runtime = OciRuntimeService(
            image_service=images, state_dir=layout.runtime_state, root_dir=layout.runtime_root
        )
        try:
            for container in await runtime.list_containers():
                try:
                    await runtime.stop_container(container.id, 0)
                    await runtime.remove_container(container.id)
                except Exception as e:
                    problems.append(f"container {container.id[:12]}: {e}")
            for sandbox in await runtime.list_pod_sandboxes():
                try:
                    await runtime.remove_pod_sandbox(sandbox.id)
                    print(
                        f"removed pod sandbox of {sandbox.metadata.namespace}/"
                        f"{sandbox.metadata.name}"
                    )
                except Exception as e:
                    problems.append(f"sandbox {sandbox.id[:12]}: {e}")
        finally:
            try:
                runtime.close()
            except Exception as e:
                problems.append(f"runtime: {e}")
    return problems


def _remove_pod_dirs(data_dir: Path) -> list[str]:
    from kubelite.kubelet.volumes import teardown_volumes

    problems: list[str] = []
    pods = NodeLayout(data_dir).pods
    if not pods.is_dir():
        return problems
    for pod_dir in pods.iterdir():
        try:
            teardown_volumes(pod_dir)
            shutil.rmtree(pod_dir)
        except OSError as e:
            problems.append(f"pod directory {pod_dir}: {e}")
    return problems


def _remove_pod_network(data_dir: Path) -> list[str]:
    """The routes, VTEP and masquerade exemptions the node's route agent recorded it made."""
    from kubelite.podnet.state import FILE_NAME, teardown

    return asyncio.run(teardown(NodeLayout(data_dir).agent / FILE_NAME))


def _remove_cgroups() -> None:
    """rmdir the node's cgroup tree where it is empty, children first."""
    from kubelite.runtime.sandbox.cgroups import remove_pod_cgroup

    remove_pod_cgroup(CGROUP_ROOT, ignore=OSError)


def run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print(
            "error: kubelite reset removes mounts and namespaces and must run as root",
            file=sys.stderr,
        )
        return 1
    data_dir = Path(args.data_dir)
    problems = asyncio.run(_remove_runtime_objects(data_dir))
    problems += _remove_pod_dirs(data_dir)
    _remove_cgroups()
    problems += _remove_proxy_table(args.proxy_nftables_table or default_proxy_table(args.bridge))
    problems += _remove_pod_network(data_dir)
    subprocess.run(["ip", "link", "del", args.bridge], capture_output=True, check=False)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"node at {data_dir} reset")
    return 0
