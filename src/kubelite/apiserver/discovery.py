"""Discovery: `/api`, `/apis`, and the resource lists of each group version.

kubectl learns everything it knows about a server here: which resources exist, their kinds,
short names (`po`, `svc`, `deploy`), categories (`kubectl get all`), verbs and subresources.
The documents are built once from the installer's table (`kubelite.apiserver.installer`): what
is listed here is what is served. Aggregated discovery is not served: the
plain JSON answer tells kubectl to use these legacy documents, which every version understands.
"""

from __future__ import annotations

from kubelite.api.kinds import Registry, ResourceType
from kubelite.api.types import Obj
from kubelite.apiserver import installer


def _resource_entry(r: ResourceType, verbs: tuple[str, ...]) -> Obj:
    entry: Obj = {
        "name": r.plural,
        "singularName": r.singular,
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": sorted(verbs),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    return entry


def _entry(served: installer.Served) -> Obj:
    r = served.resource
    sub = served.subresource
    if sub is None:
        return _resource_entry(r, served.verbs)
    entry: Obj = {
        "name": f"{r.plural}/{sub.name}",
        "singularName": "",
        "namespaced": r.namespaced,
        "kind": sub.kind,
        "verbs": sorted(served.verbs),
    }
    if sub.group or sub.version:
        entry["group"] = sub.group
        entry["version"] = sub.version
    return entry


class Discovery:
    """The discovery documents of a registry, computed once."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        groups = registry.group_versions()
        self.core_versions = groups.get("", [])
        self.groups = {g: v for g, v in groups.items() if g}
        self.resource_lists: dict[str, Obj] = {}
        for group, versions in groups.items():
            for version in versions:
                gv = f"{group}/{version}" if group else version
                resources = [_entry(s) for s in installer.served(registry, group, version)]
                resources.sort(key=lambda e: e["name"])
                self.resource_lists[gv] = {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": gv,
                    "resources": resources,
                }

    def api_versions(self, server_address: str) -> Obj:
        return {
            "kind": "APIVersions",
            "versions": list(self.core_versions),
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
            ],
        }

    def group(self, name: str) -> Obj | None:
        versions = self.groups.get(name)
        if versions is None:
            return None
        entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": name,
            "versions": entries,
            "preferredVersion": entries[0],
        }

    def group_list(self) -> Obj:
        groups = []
        for name in self.groups:
            group = self.group(name)
            assert group is not None
            del group["kind"], group["apiVersion"]
            groups.append(group)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def resource_list(self, group: str, version: str) -> Obj | None:
        gv = f"{group}/{version}" if group else version
        return self.resource_lists.get(gv)
