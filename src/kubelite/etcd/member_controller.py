"""Removing a server's etcd member when its Node is deleted (k3s' member and metadata
controllers, pkg/etcd/member_controller.go and metadata_controller.go).

Each server marks its own Node, once it exists, with the label
`node-role.kubernetes.io/etcd=true` and the annotations `etcd.kubelite.io/node-name` (its member
name) and `etcd.kubelite.io/node-address` (its address). When a Node so marked is deleted,
the other servers remove the member of that name and address (MemberRemove; one already gone
is fine), so that `kubectl delete node` takes a server out of the quorum as in k3s. A server
never removes itself: its own etcd would stop under it.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

from kubelite.api.resources import NODES
from kubelite.api.types import Obj
from kubelite.client.api import APIClient, PatchType
from kubelite.client.errors import APIError
from kubelite.client.informer import Informer
from kubelite.etcd import client
from kubelite.etcd.process import EtcdMember

ETCD_ROLE_LABEL = "node-role.kubernetes.io/etcd"
NODE_NAME_ANNOTATION = "etcd.kubelite.io/node-name"
NODE_ADDRESS_ANNOTATION = "etcd.kubelite.io/node-address"
RETRY_DELAY = 2.0

log = logging.getLogger(__name__)


class MemberController:
    def __init__(self, api: APIClient, member: EtcdMember, node_name: str) -> None:
        self.api = api
        self.member = member
        self.node_name = node_name
        self.nodes = Informer(api, NODES)
        self._queue: asyncio.Queue[tuple[str, Obj]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.nodes.add_handler(lambda event, node: self._queue.put_nowait((event, node)))
        self.nodes.start()
        self._task = asyncio.create_task(self._run(), name="etcd-member-controller")

    async def stop(self) -> None:
        await self.nodes.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            event, node = await self._queue.get()
            try:
                if event == "DELETED":
                    await self.removed(node)
                elif node["metadata"]["name"] == self.node_name:
                    await self.mark(node)
            except (APIError, client.EtcdError) as e:
                # Level-triggered, as k3s' handlers are requeued: etcd refuses a removal that
                # would leave too few members connected for HealthInterval (5 s), e.g. just
                # after a join, so try again.
                log.warning("etcd member controller: %s; retrying in %.0f s", e, RETRY_DELAY)
                loop = asyncio.get_running_loop()
                loop.call_later(RETRY_DELAY, self._queue.put_nowait, (event, node))

    def wanted_metadata(self) -> tuple[dict[str, str], dict[str, str]]:
        labels = {ETCD_ROLE_LABEL: "true"}
        annotations = {
            NODE_NAME_ANNOTATION: self.member.name,
            NODE_ADDRESS_ANNOTATION: self.member.address,
        }
        return labels, annotations

    async def mark(self, node: Obj) -> None:
        labels, annotations = self.wanted_metadata()
        md = node["metadata"]
        if (
            labels.items() <= (md.get("labels") or {}).items()
            and annotations.items() <= (md.get("annotations") or {}).items()
        ):
            return
        await self.api.patch(
            NODES,
            md["name"],
            {"metadata": {"labels": labels, "annotations": annotations}},
            patch_type=PatchType.MERGE,
        )

    async def removed(self, node: Obj) -> None:
        md = node["metadata"]
        if ETCD_ROLE_LABEL not in (md.get("labels") or {}):
            return
        annotations = md.get("annotations") or {}
        name = annotations.get(NODE_NAME_ANNOTATION, "")
        address = annotations.get(NODE_ADDRESS_ANNOTATION, "")
        if not name or name == self.member.name:
            return
        await remove_peer(self.member, name, address)


async def remove_peer(member: EtcdMember, name: str, address: str) -> bool:
    """Remove the member called `name` whose peer URL is on `address` (k3s' RemovePeer:
    both must match); False if there is none."""
    for m in await client.members(member.local_client_url, member.pki):
        if m.name != name:
            continue
        if any(urlsplit(u).hostname == address for u in m.peer_urls):
            log.info("removing etcd member %s (%x) at %s", name, m.id, address)
            return await client.remove_member(member.local_client_url, member.pki, m.id)
    return False
