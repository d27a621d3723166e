"""`/openapi/v3`: the OpenAPI documents kubectl reads to validate and to merge.

kubectl asks `/openapi/v3` for the list of group versions, then fetches the document of the one
it needs. From it, it learns that a kind's PATCH takes the `fieldValidation` parameter (and then
leaves unknown-field checks to the server) and the patch merge keys of list fields (for
client-side apply). The documents are derived from the same definitions that drive strict
decoding (`kubelite.api.schema`), converted from their JSON-schema form to OpenAPI 3.0, and
built lazily once per group version. The paths and their operations are the installer's table
(`kubelite.apiserver.installer`): an operation is documented when its verb is served.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson

from kubelite.api import schema
from kubelite.api.kinds import Registry, ResourceType
from kubelite.api.types import Obj
from kubelite.apiserver import installer

_REF = "#/$defs/"
_COMPONENT_REF = "#/components/schemas/"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
# Definitions every document carries, whether or not a kind refers to them.
_COMMON = (
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
)


def _convert(value: Any) -> Any:
    """A JSON-schema fragment as OpenAPI 3.0: nullable types collapsed, refs re-pointed."""
    if isinstance(value, list):
        return [_convert(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: Obj = {}
    for key, item in value.items():
        if key == "$ref":
            continue
        if key == "type" and isinstance(item, list):
            types = [t for t in item if t != "null"]
            out["type"] = types[0] if len(types) == 1 else types
        elif key == "oneOf":
            continue
        else:
            out[key] = _convert(item)
    ref = value.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF):
        target = _COMPONENT_REF + ref[len(_REF) :]
        if len(out) == 0:
            return {"$ref": target}
        # OpenAPI 3.0 ignores siblings of $ref; Kubernetes wraps them in allOf.
        return {"allOf": [{"$ref": target}], **out}
    return out


def _definition(name: str, raw: Obj) -> Obj:
    if name == _QUANTITY:
        return {"description": raw.get("description", ""), "type": "string"}
    if name == _INT_OR_STRING:
        return {
            "description": raw.get("description", ""),
            "type": "string",
            "format": "int-or-string",
        }
    converted: Obj = _convert(raw)
    return converted


def _refs(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            found.add(ref[len(_REF) :])
        for item in value.values():
            _refs(item, found)
    elif isinstance(value, list):
        for item in value:
            _refs(item, found)


def _closure(definitions: dict[str, Obj], roots: list[str]) -> list[str]:
    seen: set[str] = set()
    stack = [r for r in roots if r in definitions]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        found: set[str] = set()
        _refs(definitions[name], found)
        stack.extend(f for f in found if f not in seen and f in definitions)
    return sorted(seen)


_QUERY_PARAMS = {
    "dryRun": "When present, indicates that modifications should not be persisted.",
    "fieldManager": "fieldManager is a name associated with the actor or entity that is making "
    "these changes.",
    "fieldValidation": "fieldValidation instructs the server on how to handle objects in the "
    "request containing unknown or duplicate fields. Valid values are: Ignore, Warn (default), "
    "Strict.",
    "force": 'Force is going to "force" Apply requests. It means user will re-acquire '
    "conflicting fields owned by other people.",
    "gracePeriodSeconds": "The duration in seconds before the object should be deleted.",
    "propagationPolicy": "Whether and how garbage collection will be performed.",
    "labelSelector": "A selector to restrict the list of returned objects by their labels.",
    "fieldSelector": "A selector to restrict the list of returned objects by their fields.",
    "limit": "limit is a maximum number of responses to return for a list call.",
    "continue": "The continue option should be set when retrieving more results from the server.",
    "resourceVersion": "resourceVersion sets a constraint on what resource versions a request "
    "may be served from.",
    "resourceVersionMatch": "resourceVersionMatch determines how resourceVersion is applied to "
    "list calls.",
    "timeoutSeconds": "Timeout for the list/watch call.",
    "watch": "Watch for changes to the described resources.",
    "allowWatchBookmarks": 'allowWatchBookmarks requests watch events with type "BOOKMARK".',
}
_PARAM_TYPES = {
    "force": "boolean",
    "watch": "boolean",
    "allowWatchBookmarks": "boolean",
    "gracePeriodSeconds": "integer",
    "limit": "integer",
    "timeoutSeconds": "integer",
}


def _params(*names: str) -> list[Obj]:
    return [
        {
            "name": n,
            "in": "query",
            "description": _QUERY_PARAMS[n],
            "schema": {"type": _PARAM_TYPES.get(n, "string"), "uniqueItems": True},
        }
        for n in names
    ]


def _content(ref: str) -> Obj:
    schema_ref = {"$ref": _COMPONENT_REF + ref}
    return {
        "application/json": {"schema": schema_ref},
        "application/yaml": {"schema": schema_ref},
    }


class OpenAPI:
    """Builds and caches the `/openapi/v3` documents of a registry."""

    def __init__(self, registry: Registry, version: str) -> None:
        self.registry = registry
        self.version = version
        self.schema = schema.load()
        self._docs: dict[str, tuple[bytes, str]] = {}

    @staticmethod
    def path_of(group: str, version: str) -> str:
        return f"apis/{group}/{version}" if group else f"api/{version}"

    def index(self) -> Obj:
        paths = {}
        for group, versions in self.registry.group_versions().items():
            for version in versions:
                path = self.path_of(group, version)
                _, digest = self.document(path)
                paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
        return {"paths": paths}

    def document(self, path: str) -> tuple[bytes, str]:
        """The encoded document of a group version path and its hash; KeyError if unknown."""
        cached = self._docs.get(path)
        if cached is None:
            group, version = self._parse(path)
            resources = self.registry.in_group_version(group, version)
            if not resources:
                raise KeyError(path)
            body = orjson.dumps(self._build(group, version, resources))
            digest = hashlib.sha512(body).hexdigest()[:32].upper()
            cached = (body, digest)
            self._docs[path] = cached
        return cached

    @staticmethod
    def _parse(path: str) -> tuple[str, str]:
        # Exactly `api/<version>` or `apis/<group>/<version>`, as kube-openapi looks the path up:
        # documents are cached by path, and `//apis/apps/v1`, `///apis/apps/v1`, ... must not
        # each become an entry (they are 404s in Kubernetes too).
        parts = path.split("/")
        if len(parts) == 2 and parts[0] == "api":
            return "", parts[1]
        if len(parts) == 3 and parts[0] == "apis":
            return parts[1], parts[2]
        raise KeyError(path)

    def _build(self, group: str, version: str, resources: list[ResourceType]) -> Obj:
        defs = self.schema.definitions
        roots = list(_COMMON)
        paths: Obj = {}
        verbs: dict[tuple[ResourceType, str], tuple[str, ...]] = {
            (s.resource, s.subresource.name if s.subresource else ""): s.verbs
            for s in installer.served(self.registry, group, version)
            if s.documented
        }
        for r in resources:
            name = self.schema.definition_name(group, version, r.kind)
            if name is None:
                continue
            roots.append(name)
            list_name = self.schema.definition_name(group, version, r.list_kind_name())
            if list_name:
                roots.append(list_name)
            subresources = {sub: v for (res, sub), v in verbs.items() if res is r and sub}
            paths.update(self._paths(r, name, list_name, verbs[(r, "")], subresources))
        schemas = {n: _definition(n, defs[n]) for n in _closure(defs, roots)}
        return {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": self.version},
            "paths": paths,
            "components": {"schemas": schemas},
        }

    def _paths(
        self,
        r: ResourceType,
        name: str,
        list_name: str | None,
        verbs: tuple[str, ...],
        subresources: dict[str, tuple[str, ...]],
    ) -> Obj:
        """The paths of a resource (and its documented subresources): one operation per
        served verb."""
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        prefix = f"/apis/{r.group}/{r.version}" if r.group else f"/api/{r.version}"
        if r.namespaced:
            collection = f"{prefix}/namespaces/{{namespace}}/{r.plural}"
        else:
            collection = f"{prefix}/{r.plural}"
        item = f"{collection}/{{name}}"

        def op(action: str, params: list[Obj], ref: str, body: bool = False) -> Obj:
            operation: Obj = {
                "tags": [r.api_version.replace("/", "_").replace(".", "")],
                "operationId": f"{action}{r.kind}",
                "parameters": params,
                "responses": {"200": {"description": "OK", "content": _content(ref)}},
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
            }
            if body:
                operation["requestBody"] = {"content": _content(name), "required": True}
            return operation

        patch_op = op(
            "patch",
            _params("dryRun", "fieldManager", "fieldValidation", "force"),
            name,
        )
        patch_op["requestBody"] = {
            "content": {
                t: {
                    "schema": {
                        "$ref": _COMPONENT_REF + "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
                    }
                }
                for t in (
                    "application/apply-patch+yaml",
                    "application/json-patch+json",
                    "application/merge-patch+json",
                    "application/strategic-merge-patch+json",
                )
            },
            "required": True,
        }
        status_ref = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
        write_params = _params("dryRun", "fieldManager", "fieldValidation")
        # Each HTTP method of a path, the verb it serves and its operation.
        collection_ops = (
            (
                "get",
                "list",
                lambda: op(
                    "list",
                    _params(
                        "labelSelector",
                        "fieldSelector",
                        "limit",
                        "continue",
                        "resourceVersion",
                        "resourceVersionMatch",
                        "timeoutSeconds",
                        "watch",
                        "allowWatchBookmarks",
                    ),
                    list_name or name,
                ),
            ),
            ("post", "create", lambda: op("post", write_params, name, body=True)),
            (
                "delete",
                "deletecollection",
                lambda: op(
                    "deletecollection",
                    _params(
                        "dryRun",
                        "gracePeriodSeconds",
                        "propagationPolicy",
                        "labelSelector",
                        "fieldSelector",
                    ),
                    status_ref,
                ),
            ),
        )
        item_ops = (
            ("get", "get", lambda: op("get", [], name)),
            ("put", "update", lambda: op("put", write_params, name, body=True)),
            ("patch", "patch", lambda: patch_op),
            (
                "delete",
                "delete",
                lambda: op(
                    "delete",
                    _params("dryRun", "gracePeriodSeconds", "propagationPolicy"),
                    status_ref,
                ),
            ),
        )

        def operations(
            ops: tuple[tuple[str, str, Callable[[], Obj]], ...], served: tuple[str, ...]
        ) -> Obj:
            return {method: make() for method, verb, make in ops if verb in served}

        paths = {collection: operations(collection_ops, verbs), item: operations(item_ops, verbs)}
        for sub, sub_verbs in subresources.items():
            paths[f"{item}/{sub}"] = operations(item_ops, sub_verbs)
        return paths
