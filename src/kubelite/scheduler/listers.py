"""The scheduler's listers of Services, ReplicationControllers, ReplicaSets and StatefulSets.

kube-scheduler keeps these four caches for one reason: PodTopologySpread's default constraints
spread the pods of a workload, and a pod without constraints of its own names no selector, so
the plugin builds one from the Services and the controller that select the pod
(helper.DefaultSelector). Here they are the process' shared informers (in `kubelite
control-plane` the controllers' own, which already watch the three workload kinds), read
through the WorkloadListers protocol the plugins see.

No event of theirs wakes a parked pod, as in kube-scheduler 1.33, which registers no queue
handler for them: the default constraints are ScheduleAnyway, so they only score, and never make
a pod unschedulable that a new Service or ReplicaSet could make fit.
"""

from __future__ import annotations

from kubelite.api.resources import (
    PERSISTENT_VOLUME_CLAIMS,
    REPLICA_SETS,
    REPLICATION_CONTROLLERS,
    SERVICES,
    STATEFUL_SETS,
)
from kubelite.api.types import Obj
from kubelite.client.informer import Informer, by_namespace
from kubelite.client.informers import SharedInformerFactory

# The index the controllers also keep on these informers (a shared index, built once).
_NAMESPACE_INDEX = "namespace"


class InformerListers:
    """WorkloadListers over a SharedInformerFactory's informers."""

    def __init__(self, factory: SharedInformerFactory) -> None:
        self._services = factory.informer(SERVICES)
        # Every cycle of a pod without constraints asks for its namespace's Services.
        self._services.add_indexer(_NAMESPACE_INDEX, by_namespace)
        self._replication_controllers = factory.informer(REPLICATION_CONTROLLERS)
        self._replica_sets = factory.informer(REPLICA_SETS)
        self._stateful_sets = factory.informer(STATEFUL_SETS)
        self.claims = factory.informer(PERSISTENT_VOLUME_CLAIMS)

    def informers(self) -> list[Informer]:
        """The informers to wait for before scheduling, as kube-scheduler waits for all its
        caches: a pod scheduled before them would miss its default spreading."""
        return [
            self._services,
            self._replication_controllers,
            self._replica_sets,
            self._stateful_sets,
            self.claims,
        ]

    def services(self, namespace: str) -> list[Obj]:
        return self._services.by_index(_NAMESPACE_INDEX, namespace)

    def replication_controller(self, namespace: str, name: str) -> Obj | None:
        return self._replication_controllers.get(f"{namespace}/{name}")

    def replica_set(self, namespace: str, name: str) -> Obj | None:
        return self._replica_sets.get(f"{namespace}/{name}")

    def stateful_set(self, namespace: str, name: str) -> Obj | None:
        return self._stateful_sets.get(f"{namespace}/{name}")

    def persistent_volume_claim(self, namespace: str, name: str) -> Obj | None:
        return self.claims.get(f"{namespace}/{name}")
