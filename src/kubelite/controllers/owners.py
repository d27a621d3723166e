"""Two writes every workload controller makes to the object it controls from.

- `recheck_owner`: before adopting an orphan, Kubernetes' controllers read their object again
  from the API (RecheckDeletionTimestamp), so that an owner deleted or replaced since the cache
  last saw it adopts nothing.
- `put_status`: the status goes through the `status` subresource; on a conflict (the object
  changed since the cache saw it) it is written once more onto the fresh object, as
  updateReplicaSetStatus and its siblings do, and a second conflict is left to the queue's
  retry. An object deleted meanwhile needs no status.
"""

from __future__ import annotations

from kubelite.api import meta
from kubelite.api.resources import Resource
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APIConflictError, APINotFoundError


def typed(obj: Obj, resource: Resource) -> Obj:
    """`obj` with its apiVersion and kind (list items arrive without them)."""
    return {**obj, "apiVersion": resource.api_version, "kind": resource.kind}


async def recheck_owner(client: APIClient, resource: Resource, owner: Obj) -> bool:
    """Whether `owner` still exists as the same object and is not being deleted."""
    try:
        fresh = await client.get(resource, meta.name_of(owner), namespace=meta.namespace_of(owner))
    except APINotFoundError:
        return False
    md = fresh["metadata"]
    return md.get("uid") == owner["metadata"]["uid"] and not md.get("deletionTimestamp")


async def put_status(
    client: APIClient, resource: Resource, obj: Obj, status: Obj, *, drop: tuple[str, ...] = ()
) -> None:
    """Write `status` (merged over the object's own, less the `drop` fields) through /status,
    retrying a conflict once onto the fresh object."""

    def merged(current: Obj) -> Obj:
        kept = {k: v for k, v in (current.get("status") or {}).items() if k not in drop}
        return {**kept, **status}

    body = {**obj, "status": merged(obj)}
    namespace = meta.namespace_of(obj)
    for attempt in range(2):
        try:
            await client.update(resource, body, namespace=namespace, subresource="status")
            return
        except APINotFoundError:
            return
        except APIConflictError:
            if attempt:
                raise
            fresh = await client.get(resource, meta.name_of(obj), namespace=namespace)
            body = typed(fresh, resource)
            body["status"] = merged(fresh)
