"""A non-sidecar init container may not ask to be restarted on resize (Kubernetes 1.36,
kubernetes#137458).

Such a container runs to completion before the app containers start and is never resized in
place, so a `resizePolicy` of `RestartContainer` on it can never mean anything; since 1.36 the API
server refuses it when a pod (or a pod template) is created. It is ratcheting validation: an
update of an object whose stored spec already had such a policy is let through, as
`GetValidationOptionsFromPodSpecAndMeta` allows what the old spec already uses.

The wording of the error is kubelite's: the stored copies of 1.37's validation.go did not show
the message #137458 added. It follows the neighbouring resize-policy check (`must be
'NotRequired' when `restartPolicy` is 'Never'`), at the same path and with the same value.
"""

from __future__ import annotations

from kubelite.api.errors import FieldError, child, invalid
from kubelite.api.pods import is_restartable_init_container
from kubelite.api.types import Obj

RESTART_CONTAINER = "RestartContainer"
MESSAGE = "must be 'NotRequired' for init containers without restartPolicy=Always"


def validate_init_container_resize_policy(container: Obj, path: str) -> list[FieldError]:
    """The check for one init container at `path` (`spec.initContainers[0]`)."""
    if is_restartable_init_container(container):
        return []
    return [
        invalid(child(path, "resizePolicy"), RESTART_CONTAINER, MESSAGE)
        for policy in container.get("resizePolicy") or ()
        if isinstance(policy, dict) and policy.get("restartPolicy") == RESTART_CONTAINER
    ]


def uses_restart_container_on_init_containers(spec: Obj | None) -> bool:
    """Whether a stored spec already has such a policy (what lets an update of it through)."""
    for container in (spec or {}).get("initContainers") or ():
        if isinstance(container, dict) and validate_init_container_resize_policy(container, ""):
            return True
    return False


def ratchet(errs: list[FieldError], old_spec: Obj | None) -> list[FieldError]:
    """`errs` without this check's errors when the stored spec already broke the rule."""
    if not uses_restart_container_on_init_containers(old_spec):
        return errs
    return [e for e in errs if not (e.detail == MESSAGE and e.value == RESTART_CONTAINER)]
