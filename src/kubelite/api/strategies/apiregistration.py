"""The APIService strategy (apiregistration.k8s.io/v1,
`kube-aggregator/pkg/registry/apiservice/strategy.go`).

An APIService tells the aggregator which API server serves a group version: itself (a local
APIService, no `spec.service`) or one behind a Service. kubelite stores and serves them with
Kubernetes' defaults and validation, but aggregates nothing: no request is proxied to the
Service an APIService names, and nothing checks that it is reachable, so its Available
condition is only ever the one a local APIService gets when it is created (or what a client
writes through `/status`).
"""

from __future__ import annotations

from kubelite.api import meta
from kubelite.api.defaulting import apiregistration as defaults
from kubelite.api.errors import FieldError
from kubelite.api.strategy import Strategy
from kubelite.api.types import Obj
from kubelite.api.validation import apiregistration as validation
from kubelite.api.validation.objectmeta import validate_object_meta, validate_object_meta_update

# NewLocalAvailableAPIServiceCondition (apiregistration/helpers.go).
AVAILABLE = "Available"
LOCAL_REASON = "Local"
LOCAL_MESSAGE = "Local APIServices are always available"
# What a write through /status may not change in the metadata (the status strategy's
# PrepareForUpdate puts them back from the stored object).
_STATUS_PROTECTED_METADATA = ("labels", "annotations", "finalizers", "ownerReferences")


class APIServiceStrategy(Strategy):
    """How the registry treats an APIService: cluster-scoped, named `<version>.<group>`, with a
    status subresource; a local one is Available from the start."""

    namespaced = False
    has_status_subresource = True

    def default(self, obj: Obj) -> None:
        defaults.default_api_service(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        if not isinstance(meta.get_path(obj, "spec", "service"), dict):
            obj["status"] = {
                "conditions": [
                    {
                        "type": AVAILABLE,
                        "status": "True",
                        "lastTransitionTime": meta.format_time(meta.now()),
                        "reason": LOCAL_REASON,
                        "message": LOCAL_MESSAGE,
                    }
                ]
            }

    def validate(self, obj: Obj) -> list[FieldError]:
        """ValidateAPIService: ObjectMeta with the `<version>.<group>` name rule, then the spec."""
        return validate_object_meta(
            obj, namespaced=False, name_rule=validation.name_rule(obj)
        ) + validation.validate_api_service_spec(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        """ValidateAPIServiceUpdate: the update rules of ObjectMeta, and all of a create's
        rules again (the name rule too: a spec that no longer matches the name is refused)."""
        return validate_object_meta_update(new, old) + self.validate(new)

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_status_update(new, old)
        new_md = meta.metadata(new)
        old_md = meta.dict_field(old, "metadata")
        for key in _STATUS_PROTECTED_METADATA:
            if key in old_md:
                new_md[key] = old_md[key]
            else:
                new_md.pop(key, None)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_status_update(new, old) + validation.validate_api_service_status(
            new
        )
