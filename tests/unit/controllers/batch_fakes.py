"""An in-memory API for the Job and CronJob controllers' unit tests, and a harness that feeds
the controllers' informers from it as watches would.

`FakeAPI` keeps objects, assigns names, uids and resourceVersions, honours finalizers (a
deleted object with finalizers stays, marked, until they are removed), uid preconditions and
optimistic concurrency on status writes, and records every write in `writes`, so a test can
say which requests a sync made and in which order. Time is `FakeAPI.now`, moved by the test.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import itertools
from typing import Any

from kubelite.api import meta
from kubelite.api.strategies.batch import CronJobStrategy, JobStrategy
from kubelite.client.api import Resource
from kubelite.client.errors import APIAlreadyExistsError, APIConflictError, APINotFoundError
from kubelite.client.informer import key_of
from kubelite.client.informers import SharedInformerFactory

Obj = dict[str, Any]
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def _status(code: int, reason: str) -> Obj:
    return {"kind": "Status", "code": code, "reason": reason, "message": reason}


class FakeAPI:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.writes: list[tuple[Any, ...]] = []
        self.events: list[Obj] = []
        self.now = T0
        self._rv = itertools.count(1)
        self._ids = itertools.count(1)

    def _stamp(self) -> str:
        return meta.format_time(self.now)

    def add(self, plural: str, obj: Obj) -> Obj:
        md = obj["metadata"]
        md.setdefault("uid", f"uid-{next(self._ids)}")
        md.setdefault("creationTimestamp", self._stamp())
        md["resourceVersion"] = str(next(self._rv))
        self.objects[(plural, md.get("namespace", ""), md["name"])] = obj
        return obj

    def find(self, plural: str, name: str, namespace: str | None = "ns") -> Obj:
        obj = self.objects.get((plural, namespace or "", name))
        if obj is None:
            raise APINotFoundError(_status(404, "NotFound"))
        return obj

    def of(self, plural: str) -> list[Obj]:
        return [o for (p, _, _), o in self.objects.items() if p == plural]

    def _bump(self, obj: Obj) -> None:
        obj["metadata"]["resourceVersion"] = str(next(self._rv))

    async def get(self, resource: Resource, name: str, *, namespace: str | None = None) -> Obj:
        return copy.deepcopy(self.find(resource.plural, name, namespace))

    async def create(self, resource: Resource, body: Obj, **options: Any) -> Obj:
        obj = copy.deepcopy(body)
        md = obj["metadata"]
        md["namespace"] = options.get("namespace") or md.get("namespace", "")
        if resource.plural == "events":
            self.events.append(obj)
            return obj
        if not md.get("name"):
            md["name"] = f"{md['generateName']}{next(self._ids):05d}"
        if (resource.plural, md["namespace"], md["name"]) in self.objects:
            raise APIAlreadyExistsError(_status(409, "AlreadyExists"))
        self.writes.append(("create", resource.plural, md["name"]))
        self.add(resource.plural, obj)
        return copy.deepcopy(obj)

    async def update(
        self, resource: Resource, body: Obj, *, namespace: str | None = None, **options: Any
    ) -> Obj:
        stored = self.find(resource.plural, body["metadata"]["name"], namespace)
        if body["metadata"].get("resourceVersion") != stored["metadata"]["resourceVersion"]:
            raise APIConflictError(_status(409, "Conflict"))
        assert options.get("subresource") == "status"
        stored["status"] = copy.deepcopy(body.get("status") or {})
        self._bump(stored)
        self.writes.append(("status", resource.plural, stored["metadata"]["name"]))
        return copy.deepcopy(stored)

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Obj,
        *,
        namespace: str | None = None,
        **_: Any,
    ) -> Obj:
        stored = self.find(resource.plural, name, namespace)
        if resource.plural == "events":
            return stored
        md = stored["metadata"]
        changes = patch.get("metadata") or {}
        if changes.get("uid") not in (None, md["uid"]):
            raise APIConflictError(_status(409, "Conflict"))
        dropped = changes.get("$deleteFromPrimitiveList/finalizers") or []
        md["finalizers"] = [f for f in md.get("finalizers") or () if f not in dropped]
        if not md["finalizers"]:
            del md["finalizers"]
        self.writes.append(("unfinalize", resource.plural, name))
        self._bump(stored)
        self._collect(resource.plural, stored)
        return copy.deepcopy(stored)

    async def delete(
        self,
        resource: Resource,
        name: str,
        *,
        namespace: str | None = None,
        propagation_policy: str | None = None,
        preconditions: Obj | None = None,
        **_: Any,
    ) -> Obj:
        stored = self.find(resource.plural, name, namespace)
        for key, value in (preconditions or {}).items():
            if stored["metadata"].get(key) != value:
                raise APIConflictError(_status(409, "Conflict"))
        self.writes.append(("delete", resource.plural, name, propagation_policy))
        stored["metadata"].setdefault("deletionTimestamp", self._stamp())
        self._bump(stored)
        self._collect(resource.plural, stored)
        return copy.deepcopy(stored)

    def _collect(self, plural: str, obj: Obj) -> None:
        md = obj["metadata"]
        if md.get("deletionTimestamp") and not md.get("finalizers"):
            del self.objects[(plural, md.get("namespace", ""), md["name"])]

    # --- what kubelets would do -------------------------------------------------------------

    def run(self, pod: Obj, *, ready: bool = True) -> None:
        pod["status"] = {
            "phase": "Running",
            "startTime": self._stamp(),
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {"name": "c", "restartCount": 0, "state": {"running": {"startedAt": self._stamp()}}}
            ],
        }
        self._bump(pod)

    def finish(self, pod: Obj, code: int = 0, **status: Any) -> None:
        """The pod's container exited with `code` now, and the pod ended."""
        pod["status"] = {
            "phase": "Succeeded" if code == 0 else "Failed",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {
                    "name": "c",
                    "state": {"terminated": {"exitCode": code, "finishedAt": self._stamp()}},
                }
            ],
            **status,
        }
        self._bump(pod)

    def pods(self) -> list[Obj]:
        return sorted(self.of("pods"), key=lambda p: p["metadata"]["name"])


def new_job(api: FakeAPI, name: str = "work", **spec: Any) -> Obj:
    """A Job as the API server stores it: defaulted, with its generated selector."""
    job: Obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "ns", "uid": f"job-{name}"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}
            },
            **spec,
        },
    }
    strategy = JobStrategy()
    strategy.default(job)
    strategy.prepare_for_create(job)
    assert strategy.validate(job) == [], strategy.validate(job)
    return api.add("jobs", job)


def new_cron_job(api: FakeAPI, name: str = "tick", **spec: Any) -> Obj:
    cron_job: Obj = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": "ns", "uid": f"cj-{name}"},
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "i"}],
                        }
                    }
                }
            },
            **spec,
        },
    }
    strategy = CronJobStrategy()
    strategy.default(cron_job)
    strategy.prepare_for_create(cron_job)
    assert strategy.validate(cron_job) == [], strategy.validate(cron_job)
    return api.add("cronjobs", cron_job)


class Harness:
    """A controller over a FakeAPI, its informers fed from the API before each sync."""

    def __init__(self, api: FakeAPI, factory: Any) -> None:
        self.api = api
        self.informers = SharedInformerFactory(api)  # type: ignore[arg-type]
        self.controller = factory(api, self.informers, clock=lambda: api.now)

    def refresh(self, *only: str) -> None:
        """Tell the informers (of the `only` plurals, if given) what changed in the API, as
        their watches would."""
        for informer in self.informers.informers():
            if only and informer.resource.plural not in only:
                continue
            fresh = {key_of(o): copy.deepcopy(o) for o in self.api.of(informer.resource.plural)}
            for key, old in list(informer._cache.items()):
                if key not in fresh:
                    informer._remove(key)
                    informer._notify("DELETED", old, old)
            for key, obj in fresh.items():
                old = informer._cache.get(key)
                if old is None:
                    informer._store(key, obj)
                    informer._notify("ADDED", obj, None)
                elif old["metadata"]["resourceVersion"] != obj["metadata"]["resourceVersion"]:
                    informer._store(key, obj)
                    informer._notify("MODIFIED", obj, old)
            informer._synced.set()

    async def sync(self, key: str = "ns/work") -> float | None:
        self.refresh()
        again = await self.controller.sync(key)
        await asyncio.sleep(0)  # Let the Events be sent.
        await asyncio.sleep(0)
        return again
