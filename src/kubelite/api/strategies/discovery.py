"""The EndpointSlice strategy (discovery.k8s.io/v1, `pkg/registry/discovery/endpointslice`).

An EndpointSlice has no spec and no status: everything outside metadata is its content, and
any change to it (or to its labels, which tie it to its Service) is a new generation, so that
the controllers that write slices can tell their own stale copies from current ones. Node
hints (`hints.forNodes`) are kept: PreferSameTrafficDistribution, which they belong to, is GA
and locked on since Kubernetes 1.35, so its dropDisabledFields drops nothing any more.
"""

from __future__ import annotations

from kubelite.api import meta
from kubelite.api.defaulting import discovery as defaults
from kubelite.api.errors import FieldError
from kubelite.api.strategy import Strategy
from kubelite.api.types import Obj
from kubelite.api.validation import discovery as validation

_META = ("metadata", "apiVersion", "kind")


class EndpointSliceStrategy(Strategy):
    """How the registry treats an EndpointSlice: defaults and validation."""

    tracks_generation = True

    def default(self, obj: Obj) -> None:
        defaults.default_endpoint_slice(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_endpoint_slice(obj)

    def canonicalize(self, obj: Obj) -> None:
        """`endpoints` and `ports` are always written, `null` when empty: Go's encoder writes
        the nil slices (no omitempty) that Kubernetes' storage makes of empty ones."""
        for field in ("endpoints", "ports"):
            if not obj.get(field):
                obj[field] = None

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        """PrepareForUpdate: anything but metadata changed, or the labels did."""
        content_new = {k: v for k, v in new.items() if k not in _META}
        content_old = {k: v for k, v in old.items() if k not in _META}
        return content_new != content_old or meta.labels_of(new) != meta.labels_of(old)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_update(new, old) + validation.validate_endpoint_slice_update(
            new, old
        )
