"""How server-side apply sees a schema node: a leaf, a struct, a map or an associative list.

structured-merge-diff walks objects with a schema converted from the OpenAPI definitions; this
module answers, from a `kubelite.api.schema.Node`, the questions its walkers ask: is this node
one value (a scalar, or an atomic struct, map or list), a struct of named fields, a granular map,
or a list whose items are identified by key fields (`list-type: map`) or by value
(`list-type: set`)? Anything the schema does not describe is atomic.

It also knows two facts about Kubernetes' Go types that the bundled OpenAPI document leaves out:
the defaults of associative-list key fields (a container port without `protocol` is keyed as
TCP), and which struct fields exist in every object because Go declares them as values (an empty
Pod already has `metadata`, `spec` and `status`, so creating one does not add those nodes).
"""

from __future__ import annotations

import functools
from typing import Any

from kubelite.api import schema
from kubelite.api.managedfields import fieldpath
from kubelite.api.managedfields.fieldpath import Path
from kubelite.api.schema import Node

SCALAR = "scalar"
ATOMIC = "atomic"
STRUCT = "struct"
MAP = "map"
LIST = "list"

# Defaults of key fields that a list item may omit (`+default` markers in k8s.io/api/core/v1
# types.go, which kubernetes-validate's JSON schemas do not carry).
_KEY_DEFAULTS: dict[tuple[str, str], Any] = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.LocalObjectReference", "name"): "",
}

# Struct fields that Go declares as values rather than pointers, beyond `metadata`, `spec` and
# `status` (which are values in every kind): they exist, empty, in every object of their type.
_VALUE_STRUCT_FIELDS: dict[str, frozenset[str]] = {
    "io.k8s.api.apps.v1.DaemonSetSpec": frozenset({"template", "updateStrategy"}),
    "io.k8s.api.apps.v1.DeploymentSpec": frozenset({"strategy", "template"}),
    "io.k8s.api.apps.v1.ReplicaSetSpec": frozenset({"template"}),
    "io.k8s.api.apps.v1.StatefulSetSpec": frozenset({"template", "updateStrategy"}),
    "io.k8s.api.batch.v1.JobSpec": frozenset({"template"}),
    "io.k8s.api.core.v1.Container": frozenset({"resources"}),
    "io.k8s.api.core.v1.EphemeralContainer": frozenset({"resources"}),
    "io.k8s.api.core.v1.Event": frozenset({"involvedObject", "source"}),
    "io.k8s.api.core.v1.NodeDaemonEndpoints": frozenset({"kubeletEndpoint"}),
    "io.k8s.api.core.v1.NodeStatus": frozenset({"daemonEndpoints", "nodeInfo"}),
    "io.k8s.api.core.v1.ServiceStatus": frozenset({"loadBalancer"}),
}
_ALWAYS_VALUES = frozenset({"metadata", "spec", "status"})


class SchemaError(ValueError):
    """An object that does not fit its schema the way server-side apply needs it to."""

    def __init__(self, path: Path, message: str) -> None:
        where = fieldpath.path_string(path)
        super().__init__(f"{where}: {message}" if where else message)


@functools.cache
def shape(node: Node | None) -> str:
    """SCALAR, ATOMIC, STRUCT, MAP or LIST: how merging and ownership treat the node."""
    if node is None:
        return ATOMIC
    kind = node.kind
    if kind in (schema.OBJECT, schema.MAP):
        if node.map_type == "atomic":
            return ATOMIC
        return STRUCT if kind == schema.OBJECT else MAP
    if kind == schema.ARRAY:
        return LIST if node.list_type in ("map", "set") and node.items else ATOMIC
    if kind == schema.ANY:
        return ATOMIC
    return SCALAR


def child(node: Node, name: str) -> Node | None:
    """The schema of a struct field or of a map's values; None where there is none."""
    return node.items if node.kind == schema.MAP else node.field(name)


def declared(node: Node, name: str) -> bool:
    """Whether `name` is a declared field of a struct (map keys and unknown fields are not)."""
    return node.kind == schema.OBJECT and node.field(name) is not None


def item_element(node: Node, item: Any, position: int, path: Path) -> str:
    """The path element of a list item: `k:{...}` by its key fields or `v:...` by its value."""
    where = f"element {position}"
    if node.list_type == "map":
        if item is None:
            raise SchemaError(
                path, f"{where}: associative list with keys may not have a null element"
            )
        if not isinstance(item, dict):
            raise SchemaError(
                path, f"{where}: associative list with keys may not have non-map elements"
            )
        element_node = node.items
        definition = element_node.definition if element_node else ""
        fields: dict[str, Any] = {}
        for name in node.list_map_keys:
            if name in item:
                fields[name] = item[name]
            elif (definition, name) in _KEY_DEFAULTS:
                fields[name] = _KEY_DEFAULTS[definition, name]
            else:
                raise SchemaError(
                    path,
                    f"{where}: associative list with keys has an element that omits key field "
                    f'"{name}" (and doesn\'t have default value)',
                )
        return fieldpath.key(fields)
    if isinstance(item, dict):
        raise SchemaError(
            path, f"{where}: associative list without keys has an element that's a map type"
        )
    if isinstance(item, list):
        raise SchemaError(path, f"{where}: not supported: associative list with lists as elements")
    if item is None:
        raise SchemaError(
            path, f"{where}: associative list without keys has an element that's an explicit null"
        )
    return fieldpath.value(item)


def index_items(
    node: Node, items: list[Any], path: Path, *, allow_duplicates: bool = True
) -> dict[str, list[Any]]:
    """A list's items by path element, in order of first appearance.

    Kubernetes accepts stored objects whose lists repeat a key (two env vars of one name); such a
    group is then handled as one atomic value. An applied configuration may not repeat one.
    """
    indexed: dict[str, list[Any]] = {}
    for position, item in enumerate(items):
        element = item_element(node, item, position, path)
        group = indexed.setdefault(element, [])
        if group and not allow_duplicates:
            raise SchemaError(
                path, f"duplicate entries for key {fieldpath.element_string(element)}"
            )
        group.append(item)
    return indexed


@functools.cache
def _implicit(node: Node) -> tuple[tuple[str, bool], ...]:
    """Fields present in the zero value of a struct: (name, is a struct value)."""
    values = _VALUE_STRUCT_FIELDS.get(node.definition, frozenset())
    required = set(node.required)
    found: list[tuple[str, bool]] = []
    for name, field_node in node.fields.items():
        kind = field_node.kind
        if kind == schema.OBJECT and (name in _ALWAYS_VALUES or name in values):
            found.append((name, True))
        elif name in required and kind in (schema.OBJECT, schema.MAP, schema.ARRAY, schema.ANY):
            # A required list, map or pointer is serialized as null when unset: present, empty.
            found.append((name, False))
    return tuple(found)


def with_zero_fields(obj: dict[str, Any], node: Node) -> dict[str, Any]:
    """A struct as Go holds it: fields that exist in every value added, empty, where missing."""
    missing = [(name, is_struct) for name, is_struct in _implicit(node) if name not in obj]
    if not missing:
        return obj
    return {**{name: {} if is_struct else None for name, is_struct in missing}, **obj}


def values_equal(a: Any, b: Any) -> bool:
    """JSON equality as Go's value comparison has it: true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(values_equal(a[k], b[k]) for k in a)
        )
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(values_equal, a, b))
    if isinstance(b, dict | list):
        return False
    return bool(a == b)
