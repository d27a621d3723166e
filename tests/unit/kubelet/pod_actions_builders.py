"""Builders for the kubelet's pod-sync tests (`pod_actions.compute_pod_actions`): containers with
their own restart policy and rules, a sandbox, runtime statuses of containers, and the
computation over them, shared by the tests of the plain sync, of restart rules and of the status
those rules give a pod."""

from __future__ import annotations

from typing import Any

from kubelite.kubelet import pod_actions as pa
from kubelite.runtime.cri import (
    ContainerMetadata,
    ContainerState,
    ContainerStatus,
    PodSandboxMetadata,
    PodSandboxState,
    PodSandboxStatus,
)


def rule(action: str = "Restart", *values: int, operator: str = "In") -> dict[str, Any]:
    """A container's restartPolicyRules entry on its exit codes (42 when none are given)."""
    return {"action": action, "exitCodes": {"operator": operator, "values": list(values or (42,))}}


def c(name: str, policy: str | None = None, *rules: dict[str, Any]) -> dict[str, Any]:
    """A container, with its own restartPolicy and restartPolicyRules where given."""
    made: dict[str, Any] = {"name": name, "image": "busybox"}
    if policy is not None:
        made["restartPolicy"] = policy
    if rules:
        made["restartPolicyRules"] = list(rules)
    return made


def sandbox(ready: bool = True, attempt: int = 0, ip: str = "10.42.0.5") -> PodSandboxStatus:
    """The sandbox of pod default/p (uid u1) of the given attempt."""
    return PodSandboxStatus(
        id=f"sb{attempt}",
        metadata=PodSandboxMetadata("p", "u1", "default", attempt),
        state=PodSandboxState.SANDBOX_READY if ready else PodSandboxState.SANDBOX_NOTREADY,
        created_at=0,
        ip=ip,
    )


def ctr(
    name: str,
    state: ContainerState,
    exit_code: int = 0,
    *,
    cid: str = "",
    created: int = 0,
    spec_hash: str = "h",
    **kw: Any,
) -> ContainerStatus:
    """The runtime's status of a container (id `id-<name>` unless `cid`), made from a spec
    whose hash is `spec_hash` ("h": the one `compute` gives every container)."""
    return ContainerStatus(
        id=cid or f"id-{name}",
        metadata=ContainerMetadata(name),
        state=state,
        created_at=created,
        exit_code=exit_code,
        annotations={pa.HASH_ANNOTATION: spec_hash},
        **kw,
    )


def compute(
    spec: dict[str, Any],
    *containers: ContainerStatus,
    sandboxes: tuple[PodSandboxStatus | None, ...] = (None,),
    probes: dict[tuple[str, str], str] | None = None,
    restart_all: bool = False,
) -> pa.PodActions:
    """What the sync does with pod `spec` given the containers' statuses and the sandboxes
    (None: a ready one; none at all: a new pod); `probes` answers (container id, probe kind)."""
    made = [sandbox() if s is None else s for s in sandboxes]
    # Newest first, as the runtime status lists them.
    ordered = sorted(containers, key=lambda s: s.created_at, reverse=True)
    status = pa.PodRuntimeStatus(sandboxes=made, containers=ordered)
    results = probes or {}
    return pa.compute_pod_actions(
        spec,
        status,
        probe_result=lambda cid, kind: results.get((cid, kind)),
        spec_hash=lambda _: "h",
        restart_all=restart_all,
    )
