"""The Kubernetes OpenAPI definitions, as the one schema source of the project.

Kubernetes derives strict decoding (unknown fields), the `/openapi` documents, the merge keys of
strategic merge patch and the list types of server-side apply from its Go types. kubelite reads the
same facts from the OpenAPI definitions that the `kubernetes-validate` package bundles for each
Kubernetes release (ARCHITECTURE.md, rule 5), and wraps them in `Node`s that answer the questions
those features ask: what are the fields of this object, what is this list keyed by, how does a
patch merge it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson

# The Kubernetes release whose API kubelite serves (/version, schemas, defaults).
KUBERNETES_VERSION = "1.37"
_SCHEMA_DIR = f"v{KUBERNETES_VERSION}.0-local"

# Value kinds a schema node can describe.
OBJECT = "object"  # a struct with named fields
MAP = "map"  # string keys to values of one schema (labels, resources.limits)
ARRAY = "array"
STRING = "string"
INTEGER = "integer"
NUMBER = "number"
BOOLEAN = "boolean"
INT_OR_STRING = "int-or-string"
QUANTITY = "quantity"
ANY = "any"  # free-form JSON (FieldsV1, RawExtension, preserve-unknown-fields)

_REF_PREFIX = "#/$defs/"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"


def _base_type(raw: dict[str, Any]) -> str | None:
    typ = raw.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), None)
    return typ


class Node:
    """One place in a schema: a field's own schema joined with the definition it refers to.

    Extensions that Kubernetes puts on the field (`x-kubernetes-patch-merge-key` on
    `spec.containers`) and those on the definition (`x-kubernetes-map-type` on `LabelSelector`)
    are both visible here, the field's winning.
    """

    __slots__ = (
        "_fields",
        "_go_type",
        "_items",
        "definition",
        "kind",
        "raw",
        "schema",
        "string_form",
        "target",
    )

    def __init__(self, schema: Schema, raw: dict[str, Any]) -> None:
        self.schema = schema
        self.raw = raw
        target = raw
        definition = ""
        ref = raw.get("$ref")
        if ref is None and "allOf" in raw and len(raw["allOf"]) == 1:
            ref = raw["allOf"][0].get("$ref")
        if ref:
            definition = ref[len(_REF_PREFIX) :]
            target = schema.definitions[definition]
        self.definition = definition
        self.target = target
        self._fields: dict[str, Node] | None = None
        self._items: Node | None = None
        self._go_type = ""
        self.kind = self._classify()
        self.string_form = self._string_form()

    def _classify(self) -> str:
        if self.definition == _QUANTITY:
            return QUANTITY
        if self.definition == _INT_OR_STRING or self.target.get("x-kubernetes-int-or-string"):
            return INT_OR_STRING
        if self.ext("x-kubernetes-preserve-unknown-fields"):
            return ANY
        typ = _base_type(self.target)
        if typ == "object":
            if "properties" in self.target:
                return OBJECT
            if isinstance(self.target.get("additionalProperties"), dict):
                return MAP
            return ANY
        if typ in (ARRAY, STRING, INTEGER, NUMBER, BOOLEAN):
            return typ
        return ANY

    def _string_form(self) -> str:
        """How a string is read: `time`, `microtime`, `byte` (base64) or plain ``."""
        if self.kind != STRING:
            return ""
        if self.definition.endswith(".meta.v1.Time"):
            return "time"
        if self.definition.endswith(".meta.v1.MicroTime"):
            return "microtime"
        return "byte" if self.target.get("format") == "byte" else ""

    def ext(self, name: str) -> Any:
        """An `x-kubernetes-*` extension, from the field first, then its definition."""
        if name in self.raw:
            return self.raw[name]
        return self.target.get(name)

    @property
    def format(self) -> str:
        return self.target.get("format", "")

    @property
    def fields(self) -> dict[str, Node]:
        """The named fields of an object."""
        if self._fields is None:
            props = self.target.get("properties", {})
            self._fields = {name: Node(self.schema, raw) for name, raw in props.items()}
        return self._fields

    def field(self, name: str) -> Node | None:
        return self.fields.get(name)

    @property
    def items(self) -> Node | None:
        """The schema of a list's items or of a map's values."""
        if self._items is None:
            if self.kind == ARRAY and isinstance(self.target.get("items"), dict):
                self._items = Node(self.schema, self.target["items"])
            elif self.kind == MAP:
                self._items = Node(self.schema, self.target["additionalProperties"])
        return self._items

    @property
    def required(self) -> list[str]:
        return list(self.target.get("required", ()))

    @property
    def list_type(self) -> str:
        """`atomic`, `set` or `map` (server-side apply); Kubernetes' default is atomic."""
        return self.ext("x-kubernetes-list-type") or "atomic"

    @property
    def list_map_keys(self) -> list[str]:
        return list(self.ext("x-kubernetes-list-map-keys") or ())

    @property
    def map_type(self) -> str:
        """`atomic` or `granular` for structs and maps."""
        return self.ext("x-kubernetes-map-type") or "granular"

    @property
    def patch_strategies(self) -> tuple[str, ...]:
        """Strategic merge patch strategies: `merge`, `retainKeys`, `replace`."""
        value = self.ext("x-kubernetes-patch-strategy") or ""
        return tuple(s for s in value.split(",") if s)

    @property
    def patch_merge_key(self) -> str:
        return self.ext("x-kubernetes-patch-merge-key") or ""

    @property
    def go_type(self) -> str:
        """The Go type Kubernetes would name in a decoding error."""
        if not self._go_type:
            self._go_type = self._compute_go_type()
        return self._go_type

    def _compute_go_type(self) -> str:
        if self.kind == INTEGER:
            return self.format or "int"
        if self.kind == NUMBER:
            return "float64"
        if self.kind == BOOLEAN:
            return "bool"
        if self.kind == STRING:
            return "string"
        if self.kind == ARRAY:
            items = self.items
            return f"[]{items.go_type}" if items else "[]interface {}"
        if self.kind == MAP:
            items = self.items
            return f"map[string]{items.go_type}" if items else "map[string]interface {}"
        if self.definition:
            return self.definition.rsplit(".", 1)[-1]
        return "interface {}"

    def __repr__(self) -> str:
        return f"Node({self.kind}, {self.definition or _base_type(self.target)})"


@dataclass(frozen=True)
class GroupVersionKind:
    """The key that names a kind across API versions: the schema indexes definitions by it, as
    Kubernetes' `x-kubernetes-group-version-kind` does."""

    group: str
    version: str
    kind: str


class Schema:
    """All definitions of one Kubernetes release, indexed by group/version/kind."""

    def __init__(self, definitions: dict[str, dict[str, Any]]) -> None:
        self.definitions = definitions
        self._by_gvk: dict[GroupVersionKind, str] = {}
        for name, definition in definitions.items():
            for gvk in definition.get("x-kubernetes-group-version-kind", ()):
                self._by_gvk[GroupVersionKind(gvk["group"], gvk["version"], gvk["kind"])] = name
        self._nodes: dict[str, Node] = {}

    def definition_name(self, group: str, version: str, kind: str) -> str | None:
        return self._by_gvk.get(GroupVersionKind(group, version, kind))

    def node(self, definition: str) -> Node:
        """The root node of a definition, e.g. `io.k8s.api.core.v1.Pod`."""
        node = self._nodes.get(definition)
        if node is None:
            node = Node(self, {"$ref": _REF_PREFIX + definition})
            self._nodes[definition] = node
        return node

    def for_kind(self, group: str, version: str, kind: str) -> Node | None:
        name = self.definition_name(group, version, kind)
        return self.node(name) if name else None

    def at(self, root: Node, path: list[str]) -> Node | None:
        """Follow field names (and `[]` for list items or map values) from a root node."""
        node: Node | None = root
        for part in path:
            if node is None:
                return None
            node = node.items if part == "[]" else node.field(part)
        return node


@functools.cache
def load() -> Schema:
    """The definitions of the served Kubernetes release, parsed once per process."""
    files = resources.files("kubernetes_validate") / "kubernetes-json-schema" / _SCHEMA_DIR
    data = orjson.loads((files / "_definitions.json").read_bytes())
    return Schema(data["$defs"])
