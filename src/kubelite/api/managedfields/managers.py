"""The entries of `metadata.managedFields`: who owns which fields, by which operation, when.

Kubernetes (apimachinery's `pkg/util/managedfields/internal`) keys each entry by a manager
identifier: the JSON of the entry's manager, operation, subresource and, for updates only, API
version. An applier therefore has one entry whatever version it applies with, while an updater
has one per version it writes. Entries are decoded from the object into a dict by identifier,
changed by the write, and encoded back sorted as Kubernetes sorts them (Apply before Update,
then by time, manager, API version and subresource).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass, replace
from typing import Any

from kubelite.api.managedfields import fieldpath
from kubelite.api.managedfields.fieldpath import FieldSet, Path

APPLY = "Apply"
UPDATE = "Update"
FIELDS_V1 = "FieldsV1"

# The manager that owns what an object held before its first apply (skipnonapplied.go).
BEFORE_FIRST_APPLY = "before-first-apply"
# The bucket the oldest update entries are merged into, one per API version (capmanagers.go).
ANCIENT_CHANGES = "ancient-changes"
# At most this many update entries are kept (DefaultMaxUpdateManagers in fieldmanager.go).
MAX_UPDATE_MANAGERS = 10
# The name an empty field manager is recorded under (buildmanagerinfo.go).
UNKNOWN_MANAGER = "unknown"

# Fields no manager ever owns: the type, the object's identity and what the server maintains
# (stripmeta.go). Only these paths go, not what is below them: labels stay ownable.
STRIPPED: FieldSet = frozenset(
    tuple(fieldpath.field(name) for name in p.split("."))
    for p in (
        "apiVersion",
        "kind",
        "metadata",
        "metadata.name",
        "metadata.namespace",
        "metadata.creationTimestamp",
        "metadata.selfLink",
        "metadata.uid",
        "metadata.clusterName",
        "metadata.generation",
        "metadata.managedFields",
        "metadata.resourceVersion",
    )
)


class ManagedFieldsError(ValueError):
    """A managedFields list that does not decode."""


# A manager's name and apiVersion are the client's text (a managedFields list in a body can
# name anything): identifiers are remembered only for entries of a plausible length.
CACHED_IDENTIFIER_LENGTH = 256


def identifier(manager: str, operation: str, api_version: str, subresource: str) -> str:
    """Kubernetes' manager identifier (BuildManagerIdentifier): Go's JSON of the entry's keys."""
    if len(manager) + len(api_version) + len(subresource) > CACHED_IDENTIFIER_LENGTH:
        return _identifier(manager, operation, api_version, subresource)
    return _cached_identifier(manager, operation, api_version, subresource)


def _identifier(manager: str, operation: str, api_version: str, subresource: str) -> str:
    parts = [("manager", manager), ("operation", operation)]
    if operation == UPDATE:
        parts.append(("apiVersion", api_version))
    parts.append(("subresource", subresource))
    return "{" + ",".join(f"{json.dumps(k)}:{fieldpath.go_json(v)}" for k, v in parts if v) + "}"


_cached_identifier = functools.lru_cache(maxsize=1024)(_identifier)


@dataclass(frozen=True)
class Entry:
    """One managedFields entry."""

    manager: str
    operation: str
    api_version: str
    fields: FieldSet
    time: str | None = None
    subresource: str = ""

    @property
    def identifier(self) -> str:
        return identifier(self.manager, self.operation, self.api_version, self.subresource)

    def describe(self) -> str:
        """How conflicts name the manager: `"kubelet" with subresource "status" using v1`."""
        text = fieldpath.go_quote(self.manager)
        if self.subresource:
            text += f" with subresource {fieldpath.go_quote(self.subresource)}"
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text

    def encode(self) -> dict[str, Any]:
        """The entry as it appears in the object, keys in metav1.ManagedFieldsEntry's order."""
        return encode_entry(
            manager=self.manager,
            operation=self.operation,
            api_version=self.api_version,
            time=self.time,
            fields_v1=fieldpath.encode(self.fields),
            subresource=self.subresource,
        )


def encode_entry(
    *,
    manager: str,
    operation: str,
    api_version: str,
    time: str | None,
    fields_v1: dict[str, Any],
    subresource: str,
) -> dict[str, Any]:
    """A managedFields entry as it appears in the object, keys in ManagedFieldsEntry's order."""
    out: dict[str, Any] = {}
    if manager:
        out["manager"] = manager
    out["operation"] = operation
    out["apiVersion"] = api_version
    if time:
        out["time"] = time
    out["fieldsType"] = FIELDS_V1
    out["fieldsV1"] = fields_v1
    if subresource:
        out["subresource"] = subresource
    return out


Managed = dict[str, Entry]


def decode(raw: Any) -> Managed:
    """The entries of a managedFields list by identifier; ManagedFieldsError if malformed."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ManagedFieldsError("managedFields must be a list")
    managed: Managed = {}
    for position, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ManagedFieldsError(f"managed fields entry {position} is not an object")
        operation = item.get("operation")
        if operation not in (APPLY, UPDATE):
            raise ManagedFieldsError("operation must be `Apply` or `Update`")
        if not item.get("apiVersion"):
            raise ManagedFieldsError("apiVersion must not be empty")
        fields_type = item.get("fieldsType") or ""
        if not fields_type:
            raise ManagedFieldsError(f"missing fieldsType in managed fields entry {position}")
        if fields_type != FIELDS_V1:
            raise ManagedFieldsError(
                f"invalid fieldsType {fields_type!r} in managed fields entry {position}"
            )
        try:
            fields = fieldpath.decode(item.get("fieldsV1") or {})
        except fieldpath.FieldsError as exc:
            raise ManagedFieldsError(f"error decoding set: {exc}") from exc
        entry = Entry(
            manager=str(item.get("manager") or ""),
            operation=operation,
            api_version=str(item["apiVersion"]),
            fields=fields,
            time=item.get("time") or None,
            subresource=str(item.get("subresource") or ""),
        )
        managed[entry.identifier] = entry
    return managed


def _seconds(time: str | None) -> int:
    """An entry's time in whole seconds, 0 when it has none (entries sort by it)."""
    if not time:
        return 0
    try:
        return _timestamp(time.replace("Z", "+00:00"))
    except ValueError:
        return 0


@functools.lru_cache(maxsize=1024)
def _timestamp(text: str) -> int:
    # Entries keep their times from write to write: each is parsed once.
    return int(dt.datetime.fromisoformat(text).timestamp())


def encode(managed: Managed) -> list[dict[str, Any]]:
    """The managedFields list, sorted as Kubernetes sorts it (sortEncodedManagedFields)."""
    entries = sorted(
        managed.values(),
        key=lambda e: (e.operation, _seconds(e.time), e.manager, e.api_version, e.subresource),
    )
    return [e.encode() for e in entries]


def strip(fields: FieldSet) -> FieldSet:
    return fields - STRIPPED


def release(managed: Managed, taken: FieldSet, *, keep: str | None, api_version: str) -> None:
    """Take `taken` from every entry of `api_version` but `keep`; drop entries left empty.

    Entries recorded at another API version are left alone: their paths would need converting
    between versions, which kubelite, serving one version per kind, does not do.
    """
    for ident, entry in list(managed.items()):
        if ident == keep or entry.api_version != api_version:
            continue
        if taken.isdisjoint(entry.fields):
            # Nothing to take: the entry stays as it is (and keeps the fieldsV1 it came in).
            continue
        remaining = entry.fields - taken
        if remaining:
            managed[ident] = replace(entry, fields=remaining)
        else:
            del managed[ident]


def owned_by_others(
    managed: Managed, paths: FieldSet, *, keep: str, api_version: str
) -> dict[str, FieldSet]:
    """For every other entry of `api_version`, the part of `paths` it owns (if any)."""
    found: dict[str, FieldSet] = {}
    for ident, entry in managed.items():
        if ident == keep or entry.api_version != api_version:
            continue
        mine = entry.fields & paths
        if mine:
            found[ident] = mine
    return found


def cap_updates(managed: Managed) -> None:
    """Merge the oldest update entries into `ancient-changes` until at most ten remain.

    One bucket per API version; it takes the time of the newest entry merged into it.
    """
    updaters = [i for i, e in managed.items() if e.operation == UPDATE]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return
    updaters.sort(key=lambda i: (_seconds(managed[i].time), i))
    first_of_version: dict[str, str] = {}
    count = len(updaters)
    for ident in updaters:
        if count <= MAX_UPDATE_MANAGERS:
            break
        entry = managed[ident]
        version = entry.api_version
        bucket = identifier(ANCIENT_CHANGES, UPDATE, version, "")
        first = first_of_version.setdefault(version, ident)
        if first == ident or ident == bucket:
            continue
        if bucket not in managed:
            managed[bucket] = replace(managed.pop(first), manager=ANCIENT_CHANGES, subresource="")
        managed[bucket] = Entry(
            ANCIENT_CHANGES, UPDATE, version, entry.fields | managed[bucket].fields, entry.time
        )
        del managed[ident]
        count -= 1


def paths_of(managed: Managed, api_version: str) -> FieldSet:
    """Everything any entry of `api_version` owns."""
    owned: set[Path] = set()
    for entry in managed.values():
        if entry.api_version == api_version:
            owned |= entry.fields
    return frozenset(owned)
