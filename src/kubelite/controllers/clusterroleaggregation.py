"""The ClusterRole aggregation controller (`pkg/controller/clusterroleaggregation`).

`admin`, `edit` and `view` carry no rules of their own: their `aggregationRule` selects other
ClusterRoles by label (`rbac.authorization.k8s.io/aggregate-to-edit: "true"`), and this
controller writes the union of those roles' rules into them. That is how a CRD's installer
extends `edit` to its new resources without touching `edit` itself. Any ClusterRole change may
change an aggregate, so every change requeues every aggregating role; the rules are gathered in
the order of the selected roles' names, each rule once.
"""

from __future__ import annotations

import contextlib
import logging

from kubelite.api import labels
from kubelite.api.resources import CLUSTER_ROLES
from kubelite.api.types import Obj
from kubelite.client.api import APIClient, PatchType
from kubelite.client.errors import APINotFoundError
from kubelite.client.informer import Informer
from kubelite.client.informers import SharedInformerFactory
from kubelite.controllers.queue_controller import QueueController

log = logging.getLogger(__name__)

WORKERS = 1


def aggregated_rules(role: Obj, roles: list[Obj]) -> list[Obj] | None:
    """The rules of the roles `role`'s aggregationRule selects (None: it has no rule)."""
    rule = role.get("aggregationRule")
    if not isinstance(rule, dict):
        return None
    own = role["metadata"]["name"]
    by_name = sorted(roles, key=lambda r: r["metadata"]["name"])
    out: list[Obj] = []
    # Selector by selector, each one's roles by name (syncClusterRole's order).
    for selector in rule.get("clusterRoleSelectors") or ():
        try:
            matcher = labels.from_label_selector(selector)
        except labels.SelectorError:
            continue
        for other in by_name:
            if other["metadata"]["name"] == own:
                continue
            if not matcher.matches(other["metadata"].get("labels") or {}):
                continue
            for item in other.get("rules") or ():
                if item not in out:
                    out.append(item)
    return out


class ClusterRoleAggregationController(QueueController):
    """Keeps every aggregating ClusterRole's rules the union of the roles it selects."""

    component = "clusterrole-aggregation-controller"

    def __init__(self, client: APIClient, informers: SharedInformerFactory | None = None) -> None:
        super().__init__(client, informers, queue="ClusterRoleAggregator", workers=WORKERS)
        self.roles = self.informers.informer(CLUSTER_ROLES)
        self.roles.add_handler(self._on_role)

    def _on_role(self, event_type: str, role: Obj) -> None:
        for candidate in self.roles.list():
            if candidate.get("aggregationRule") is not None:
                self.queue.add(candidate["metadata"]["name"])

    def caches(self) -> tuple[Informer, ...]:
        return (self.roles,)

    async def sync(self, key: str) -> float | None:
        role = self.roles.get(key)
        if role is None:
            return None
        wanted = aggregated_rules(role, self.roles.list())
        if wanted is None or wanted == (role.get("rules") or []):
            return None
        log.info("clusterrole %s: aggregating %d rules", key, len(wanted))
        # A merge patch replaces the list whole, as the controller's apply does.
        with contextlib.suppress(APINotFoundError):
            await self.client.patch(
                CLUSTER_ROLES, key, {"rules": wanted}, patch_type=PatchType.MERGE
            )
        return None
