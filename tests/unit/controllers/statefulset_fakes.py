"""In-memory stand-ins for the API behind the StatefulSet controller's logic (unit tests only).

`FakeObjects` holds pods and claims as the informers' caches would and records every write;
`FakeHistory` keeps ControllerRevisions. Creating a pod stores it as the API server would
answer it: with a uid and a Pending phase.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from kubelite.api import meta
from kubelite.client.errors import APIForbiddenError
from kubelite.controllers import statefulset_pods as sp
from kubelite.controllers import statefulset_revisions as revs

Obj = dict[str, Any]
NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
_uids = itertools.count(1)


def stateful_set(replicas: int = 3, image: str = "redis:7", **spec: Any) -> Obj:
    body: Obj = {
        "serviceName": "redis-svc",
        "replicas": replicas,
        "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "revisionHistoryLimit": 10,
        "selector": {"matchLabels": {"app": "redis"}},
        "template": {
            "metadata": {"labels": {"app": "redis"}},
            "spec": {"containers": [{"name": "redis", "image": image}]},
        },
    }
    body.update(spec)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "redis", "namespace": "default", "uid": "set-uid", "generation": 1},
        "spec": body,
        "status": {},
    }


def running(pod: Obj, *, ready_since: dt.datetime = NOW - dt.timedelta(hours=1)) -> Obj:
    pod["status"] = {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": meta.format_time(ready_since)}
        ],
    }
    return pod


class FakeObjects:
    """Pods and claims by name, and the writes made, in order, as (verb, kind, name)."""

    def __init__(self) -> None:
        self.pods: dict[str, Obj] = {}
        self.claims: dict[str, Obj] = {}
        self.actions: list[tuple[str, str, str]] = []
        self.refuse: set[tuple[str, str]] = set()

    def _check(self, verb: str, name: str) -> None:
        if (verb, name) in self.refuse:
            raise APIForbiddenError({"code": 403, "reason": "Forbidden", "message": "refused"})

    async def create_pod(self, pod: Obj) -> Obj:
        name = meta.name_of(pod)
        self._check("create", name)
        self.actions.append(("create", "pod", name))
        stored = meta.clone(pod)
        stored["metadata"]["uid"] = f"pod-uid-{next(_uids)}"
        stored["status"] = {"phase": "Pending"}
        self.pods[name] = stored
        return stored

    def get_pod(self, namespace: str, name: str) -> Obj | None:
        return self.pods.get(name)

    async def update_pod(self, pod: Obj) -> Obj:
        self.actions.append(("update", "pod", meta.name_of(pod)))
        self.pods[meta.name_of(pod)] = pod
        return pod

    async def delete_pod(self, pod: Obj) -> None:
        self._check("delete", meta.name_of(pod))
        self.actions.append(("delete", "pod", meta.name_of(pod)))
        self.pods.pop(meta.name_of(pod), None)

    async def create_claim(self, claim: Obj) -> Obj:
        self.actions.append(("create", "claim", meta.name_of(claim)))
        stored = meta.clone(claim)
        stored["metadata"]["uid"] = f"claim-uid-{next(_uids)}"
        self.claims[meta.name_of(claim)] = stored
        return stored

    def get_claim(self, namespace: str, name: str) -> Obj | None:
        return self.claims.get(name)

    async def update_claim(self, claim: Obj) -> Obj:
        self.actions.append(("update", "claim", meta.name_of(claim)))
        self.claims[meta.name_of(claim)] = claim
        return claim

    def set_pods(self, sset: Obj) -> list[Obj]:
        """The pods the controller would claim, in no particular order."""
        return [p for p in self.pods.values() if sp.is_member(sset, p)]

    def pod_names(self) -> list[str]:
        return sorted(self.pods, key=lambda n: int(n.rsplit("-", 1)[1]))


class FakeHistory:
    def __init__(self) -> None:
        self.revisions: dict[str, Obj] = {}
        self.deleted: list[str] = []

    async def create(self, sset: Obj, revision: Obj, collision_count: int) -> tuple[Obj, int]:
        stored = meta.clone(revision)
        existing = self.revisions.get(meta.name_of(stored))
        if existing is not None and revs.equal_revision(existing, stored):
            return existing, collision_count
        stored["metadata"]["creationTimestamp"] = meta.format_time(NOW)
        self.revisions[meta.name_of(stored)] = stored
        return stored, collision_count

    async def renumber(self, revision: Obj, number: int) -> Obj:
        renumbered = {**revision, "revision": number}
        self.revisions[meta.name_of(revision)] = renumbered
        return renumbered

    async def delete(self, revision: Obj) -> None:
        self.deleted.append(meta.name_of(revision))
        self.revisions.pop(meta.name_of(revision), None)

    def listed(self) -> list[Obj]:
        return list(self.revisions.values())
