"""The `EtcdIsVoter` Node condition: whether the etcd member of a server's Node votes (k3s'
setEtcdStatusCondition, called from manageLearners in pkg/etcd/etcd.go).

k3s sets it from the server side, not from the kubelet: on every tick of its learner manager
(manageTickerTime, 15 s), the server whose member is the etcd leader lists the members and the
Nodes labelled `node-role.kubernetes.io/etcd=true`, finds each member's Node by the member name
the member controller wrote in the Node's annotation (`kubelite.etcd.member_controller`), asks
the member for its Status at its first client URL, and sets the condition on that Node:

    voter       True   MemberNotLearner  Node is a voting member of the etcd cluster
    learner     False  MemberIsLearner   Node has not been promoted to voting member of the
                                         etcd cluster
    unhealthy   False  Unhealthy         (the Status error; k3s' default "Node is unhealthy")
    no member   False  NotAMember        Node is not a member of the etcd cluster

A Node labelled for etcd whose member is gone is the last row. The write is a strategic merge
patch of nodes/status holding the one condition (component-helpers' SetNodeCondition), which
merges into the conditions by `type`, as the kubelet's own status patches do, so neither wipes
the other's. It is sent only when status, reason or message change (both times then move to
now, even when only the reason or message changed, as k3s does), or when the condition's
lastHeartbeatTime is 5 minutes old (k3s' heartbeatInterval): a quiet cluster costs a member
list, a Node list and one Status per member every tick, and no write.

A server without a Node (`--disable-agent`) has no row to write; nothing is logged for it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from kubelite.api import meta
from kubelite.api.resources import NODES
from kubelite.api.types import Obj
from kubelite.client.api import APIClient, PatchType
from kubelite.client.errors import APIConnectionError, APIError, APINotFoundError
from kubelite.etcd import client
from kubelite.etcd.client import EtcdError, Member, Status
from kubelite.etcd.member_controller import ETCD_ROLE_LABEL, NODE_NAME_ANNOTATION
from kubelite.etcd.ticker import Ticker

CONDITION_TYPE = "EtcdIsVoter"
# k3s' manageTickerTime: the condition is refreshed on the learner manager's tick.
CONDITION_INTERVAL = 15.0
# k3s' heartbeatInterval: an unchanged condition is written again once its heartbeat is this old.
HEARTBEAT_INTERVAL = 300.0
# k3s asks each member for its Status with defaultDialTimeout (2 s).
MEMBER_STATUS_TIMEOUT = 2.0

log = logging.getLogger(__name__)


class MemberStatus(StrEnum):
    """k3s' MemberStatus values."""

    VOTER = "voter"
    LEARNER = "learner"
    UNHEALTHY = "unhealthy"
    UNJOINED = "unjoined"


# status -> (condition status, reason, default message), k3s' setEtcdStatusCondition.
CONDITIONS: dict[MemberStatus, tuple[str, str, str]] = {
    MemberStatus.VOTER: ("True", "MemberNotLearner", "Node is a voting member of the etcd cluster"),
    MemberStatus.LEARNER: (
        "False",
        "MemberIsLearner",
        "Node has not been promoted to voting member of the etcd cluster",
    ),
    MemberStatus.UNHEALTHY: ("False", "Unhealthy", "Node is unhealthy"),
    MemberStatus.UNJOINED: ("False", "NotAMember", "Node is not a member of the etcd cluster"),
}


@dataclass(frozen=True)
class Observation:
    """What one tick found for one etcd Node."""

    node: Obj
    status: MemberStatus
    message: str = ""


def member_nodes(
    members: list[Member], nodes: list[Obj]
) -> tuple[list[tuple[Member, Obj]], list[Obj]]:
    """Each member paired with its Node (by the member name in the Node's annotation), and the
    etcd Nodes no member names. A member that has not started has no name yet and no Node."""
    by_member_name: dict[str, Obj] = {}
    for node in nodes:
        name = ((node.get("metadata") or {}).get("annotations") or {}).get(NODE_NAME_ANNOTATION)
        if name:
            by_member_name.setdefault(name, node)
    paired = [(m, by_member_name[m.name]) for m in members if m.name in by_member_name]
    joined = {id(node) for _, node in paired}
    return paired, [node for node in nodes if id(node) not in joined]


def member_status(member: Member, problem: str) -> tuple[MemberStatus, str]:
    """The member's status and the message that replaces the default one (k3s: a member whose
    Status fails is unhealthy, whether it is a learner or a voter, with the error as message)."""
    if problem:
        return MemberStatus.UNHEALTHY, problem
    return (MemberStatus.LEARNER if member.is_learner else MemberStatus.VOTER), ""


def health_error(status: Status | None, error: str) -> str:
    """k3s' getETCDStatus as one message: the failed call, or the errors the member reports."""
    if error:
        return f"failed to check etcd member status: {error}"
    if status is not None and status.errors:
        return "etcd member has status errors: " + ",".join(status.errors)
    return ""


def condition_update(
    existing: Obj | None, status: MemberStatus, message: str, now: dt.datetime
) -> Obj | None:
    """The condition to write for a Node whose current one is `existing`, or None when it is
    unchanged and its heartbeat is younger than `HEARTBEAT_INTERVAL`."""
    value, reason, default_message = CONDITIONS[status]
    stamp = meta.format_time(now)
    wanted: Obj = {
        "type": CONDITION_TYPE,
        "status": value,
        "reason": reason,
        "message": message or default_message,
    }
    if existing is not None and all(
        existing.get(k) == wanted[k] for k in ("status", "reason", "message")
    ):
        beat = meta.parse_time(str(existing.get("lastHeartbeatTime") or ""))
        if beat is not None and (now - beat).total_seconds() < HEARTBEAT_INTERVAL:
            return None
        since = existing.get("lastTransitionTime") or stamp
        return {**wanted, "lastHeartbeatTime": stamp, "lastTransitionTime": since}
    return {**wanted, "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}


def condition_of(node: Obj) -> Obj | None:
    return meta.find_condition((node.get("status") or {}).get("conditions"), CONDITION_TYPE)


class Admin(Protocol):
    """The etcd calls a tick makes (`kubelite.etcd.learners.EtcdAdmin` has them)."""

    async def status(self, endpoint: str, timeout: float) -> Status: ...

    async def members(self) -> list[Member]: ...


class VoterCondition(Ticker):
    """Sets `EtcdIsVoter` on the etcd Nodes while the local member leads (one per server,
    started beside the member controller, as k3s runs manageLearners on every server)."""

    task_name = "etcd-voter-condition"
    what = "etcd voter condition"
    # etcd restarting or the API server busy: the next tick tries again.
    transient = (EtcdError, APIError, APIConnectionError)

    def __init__(
        self,
        api: APIClient,
        admin: Admin,
        local_endpoint: str,
        *,
        interval: float = CONDITION_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(interval)
        self.api = api
        self.admin = admin
        self.local_endpoint = local_endpoint
        self.clock = clock

    async def tick(self) -> list[str]:
        """One round; the Nodes whose condition was written (none where this member does not
        lead)."""
        local = await self.admin.status(self.local_endpoint, client.CALL_TIMEOUT)
        if local.member_id != local.leader:
            return []
        members = await self.admin.members()
        listed = await self.api.list(NODES, label_selector=f"{ETCD_ROLE_LABEL}=true")
        paired, unjoined = member_nodes(members, list(listed.get("items") or []))
        observed = []
        for member, node in paired:
            # The local member answered already: ask only the others.
            known = local if member.id == local.member_id else None
            status, message = member_status(member, await self._health(member, known))
            observed.append(Observation(node, status, message))
        observed += [Observation(node, MemberStatus.UNJOINED) for node in unjoined]
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        written = []
        for seen in observed:
            update = condition_update(condition_of(seen.node), seen.status, seen.message, now)
            if update is None:
                continue
            name = seen.node["metadata"]["name"]
            try:
                await self.api.patch(
                    NODES,
                    name,
                    {"status": {"conditions": [update]}},
                    patch_type=PatchType.STRATEGIC,
                    subresource="status",
                )
            except APINotFoundError:
                continue  # deleted since the list
            if condition_of(seen.node) is None:
                log.info("adding etcd status condition to node %s", name)
            written.append(name)
        return written

    async def _health(self, member: Member, known: Status | None = None) -> str:
        if known is not None:
            return health_error(known, "")
        if not member.client_urls:
            return health_error(None, "the member has no client URL")
        try:
            status = await self.admin.status(member.client_urls[0], MEMBER_STATUS_TIMEOUT)
        except EtcdError as e:
            return health_error(None, str(e))
        return health_error(status, "")
