"""Server-side apply: merging a manager's configuration into the live object, with ownership.

An applied configuration states everything its manager wants of the object. Apply (structured-
merge-diff's Updater.Apply, inside apimachinery's field manager) therefore:

1. merges the configuration into the live object (the configuration wins on what it sets);
2. makes the configuration's field set the applier's `Apply` entry, whole;
3. removes what the applier set last time and no longer sets, unless someone else owns it;
4. refuses, unless forced, to change a field another manager owns (a conflict); forced, or
   when the values agree, the field moves to (or is shared with) the applier;
5. takes removed fields from everyone, drops entries left empty, and stamps the applier's entry
   with the time if the object changed.

An object that has no managedFields yet is adopted first: everything it holds is given to the
updater `before-first-apply`, so that a differing value conflicts with it. The result is the
merged object, not yet defaulted or validated; the caller runs the kind's strategy on it as on
any other write.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from kubelite.api import errors, meta
from kubelite.api.errors import REASON_BAD_REQUEST, StatusError
from kubelite.api.managedfields import conflicts, fieldpath, lastapplied, managers, typed
from kubelite.api.managedfields.compare import compare
from kubelite.api.managedfields.conflicts import ApplyConflictError
from kubelite.api.managedfields.fieldpath import FieldSet
from kubelite.api.managedfields.fieldset import field_set
from kubelite.api.managedfields.managers import APPLY, Entry, Managed
from kubelite.api.managedfields.merge import merge
from kubelite.api.managedfields.remove import remove
from kubelite.api.managedfields.update import track
from kubelite.api.schema import Node
from kubelite.api.types import Obj


def apply(
    live: Obj | None,
    config: Obj,
    *,
    manager: str,
    force: bool,
    node: Node,
    api_version: str,
    time: str,
    subresource: str = "",
    reset_fields: Sequence[str] = (),
) -> Obj:
    """`config` applied by `manager` to `live` (None: the object does not exist yet).

    Returns a new object with its managedFields updated; `live` and `config` are not changed.
    Raises ApplyConflictError (see `conflict_status`), or a StatusError for a configuration
    Kubernetes would refuse: of another kind or version, carrying managedFields, or with list
    items that cannot be keyed. `reset_fields` are dotted paths the write cannot change, as for
    `update`.
    """
    _check_type(config, node, api_version)
    metadata = config.get("metadata")
    if isinstance(metadata, dict) and metadata.get("managedFields") is not None:
        raise errors.bad_request("metadata.managedFields must be nil")
    run = _Apply(
        live,
        config,
        manager=manager or managers.UNKNOWN_MANAGER,
        node=node,
        api_version=api_version,
        time=time,
        subresource=subresource,
        reset=fieldpath.dotted(reset_fields),
    )
    try:
        result = run(force)
    except ApplyConflictError as error:
        allowed = (
            lastapplied.allowed_conflicts(live, node, api_version)
            if live is not None and manager == lastapplied.KUBECTL
            else None
        )
        if allowed is None:
            raise
        remaining = [c for c in error.found if c.path not in allowed]
        if remaining:
            raise ApplyConflictError(remaining) from None
        result = run(True)
    if manager == lastapplied.KUBECTL:
        lastapplied.record(result, config)
    return result


class _Apply:
    """One apply request, run once, or twice when kubectl takes over from client-side apply."""

    def __init__(
        self,
        live: Obj | None,
        config: Obj,
        *,
        manager: str,
        node: Node,
        api_version: str,
        time: str,
        subresource: str,
        reset: FieldSet,
    ) -> None:
        self.live = live
        self.config = config
        self.manager = manager
        self.node = node
        self.api_version = api_version
        self.time = time
        self.subresource = subresource
        self.reset = reset
        self.ident = managers.identifier(manager, APPLY, api_version, subresource)

    def __call__(self, force: bool) -> Obj:
        config = _json_copy(self.config)
        metadata = config.get("metadata")
        if isinstance(metadata, dict):
            # A null managedFields passes the check; it must not reach the object as a change.
            metadata.pop("managedFields", None)
        try:
            applied = field_set(config, self.node, allow_duplicates=False)
        except typed.SchemaError as exc:
            raise _typing_error("patch", config, exc) from None
        managed = self._managed()
        base = self._live_body()
        try:
            if not managed and self.live is not None:
                track(
                    {},
                    base,
                    managed,
                    manager=managers.BEFORE_FIRST_APPLY,
                    node=self.node,
                    api_version=self.api_version,
                    time=self.time,
                    subresource=self.subresource,
                    reset=self.reset,
                )
            previous = managed.get(self.ident)
            managed[self.ident] = Entry(
                self.manager,
                APPLY,
                self.api_version,
                fieldpath.recursive_difference(applied, self.reset),
                previous.time if previous else None,
                self.subresource,
            )
            merged = merge(base, config, self.node)
            if previous and previous.fields and previous.api_version == self.api_version:
                merged = self._prune(merged, managed, previous.fields)
            changes = compare(base, merged, self.node).excluding(self.reset)
        except typed.SchemaError as exc:
            raise _typing_error("live", self.live or config, exc) from None
        taken = changes.added | changes.modified
        owned = managers.owned_by_others(
            managed, taken, keep=self.ident, api_version=self.api_version
        )
        if owned and not force:
            raise ApplyConflictError(conflicts.find(managed, owned))
        managers.release(
            managed, taken | changes.removed, keep=self.ident, api_version=self.api_version
        )
        changed = not changes.is_same()
        entry = managed.pop(self.ident)
        fields = managers.strip(entry.fields)
        if fields:
            managed[self.ident] = replace(
                entry, fields=fields, time=self.time if changed else entry.time
            )
        result = merged if changed else base
        _store(result, managed)
        return result

    def _managed(self) -> Managed:
        if self.live is None:
            return {}
        try:
            return managers.decode(self.live.get("metadata", {}).get("managedFields"))
        except managers.ManagedFieldsError as exc:
            raise StatusError(500, "", f"failed to decode managed fields: {exc}") from None

    def _live_body(self) -> Obj:
        """A private copy of the live object without its managedFields; `{}` for a create."""
        if self.live is None:
            return {}
        live = self.live
        metadata = live.get("metadata")
        if isinstance(metadata, dict) and "managedFields" in metadata:
            # Left out before copying rather than copied to be dropped: it is a good part of
            # the object.
            without = {k: v for k, v in metadata.items() if k != "managedFields"}
            live = {**live, "metadata": without}
        return _json_copy(live)

    def _prune(self, merged: Obj, managed: Managed, last: FieldSet) -> Obj:
        """`merged` without what the applier set last time, unless someone still owns it.

        Follows Updater.prune: remove all of the last set, put back what any manager owns
        (including the applier's new set), and never remove what the applier did not own.
        """
        node = self.node
        merged_set = field_set(merged, node)
        owned = managers.paths_of(managed, self.api_version)
        pruned = remove(merged, last, node)
        pruned = remove(merged, merged_set - (field_set(pruned, node) | owned), node)
        return remove(merged, (merged_set - field_set(pruned, node)) & last, node)


# Values that copying leaves as they are: they cannot change.
_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def _json_copy(value: Any) -> Any:
    """A deep copy of a JSON value, as copy.deepcopy makes it but several times faster: new
    objects and arrays, the same strings and numbers (anything else is left to deepcopy)."""
    kind = type(value)
    if kind is dict:
        out = {}
        for key, sub in value.items():
            out[key] = sub if type(sub) in _IMMUTABLE else _json_copy(sub)
        return out
    if kind is list:
        return [sub if type(sub) in _IMMUTABLE else _json_copy(sub) for sub in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


def _store(obj: Obj, managed: Managed) -> None:
    metadata = obj.setdefault("metadata", {})
    if managed:
        metadata["managedFields"] = managers.encode(managed)
    else:
        metadata.pop("managedFields", None)


def _gvk(obj: Obj) -> str:
    """An object's group, version and kind as Go prints a GroupVersionKind: `/v1, Kind=Pod`."""
    group, _, version = str(obj.get("apiVersion") or "").rpartition("/")
    return f"{group}/{version}, Kind={obj.get('kind') or ''}"


def _typing_error(which: str, obj: Obj, exc: typed.SchemaError) -> StatusError:
    """The error Kubernetes answers when an object does not fit its schema for apply.

    Kubernetes 1.33 returns it as a plain error, which reaches the client as a 500 without a
    reason (kubernetes/kubernetes#122480). A patch that does not fit is the client's mistake:
    it is a 400 BadRequest here, with Kubernetes' words, as kubernetes/kubernetes#139255
    proposes. A live object that does not fit is the server's own problem, and stays a 500.
    """
    metadata = meta.dict_field(obj, "metadata")
    name = f"{metadata.get('namespace', '')}/{metadata.get('name', '')}; {_gvk(obj)}"
    message = f"failed to create typed {which} object ({name}): {exc}"
    if which == "patch":
        return StatusError(400, REASON_BAD_REQUEST, message)
    return StatusError(500, "", message)


def _check_type(config: Obj, node: Node, api_version: str) -> None:
    """Refuse a configuration of another version or kind than the endpoint's (versioncheck.go)."""
    kinds = {
        gvk.get("kind")
        for gvk in node.ext("x-kubernetes-group-version-kind") or ()
        if "/".join(p for p in (gvk.get("group"), gvk.get("version")) if p) == api_version
    }
    if config.get("apiVersion") != api_version or (kinds and config.get("kind") not in kinds):
        raise errors.bad_request(f"invalid object type: {_gvk(config)}")
