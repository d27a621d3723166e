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

The walkers ask the same questions of the same few nodes for every object, so the answers are
worked out once per node: `shape`, `layout` (a struct's fields: element, node and shape, and
its zero fields), the key fields of a list, and whether lists can be found below a node.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
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
    "io.k8s.api.batch.v1.CronJobSpec": frozenset({"jobTemplate"}),
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


# What a walk needs of one field: its path element, its schema node and that node's shape.
Member = tuple[str, Node | None, str]


class Layout:
    """The fields of a struct node, or the values of a map node, worked out once per node.

    Walkers visit the same few schema nodes for every object; asking the node for a field's
    schema, its shape and its path element each time costs more than the walk's own work.
    """

    __slots__ = ("_values", "declared", "is_map", "values_are_leaves", "zeros")

    def __init__(self, node: Node) -> None:
        self.declared: dict[str, Member] = {}
        # The fields every value of a struct has, with their zero values (`{}` or null). Shared:
        # callers read it and never change it or its values.
        self.zeros: dict[str, Any] = {}
        if node.kind == schema.MAP:
            values = node.items
            self._values: tuple[Node | None, str] = (values, shape(values))
        else:
            self._values = (None, ATOMIC)
            for name, field_node in node.fields.items():
                self.declared[name] = (fieldpath.field(name), field_node, shape(field_node))
            for name, is_struct in _implicit(node):
                self.zeros[name] = {} if is_struct else None
        self.is_map = node.kind == schema.MAP
        # A map of scalars (labels, annotations): every key is a leaf.
        self.values_are_leaves = self.is_map and self._values[1] in (SCALAR, ATOMIC)

    def member(self, name: str) -> Member:
        """The field `name`: declared, a map key, or unknown to the schema (atomic)."""
        known = self.declared.get(name)
        if known is not None:
            return known
        return (fieldpath.field(name), *self._values)


@functools.cache
def layout(node: Node) -> Layout:
    """The Layout of a struct or map node, made once."""
    return Layout(node)


@functools.cache
def holds_lists(node: Node | None) -> bool:
    """Whether an associative list can be found at or below `node` (only those can hold items
    that cannot be keyed). A schema that refers back to itself is taken to hold one."""
    return _holds_lists(node, set())


# holds_lists() of each definition's fields, found once.
_DEFINITION_HOLDS_LISTS: dict[str, bool] = {}


def _holds_lists(node: Node | None, visiting: set[str]) -> bool:
    kind = shape(node)
    if kind == LIST:
        return True
    if kind not in (STRUCT, MAP) or node is None:
        return False
    definition = node.definition
    if definition:
        if definition in visiting:
            return True
        known = _DEFINITION_HOLDS_LISTS.get(definition)
        if known is not None:
            return known
        visiting.add(definition)
    children = [node.items] if node.kind == schema.MAP else list(node.fields.values())
    found = False
    for child in children:
        if _holds_lists(child, visiting):
            found = True
            break
    if definition:
        visiting.discard(definition)
        _DEFINITION_HOLDS_LISTS[definition] = found
    return found


@dataclass(frozen=True)
class _ListKeys:
    """The key fields of an associative list, worked out once per schema node."""

    # In the schema's order, which is the order a missing one is reported in.
    names: tuple[str, ...]
    # What an item that omits a key field is keyed by, for the fields that have a default.
    defaults: dict[str, Any]
    # (name, `"name":`) in the order Go writes the key's JSON object: sorted by name.
    written: tuple[tuple[str, str], ...]
    # The one key field of most lists (`name`, `mountPath`), None for several...
    single: str | None
    # ...and the start of its items' elements: `k:{"name":`.
    single_prefix: str
    # The elements of items keyed by one string, by that string. The same names come back in
    # object after object; a few thousand are kept.
    memo: dict[str, str] = field(default_factory=dict)


@functools.cache
def _list_keys(node: Node) -> _ListKeys | None:
    """The key fields of a `list-type: map` node; None for a set (items are their own key)."""
    if node.list_type != "map":
        return None
    definition = node.items.definition if node.items else ""
    names = tuple(node.list_map_keys)
    defaults = {n: _KEY_DEFAULTS[definition, n] for n in names if (definition, n) in _KEY_DEFAULTS}
    written = tuple((n, fieldpath.go_json(n) + ":") for n in sorted(set(names)))
    if len(written) == 1:
        return _ListKeys(names, defaults, written, names[0], "k:{" + written[0][1])
    return _ListKeys(names, defaults, written, None, "")


def item_element(node: Node, item: Any, position: int, path: Path) -> str:
    """The path element of a list item: `k:{...}` by its key fields or `v:...` by its value.

    `path` (the list's) only names the list in errors.
    """
    return _element(_list_keys(node), item, position, path)


def _element(keys: _ListKeys | None, item: Any, position: int, path: Path) -> str:
    if keys is not None:
        single = keys.single
        if single is not None and type(item) is dict and single in item:
            # The usual item: a struct with its one key field (`name`, `mountPath`).
            value = item[single]
            if type(value) is str:
                element = keys.memo.get(value)
                if element is None:
                    element = keys.single_prefix + fieldpath.go_string(value) + "}"
                    if len(keys.memo) >= 4096:
                        keys.memo.clear()
                    keys.memo[value] = element
                return element
            return keys.single_prefix + fieldpath.go_json(value) + "}"
        return _key_element(keys, item, position, path)
    where = f"element {position}"
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


def _key_element(keys: _ListKeys, item: Any, position: int, path: Path) -> str:
    """`k:{...}`: fieldpath.key() of the item's key fields, defaults filled in."""
    if not isinstance(item, dict):
        what = "a null element" if item is None else "non-map elements"
        raise SchemaError(
            path, f"element {position}: associative list with keys may not have {what}"
        )
    for name in keys.names:
        if name not in item and name not in keys.defaults:
            raise SchemaError(
                path,
                f"element {position}: associative list with keys has an element that omits "
                f'key field "{name}" (and doesn\'t have default value)',
            )
    written = []
    for name, prefix in keys.written:
        value = item[name] if name in item else keys.defaults[name]
        written.append(prefix + fieldpath.go_json(value))
    return "k:{" + ",".join(written) + "}"


def index_items(
    node: Node, items: list[Any], path: Path, *, allow_duplicates: bool = True
) -> dict[str, list[Any]]:
    """A list's items by path element, in order of first appearance.

    Kubernetes accepts stored objects whose lists repeat a key (two env vars of one name); such a
    group is then handled as one atomic value. An applied configuration may not repeat one.
    """
    keys = _list_keys(node)
    single = keys.single if keys is not None else None
    memo = keys.memo if keys is not None else {}
    indexed: dict[str, list[Any]] = {}
    for position, item in enumerate(items):
        element = None
        if single is not None and type(item) is dict:
            # The usual item, keyed by one string seen before: _element()'s memo, read here.
            value = item.get(single)
            if type(value) is str:
                element = memo.get(value)
        if element is None:
            element = _element(keys, item, position, path)
        group = indexed.get(element)
        if group is None:
            indexed[element] = [item]
        elif allow_duplicates:
            group.append(item)
        else:
            raise SchemaError(
                path, f"duplicate entries for key {fieldpath.element_string(element)}"
            )
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


_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})


def values_equal(a: Any, b: Any) -> bool:
    """JSON equality as Go's value comparison has it: true is not 1."""
    kind = type(a)
    if kind is type(b) and kind in _SCALAR_TYPES:
        # Two strings, two numbers of one type, two booleans: the usual leaves.
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        if not isinstance(b, dict) or a.keys() != b.keys():
            return False
        for k in a:  # noqa: SIM110 (a loop: all() over a generator costs more)
            if not values_equal(a[k], b[k]):
                return False
        return True
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(values_equal, a, b))
    if isinstance(b, dict | list):
        return False
    return bool(a == b)
