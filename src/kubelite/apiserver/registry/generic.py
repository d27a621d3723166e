"""Generic REST storage: the verbs every kind shares, on top of the revisioned store.

This is kubelite's counterpart of Kubernetes' `registry/generic/registry/store.go`. It turns
objects into store keys and bytes and back, stamps the system fields (uid, creationTimestamp,
resourceVersion, generation), runs the kind's `Strategy` (defaults, preparation, validation) and
the admission checks, does optimistic concurrency with retries where Kubernetes retries, and
implements graceful deletion and finalizers. HTTP concerns (query strings, content types, tables)
stay in the handlers; this module only speaks objects and `StatusError`s.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

import orjson

from kubelite.api import errors, meta, zerofields
from kubelite.api.fields import FieldSelector
from kubelite.api.kinds import ResourceType
from kubelite.api.labels import Selector as LabelSelector
from kubelite.api.types import Obj
from kubelite.apiserver.registry.interfaces import KindRef
from kubelite.storage.interface import (
    DELETE,
    CompactedError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    RevisionConflictError,
    Store,
    Watch,
)

# generateName appends five characters from this alphabet (apiserver/pkg/storage/names), one
# without vowels or look-alike digits so generated names never spell words.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_GENERATED_LENGTH = 5
# How often an update retries when another writer got in between (GuaranteedUpdate loops).
_MAX_RETRIES = 8

# An admission check: (operation, resource, object, old object or None). Mutating checks run
# before validation and may change the object; validating checks run after it.
Admission = Callable[[str, ResourceType, Obj, Obj | None], Awaitable[None]]
# Whether the write being admitted is a dry run (admission.Attributes.IsDryRun): admission
# that records something beside the object (a quota's usage) records nothing then.
current_dry_run: ContextVar[bool] = ContextVar("current_dry_run", default=False)

# How an update through a subresource treats the kind's strategy: the main resource and scale
# go through its update rules, status through its status rules; binding and finalize are
# narrow writes that Kubernetes makes without either. A pod's resize goes through the update
# rules of the store it is written through, whose strategy is the resize one (registry/resize.py).
_STRATEGY_OF_SUBRESOURCE = {"": "main", "scale": "main", "status": "status", "resize": "main"}


_METADATA_OPEN = b'"metadata":{'


def encode(obj: Obj) -> bytes:
    """Stored bytes: the object without its resourceVersion, which is the store's revision.

    apiVersion, kind and metadata come first, so the first `"metadata":{` in the bytes is the
    object's own: `with_version` relies on it to serve stored bytes without decoding them.
    """
    md = dict(obj.get("metadata") or {})
    md.pop("resourceVersion", None)
    ordered: Obj = {}
    for key in ("apiVersion", "kind"):
        if key in obj:
            ordered[key] = obj[key]
    ordered["metadata"] = md
    for key, value in obj.items():
        if key not in ordered:
            ordered[key] = value
    return orjson.dumps(ordered)


def decode(kv: KeyValue) -> Obj:
    obj: Obj = orjson.loads(kv.value)
    obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
    return obj


def with_version(kv: KeyValue) -> bytes:
    """The stored JSON with its resourceVersion spliced in: a list item without a decode."""
    found = kv.value.find(_METADATA_OPEN)
    if found < 0 or b"{" in kv.value[1:found]:
        # Not the layout `encode` writes (an object stored by an older kubelite): re-encode.
        return orjson.dumps(decode(kv))
    at = found + len(_METADATA_OPEN)
    version = b'"resourceVersion":"%d"' % kv.mod_revision
    if kv.value[at : at + 1] != b"}":
        version += b","
    return kv.value[:at] + version + kv.value[at:]


# A generated name fits in 63 characters: the prefix is cut to leave room for the suffix.
_MAX_GENERATED_PREFIX = 63 - _GENERATED_LENGTH


def generate_name(prefix: str) -> str:
    prefix = prefix[:_MAX_GENERATED_PREFIX]
    return prefix + "".join(random.choices(_NAME_ALPHABET, k=_GENERATED_LENGTH))


def resource_version_of(obj: Obj) -> int:
    """The integer revision in metadata.resourceVersion; 0 when unset; 400 when unreadable."""
    rv = meta.get_path(obj, "metadata", "resourceVersion", default="")
    if rv in ("", None):
        return 0
    try:
        return int(rv)
    except (TypeError, ValueError):
        raise errors.bad_request(f"invalid resource version: {rv}") from None


@dataclass
class ListOptions:
    """A list or watch request's options, decoded: selectors, paging and the
    resourceVersion semantics the store must honour."""

    label_selector: LabelSelector | None = None
    field_selector: FieldSelector | None = None
    limit: int = 0
    continue_key: str = ""
    continue_revision: int = 0
    resource_version: str = ""
    resource_version_match: str = ""


@dataclass
class ListPage:
    """One page of a list: the items (or their stored bytes), the revision they were read at,
    and how to continue."""

    items: list[Obj]
    revision: int
    continue_token: str = ""
    remaining: int | None = None
    # The items as encoded JSON, when the caller asked for them raw and none needed decoding.
    raw: list[bytes] | None = None


@dataclass
class DeleteOptions:
    """A delete's options, decoded from the query and the DeleteOptions body: grace period,
    propagation, preconditions and dry run."""

    grace_period: int | None = None
    propagation_policy: str = ""
    # The legacy spelling of Orphan (true) and Background (false); None when not sent.
    orphan_dependents: bool | None = None
    precondition_uid: str = ""
    precondition_rv: str = ""
    dry_run: bool = False


@dataclass
class WatchEvent:
    """One change as a watcher sees it: the event type after selector filtering and the
    object at that revision."""

    type: str  # ADDED, MODIFIED, DELETED
    obj: Obj
    revision: int
    source: Event | None = field(default=None, repr=False)


# Names of their own for list types used inside ResourceStore, where `list` is its method.
WatchEvents = list[WatchEvent]
Names = list[str]


def encode_continue(key_suffix: str, revision: int) -> str:
    """Kubernetes' continue token: base64 of {"v","rv","start"}, start being the next key."""
    token = {"v": "meta.k8s.io/v1", "rv": revision, "start": key_suffix + "\x00"}
    return base64.urlsafe_b64encode(orjson.dumps(token)).decode().rstrip("=")


def _go_path_clean(path: str) -> str:
    """Go's path.Clean: repeated slashes, `.` and `..` resolved lexically; "" is "."."""
    rooted = path.startswith("/")
    parts: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(segment)
    cleaned = ("/" if rooted else "") + "/".join(parts)
    return cleaned or "."


def decode_continue(token: str) -> tuple[str, int]:
    """The start key (below the resource's prefix) and revision of a continue token.

    As apiserver's storage.DecodeContinue: a start key that path cleaning would change (`../x`,
    `a//b`) is refused, so a client cannot make the list range outside the resource's keys.
    """
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        # Any JSON may be under the base64: Go's json.Unmarshal into the token's struct refuses
        # what is not an object, as this does.
        if not isinstance(data, dict) or data.get("v") != "meta.k8s.io/v1":
            raise ValueError("version")
        start, revision = str(data["start"]), int(data["rv"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise errors.bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version "
            "meta.k8s.io/v1)"
        ) from None
    if not start:
        raise errors.bad_request(
            "continue key is not valid: encoded start key empty (version meta.k8s.io/v1)"
        )
    cleaned = _go_path_clean(start)
    if cleaned != start or cleaned in (".", "/"):
        raise errors.bad_request(f"continue key is not valid: {cleaned}")
    return start, revision


class ResourceStore:
    """The REST verbs of one resource over the shared store."""

    # It serves its resource's own kind (subresource storages may serve another: `KindRef`).
    kind: KindRef | None = None
    subresource = ""

    def __init__(
        self,
        store: Store,
        resource: ResourceType,
        mutating: list[Admission] | None = None,
        validating: list[Admission] | None = None,
    ) -> None:
        self.store = store
        self.resource = resource
        self.strategy = resource.strategy
        self.mutating = mutating or []
        self.validating = validating or []
        # Kinds stored in another version's form (events.k8s.io/v1 Events) convert.
        self.converts = resource.strategy.converts_storage

    # --- encoding ---------------------------------------------------------------------------

    def from_storage(self, kv: KeyValue) -> Obj:
        obj = decode(kv)
        if self.converts:
            obj = self.strategy.from_storage(obj)
        return obj

    def to_storage(self, obj: Obj) -> bytes:
        if self.converts:
            obj = self.strategy.to_storage(obj)
        return encode(obj)

    def key(self, namespace: str, name: str) -> str:
        return self.resource.key(namespace, name)

    def not_found(self, name: str) -> errors.StatusError:
        return errors.not_found(self.resource.plural, name, self.resource.group)

    def invalid(self, obj: Obj, problems: list[errors.FieldError]) -> errors.StatusError:
        return errors.invalid_object(
            self.resource.kind, meta.name_of(obj), problems, self.resource.group
        )

    def _fill_zeros(self, obj: Obj) -> None:
        """What Go would store: the status's required scalars at their zero values."""
        r = self.resource
        zerofields.fill_status(r.group, r.version, r.kind, obj)

    async def _admit(
        self,
        checks: list[Admission],
        operation: str,
        obj: Obj,
        old: Obj | None,
        dry_run: bool = False,
    ) -> None:
        """Run the checks; they read whether the request is a dry run from `current_dry_run`
        (admission attributes' IsDryRun), so that none records side effects for it."""
        token = current_dry_run.set(dry_run)
        try:
            for check in checks:
                await check(operation, self.resource, obj, old)
        finally:
            current_dry_run.reset(token)

    # --- read -------------------------------------------------------------------------------

    async def get(self, namespace: str, name: str) -> Obj:
        kv = await self.store.get(self.key(namespace, name))
        if kv is None:
            raise self.not_found(name)
        return self.from_storage(kv)

    def selectable(self, obj: Obj) -> dict[str, str]:
        fields = {
            "metadata.name": meta.name_of(obj),
            "metadata.namespace": meta.namespace_of(obj),
        }
        fields.update(self.strategy.selectable_fields(obj))
        return fields

    def matches(self, obj: Obj, opts: ListOptions) -> bool:
        if opts.label_selector is not None and not opts.label_selector.matches(meta.labels_of(obj)):
            return False
        return opts.field_selector is None or opts.field_selector.matches(self.selectable(obj))

    async def list(
        self,
        namespace: str,
        opts: ListOptions,
        *,
        raw: bool = False,
        transform: Callable[[Obj], Obj] | None = None,
    ) -> ListPage:
        """One page of a list. With `raw`, unfiltered items come back as JSON bytes (`raw`).

        A LIST of ten thousand pods is mostly moving bytes: serving them as stored, with only
        their resourceVersion spliced in, avoids decoding and re-encoding every object.
        `transform` is applied to each object as it is read (a Table makes its rows so), and the
        page holds what it returns.
        """
        prefix = self.resource.key_prefix(namespace)
        revision = 0
        start = ""
        if opts.continue_key:
            start = prefix + opts.continue_key
            revision = opts.continue_revision
        elif opts.resource_version_match == "Exact" or (
            opts.limit
            and not opts.resource_version_match
            and opts.resource_version not in ("", "0")
        ):
            # A paged list at a resourceVersion reads exactly that revision (the legacy rule).
            revision = int(opts.resource_version)
        elif opts.resource_version not in ("", "0"):
            wanted = int(opts.resource_version)
            if wanted > self.store.revision:
                raise errors.too_large_resource_version(wanted, self.store.revision)
        filtering = opts.label_selector is not None or opts.field_selector is not None
        items: list[Obj] = []
        as_bytes = raw and not filtering and not self.converts
        # Read in pages so that selectors fill `limit` matches, as the cacher does.
        chunk = opts.limit if as_bytes or not opts.limit else max(opts.limit, 500)
        # resourceVersion "0" (and no continue token): any recent state will do, from the
        # watch cache where there is one.
        stale = opts.resource_version == "0" and not revision
        while True:
            try:
                if stale:
                    result = await self.store.list_stale(prefix, start=start, limit=chunk)
                else:
                    result = await self.store.list(
                        prefix, revision=revision, start=start, limit=chunk
                    )
            except CompactedError:
                if opts.continue_key:
                    raise errors.gone(
                        "The provided continue parameter is too old to display a consistent "
                        "list result. You can start a new list without the continue parameter."
                    ) from None
                raise errors.gone(
                    f"The resourceVersion for the provided list is too old. (requested "
                    f"{revision}, compacted {self.store.compacted_revision})"
                ) from None
            except FutureRevisionError:
                raise errors.too_large_resource_version(revision, self.store.revision) from None
            revision = result.revision
            stale = False
            if as_bytes:
                return self._raw_page(result, prefix)
            for i, kv in enumerate(result.items):
                obj = self.from_storage(kv)
                if filtering and not self.matches(obj, opts):
                    continue
                items.append(transform(obj) if transform is not None else obj)
                if opts.limit and len(items) == opts.limit:
                    more = i < len(result.items) - 1 or result.more
                    if not more:
                        return ListPage(items, revision)
                    token = encode_continue(kv.key[len(prefix) :], revision)
                    remaining = None
                    if not filtering:
                        remaining = len(result.items) - 1 - i + result.remaining
                    return ListPage(items, revision, token, remaining)
            if not result.more or not result.items:
                return ListPage(items, revision)
            start = result.items[-1].key + "\x00"

    @staticmethod
    def _raw_page(result: ListResult, prefix: str) -> ListPage:
        page = ListPage([], result.revision, raw=[with_version(kv) for kv in result.items])
        if result.more and result.items:
            page.continue_token = encode_continue(
                result.items[-1].key[len(prefix) :], result.revision
            )
            page.remaining = result.remaining
        return page

    # --- create -----------------------------------------------------------------------------

    def _stamp_new(self, namespace: str, obj: Obj) -> None:
        md = meta.metadata(obj)
        if self.resource.namespaced:
            if md.get("namespace") and md["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            md["namespace"] = namespace
        else:
            md.pop("namespace", None)
        if not md.get("name") and md.get("generateName"):
            md["name"] = generate_name(md["generateName"])
        md["uid"] = meta.new_uid()
        md["creationTimestamp"] = meta.format_time(meta.now())
        for system in (
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ):
            md.pop(system, None)
        obj["apiVersion"] = self.resource.api_version
        obj["kind"] = self.resource.kind

    async def create(
        self,
        namespace: str,
        obj: Obj,
        *,
        dry_run: bool = False,
        on_prepared: Callable[[Obj], None] | None = None,
    ) -> Obj:
        """Create an object; `on_prepared` sees it after defaults, before it is validated."""
        self._stamp_new(namespace, obj)
        self.strategy.default(obj)
        self.strategy.prepare_for_create(obj)
        # Ownership is recorded before admission, as Kubernetes does: what admission adds
        # belongs to no manager.
        if on_prepared is not None:
            on_prepared(obj)
        await self._admit(self.mutating, "CREATE", obj, None, dry_run)
        self._fill_zeros(obj)
        problems = self.strategy.validate(obj)
        if problems:
            raise self.invalid(obj, problems)
        self.strategy.canonicalize(obj)
        await self._admit(self.validating, "CREATE", obj, None, dry_run)
        if dry_run:
            if await self.store.get(self.key(namespace, meta.name_of(obj))) is not None:
                raise errors.already_exists(
                    self.resource.plural, meta.name_of(obj), self.resource.group
                )
            return obj
        name = meta.name_of(obj)
        for _ in range(_MAX_RETRIES):
            try:
                kv = await self.store.create(self.key(namespace, name), self.to_storage(obj))
                break
            except KeyExistsError:
                generated = meta.get_path(obj, "metadata", "generateName")
                if not generated:
                    raise errors.already_exists(
                        self.resource.plural, name, self.resource.group
                    ) from None
                # A generated name collided: Kubernetes retries with another one.
                name = generate_name(generated)
                obj["metadata"]["name"] = name
        else:
            raise errors.already_exists(self.resource.plural, name, self.resource.group)
        obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
        return obj

    # --- update -----------------------------------------------------------------------------

    async def update(
        self,
        namespace: str,
        name: str,
        mutate: Callable[[Obj | None], Awaitable[Obj | None]],
        *,
        subresource: str = "",
        dry_run: bool = False,
        create_missing: bool = False,
        on_prepared: Callable[[Obj, Obj | None], None] | None = None,
    ) -> tuple[Obj, bool]:
        """Read, change and write one object, retrying when another writer got in first.

        `mutate` receives the stored object (None if missing) and returns the desired one, or
        None to leave the object as it is. Raising from `mutate` aborts. The returned flag says
        whether the object was created. This is Kubernetes' GuaranteedUpdate: a conflict with a
        resourceVersion the client sent is the client's 409, a conflict with another writer is
        retried against the newer object.
        """
        key = self.key(namespace, name)
        for _ in range(_MAX_RETRIES):
            kv = await self.store.get(key)
            old = self.from_storage(kv) if kv is not None else None
            # The mutation works on a copy of its own: decoding again is cheaper than deepcopy.
            desired = await mutate(self.from_storage(kv) if kv is not None else None)
            if desired is None:
                if old is None:
                    raise self.not_found(name)
                return old, False
            self._check_identity(desired, namespace, name)
            if old is None:
                if not (create_missing or self.strategy.allow_create_on_update) or subresource:
                    raise self.not_found(name)
                self._check_uid_of_created(desired, name, key, applied=create_missing)
                desired.setdefault("metadata", {}).pop("resourceVersion", None)
                created = await self.create(
                    namespace,
                    desired,
                    dry_run=dry_run,
                    on_prepared=(lambda o: on_prepared(o, None)) if on_prepared else None,
                )
                return created, True
            assert kv is not None  # `old` was read from it
            wanted_rv = resource_version_of(desired)
            if wanted_rv and wanted_rv != kv.mod_revision:
                raise errors.stale_resource_version(self.resource.plural, name, self.resource.group)
            self._check_uid(desired, old, key)
            self._carry_system_fields(desired, old)
            mode = _STRATEGY_OF_SUBRESOURCE.get(subresource, "none")
            if mode != "none":
                self.strategy.default(desired)
            if mode == "status":
                self.strategy.prepare_for_status_update(desired, old)
            elif mode == "main":
                self.strategy.prepare_for_update(desired, old)
            if on_prepared is not None:
                on_prepared(desired, old)
            await self._admit(self.mutating, "UPDATE", desired, old, dry_run)
            self._fill_zeros(desired)
            problems = []
            if mode == "status":
                problems = self.strategy.validate_status_update(desired, old)
            elif mode == "main":
                problems = self.strategy.validate_update(desired, old)
            if problems:
                raise self.invalid(desired, problems)
            if mode == "main":
                self.strategy.canonicalize(desired)
            await self._admit(self.validating, "UPDATE", desired, old, dry_run)
            if _same(desired, old):
                return old, False
            if dry_run:
                return desired, False
            if self._finalized(desired):
                # The last finalizer went: the object is gone now (Kubernetes deletes it in
                # the update that empties the list).
                gone = await self._delete_at(kv, name)
                if gone is None:
                    continue
                desired["metadata"]["resourceVersion"] = str(gone.mod_revision)
                return desired, False
            try:
                new_kv = await self.store.update(key, self.to_storage(desired), kv.mod_revision)
            except RevisionConflictError:
                if wanted_rv:
                    raise errors.stale_resource_version(
                        self.resource.plural, name, self.resource.group
                    ) from None
                continue
            except KeyNotFoundError:
                continue
            desired["metadata"]["resourceVersion"] = str(new_kv.mod_revision)
            return desired, False
        raise errors.conflict(
            self.resource.plural,
            name,
            "the object has been modified too many times concurrently; please try again",
            self.resource.group,
        )

    def _check_identity(self, obj: Obj, namespace: str, name: str) -> None:
        md = meta.metadata(obj)
        if md.get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({md.get('name')}) does not match the name on the URL "
                f"({name})"
            )
        if self.resource.namespaced and md.get("namespace", namespace) != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        md["name"] = name
        if self.resource.namespaced:
            md["namespace"] = namespace
        obj["apiVersion"] = self.resource.api_version
        obj["kind"] = self.resource.kind

    def _check_uid(self, desired: Obj, old: Obj, key: str) -> None:
        """A uid in the new object is a precondition (UpdatedObjectInfo.Preconditions): a
        write meant for an earlier object of the same name is refused, not applied to this
        one. The kubelet's status patches carry the uid for that reason."""
        wanted = meta.metadata(desired).get("uid")
        current = old["metadata"].get("uid")
        if wanted and wanted != current:
            raise errors.conflict(
                self.resource.plural,
                old["metadata"].get("name", ""),
                f"StorageError: invalid object, Code: 4, Key: {key}, ResourceVersion: 0, "
                f"AdditionalErrorMsg: Precondition failed: UID in precondition: {wanted}, "
                f"UID in object meta: {current}",
                self.resource.group,
            )

    def _check_uid_of_created(self, desired: Obj, name: str, key: str, *, applied: bool) -> None:
        """A uid in an object that a PUT or an apply would create is refused, not replaced:
        the write was meant for an object that is gone. Everything else a create wipes
        (creationTimestamp, deletionTimestamp, ...) is wiped by `create` (1.37, #138908,
        which keeps this check). An apply is refused by the patch handler (patch.go's
        applyPatch); a PUT by the storage's precondition check against the empty object."""
        uid = meta.metadata(desired).get("uid")
        if not uid:
            return
        if applied:
            raise errors.conflict(
                self.resource.plural,
                name,
                f"uid mismatch: the provided object specified uid {uid}, and no existing object "
                "was found",
                self.resource.group,
            )
        self._check_uid(desired, {"metadata": {"name": name, "uid": ""}}, key)

    @staticmethod
    def _carry_system_fields(new: Obj, old: Obj) -> None:
        """Fields only the server sets keep their stored values (rest.BeforeUpdate)."""
        new_md = meta.metadata(new)
        old_md = old["metadata"]
        for system in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if system in old_md:
                new_md[system] = old_md[system]
            else:
                new_md.pop(system, None)
        new_md.pop("selfLink", None)
        new_md["resourceVersion"] = old_md["resourceVersion"]

    def _finalized(self, obj: Obj) -> bool:
        """A deleting object nothing holds any more: Kubernetes removes it in this write."""
        md = obj["metadata"]
        return (
            bool(md.get("deletionTimestamp"))
            and not md.get("finalizers")
            and not md.get("deletionGracePeriodSeconds")
            and not self.strategy.holds_deletion(obj)
        )

    # --- delete -----------------------------------------------------------------------------

    async def delete(self, namespace: str, name: str, opts: DeleteOptions) -> tuple[Obj, bool]:
        """Delete an object; returns it and whether it is gone (False: deletion is pending).

        Graceful deletion (pods on a node), finalizers and what the kind itself waits for (a
        namespace's spec.finalizers) leave the object in place with deletionTimestamp set;
        whoever finishes the job (the kubelet, a controller removing its finalizer) makes it
        disappear, as in Kubernetes (BeforeDelete and the generic registry's Delete). The
        options' propagation policy is recorded as the garbage collector's finalizer
        (`orphan`, `foregroundDeletion`) before that decision, so a cascading delete is held
        until the garbage collector has dealt with the dependents.
        """
        key = self.key(namespace, name)
        for _ in range(_MAX_RETRIES):
            kv = await self.store.get(key)
            if kv is None:
                raise self.not_found(name)
            obj = self.from_storage(kv)
            md = obj["metadata"]
            self._check_preconditions(obj, opts)
            await self._admit(self.mutating + self.validating, "DELETE", obj, None, opts.dry_run)
            period = self.strategy.grace_period(obj, opts.grace_period)
            deleting = bool(md.get("deletionTimestamp"))
            pending = md.get("deletionGracePeriodSeconds") or 0
            if deleting:
                # BeforeDelete: a graceful deletion under way may only get shorter, and its
                # finalizers stay as they are; a terminating namespace waits for its content.
                if self.strategy.holds_deletion(obj) or (pending and period >= pending):
                    return obj, False
                if not pending:
                    period = 0  # already final: only the finalizers may still change
            finalizers = self.strategy.deletion_finalizers(
                obj, opts.propagation_policy, opts.orphan_dependents
            )
            if period > 0 or finalizers or self.strategy.holds_deletion(obj):
                marked = self._mark_deleting(obj, period, finalizers)
                if marked == obj:
                    return obj, False  # a repeated delete: nothing to write
                if opts.dry_run:
                    return marked, False
                try:
                    new_kv = await self.store.update(key, self.to_storage(marked), kv.mod_revision)
                except (RevisionConflictError, KeyNotFoundError):
                    continue
                marked["metadata"]["resourceVersion"] = str(new_kv.mod_revision)
                return marked, False
            if opts.dry_run:
                return obj, True
            gone = await self._delete_at(kv, name)
            if gone is None:
                continue
            obj["metadata"]["resourceVersion"] = str(gone.mod_revision)
            return obj, True
        raise errors.conflict(
            self.resource.plural,
            name,
            "the object is being modified concurrently",
            self.resource.group,
        )

    def _mark_deleting(self, obj: Obj, period: int, finalizers: Names) -> Obj:
        """The object as a held or graceful deletion leaves it, with its new finalizers.

        A graceful deletion ends `period` seconds from now (BeforeDelete); one that only waits
        for finalizers is stamped now, unless it already was earlier, with a grace period of 0
        (markAsDeleting).
        """
        marked = meta.clone(obj)
        md = marked["metadata"]
        deleting = bool(md.get("deletionTimestamp"))
        if finalizers != (md.get("finalizers") or []):
            if finalizers:
                md["finalizers"] = finalizers
            else:
                md.pop("finalizers", None)
        now = meta.now()
        if period > 0:
            md["deletionTimestamp"] = meta.format_time(now + _seconds(period))
        else:
            stamped = meta.parse_time(md.get("deletionTimestamp") or "")
            if stamped is None or stamped > now:
                md["deletionTimestamp"] = meta.format_time(now)
        md["deletionGracePeriodSeconds"] = period
        if not deleting and md.get("generation"):
            # Starting deletion changes the desired state (BeforeDelete bumps it).
            md["generation"] += 1
        self.strategy.begin_deletion(marked, meta.format_time(now))
        return marked

    async def _delete_at(self, kv: KeyValue, name: str) -> KeyValue | None:
        """Delete a key if it is still at the revision read; None: it changed, read again."""
        try:
            return await self.store.delete(kv.key, kv.mod_revision)
        except RevisionConflictError:
            return None
        except KeyNotFoundError:
            raise self.not_found(name) from None

    def _check_preconditions(self, obj: Obj, opts: DeleteOptions) -> None:
        md = obj["metadata"]
        if opts.precondition_uid and opts.precondition_uid != md.get("uid"):
            raise errors.conflict(
                self.resource.plural,
                md.get("name", ""),
                f"Precondition failed: UID in precondition: {opts.precondition_uid}, UID in "
                f"object meta: {md.get('uid')}",
                self.resource.group,
            )
        if opts.precondition_rv and opts.precondition_rv != md.get("resourceVersion"):
            raise errors.conflict(
                self.resource.plural,
                md.get("name", ""),
                f"Precondition failed: ResourceVersion in precondition: {opts.precondition_rv}, "
                f"ResourceVersion in object meta: {md.get('resourceVersion')}",
                self.resource.group,
            )

    # --- watch ------------------------------------------------------------------------------

    async def watch(
        self, namespace: str, opts: ListOptions, *, send_initial: bool
    ) -> tuple[WatchEvents, Watch, int]:
        """Open a watch: the initial ADDED events (when asked) and the live stream after them.

        With no resourceVersion (or "0") Kubernetes first sends the current state as ADDED
        events and then every change; with a resourceVersion it sends every change after it.
        """
        prefix = self.resource.key_prefix(namespace)
        initial: WatchEvents = []
        if send_initial:
            result = await self.store.list(prefix)
            revision = result.revision
            for kv in result.items:
                obj = self.from_storage(kv)
                if self.matches(obj, opts):
                    initial.append(WatchEvent("ADDED", obj, kv.mod_revision))
        elif opts.resource_version in ("", "0"):
            revision = self.store.revision  # no initial events: from now on
        else:
            revision = int(opts.resource_version)
        try:
            stream = await self.store.watch(prefix, revision)
        except CompactedError as exc:
            raise errors.gone(f"too old resource version: {revision} ({exc.compacted})") from None
        except FutureRevisionError:
            raise errors.too_large_resource_version(revision, self.store.revision) from None
        return initial, stream, revision

    def translate(self, event: Event, opts: ListOptions) -> WatchEvent | None:
        """A store event as the watcher with these selectors sees it (or None: not at all).

        An object that stops matching a selector is DELETED for that watcher, one that starts
        matching is ADDED, as Kubernetes' cacher reports them.
        """
        # Events are shared by every watcher of the prefix, whatever version it watches (core
        # and events.k8s.io Events share storage): decoded forms are kept per version.
        memo = event.memo
        obj_key = self.resource.api_version
        cur = memo.get(obj_key)
        if cur is None:
            cur = self.from_storage(event.kv)
            memo[obj_key] = cur
        filtering = opts.label_selector is not None or opts.field_selector is not None
        if event.type == DELETE:
            if filtering and not self.matches(cur, opts):
                return None
            return WatchEvent("DELETED", cur, event.revision, event)
        if not filtering:
            kind = "MODIFIED" if event.prev is not None else "ADDED"
            return WatchEvent(kind, cur, event.revision, event)
        now_matches = self.matches(cur, opts)
        prev_obj = None
        if event.prev is not None:
            prev_key = f"prev:{obj_key}"
            prev_obj = memo.get(prev_key)
            if prev_obj is None:
                prev_obj = self.from_storage(event.prev)
                memo[prev_key] = prev_obj
        was_matching = prev_obj is not None and self.matches(prev_obj, opts)
        if now_matches and was_matching:
            return WatchEvent("MODIFIED", cur, event.revision, event)
        if now_matches:
            return WatchEvent("ADDED", cur, event.revision, event)
        if was_matching:
            return WatchEvent("DELETED", cur, event.revision, event)
        return None


def _seconds(n: int) -> dt.timedelta:
    return dt.timedelta(seconds=n)


def _same(new: Obj, old: Obj) -> bool:
    """Whether an update changes nothing (Kubernetes then skips the write)."""
    return new == old
