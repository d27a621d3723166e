"""The default roles and bindings, put in place at every start (kube-apiserver's
`rbac/bootstrap-roles` post-start hook and `registry/rbac/reconciliation`).

A missing default is created. One that exists is brought up to date without taking anything
away: missing rules, labels, annotations, aggregation selectors and subjects are added, so a
new release's permissions reach an old cluster. A person who wants a default left exactly as
they made it sets `rbac.authorization.kubernetes.io/autoupdate: "false"` on it. A binding whose
roleRef differs from the default (which cannot be updated) is deleted and made again.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Mapping
from typing import Any

from kubelite.api import errors
from kubelite.api.kinds import REGISTRY, ResourceType
from kubelite.api.types import Obj
from kubelite.apiserver.rbac import bootstrap_policy as policy
from kubelite.apiserver.registry.generic import DeleteOptions, ResourceStore

log = logging.getLogger(__name__)

GROUP = "rbac.authorization.k8s.io"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"


def _union(existing: list[Any], wanted: list[Any]) -> list[Any]:
    out = list(existing)
    for item in wanted:
        if item not in out:
            out.append(item)
    return out


def _merge_metadata(current: Obj, desired: Obj) -> None:
    """Labels and annotations of the default that are missing; the existing values win."""
    metadata = current.setdefault("metadata", {})
    for key in ("labels", "annotations"):
        wanted = desired["metadata"].get(key) or {}
        if wanted:
            metadata[key] = {**wanted, **(metadata.get(key) or {})}


def reconciled_role(current: Obj, desired: Obj) -> Obj | None:
    """The role with what the default has and it lacks; None when nothing is missing or
    the role is not to be updated."""
    if ((current.get("metadata") or {}).get("annotations") or {}).get(AUTOUPDATE) == "false":
        return None
    wanted = copy.deepcopy(current)
    _merge_metadata(wanted, desired)
    if desired.get("aggregationRule") is not None:
        selectors = (wanted.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
        wanted["aggregationRule"] = {
            "clusterRoleSelectors": _union(
                selectors, desired["aggregationRule"]["clusterRoleSelectors"]
            )
        }
    else:
        wanted["rules"] = _union(wanted.get("rules") or [], desired.get("rules") or [])
    wanted["metadata"].pop("resourceVersion", None)
    return None if wanted == current else wanted


def reconciled_binding(current: Obj, desired: Obj) -> Obj | None:
    """The binding with the default's subjects it lacks; None when nothing is missing."""
    if ((current.get("metadata") or {}).get("annotations") or {}).get(AUTOUPDATE) == "false":
        return None
    wanted = copy.deepcopy(current)
    _merge_metadata(wanted, desired)
    wanted["subjects"] = _union(wanted.get("subjects") or [], desired.get("subjects") or [])
    wanted["metadata"].pop("resourceVersion", None)
    return None if wanted == current else wanted


async def _ensure(store: ResourceStore, namespace: str, desired: Obj, binding: bool) -> None:
    name = desired["metadata"]["name"]
    if binding:
        try:
            current = await store.get(namespace, name)
        except errors.StatusError as exc:
            if exc.code != 404:
                raise
        else:
            if current.get("roleRef") != desired["roleRef"]:
                if (current["metadata"].get("annotations") or {}).get(AUTOUPDATE) == "false":
                    return
                log.info(
                    "RBAC: %s %s has another roleRef; making it again", store.resource.plural, name
                )
                await store.delete(namespace, name, DeleteOptions())

    async def converge(current: Obj | None) -> Obj | None:
        if current is None:
            return copy.deepcopy(desired)
        if binding:
            return reconciled_binding(current, desired)
        return reconciled_role(current, desired)

    await store.update(namespace, name, converge, create_missing=True)


def _store(stores: Mapping[ResourceType, ResourceStore], plural: str) -> ResourceStore:
    resource = REGISTRY.lookup(GROUP, "v1", plural)
    assert resource is not None
    return stores[resource]


async def reconcile(stores: Mapping[ResourceType, ResourceStore]) -> None:
    """Every default role before the bindings that grant it; each kind's objects side by
    side, so that the store commits them together."""
    roles = _store(stores, "roles")
    await asyncio.gather(
        *(
            _ensure(_store(stores, "clusterroles"), "", r, False)
            for r in [*policy.cluster_roles(), *policy.kubelite_cluster_roles()]
        ),
        *(
            _ensure(roles, namespace, role, False)
            for namespace, items in policy.namespace_roles().items()
            for role in items
        ),
    )
    bindings = _store(stores, "rolebindings")
    await asyncio.gather(
        *(
            _ensure(_store(stores, "clusterrolebindings"), "", b, True)
            for b in [*policy.cluster_role_bindings(), *policy.kubelite_cluster_role_bindings()]
        ),
        *(
            _ensure(bindings, namespace, binding, True)
            for namespace, items in policy.namespace_role_bindings().items()
            for binding in items
        ),
    )
