"""What makes one kind different from another: its defaults, validation and update rules.

The API server's REST machinery is generic (like Kubernetes' `registry/generic/registry`); a
kind plugs in a `Strategy` (Kubernetes' `RESTCreateStrategy`, `RESTUpdateStrategy` and
`RESTDeleteStrategy` folded into one class). The base class here gives the behaviour every kind
shares, ObjectMeta validation included; `kubelite.api.strategies` holds one subclass per kind
that needs more. Table columns live apart, in `kubelite.api.printers`.

The order the REST code calls things in, as `rest.BeforeCreate` and `rest.BeforeUpdate` do:

    create: default -> prepare_for_create -> (generateName) -> validate -> canonicalize
    update: default -> prepare_for_update -> validate_update -> canonicalize
    /status: default -> prepare_for_status_update -> validate_status_update

A subclass that validates more calls `super().validate(...)` first, so that metadata errors come
before spec errors as they do in Kubernetes.
"""

from __future__ import annotations

from typing import ClassVar

from kubelite.api import fields, meta, propagation
from kubelite.api.errors import FieldError
from kubelite.api.types import Obj
from kubelite.api.validation import names
from kubelite.api.validation.objectmeta import (
    dedupe,
    name_is_path_segment,
    validate_object_meta,
    validate_object_meta_update,
)


class Strategy:
    """Behaviour shared by every kind; subclasses override what their kind does differently."""

    # The kind's spec is tracked by metadata.generation (bumped when anything but metadata and
    # status changes).
    tracks_generation = False
    # The kind has a `status` subresource: the main resource ignores status changes, and
    # /status ignores spec changes.
    has_status_subresource = False
    # PUT of a missing object creates it (Kubernetes allows this for a few kinds).
    allow_create_on_update = False
    # Objects live in a namespace (metadata.namespace required) or in none (forbidden).
    namespaced = True
    # The rule a new object's name must follow (Kubernetes' ValidateNameFunc for the kind).
    name_rule = staticmethod(names.name_is_dns_subdomain)
    # Core validation's extra rule that a finalizer without a domain be a standard one; only
    # kinds that Kubernetes leaves to the generic registry checks (core Events) go without.
    require_standard_finalizers = True
    # The fieldSelector labels the kind accepts (its AddFieldLabelConversionFunc), None when
    # Kubernetes registers no conversion: then only metadata.name and metadata.namespace, and a
    # different error message (`fields.unsupported_label`).
    field_labels: ClassVar[frozenset[str] | None] = None
    # What a DELETE without a propagation policy does with the object's dependents
    # (rest.GarbageCollectionDeleteStrategy's DefaultGarbageCollectionPolicy); "" is a kind
    # that declares none, which cascades in the background.
    garbage_collection_policy: ClassVar[str] = ""
    # A DELETE that removes the object at once answers with the object itself rather than a
    # Success Status (Kubernetes' ReturnDeletedObject: pods, services, namespaces).
    returns_deleted_object: ClassVar[bool] = False
    # What a write through /status may not own besides the spec (ResetFieldsStrategy of the
    # status strategy); the main resource of a kind with a status subresource owns no status.
    status_reset_fields: ClassVar[tuple[str, ...]] = ("spec",)
    # Objects are stored in another version's form (events.k8s.io/v1 Events are stored as
    # core/v1 Events: one storage, two versions); `to_storage` and `from_storage` convert.
    converts_storage: ClassVar[bool] = False

    # --- create and update --------------------------------------------------------------------

    def default(self, obj: Obj) -> None:
        """Fill in defaults, in place; runs on every object decoded from a request."""

    def prepare_for_create(self, obj: Obj) -> None:
        """Reset what a client may not set on create (status, for kinds with a status)."""
        if self.has_status_subresource:
            # An empty status struct, which Kubernetes serializes as `status: {}`.
            obj["status"] = {}
        if self.tracks_generation:
            meta.metadata(obj)["generation"] = 1

    def validate(self, obj: Obj) -> list[FieldError]:
        """Rules for a new object: ObjectMeta's with the kind's name rule; subclasses add theirs."""
        return validate_object_meta(
            obj,
            namespaced=self.namespaced,
            name_rule=self.name_rule,
            require_standard_finalizers=self.require_standard_finalizers,
        )

    def canonicalize(self, obj: Obj) -> None:
        """Normalize an object that passed validation, before it is stored (Canonicalize)."""

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """Carry over what a main-resource update may not change; bump generation."""
        if self.has_status_subresource:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if self.tracks_generation:
            old_gen = meta.get_path(old, "metadata", "generation", default=0)
            if self.generation_changed(new, old):
                meta.metadata(new)["generation"] = old_gen + 1
            else:
                meta.metadata(new)["generation"] = old_gen

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        """Whether an update is a new generation of the object's desired state."""
        return spec_changed(new, old)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        """Rules for an update: what metadata may not become; subclasses add their own.

        The name is checked only as a URL path segment here, as the generic registry does: it
        cannot change, and a kind's rule may have grown stricter since the object was made.
        """
        return self._validate_metadata_update(new, old)

    def _validate_metadata_update(self, new: Obj, old: Obj) -> list[FieldError]:
        standard = self.require_standard_finalizers
        return dedupe(
            validate_object_meta(
                new,
                namespaced=self.namespaced,
                name_rule=name_is_path_segment,
                require_standard_finalizers=standard,
            )
            + validate_object_meta_update(new, old, require_standard_finalizers=standard)
        )

    # --- the status subresource ---------------------------------------------------------------

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        """A /status write may not change the spec: everything but metadata and status comes
        from the stored object. Metadata may change (controllers set annotations this way), as
        Kubernetes' status strategies allow; a kind that protects more resets more."""
        for key in (set(new) | set(old)) - _OWN_FIELDS:
            if key in old:
                new[key] = old[key]
            else:
                new.pop(key, None)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        """Rules for a /status write: the metadata rules of any update; subclasses add status's."""
        return self._validate_metadata_update(new, old)

    # --- delete -------------------------------------------------------------------------------

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """Seconds of graceful deletion; 0 removes the object at once (if no finalizers)."""
        return 0

    def holds_deletion(self, obj: Obj) -> bool:
        """Whether something besides metadata.finalizers keeps a deleted object in place."""
        return False

    def begin_deletion(self, obj: Obj, now: str) -> None:
        """What else changes when a held object starts being deleted (after deletionTimestamp)."""

    def deletion_finalizers(
        self, obj: Obj, propagation_policy: str, orphan_dependents: bool | None
    ) -> list[str]:
        """The object's finalizers once a DELETE with these options recorded its cascade."""
        return propagation.deletion_finalizers(
            meta.get_path(obj, "metadata", "finalizers", default=None) or [],
            propagation=propagation_policy,
            orphan_dependents=orphan_dependents,
            default=self.garbage_collection_policy,
        )

    # --- storage form -------------------------------------------------------------------------

    def to_storage(self, obj: Obj) -> Obj:
        """The object in the form it is stored in (only kinds with `converts_storage`)."""
        return obj

    def from_storage(self, obj: Obj) -> Obj:
        """A stored object in the form this kind serves (only kinds with `converts_storage`)."""
        return obj

    # --- reading ------------------------------------------------------------------------------

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        """Fields a fieldSelector may name, beyond metadata.name and metadata.namespace."""
        return {}

    def check_field_selector(self, selector: fields.FieldSelector) -> None:
        """Refuse a selector naming a field the kind does not accept, with Kubernetes' 400."""
        fields.check_labels(selector, self.field_labels)


# The top-level fields that are not the object's spec: its identity, metadata and status.
_OWN_FIELDS = frozenset({"metadata", "status", "apiVersion", "kind"})


def spec_changed(new: Obj, old: Obj) -> bool:
    """Whether anything outside metadata and status differs, the rule for bumping generation."""
    keys = (set(new) | set(old)) - _OWN_FIELDS
    return any(new.get(k) != old.get(k) for k in keys)
