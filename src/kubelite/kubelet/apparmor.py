"""The kubelet's AppArmor admission (pkg/security/apparmor/validate.go, appArmorAdmitHandler).

A pending pod that asks for any AppArmor profile other than Unconfined (by a pod or container
field, or a container's deprecated annotation) is rejected when the node does not enforce
AppArmor, with reason `AppArmor` and `Cannot enforce AppArmor: AppArmor is not enabled on the
host`; Kubernetes checks the host once, when the kubelet starts. On a node with AppArmor a
Localhost profile must name a profile.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubelite.api import pods as podutil
from kubelite.api.types import Obj
from kubelite.kubelet import security_context as scx
from kubelite.kubelet.admission import PodAdmitResult
from kubelite.runtime.oci import apparmor

NOT_ADMITTED_REASON = "AppArmor"
NOT_ENABLED = "AppArmor is not enabled on the host"


@dataclass(frozen=True)
class AppArmorAdmission:
    """The admit handler, with the host's verdict taken when the kubelet started."""

    host_error: str

    @classmethod
    def for_this_node(cls) -> AppArmorAdmission:
        return cls("" if apparmor.is_enabled() else NOT_ENABLED)

    def validate(self, pod: Obj) -> str:
        """validator.Validate: "" if the pod can run here, else why not."""
        if not scx.apparmor_required(pod):
            return ""
        if self.host_error:
            return self.host_error
        for container in podutil.all_containers(pod.get("spec") or {}):
            field = scx.apparmor_field(pod, container)
            if (
                field is not None
                and field.get("type") == "Localhost"
                and not (field.get("localhostProfile") or "").strip()
            ):
                return f"invalid empty AppArmor profile name: {field!r}"
        return ""

    def admit(self, pod: Obj) -> PodAdmitResult:
        # A pod already running or ended is not checked again.
        if ((pod.get("status") or {}).get("phase") or "Pending") != "Pending":
            return PodAdmitResult.admitted()
        problem = self.validate(pod)
        if not problem:
            return PodAdmitResult.admitted()
        return PodAdmitResult.reject(NOT_ADMITTED_REASON, f"Cannot enforce AppArmor: {problem}")
