"""managedFields bookkeeping for writes that are not server-side apply (Update operations).

Every write records which manager owns the fields it changed: the generic handlers for creates,
updates and patches, and the storages that write an object through another one's door (a
scale's replicas, a budget's status taken by an eviction). It is a leaf: storages and handlers
both call it, and it calls neither.
"""

from __future__ import annotations

from kubelite.api import managedfields, meta, schema
from kubelite.api.kinds import ResourceType
from kubelite.api.types import Obj


def schema_node(resource: ResourceType) -> schema.Node | None:
    """The schema of the resource's kind, or None for a kind without one."""
    return schema.load().for_kind(resource.group, resource.version, resource.kind)


def reset_fields(resource: ResourceType, subresource: str) -> tuple[str, ...]:
    """Fields a write through this endpoint cannot own (Kubernetes' ResetFieldsStrategy).

    The main resource of a kind with a status subresource ignores status, and /status ignores
    everything else (what else, the kind's strategy says: pods also protect their deletion
    timestamp and owner references).
    """
    strategy = resource.strategy
    if subresource == "status":
        return strategy.status_reset_fields
    if strategy.has_status_subresource:
        return ("status",)
    return ()


def track_update(
    resource: ResourceType, old: Obj | None, new: Obj, manager: str, subresource: str
) -> None:
    """Record `manager` as the owner of what this write changed (an Update operation)."""
    node = schema_node(resource)
    if node is None:
        return
    managedfields.update(
        old,
        new,
        manager=manager,
        node=node,
        api_version=resource.api_version,
        time=meta.format_time(meta.now()),
        subresource=subresource,
        reset_fields=reset_fields(resource, subresource),
    )
