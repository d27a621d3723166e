"""What a request path asks for: Kubernetes' RequestInfoFactory, in Python.

`/api/v1/namespaces/default/pods/web/status` is verb `get` (for a GET), group "", version v1,
namespace default, resource pods, name web, subresource status. The rules for the ambiguous
`namespaces/<name>/...` paths are Kubernetes': `status` and `finalize` are subresources of the
namespace itself, anything else is a resource inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubelite.api import fields
from kubelite.api.validation import names

# Subresources of a namespace object, as opposed to resources in the namespace.
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
# The values Convert_Slice_string_To_bool reads as false; any other, even "", is true.
_FALSE = ("false", "0")


@dataclass
class RequestInfo:
    """What a request's path and method say, parsed once (Kubernetes' RequestInfoFactory):
    authentication, metrics and dispatch all read this rather than the URL."""

    is_resource: bool = False
    verb: str = ""
    api_prefix: str = ""
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    name: str = ""
    subresource: str = ""
    parts: list[str] = field(default_factory=list)
    # A list or watch narrowed to one name by `fieldSelector=metadata.name=x`: the name
    # authorization sees (RequestInfoFactory sets Name; here it stays apart from the path's).
    selected_name: str = ""
    # The list or watch's fieldSelector as sent, for authorizers that read it (the Node one).
    field_selector: str = ""

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


_VERBS = {
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
    "GET": "get",
    "HEAD": "get",
}


def parse(
    method: str, path: str, watch_param: str | None = None, field_selector: str = ""
) -> RequestInfo:
    """Split an API path into its parts; `is_resource` False for discovery and other paths.

    `watch_param` is the query's `watch` as sent, None when there is none.
    """
    info = RequestInfo(verb=method.lower())
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        return info
    info.api_prefix = parts[0]
    rest = parts[1:]
    if info.api_prefix == "apis":
        if len(rest) < 2:
            return info
        info.group, info.version = rest[0], rest[1]
        rest = rest[2:]
    else:
        if len(rest) < 1:
            return info
        info.version = rest[0]
        rest = rest[1:]
    if not rest:
        return info
    info.is_resource = True
    info.verb = _VERBS.get(method.upper(), method.lower())
    legacy_watch = False
    if rest[0] in ("watch", "proxy") and len(rest) > 1:
        legacy_watch = rest[0] == "watch"
        rest = rest[1:]
    if rest[0] == "namespaces" and len(rest) > 1:
        info.namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    info.parts = rest
    info.resource = rest[0]
    if len(rest) > 1:
        info.name = rest[1]
    if len(rest) > 2:
        info.subresource = rest[2]
    if info.verb == "get" and not info.name:
        watching = watch_param is not None and watch_param.lower() not in _FALSE
        info.verb = "watch" if legacy_watch or watching else "list"
        if not legacy_watch:
            # The /watch/ paths are a watch before the query is read: Kubernetes takes no name
            # (nor selector) from it there.
            info.field_selector = field_selector
            info.selected_name = _selected_name(field_selector)
    elif info.verb == "get" and legacy_watch:
        info.verb = "watch"
    elif info.verb == "delete" and not info.name:
        info.verb = "deletecollection"
    return info


def _selected_name(selector: str) -> str:
    """The name `metadata.name=x` (or `==`) pins a list to, when it is a valid path segment."""
    if not selector:
        return ""
    try:
        parsed = fields.parse(selector)
    except ValueError:
        return ""
    name = parsed.requires_exact_match("metadata.name")
    if not name or names.is_valid_path_segment_name(name):
        return ""
    return name
