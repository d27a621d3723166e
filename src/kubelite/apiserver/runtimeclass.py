"""The RuntimeClass admission plugin, for a cluster that has no RuntimeClass.

kube-apiserver runs `plugin/pkg/admission/runtimeclass` on every pod create: a pod naming a
`runtimeClassName` gets that RuntimeClass's overhead and scheduling, and is refused if the
RuntimeClass does not exist; a pod that sets `spec.overhead` itself is refused unless its
RuntimeClass defines the very same overhead. kubelite serves no node.k8s.io RuntimeClasses, so
both checks always refuse, with the plugin's words (a 403):

- in the mutating phase, before validation: `pods "web" is forbidden: pod rejected:
  RuntimeClass "kata" not found`;
- in the validating phase, after validation (so an invalid overhead is a 422 first):
  `pods "web" is forbidden: pod rejected: Pod Overhead set without corresponding RuntimeClass
  defined Overhead`.

An empty `runtimeClassName` is left to validation's 422: Kubernetes looks the empty name up and
fails with a 500 ("resource name may not be empty").
"""

from __future__ import annotations

from kubelite.api import errors, meta
from kubelite.api.kinds import ResourceType
from kubelite.api.types import Obj


def _refusal(resource: ResourceType, pod: Obj, reason: str) -> errors.StatusError:
    return errors.forbidden(resource.plural, meta.name_of(pod), f"pod rejected: {reason}")


class RuntimeClassAdmission:
    """Both phases of the plugin for pods; `admit` is mutating, `validate` validating."""

    def __init__(self, pods: ResourceType) -> None:
        self.pods = pods

    async def admit(
        self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        """prepareObjects: the named RuntimeClass must exist, and none does."""
        if operation != "CREATE" or resource is not self.pods:
            return
        name = meta.get_path(obj, "spec", "runtimeClassName")
        if isinstance(name, str) and name:
            raise _refusal(resource, obj, f"RuntimeClass {errors.go_quote(name)} not found")

    async def validate(
        self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        """validateOverhead: an overhead only a RuntimeClass may set."""
        if operation != "CREATE" or resource is not self.pods:
            return
        if (obj.get("spec") or {}).get("overhead") is not None:
            raise _refusal(
                resource,
                obj,
                "Pod Overhead set without corresponding RuntimeClass defined Overhead",
            )
