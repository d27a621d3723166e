"""How the kubelet's messages and events name a pod and a container, in the kubelet's words.

`format_pod` is the kubelet's format.Pod (`name_namespace(uid)`), which hook error messages
quote; `field_path` is the event's fieldPath for a container (`spec.containers{app}`,
`spec.initContainers{sidecar}`), which `kubectl describe` shows as the event's source.
"""

from __future__ import annotations

from kubelite.api.types import Obj


def format_pod(pod: Obj) -> str:
    md = pod.get("metadata") or {}
    return f"{md.get('name', '')}_{md.get('namespace', '')}({md.get('uid', '')})"


def field_path(pod: Obj, container_name: str) -> str:
    spec = pod.get("spec") or {}
    if any(c.get("name") == container_name for c in spec.get("initContainers") or ()):
        return f"spec.initContainers{{{container_name}}}"
    return f"spec.containers{{{container_name}}}"
