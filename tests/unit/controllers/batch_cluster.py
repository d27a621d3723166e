"""The Job and CronJob controllers' unit tests' cluster: the real API server (`testcluster`),
a test clock, and a harness that feeds the controllers' informers from the server as watches
would.

`ClusterAPI` is what a test reads and writes the cluster with, from plain functions (its
requests block; see `testcluster.BlockingClient`): the objects, what kubelets report of pods
(`run`, `finish`), and `writes`, the writes the controller asked for, in order, so a test can
say which requests a sync made. Time is `ClusterAPI.now`, moved by the test: the controller is
given it, and the server stamps objects with it (`TestCluster.freeze_time`).
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
from typing import Any

from testcluster import Recorder, TestCluster

from kubelite.api import meta
from kubelite.client.api import Resource
from kubelite.client.events import EventRecorder
from kubelite.client.informer import key_of
from kubelite.client.informers import SharedInformerFactory

Obj = dict[str, Any]
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)

RESOURCES = {
    "pods": Resource("", "v1", "pods", kind="Pod"),
    "events": Resource("", "v1", "events", kind="Event"),
    "jobs": Resource("batch", "v1", "jobs", kind="Job"),
    "cronjobs": Resource("batch", "v1", "cronjobs", kind="CronJob"),
}


class ClusterAPI:
    """The test's side of the cluster; `recorder` is the client the controller is given."""

    def __init__(self, kube: TestCluster) -> None:
        self.kube = kube
        self.namespace = kube.namespace
        self.recorder = Recorder(kube.client)
        self.clock = kube.freeze_time(T0)
        self._blocking = kube.blocking

    @property
    def now(self) -> dt.datetime:
        return self.clock.now

    @now.setter
    def now(self, when: dt.datetime) -> None:
        self.clock.now = when

    def _stamp(self) -> str:
        return meta.format_time(self.now)

    # --- reading ------------------------------------------------------------------------------

    def find(self, plural: str, name: str) -> Obj:
        return self._blocking.get(RESOURCES[plural], name, namespace=self.namespace)

    def of(self, plural: str) -> list[Obj]:
        """The objects of a kind, those the controller made in the order it made them."""
        listed = self._blocking.list(RESOURCES[plural], namespace=self.namespace)
        made = {w.name: i for i, w in enumerate(self.recorder.writes) if w.verb == "create"}

        def order(obj: Obj) -> tuple[str, float, str]:
            md = obj["metadata"]
            return (md.get("generateName", ""), made.get(md["name"], -1), md["name"])

        return sorted(listed.get("items") or [], key=order)

    def pods(self) -> list[Obj]:
        return self.of("pods")

    @property
    def events(self) -> list[Obj]:
        """The namespace's Events, oldest first (their names end in the time they were made)."""
        listed = self._blocking.list(RESOURCES["events"], namespace=self.namespace)
        return sorted(
            listed.get("items") or [],
            key=lambda e: int(e["metadata"]["name"].rsplit(".", 1)[1], 16),
        )

    @property
    def writes(self) -> list[tuple[Any, ...]]:
        """The controller's writes: ("create" | "status" | "unfinalize", plural, name) and
        ("delete", plural, name, propagation policy). Its only patches drop finalizers."""
        found: list[tuple[Any, ...]] = []
        for w in self.recorder.writes:
            if w.verb == "create":
                found.append(("create", w.plural, w.name))
            elif w.verb == "update":
                assert w.subresource == "status", w
                found.append(("status", w.plural, w.name))
            elif w.verb == "patch":
                found.append(("unfinalize", w.plural, w.name))
            else:
                found.append(("delete", w.plural, w.name, w.options.get("propagation_policy")))
        return found

    def clear_writes(self) -> None:
        self.recorder.writes.clear()

    # --- writing, as users and kubelets do -------------------------------------------------

    def add(self, plural: str, obj: Obj) -> Obj:
        """Create `obj`, then write its status (if it has one) through /status."""
        obj = copy.deepcopy(obj)
        md = obj["metadata"]
        for system in ("uid", "resourceVersion", "creationTimestamp", "generation"):
            md.pop(system, None)
        md["namespace"] = self.namespace
        status = obj.pop("status", None)
        stored = self._blocking.create(RESOURCES[plural], obj, namespace=self.namespace)
        if status:
            return self.set_status(plural, md["name"], status)
        return stored

    def set_status(self, plural: str, name: str, status: Obj) -> Obj:
        stored = self.find(plural, name)
        stored["status"] = status
        return self._blocking.update(
            RESOURCES[plural], stored, namespace=self.namespace, subresource="status"
        )

    def set_spec(self, plural: str, name: str, **changes: Any) -> Obj:
        stored = self.find(plural, name)
        stored["spec"].update(changes)
        return self._blocking.update(RESOURCES[plural], stored, namespace=self.namespace)

    def delete(self, plural: str, name: str) -> None:
        self._blocking.delete(
            RESOURCES[plural], name, namespace=self.namespace, propagation_policy="Background"
        )

    def run(self, pod: Obj, *, ready: bool = True, restarts: int = 0) -> Obj:
        return self.set_status(
            "pods",
            pod["metadata"]["name"],
            {
                "phase": "Running",
                "startTime": self._stamp(),
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                "containerStatuses": [
                    {
                        "name": "c",
                        "restartCount": restarts,
                        "state": {"running": {"startedAt": self._stamp()}},
                    }
                ],
            },
        )

    def finish(self, pod: Obj, code: int = 0, **status: Any) -> Obj:
        """The pod's container exited with `code` now, and the pod ended."""
        return self.set_status(
            "pods",
            pod["metadata"]["name"],
            {
                "phase": "Succeeded" if code == 0 else "Failed",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [
                    {
                        "name": "c",
                        "state": {"terminated": {"exitCode": code, "finishedAt": self._stamp()}},
                    }
                ],
                **status,
            },
        )


def new_job(
    api: ClusterAPI,
    name: str = "work",
    *,
    restart_policy: str = "Never",
    owner_references: list[Obj] | None = None,
    **spec: Any,
) -> Obj:
    """A Job created in the server (which defaults it and generates its selector)."""
    md: Obj = {"name": name}
    if owner_references:
        md["ownerReferences"] = owner_references
    job: Obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": md,
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": restart_policy,
                    "containers": [{"name": "c", "image": "i"}],
                }
            },
            **spec,
        },
    }
    return api.add("jobs", job)


def new_cron_job(api: ClusterAPI, name: str = "tick", **spec: Any) -> Obj:
    cron_job: Obj = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
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
    return api.add("cronjobs", cron_job)


def _recorders(controller: Any) -> list[EventRecorder]:
    found = []
    for value in vars(controller).values():
        if isinstance(value, EventRecorder):
            found.append(value)
        elif isinstance(getattr(value, "recorder", None), EventRecorder):
            found.append(value.recorder)
    return found


class Harness:
    """A controller over the test's cluster, its informers fed from the server before each
    sync."""

    def __init__(self, api: ClusterAPI, factory: Any) -> None:
        self.api = api
        self.informers = SharedInformerFactory(api.recorder)  # type: ignore[arg-type]
        self.controller = factory(api.recorder, self.informers, clock=lambda: api.now)

    def key(self, name: str = "work") -> str:
        return f"{self.api.namespace}/{name}"

    def refresh(self, *only: str) -> None:
        """Tell the informers (of the `only` plurals, if given) what changed in the server, as
        their watches would."""
        for informer in self.informers.informers():
            if only and informer.resource.plural not in only:
                continue
            fresh = {key_of(o): o for o in self.api.of(informer.resource.plural)}
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

    async def sync(self, key: str | None = None) -> float | None:
        self.refresh()
        again = await self.controller.sync(key or self.key())
        for recorder in _recorders(self.controller):  # Let the Events be sent.
            await asyncio.gather(*recorder._posting)
        return again
