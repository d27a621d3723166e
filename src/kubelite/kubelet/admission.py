"""Pod admission: whether this node takes a pod at all (the kubelet's PodAdmitHandlers).

Before the kubelet runs anything of a new pod it asks each admit handler in turn; the first that
refuses rejects the pod for good: a Warning event with the handler's reason and message, and the
status phase Failed with that reason and `Pod was rejected: <message>` (Kubelet.rejectPod). The
pod's containers are never made. kubelite's handlers are the sysctl allowlist (`sysctl`) and
AppArmor (`apparmor`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kubelite.api.types import Obj

REJECTED_MESSAGE_PREFIX = "Pod was rejected: "


@dataclass(frozen=True, slots=True)
class PodAdmitResult:
    """lifecycle.PodAdmitResult: admitted, or why not (a one-word reason and a message)."""

    admit: bool
    reason: str = ""
    message: str = ""

    @classmethod
    def admitted(cls) -> PodAdmitResult:
        return cls(True)

    @classmethod
    def reject(cls, reason: str, message: str) -> PodAdmitResult:
        return cls(False, reason, message)


PodAdmitHandler = Callable[[Obj], PodAdmitResult]


def can_admit(pod: Obj, handlers: Iterable[PodAdmitHandler]) -> PodAdmitResult:
    """canAdmitPod: the first refusal, or admitted."""
    for handler in handlers:
        result = handler(pod)
        if not result.admit:
            return result
    return PodAdmitResult.admitted()


def rejected_status(pod: Obj, result: PodAdmitResult, qos_class: str, start_time: str) -> Obj:
    """The status rejectPod sets (the status manager adds the start time), with the
    generation that was rejected as its observedGeneration (KEP-5067)."""
    status = pod.get("status") or {}
    rejected: Obj = {
        "phase": "Failed",
        "reason": result.reason,
        "message": REJECTED_MESSAGE_PREFIX + result.message,
        "qosClass": qos_class,
        "startTime": status.get("startTime") or start_time,
    }
    generation = (pod.get("metadata") or {}).get("generation")
    if generation:
        rejected["observedGeneration"] = generation
    return rejected
