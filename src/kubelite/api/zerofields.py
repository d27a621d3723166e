"""The zero values Go writes for a status's required fields, so stored objects carry them.

kube-apiserver decodes every object into its Go struct and encodes it back; Go's encoder writes
each field that has no `omitempty` tag even when it holds its zero value. A ReplicaSet nobody has
counted yet is stored and served as `"status":{"replicas":0}`, a new DaemonSet with its four
counters at 0, a PodDisruptionBudget with its four. Clients rely on it: the official Python
client's models refuse to read a ReplicaSet whose `status.replicas` is missing (`ValueError:
Invalid value for replicas, must not be None`).

The OpenAPI definitions list exactly those fields (the ones without `omitempty`) as `required`,
so the fields to fill are read from the schema (`api/schema.py`) rather than listed by hand: a
new kind gets its zeros without a line here. Only scalars are filled (0, "", false): a required
`metav1.Time` is null in Go, which is no better to a client than a missing field. Only the
status is filled: a required field of the spec is one the client must give, and validation must
still say `Required value` for it.

The generic store fills an object before validating and storing it (`registry/generic.py`), so
that what is stored is what Go would store: reads, lists served from the stored bytes and watch
events all carry the zeros without work on the read path.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from kubelite.api import schema
from kubelite.api.types import Obj

# The zero value Go writes for a scalar of each schema kind.
_ZEROS: dict[str, Any] = {
    schema.INTEGER: 0,
    schema.NUMBER: 0,
    schema.BOOLEAN: False,
    schema.STRING: "",
}


@dataclass(frozen=True)
class Plan:
    """What to fill in one object of a definition: its required scalars and the plans of the
    objects, list items and map values below it that have any."""

    scalars: tuple[tuple[str, Any], ...]
    objects: tuple[tuple[str, Plan], ...]
    items: tuple[tuple[str, Plan], ...]
    values: tuple[tuple[str, Plan], ...]


def _zero(node: schema.Node) -> tuple[bool, Any]:
    if node.kind == schema.STRING and node.string_form:
        # Times are null in Go and []byte nil is null: nothing a client could read better.
        return False, None
    if node.kind in _ZEROS:
        return True, _ZEROS[node.kind]
    return False, None


def _plan(node: schema.Node, seen: frozenset[str]) -> Plan | None:
    if node.definition in seen:
        return None  # a recursive definition (JSONSchemaProps): nothing of it is in a status
    seen = seen | {node.definition}
    scalars: list[tuple[str, Any]] = []
    for name in node.required:
        child = node.field(name)
        if child is None:
            continue
        fills, zero = _zero(child)
        if fills:
            scalars.append((name, zero))
    objects: list[tuple[str, Plan]] = []
    items: list[tuple[str, Plan]] = []
    values: list[tuple[str, Plan]] = []
    for name, child in node.fields.items():
        if child.kind == schema.OBJECT:
            below = _plan(child, seen)
            if below is not None:
                objects.append((name, below))
        elif child.kind in (schema.ARRAY, schema.MAP) and child.items is not None:
            if child.items.kind != schema.OBJECT:
                continue
            below = _plan(child.items, seen)
            if below is not None:
                (items if child.kind == schema.ARRAY else values).append((name, below))
    if not (scalars or objects or items or values):
        return None
    return Plan(tuple(scalars), tuple(objects), tuple(items), tuple(values))


@functools.cache
def status_plan(group: str, version: str, kind: str) -> Plan | None:
    """The plan for a kind's `status`; None for a kind without one, or with nothing to fill."""
    root = schema.load().for_kind(group, version, kind)
    status = root.field("status") if root is not None else None
    if status is None or status.kind != schema.OBJECT:
        return None
    return _plan(status, frozenset()) or Plan((), (), (), ())


def fill(value: Obj, plan: Plan) -> None:
    """Give `value` (in place) the zero of every required scalar it lacks or holds null for,
    as decoding into a Go struct and encoding it again would."""
    for name, zero in plan.scalars:
        if value.get(name) is None:
            value[name] = zero
    for name, below in plan.objects:
        child = value.get(name)
        if isinstance(child, dict):
            fill(child, below)
    for name, below in plan.items:
        for item in value.get(name) or ():
            if isinstance(item, dict):
                fill(item, below)
    for name, below in plan.values:
        child = value.get(name)
        if isinstance(child, dict):
            for item in child.values():
                if isinstance(item, dict):
                    fill(item, below)


def fill_status(group: str, version: str, kind: str, obj: Obj) -> None:
    """Fill the required scalars of `obj`'s status; a kind with a status struct always has
    one, as Go writes the struct (`"status":{}`) even when every field of it is empty."""
    plan = status_plan(group, version, kind)
    if plan is None:
        return
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    fill(status, plan)
