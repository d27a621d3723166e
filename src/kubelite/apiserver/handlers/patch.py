"""PATCH: the four patch formats, applied inside the storage's read-modify-write loop
(handlers/patch.go).

The algorithms live in `kubelite.api.patch` (JSON patch, merge patch, strategic merge patch) and
`kubelite.api.managedfields` (server-side apply). This module picks one by Content-Type, runs it
inside the store's read-modify-write loop (so a patch without a resourceVersion is retried on a
conflict, as Kubernetes retries it), decodes the result like any other body, and records which
manager owns which fields. A Scale is patched in its own form (`patch_scale`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kubelite.api import decoding, errors, managedfields, meta, schema
from kubelite.api.patch.json_patch import apply_json_patch
from kubelite.api.patch.merge_patch import apply_merge_patch
from kubelite.api.patch.strategic import apply_strategic_merge_patch
from kubelite.api.types import Obj
from kubelite.apiserver import fieldmanager, options
from kubelite.apiserver.registry.interfaces import Patcher
from kubelite.apiserver.registry.scale import ScaleStore
from kubelite.apiserver.scope import RequestScope

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH, STRATEGIC_MERGE_PATCH)


def _parse(content_type: str, raw: bytes) -> Any:
    if content_type == APPLY_PATCH:
        stripped = raw.lstrip()
        if stripped.startswith(b"{"):
            return decoding.parse_json(raw)
        return decoding.parse_yaml(raw)
    return decoding.parse_json(raw)


async def patch(scope: RequestScope, storage: Patcher) -> web.StreamResponse:
    """PATCH of a named object (or of its status); 201 when an apply created it."""
    subresource = storage.subresource
    content_type = decoding.media_type(scope.content_type)
    if content_type not in PATCH_TYPES:
        raise errors.StatusError(
            415,
            errors.REASON_UNSUPPORTED_MEDIA_TYPE,
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{', '.join(PATCH_TYPES)}",
        )
    is_apply = content_type == APPLY_PATCH
    dry_run = options.dry_run(scope.query, "PatchOptions")
    mode = options.field_validation(scope.query, "PatchOptions")
    manager = scope.field_manager("PatchOptions", required=is_apply)
    force_raw = scope.query.get("force", "")
    force = force_raw.lower() in ("true", "1")
    if force_raw and not is_apply:
        raise options.invalid_options(
            "PatchOptions",
            errors.forbidden_field("force", "may not be specified for non-apply patch"),
        )
    raw = await scope.read_body()
    if not raw.strip():
        raise errors.bad_request("the request body is empty: a patch is required")
    parsed = _parse(content_type, raw)
    scope.judge(decoding.duplicates(parsed), mode)
    _judge_repeated_yaml_keys(scope, decoding.yaml_duplicates(parsed), mode)
    patch = decoding.plain(parsed)
    if content_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise errors.bad_request(
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
            )
    elif not isinstance(patch, dict):
        raise errors.bad_request(
            f"json: cannot unmarshal {type(patch).__name__} into Go value of type "
            "map[string]interface {}"
        )
    resource = scope.resource
    node = fieldmanager.schema_node(resource)
    explicit_rv = _explicit_rv(content_type, patch)
    name = scope.info.name

    async def mutate(current: Obj | None) -> Obj:
        if is_apply:
            return _apply(scope, current, patch, manager, force, mode, node, subresource)
        if current is None:
            raise storage.not_found(name)
        if not explicit_rv:
            current["metadata"].pop("resourceVersion", None)
        if content_type == JSON_PATCH:
            patched = apply_json_patch(current, patch)
        elif content_type == MERGE_PATCH:
            patched = apply_merge_patch(current, patch)
        else:
            patched = apply_strategic_merge_patch(current, patch, node)
        return scope.decode(patched, mode)

    result, created = await storage.update(
        scope.namespace,
        name,
        mutate,
        dry_run=dry_run,
        create_missing=is_apply,
        on_prepared=None
        if is_apply
        else (lambda new, old: fieldmanager.track_update(resource, old, new, manager, subresource)),
    )
    return scope.respond(result, 201 if created else 200)


async def patch_scale(scope: RequestScope, storage: ScaleStore) -> web.StreamResponse:
    """PATCH of a Scale: a JSON patch or a merge patch of the Scale, whose replicas go to the
    workload; the Scale's resourceVersion is not a precondition here."""
    content_type = decoding.media_type(scope.content_type)
    value = await scope.read_plain()
    manager = options.field_manager(scope.query, scope.request.headers.get("User-Agent", ""))

    def change(scale: Obj) -> Any:
        if content_type == JSON_PATCH:
            return apply_json_patch(scale, value)
        return apply_merge_patch(scale, value)

    result = await storage.update(
        scope.info.namespace,
        scope.info.name,
        change,
        manager=manager,
        keep_resource_version=False,
    )
    return scope.answer(result)


def _judge_repeated_yaml_keys(scope: RequestScope, yaml_error: str, mode: str) -> None:
    """Repeated keys of a YAML apply patch, as the apply patcher judges them: its own 400
    under Strict (not the decoder's "cannot be handled as" one), a warning a line under Warn,
    nothing under Ignore (handlers/patch.go, applyPatchToCurrentObject)."""
    if not yaml_error or mode == decoding.IGNORE:
        return
    if mode == decoding.STRICT:
        raise decoding.apply_yaml_error(yaml_error)
    scope.warnings.extend(decoding.as_warnings([yaml_error]))


def _explicit_rv(content_type: str, patch: Any) -> bool:
    """Whether the patch itself names a resourceVersion (a precondition, as in Kubernetes)."""
    if content_type == JSON_PATCH:
        return any(
            isinstance(op, dict) and op.get("path") == "/metadata/resourceVersion" for op in patch
        )
    return bool(meta.get_path(patch, "metadata", "resourceVersion"))


def _apply(
    scope: RequestScope,
    live: Obj | None,
    config: Obj,
    manager: str,
    force: bool,
    mode: str,
    node: schema.Node | None,
    subresource: str,
) -> Obj:
    """Server-side apply of `config` onto `live` (None: the object does not exist yet)."""
    resource = scope.resource
    decoded = scope.decode(config, mode)
    if node is None:
        raise errors.bad_request(f"server-side apply is not supported for {resource.plural}")
    if live is not None and not meta.get_path(decoded, "metadata", "resourceVersion"):
        live["metadata"].pop("resourceVersion", None)
    try:
        return managedfields.apply(
            live,
            decoded,
            manager=manager,
            force=force,
            node=node,
            api_version=resource.api_version,
            time=meta.format_time(meta.now()),
            subresource=subresource,
            reset_fields=fieldmanager.reset_fields(resource, subresource),
        )
    except managedfields.ApplyConflictError as exc:
        raise managedfields.conflict_status(exc) from None
