"""What every workload controller does with the objects it controls from.

- `owners_selecting`: an orphan is offered to every owner of its namespace whose selector
  matches it (GetPodDaemonSets, GetPodJobs, GetPodStatefulSets, ...), which may adopt it;
- `controller_of`: the handlers map a pod (or ReplicaSet, revision) to the cached object that
  controls it through its controller reference, matched by uid, so that a reference to an owner
  deleted and made again under the same name resolves to nothing (resolveControllerRef).
- `recheck_owner`: before adopting an orphan, Kubernetes' controllers read their object again
  from the API (RecheckDeletionTimestamp), so that an owner deleted or replaced since the cache
  last saw it adopts nothing.
- `put_status`: the status goes through the `status` subresource; on a conflict (the object
  changed since the cache saw it) it is written once more onto the fresh object, as
  updateReplicaSetStatus and its siblings do, and a second conflict is left to the queue's
  retry. An object deleted meanwhile needs no status.
"""

from __future__ import annotations

from collections.abc import Callable

from kubelite.api import labels, meta
from kubelite.api.resources import Resource
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APIConflictError, APINotFoundError
from kubelite.client.informer import Informer
from kubelite.controllers import podutil


def typed(obj: Obj, resource: Resource) -> Obj:
    """`obj` with its apiVersion and kind (list items arrive without them)."""
    return {**obj, "apiVersion": resource.api_version, "kind": resource.kind}


def controller_of(cache: Informer, obj: Obj, kind: str, ref: Obj | None = None) -> Obj | None:
    """The object of `kind` in `cache` that `obj`'s controller reference (or `ref`, given one
    read from an older copy) names, if it is that very object: same name and same uid."""
    ref = ref if ref is not None else podutil.controller_ref(obj)
    if ref is None or ref.get("kind") != kind:
        return None
    owner = cache.get(f"{meta.namespace_of(obj)}/{ref.get('name', '')}")
    if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
        return None
    return owner


def spec_selector(owner: Obj) -> labels.Selector:
    """The owner's `spec.selector`, an empty one selecting nothing (a workload must not claim
    every pod); raises labels.SelectorError if it is not valid."""
    selector = labels.from_label_selector((owner.get("spec") or {}).get("selector"))
    return labels.nothing() if selector.empty() else selector


def owners_selecting(
    cache: Informer, obj: Obj, selector_of: Callable[[Obj], labels.Selector] = spec_selector
) -> list[Obj]:
    """The objects of `obj`'s namespace in `cache` (indexed by namespace) whose selector, as
    `selector_of` reads it, matches `obj`'s labels; one whose selector is not valid is passed
    over."""
    found = []
    obj_labels = meta.labels_of(obj)
    for owner in cache.by_index("namespace", meta.namespace_of(obj)):
        try:
            selector = selector_of(owner)
        except labels.SelectorError:
            continue
        if selector.matches(obj_labels):
            found.append(owner)
    return found


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
