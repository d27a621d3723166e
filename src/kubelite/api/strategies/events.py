"""Event strategies: core/v1 Event and events.k8s.io/v1 Event share one storage.

Kubernetes has one event strategy (`pkg/registry/core/event/strategy.go`) that validates by the
version of the request: core/v1 writes get only the legacy checks, for old clients, and their
metadata only the generic registry's (a name that fits in a URL); events.k8s.io/v1 writes get
the strict checks and full ObjectMeta validation. Here each version has its strategy. The REST
code hands `EventsV1Strategy` objects in the events.k8s.io/v1 form it serves (it stores them
through `kubelite.api.conversion.events`), so that strategy converts to the core form to check
them, as Kubernetes checks the internal type.
"""

from __future__ import annotations

from typing import Any

from kubelite.api import meta, propagation
from kubelite.api.conversion.events import from_core, to_core
from kubelite.api.errors import FieldError
from kubelite.api.strategy import Strategy
from kubelite.api.types import Obj
from kubelite.api.validation import core as validation
from kubelite.api.validation.objectmeta import name_is_path_segment

# The fields both versions select by, with the core/v1 label first (pkg/apis/core/v1 and
# pkg/apis/events/v1 AddFieldLabelConversionsForEvent).
_REFERENCE_FIELDS = (
    "kind",
    "namespace",
    "name",
    "uid",
    "apiVersion",
    "resourceVersion",
    "fieldPath",
)


class CoreEventStrategy(Strategy):
    """How the registry treats a core/v1 Event: loose names and finalizers as the generic registry
    allows, and the field selectors `kubectl get events` uses."""

    allow_create_on_update = True
    # Events never take part in garbage collection (eventStrategy.DefaultGarbageCollectionPolicy).
    garbage_collection_policy = propagation.UNSUPPORTED
    name_rule = staticmethod(name_is_path_segment)
    require_standard_finalizers = False
    field_labels = frozenset(
        {
            "metadata.name",
            "metadata.namespace",
            "reason",
            "reportingComponent",
            "source",
            "type",
            *(f"involvedObject.{f}" for f in _REFERENCE_FIELDS),
        }
    )

    def validate(self, obj: Obj) -> list[FieldError]:
        # The generic ObjectMeta check only runs once the kind's own checks passed.
        return validation.validate_event_legacy(obj) or super().validate(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_update(new, old) + validation.validate_event_legacy(new)

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        """ToSelectableFields of a core/v1 Event."""
        fields = {
            f"involvedObject.{f}": _str(meta.get_path(obj, "involvedObject", f))
            for f in _REFERENCE_FIELDS
        }
        reporting = _str(obj.get("reportingComponent"))
        fields.update(
            {
                "reason": _str(obj.get("reason")),
                "reportingComponent": reporting,
                # Events from the new API have no source; they select by their controller.
                "source": _str(meta.get_path(obj, "source", "component")) or reporting,
                "type": _str(obj.get("type")),
            }
        )
        return fields


class EventsV1Strategy(Strategy):
    """How the registry treats an events.k8s.io/v1 Event: the same storage as core Events, validated
    in its core form with the newer API's stricter rules."""

    allow_create_on_update = True
    # Stored as core/v1 Events, in the one storage both versions share.
    converts_storage = True
    # The same storage as core Events, so the same (absent) garbage collection.
    garbage_collection_policy = propagation.UNSUPPORTED
    field_labels = frozenset(
        {
            "metadata.name",
            "metadata.namespace",
            "reason",
            "reportingController",
            "source",
            "type",
            *(f"regarding.{f}" for f in _REFERENCE_FIELDS),
        }
    )

    def to_storage(self, obj: Obj) -> Obj:
        return to_core(obj)

    def from_storage(self, obj: Obj) -> Obj:
        return from_core(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        core = to_core(obj)
        errs = validation.validate_event_legacy(core) + super().validate(obj)
        errs += validation.validate_event_strict(core)
        # The generic check (a name that fits in a URL) adds nothing once ObjectMeta passed.
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        core_new, core_old = to_core(new), to_core(old)
        return (
            super().validate_update(new, old)
            + validation.validate_event_legacy(core_new)
            + validation.validate_event_update_strict(core_new, core_old)
        )

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        """The core Event's selectable fields, under the names events.k8s.io/v1 accepts."""
        fields = {
            f"regarding.{f}": _str(meta.get_path(obj, "regarding", f)) for f in _REFERENCE_FIELDS
        }
        controller = _str(obj.get("reportingController"))
        fields.update(
            {
                "reason": _str(obj.get("reason")),
                "reportingController": controller,
                "source": _str(meta.get_path(obj, "deprecatedSource", "component")) or controller,
                "type": _str(obj.get("type")),
            }
        )
        return fields


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
