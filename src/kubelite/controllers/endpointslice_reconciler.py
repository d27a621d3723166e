"""How a set of desired endpoints becomes creates, updates and deletes of EndpointSlices.

The reconciler of `k8s.io/endpointslice` (reconciler.go), shared by the EndpointSlice
controller and the mirroring controller. Endpoints are grouped by the ports they serve (one
group per distinct port mapping: pods whose named target ports resolve differently land in
different slices). Within a group it avoids churn the way Kubernetes does:

1. each existing slice keeps the desired endpoints it already holds (updated in place if their
   conditions changed); a slice left with none is deleted;
2. leftover endpoints first fill the slices being updated anyway, fullest first;
3. what still remains goes into the one unchanged slice it fits best, or into new slices;
4. finally a slice about to be deleted is reused, under its name, for a slice about to be
   created (finalize), so a changed port mapping updates rather than replaces.

A slice never holds more than `max_per_slice` endpoints (100 by default).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from kubelite.api import meta
from kubelite.api.types import Obj

# kube-controller-manager's --max-endpoints-per-slice default.
MAX_ENDPOINTS_PER_SLICE = 100


def port_map_key(ports: list[Obj] | None) -> str:
    """NewPortMapKey: the same ports in any order are the same mapping."""
    return json.dumps(
        sorted((ports or []), key=lambda p: json.dumps(p, sort_keys=True)), sort_keys=True
    )


def endpoint_key(endpoint: Obj) -> str:
    """The identity of an endpoint across syncs (endpointHashObj): its addresses, hostname
    and the pod it stands for; its conditions, node and zone are what an update changes."""
    ref = endpoint.get("targetRef") or {}
    return json.dumps(
        [
            sorted(endpoint.get("addresses") or []),
            endpoint.get("hostname") or "",
            ref.get("namespace") or "",
            ref.get("name") or "",
        ]
    )


@dataclass
class Group:
    """The desired endpoints of one address type and port mapping."""

    address_type: str
    ports: list[Obj]
    endpoints: dict[str, Obj] = field(default_factory=dict)  # endpoint_key -> endpoint


@dataclass
class Plan:
    """What one reconcile decided: the slices to create, update and delete, so that the writes can
    be made after all the deciding."""

    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)

    def extend(self, other: Plan) -> None:
        self.create += other.create
        self.update += other.update
        self.delete += other.delete

    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


# A new slice for a group (its ports and address type), with labels and owner set.
NewSlice = Callable[[list[Obj], str], Obj]
# A slice's labels as they should be, and whether they differ from its own.
SliceLabels = Callable[[Obj], tuple[dict[str, str], bool]]


def reconcile_group(
    existing: list[Obj],
    group: Group,
    new_slice: NewSlice,
    slice_labels: SliceLabels,
    max_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
) -> Plan:
    """reconcileByPortMapping for one group and the existing slices of its port mapping."""
    desired = dict(group.endpoints)
    by_name: dict[str, Obj] = {}
    unchanged: list[str] = []
    to_update: list[str] = []
    to_delete: list[str] = []
    for current in existing:
        name = meta.name_of(current)
        by_name[name] = current
        kept: list[Obj] = []
        changed = False
        for endpoint in current.get("endpoints") or ():
            wanted = desired.pop(endpoint_key(endpoint), None)
            if wanted is None:
                continue
            kept.append(wanted)
            if wanted != endpoint:
                changed = True
        new_labels, labels_changed = slice_labels(current)
        if changed or len(kept) != len(current.get("endpoints") or ()):
            if not kept:
                to_delete.append(name)
                continue
            copy = meta.clone(current)
            copy["endpoints"] = kept
            copy["metadata"]["labels"] = new_labels
            by_name[name] = copy
            to_update.append(name)
        elif labels_changed:
            copy = meta.clone(current)
            copy["metadata"]["labels"] = new_labels
            by_name[name] = copy
            to_update.append(name)
        else:
            unchanged.append(name)
    leftovers = list(desired.values())
    if leftovers and to_update:
        # Fill the slices written anyway, fullest first.
        for name in sorted(to_update, key=lambda n: -len(by_name[n].get("endpoints") or ())):
            written = by_name[name]
            while leftovers and len(written["endpoints"]) < max_per_slice:
                written["endpoints"].append(leftovers.pop(0))
    created: list[Obj] = []
    while leftovers:
        target: Obj | None = None
        if len(leftovers) < max_per_slice and unchanged:
            target = _slice_to_fill([by_name[n] for n in unchanged], len(leftovers), max_per_slice)
        if target is None:
            target = new_slice(group.ports, group.address_type)
            target["endpoints"] = []
        else:
            target = meta.clone(target)
            target["endpoints"] = list(target.get("endpoints") or [])
            by_name[meta.name_of(target)] = target
        while leftovers and len(target["endpoints"]) < max_per_slice:
            target["endpoints"].append(leftovers.pop(0))
        name = meta.name_of(target)
        if name:
            to_update.append(name)
            unchanged.remove(name)
        else:
            created.append(target)
    return Plan(
        create=created,
        update=[by_name[n] for n in to_update],
        delete=[by_name[n] for n in to_delete],
    )


def _slice_to_fill(slices: list[Obj], count: int, max_per_slice: int) -> Obj | None:
    """getSliceToFill: the unchanged slice the leftovers fill most exactly, if any fits."""
    closest_diff = max_per_slice
    closest: Obj | None = None
    for candidate in slices:
        diff = max_per_slice - (count + len(candidate.get("endpoints") or ()))
        if 0 <= diff < closest_diff:
            closest_diff, closest = diff, candidate
            if diff == 0:
                break
    return closest


def reconcile_address_type(
    existing: list[Obj],
    groups: dict[str, Group],
    new_slice: NewSlice,
    slice_labels: SliceLabels,
    max_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
) -> Plan:
    """Every group of one address type against that type's existing slices; slices of a port
    mapping no longer wanted are deleted."""
    by_ports: dict[str, list[Obj]] = {}
    for current in existing:
        by_ports.setdefault(port_map_key(current.get("ports")), []).append(current)
    plan = Plan()
    for key, group in groups.items():
        plan.extend(
            reconcile_group(by_ports.get(key, []), group, new_slice, slice_labels, max_per_slice)
        )
    for key, slices in by_ports.items():
        if key not in groups:
            plan.delete += slices
    return plan


def finalize(plan: Plan) -> Plan:
    """Turn creates into updates of slices otherwise deleted, of the same address type."""
    creates = list(plan.create)
    deletes: list[Obj] = []
    updates = list(plan.update)
    for doomed in plan.delete:
        if creates and creates[-1].get("addressType") == doomed.get("addressType"):
            reused = creates.pop()
            md = reused["metadata"]
            md["name"] = meta.name_of(doomed)
            md["resourceVersion"] = meta.get_path(doomed, "metadata", "resourceVersion")
            updates.append(reused)
        else:
            deletes.append(doomed)
    return Plan(create=creates, update=updates, delete=deletes)


def is_placeholder_like(current: Obj, placeholder: Obj) -> bool:
    """placeholderSliceCompare: same namespace, labels, address type, and no ports or endpoints."""
    return (
        meta.namespace_of(current) == meta.namespace_of(placeholder)
        and meta.labels_of(current) == meta.labels_of(placeholder)
        and current.get("addressType") == placeholder.get("addressType")
        and not current.get("ports")
        and not current.get("endpoints")
    )
