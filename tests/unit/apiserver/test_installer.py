"""The installer's table: what is served is what discovery lists and OpenAPI documents.

One table maps (group, version, resource, subresource, verb) to a handler and a storage;
dispatch, discovery and the OpenAPI documents all read it, so a verb a resource does not serve
is refused, undiscovered and undocumented alike.
"""

from __future__ import annotations

from typing import Any

import orjson
from apiserver_fixtures import Api

from kubelite.api.kinds import REGISTRY
from kubelite.apiserver import installer
from kubelite.apiserver.discovery import Discovery
from kubelite.apiserver.openapi import OpenAPI
from kubelite.apiserver.version import version_info

Obj = dict[str, Any]

_METHODS = {"get": "get", "update": "put", "patch": "patch", "delete": "delete"}


def test_every_declared_verb_has_a_handler() -> None:
    for resource in REGISTRY.resources:
        for sub in resource.subresources:
            row = installer.SUBRESOURCES[sub.name]
            assert set(sub.verbs) <= set(row.handlers), f"{resource.plural}/{sub.name}"
        assert set(resource.verbs) <= set(installer.VERBS), resource.plural


def test_discovery_lists_the_tables_verbs() -> None:
    discovery = Discovery(REGISTRY)
    for group, versions in REGISTRY.group_versions().items():
        for version in versions:
            listing = discovery.resource_list(group, version)
            assert listing is not None
            listed = {e["name"]: e["verbs"] for e in listing["resources"]}
            served = {
                (
                    f"{s.resource.plural}/{s.subresource.name}"
                    if s.subresource
                    else s.resource.plural
                ): sorted(s.verbs)
                for s in installer.served(REGISTRY, group, version)
            }
            assert listed == served


def test_openapi_documents_only_served_item_verbs() -> None:
    openapi = OpenAPI(REGISTRY, version_info()["gitVersion"])
    for group, versions in REGISTRY.group_versions().items():
        for version in versions:
            body, _ = openapi.document(OpenAPI.path_of(group, version))
            paths = orjson.loads(body)["paths"]
            for s in installer.served(REGISTRY, group, version):
                if not s.documented:
                    continue
                r = s.resource
                prefix = f"/apis/{r.group}/{r.version}" if r.group else f"/api/{r.version}"
                scope = "/namespaces/{namespace}" if r.namespaced else ""
                item = f"{prefix}{scope}/{r.plural}/{{name}}"
                if s.subresource is not None:
                    item += f"/{s.subresource.name}"
                wanted = {_METHODS[v] for v in s.verbs if v in _METHODS}
                assert set(paths[item]) == wanted, item


def test_namespaces_document_no_deletecollection() -> None:
    openapi = OpenAPI(REGISTRY, version_info()["gitVersion"])
    body, _ = openapi.document("api/v1")
    assert set(orjson.loads(body)["paths"]["/api/v1/namespaces"]) == {"get", "post"}


async def test_a_verb_the_resource_does_not_serve_is_refused(api: Api) -> None:
    """DELETE of the namespaces collection: Kubernetes serves no deletecollection for them."""
    await api.stores.namespace("team")
    status, body = await api.json("DELETE", "/api/v1/namespaces")
    assert (status, body["reason"]) == (405, "MethodNotAllowed")
    status, _ = await api.json("GET", "/api/v1/namespaces/team")
    assert status == 200
