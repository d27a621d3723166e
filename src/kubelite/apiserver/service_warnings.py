"""The `Warning` headers a Service write earns (`pkg/api/service/warnings.go`).

Kubernetes' Service strategy returns GetWarningsForService from WarningsOnCreate and
WarningsOnUpdate, and the registry adds them to the answer once validation has passed. kubelite
runs the same check as the last validating step of a Service create or update, so a refused
write warns of nothing, as in Kubernetes.

Only the deprecation of `spec.trafficDistribution: PreferClose` is warned of here: since
PreferSameTrafficDistribution went GA (1.35) PreferClose is a deprecated alias of
PreferSameZone (KEP-3015).
"""

from __future__ import annotations

from kubelite.api import meta
from kubelite.api.kinds import ResourceType
from kubelite.api.types import Obj
from kubelite.apiserver.auth import current_warnings

PREFER_CLOSE = "PreferClose"
PREFER_SAME_ZONE = "PreferSameZone"


def warnings_for_service(service: Obj) -> list[str]:
    """GetWarningsForService's texts for this Service, in Kubernetes' words."""
    warnings: list[str] = []
    if meta.get_path(service, "spec", "trafficDistribution") == PREFER_CLOSE:
        warnings.append(
            f'spec.trafficDistribution: "{PREFER_CLOSE}" is deprecated; use "{PREFER_SAME_ZONE}"'
        )
    return warnings


async def warn_about_service(
    operation: str, resource: ResourceType, obj: Obj, old: Obj | None
) -> None:
    """Validating admission: add the Service's warnings to the request's answer, each once
    (warning.AddWarning deduplicates; an update retried after a conflict runs this again)."""
    if operation not in ("CREATE", "UPDATE"):
        return
    sink = current_warnings.get()
    if sink is None:
        return
    for text in warnings_for_service(obj):
        if text not in sink:
            sink.append(text)
