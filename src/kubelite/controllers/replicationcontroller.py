"""The ReplicationController controller: the ReplicaSet controller on v1 ReplicationControllers.

Kubernetes runs its ReplicaSet controller for ReplicationControllers too, converting them on
the way in and out (`pkg/controller/replication`). The only difference the controller sees is
the selector: a plain label map, which selects nothing when empty.
"""

from __future__ import annotations

from kubelite.api import labels
from kubelite.api.resources import REPLICATION_CONTROLLERS
from kubelite.api.types import Obj
from kubelite.controllers.replicaset import ReplicaSetController


class ReplicationControllerController(ReplicaSetController):
    """The ReplicaSet controller for v1 ReplicationControllers, whose selector is a plain label
    map."""

    resource = REPLICATION_CONTROLLERS
    component = "replication-controller"
    queue_name = "replicationmanager"
    counts_terminating = False

    def selector(self, owner: Obj) -> labels.Selector:
        selector = (owner.get("spec") or {}).get("selector") or {}
        if not selector:
            return labels.nothing()
        return labels.selector_from_set(selector)
