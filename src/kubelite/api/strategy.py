"""What makes one kind different from another: its defaults, validation and update rules.

The API server's REST machinery is generic (like Kubernetes' `registry/generic/registry`); a
kind plugs in a `Strategy` (Kubernetes' `RESTCreateStrategy`, `RESTUpdateStrategy` and
`RESTDeleteStrategy` folded into one class). The base class here gives the behaviour every kind
shares; `kubelite.api.strategies` holds one subclass per kind that needs more. Table columns
live apart, in `kubelite.api.printers`.
"""

from __future__ import annotations

from typing import Any

from kubelite.api import meta
from kubelite.api.errors import FieldError

Obj = dict[str, Any]


class Strategy:
    """Behaviour shared by every kind; subclasses override what their kind does differently."""

    # The kind's spec is tracked by metadata.generation (bumped when anything but metadata and
    # status changes).
    tracks_generation = False
    # The kind has a `status` subresource: the main resource ignores status changes, and
    # /status ignores everything else.
    has_status_subresource = False
    # PUT of a missing object creates it (Kubernetes allows this for a few kinds).
    allow_create_on_update = False

    # --- create and update --------------------------------------------------------------------

    def default(self, obj: Obj) -> None:
        """Fill in defaults, in place; runs on every object decoded from a request."""

    def prepare_for_create(self, obj: Obj) -> None:
        """Reset what a client may not set on create (status, for kinds with a status)."""
        if self.has_status_subresource:
            obj.pop("status", None)
        if self.tracks_generation:
            meta.metadata(obj)["generation"] = 1

    def validate(self, obj: Obj) -> list[FieldError]:
        """Rules for a new object, beyond those of ObjectMeta that every kind shares."""
        return []

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """Carry over what a main-resource update may not change; bump generation."""
        if self.has_status_subresource:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if self.tracks_generation:
            old_gen = meta.get_path(old, "metadata", "generation", default=0)
            if spec_changed(new, old):
                meta.metadata(new)["generation"] = old_gen + 1
            else:
                meta.metadata(new)["generation"] = old_gen

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        """Rules for an update: the new object's own rules, plus what may not change."""
        return self.validate(new)

    # --- the status subresource ---------------------------------------------------------------

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        """A /status write changes status only: everything else comes from the stored object."""
        status = new.get("status")
        new.clear()
        new.update({k: v for k, v in old.items() if k != "status"})
        if status is not None:
            new["status"] = status

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return []

    # --- delete -------------------------------------------------------------------------------

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """Seconds of graceful deletion; 0 removes the object at once (if no finalizers)."""
        return 0

    # --- reading ------------------------------------------------------------------------------

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        """Fields a fieldSelector may name, beyond metadata.name and metadata.namespace."""
        return {}


def spec_changed(new: Obj, old: Obj) -> bool:
    """Whether anything outside metadata and status differs, the rule for bumping generation."""
    keys = (set(new) | set(old)) - {"metadata", "status", "apiVersion", "kind"}
    return any(new.get(k) != old.get(k) for k in keys)
