"""The kubelet's checkpoint of per-container resources, kept across kubelet restarts.

Kubernetes' allocation manager keeps two such files in the kubelet's root directory
(`pkg/kubelet/allocation/state`): `allocated_pods_state`, the resources the kubelet admitted
each container with (a resize it accepted included), and `actuated_pods_state`, the resources it
last handed the runtime for each container (at creation, or by an in-place update). A restarted
kubelet must not forget either: a pod whose spec asks for more than it was allocated would
otherwise be taken as allocated at the new size without the fit check, and a resize the
runtime already carried out would be done again.

Each file is JSON, `{"data": {<pod uid>: {<container name>: <ResourceRequirements>}},
"checksum": <crc32 of the data>}`, replaced atomically on every change. A file whose checksum
does not match is refused (Kubernetes' checkpoint manager fails the same way) and treated as
empty, with a warning: the kubelet then takes every running pod's spec as its allocation.
"""

from __future__ import annotations

import copy
import json
import logging
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

from kubelite.api.types import Obj
from kubelite.runtime.state import write_atomically

log = logging.getLogger(__name__)

ALLOCATED_PODS_STATE = "allocated_pods_state"
ACTUATED_PODS_STATE = "actuated_pods_state"


def _checksum(data: Obj) -> int:
    return zlib.crc32(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())


class ResourceCheckpoint:
    """Per pod uid, per container name, a container's `resources` (requests and limits).

    With `path` None nothing is written (for tests and for kubelets without a root dir).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._pods: dict[str, dict[str, Obj]] = {}
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            stored = json.loads(path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as e:
            log.warning("reading checkpoint %s failed, starting empty: %s", path, e)
            return
        data = stored.get("data") if isinstance(stored, dict) else None
        if not isinstance(data, dict) or stored.get("checksum") != _checksum(data):
            log.warning("checkpoint %s is corrupt (checksum mismatch), starting empty", path)
            return
        self._pods = data

    def _save(self) -> None:
        if self.path is None:
            return
        body = {"data": self._pods, "checksum": _checksum(self._pods)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, json.dumps(body, sort_keys=True).encode())

    def has_pod(self, uid: str) -> bool:
        return uid in self._pods

    def pod(self, uid: str) -> dict[str, Obj] | None:
        """Every container's resources of the pod, or None when the pod has no entry."""
        found = self._pods.get(uid)
        return copy.deepcopy(found) if found is not None else None

    def pod_view(self, uid: str) -> Mapping[str, Obj] | None:
        """`pod` without the copy, for readers that copy what they keep (never to be changed)."""
        return self._pods.get(uid)

    def container(self, uid: str, name: str) -> Obj | None:
        found = (self._pods.get(uid) or {}).get(name)
        return copy.deepcopy(found) if found is not None else None

    def set_pod(self, uid: str, containers: dict[str, Obj]) -> None:
        if self._pods.get(uid) == containers:
            return
        self._pods[uid] = copy.deepcopy(containers)
        self._save()

    def set_container(self, uid: str, name: str, resources: Obj) -> None:
        pod = self._pods.setdefault(uid, {})
        if pod.get(name) == resources:
            return
        pod[name] = copy.deepcopy(resources)
        self._save()

    def remove_pod(self, uid: str) -> None:
        if self._pods.pop(uid, None) is not None:
            self._save()

    def remove_orphans(self, keep: Iterable[str]) -> None:
        """Drop every pod not in `keep` (RemoveOrphanedPods)."""
        wanted = set(keep)
        gone = [uid for uid in self._pods if uid not in wanted]
        for uid in gone:
            del self._pods[uid]
        if gone:
            self._save()

    def uids(self) -> list[str]:
        return list(self._pods)
