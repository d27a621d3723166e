"""The strategy of core/v1 ResourceQuota (`pkg/registry/core/resourcequota/strategy.go`).

A quota's spec (what is limited, and for which objects) is written through the resource, its
status (the limits in force and what is used of them) only through `/status`: by the quota
controller, which recounts, and by quota admission, which charges each create as it admits
it. A new quota starts with an empty status, so that nobody can declare it already used.
"""

from __future__ import annotations

from kubelite.api.errors import FieldError
from kubelite.api.quantity import canonical_resource_list
from kubelite.api.strategy import Strategy
from kubelite.api.types import Obj
from kubelite.api.validation import resourcequota as validation


class ResourceQuotaStrategy(Strategy):
    """ResourceQuotas: spec through the resource, status through /status; a delete answers
    with the quota (ReturnDeletedObject in its storage.go)."""

    has_status_subresource = True
    returns_deleted_object = True

    def default(self, obj: Obj) -> None:
        """SetObjectDefaults_ResourceQuota: every ResourceList rounded up to millis and
        canonical (SetDefaults_ResourceList)."""
        for part, field in (("spec", "hard"), ("status", "hard"), ("status", "used")):
            section = obj.get(part)
            if isinstance(section, dict) and isinstance(section.get(field), dict):
                canonical_resource_list(section[field])

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_resource_quota(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_update(new, old) + validation.validate_resource_quota_update(
            new, old
        )

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_status_update(
            new, old
        ) + validation.validate_resource_quota_status_update(new)
