"""Field ownership for the writes that are not apply: create, update (PUT) and patches.

Such a write says nothing about intent, only about change, so Kubernetes gives its manager the
fields the write changed (`Update` operation), takes them from whoever owned them before, and
forgets the fields it removed. Entries of one manager, operation, API version and subresource
accumulate: a second update by the same manager adds to its entry and moves its time.

Kubernetes starts tracking an object at its creation; an object that has no managedFields (its
owner reset them, or it was stored before tracking existed) stays untracked by updates until an
apply adopts it. A client may also rewrite managedFields itself: a write that carries a decodable
list uses it, `[]` or `[{}]` clears it, and anything else keeps the stored one. Subresource
writes always keep the stored one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubelite.api.managedfields import fieldpath, managers, typed
from kubelite.api.managedfields.compare import ABSENT, compare
from kubelite.api.managedfields.created import created_fields
from kubelite.api.managedfields.fieldpath import FieldSet
from kubelite.api.managedfields.managers import UPDATE, Entry, Managed
from kubelite.api.schema import Node
from kubelite.api.types import Obj


def update(
    old: Obj | None,
    new: Obj,
    *,
    manager: str,
    node: Node,
    api_version: str,
    time: str,
    subresource: str = "",
    reset_fields: Sequence[str] = (),
) -> None:
    """Record a non-apply write from `old` (None: a create) to `new` in new's managedFields.

    `reset_fields` are dotted paths the write cannot change and nobody owns through it:
    `("status",)` for the main resource of a kind with a status subresource, `("spec",)` (and
    what else the kind resets) for its /status.
    """
    metadata = new.get("metadata")
    if not isinstance(metadata, dict):
        return
    requested = metadata.pop("managedFields", ABSENT)
    # A create that brings no entries (nearly all) starts from none: nothing to decode.
    managed = (
        {}
        if old is None and (requested is ABSENT or requested is None)
        else _managed_for_write(old, requested, subresource)
    )
    if not managed:
        if old is None:
            _record_create(
                new,
                manager=manager,
                node=node,
                api_version=api_version,
                time=time,
                subresource=subresource,
                reset=fieldpath.dotted(reset_fields),
            )
        return
    try:
        track(
            _without_managed_fields(old) if old is not None else {},
            new,
            managed,
            manager=manager,
            node=node,
            api_version=api_version,
            time=time,
            subresource=subresource,
            reset=fieldpath.dotted(reset_fields),
        )
    except typed.SchemaError:
        # Kubernetes stores an object it cannot type without managedFields (UpdateNoErrors).
        return
    if managed:
        metadata["managedFields"] = managers.encode(managed)


def track(
    old: Obj,
    new: Obj,
    managed: Managed,
    *,
    manager: str,
    node: Node,
    api_version: str,
    time: str,
    subresource: str,
    reset: FieldSet,
) -> None:
    """Give `manager` what changed from `old` to `new`, in `managed`; take it from the others.

    Raises typed.SchemaError for objects whose lists cannot be keyed.
    """
    changes = compare(old, new, node).excluding(reset)
    changed = changes.added | changes.modified
    # The manager's own earlier entry loses what this write changed like any other; the write's
    # changes are then added back to it (managedfieldsupdater.go).
    managers.release(managed, changed | changes.removed, keep=None, api_version=api_version)
    changed = managers.strip(changed)
    if changed:
        name = manager or managers.UNKNOWN_MANAGER
        ident = managers.identifier(name, UPDATE, api_version, subresource)
        previous = managed.get(ident)
        fields = changed | previous.fields if previous else changed
        managed[ident] = Entry(name, UPDATE, api_version, fields, time, subresource)
    managers.cap_updates(managed)


def _record_create(
    new: Obj,
    *,
    manager: str,
    node: Node,
    api_version: str,
    time: str,
    subresource: str,
    reset: FieldSet,
) -> None:
    """What `track` records for a create that carries no entries, found the short way.

    With nothing before it and no other entry, the creator's entry is everything the object
    holds that anyone may own: `created.created_fields` writes that as fieldsV1 in one walk.
    """
    try:
        fields_v1 = created_fields(new, node, reset)
    except typed.SchemaError:
        # As in update(): an object that cannot be typed is stored without managedFields.
        return
    if fields_v1:
        new["metadata"]["managedFields"] = [
            managers.encode_entry(
                manager=manager or managers.UNKNOWN_MANAGER,
                operation=UPDATE,
                api_version=api_version,
                time=time,
                fields_v1=fields_v1,
                subresource=subresource,
            )
        ]


def _managed_for_write(old: Obj | None, requested: Any, subresource: str) -> Managed:
    """The entries a write starts from: the request's own, or the stored ones (decodeLiveOrNew)."""
    if not subresource:
        if isinstance(requested, list) and (
            not requested or (len(requested) == 1 and _is_zero_entry(requested[0]))
        ):
            return {}
        try:
            managed = managers.decode(None if requested is ABSENT else requested)
        except managers.ManagedFieldsError:
            managed = {}
        if managed:
            return managed
    metadata = old.get("metadata") if old is not None else None
    stored = metadata.get("managedFields") if isinstance(metadata, dict) else None
    try:
        return managers.decode(stored)
    except managers.ManagedFieldsError:
        return {}


def _is_zero_entry(entry: Any) -> bool:
    return isinstance(entry, dict) and all(v in ("", None) for v in entry.values())


def _without_managed_fields(obj: Obj) -> Obj:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or "managedFields" not in metadata:
        return obj
    return {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}
