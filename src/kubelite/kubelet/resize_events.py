"""The events the kubelet sends about an in-place resize (pkg/kubelet/events: event.go's resize
reasons, resize.go's messages).

Kubernetes 1.37's kubelet tells a pod's owner what became of each resize in five events:

- `ResizeStarted` (Normal): the allocation manager accepted a resize (handlePodResourcesResize);
- `ResizeDeferred` / `ResizeInfeasible` (Warning): the resize does not fit now / ever, sent when
  the PodResizePending condition changes (an unchanged verdict sends nothing);
- `ResizeCompleted` (Normal): the runtime runs the pod as allocated, when the kubelet clears
  PodResizeInProgress;
- `ResizeError` (Warning): the actuation failed, when PodResizeInProgress takes reason Error
  with a new message.

Each message is a prefix and the resources in JSON, as Go's json.Marshal writes them:

    Pod resize started: {"containers":[{"name":"c0","resources":{"limits":{"cpu":"100m"},
    "requests":{"cpu":"100m"}}}],"generation":2}

`initContainers` (every init container, sidecar or not) and `containers` are left out when
empty; each container's `resources` is written even when empty (`{}`), limits before requests,
quantities in canonical form; `generation` always; `error` (the pending condition's message or
the runtime's error) only when there is one. The pod-level resources are not part of the
summary: Kubernetes' podResourceSummary has only a TODO for them.
"""

from __future__ import annotations

import json
from typing import Any

from kubelite.api import pods as podutil
from kubelite.api.quantity import Quantity
from kubelite.api.types import Obj

# Event reasons (events.ResizeStarted and the others: the reason is the constant's name).
RESIZE_STARTED = "ResizeStarted"
RESIZE_COMPLETED = "ResizeCompleted"
RESIZE_DEFERRED = "ResizeDeferred"
RESIZE_INFEASIBLE = "ResizeInfeasible"
RESIZE_ERROR = "ResizeError"

NORMAL = "Normal"
WARNING = "Warning"


def started_message(pod: Obj, generation: int) -> str:
    """PodResizeStartedMsg, of the pod as now allocated."""
    return _message("Pod resize started", pod, generation, "")


def completed_message(pod: Obj, generation: int) -> str:
    """PodResizeCompletedMsg, of the allocated pod and the generation the resize was for."""
    return _message("Pod resize completed", pod, generation, "")


def error_message(pod: Obj, generation: int, error: str) -> str:
    """PodResizeErrorMsg: the allocated pod, and what the runtime said."""
    return _message("Pod resize error", pod, generation, error)


def pending_message(pod: Obj, reason: str, message: str, generation: int) -> str:
    """PodResizePendingMsg: `Pod resize Deferred: ...` / `Pod resize Infeasible: ...` of the
    pod as its spec asks, with the verdict's message as the error."""
    return _message(f"Pod resize {reason}", pod, generation, message)


def pending_reason(reason: str) -> str:
    """The event reason of a PodResizePending reason: Infeasible, or else Deferred."""
    return RESIZE_INFEASIBLE if reason == "Infeasible" else RESIZE_DEFERRED


def _message(prefix: str, pod: Obj, generation: int, error: str) -> str:
    return f"{prefix}: {_summary(pod, generation, error)}"


def _summary(pod: Obj, generation: int, error: str) -> str:
    """makeResourceSummaryFromSpec, marshalled."""
    spec = podutil.spec_of(pod)
    summary: dict[str, Any] = {}
    for key in ("initContainers", "containers"):
        entries = [_container(c) for c in spec.get(key) or () if isinstance(c, dict)]
        if entries:
            summary[key] = entries
    summary["generation"] = generation
    if error:
        summary["error"] = error
    return _go_json(summary)


def _container(container: Obj) -> Obj:
    resources = container.get("resources") or {}
    out: Obj = {}
    # v1.ResourceRequirements' field order: limits, requests, claims (each omitted when empty).
    for key in ("limits", "requests"):
        values = resources.get(key) or {}
        if values:
            out[key] = {name: str(Quantity.from_json(values[name])) for name in sorted(values)}
    if resources.get("claims"):
        out["claims"] = resources["claims"]
    return {"name": container.get("name", ""), "resources": out}


def _go_json(value: Any) -> str:
    """json.Marshal's bytes: compact, UTF-8, with <, > and & escaped as Go escapes them."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
