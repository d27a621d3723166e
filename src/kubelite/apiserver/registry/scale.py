"""The scale subresource: a workload's replicas, read and written as an autoscaling/v1 Scale.

Kubernetes' ScaleREST of Deployments, ReplicaSets, StatefulSets and ReplicationControllers:
GET builds a Scale from the workload (its replicas, status replicas and selector as a string);
a write takes the Scale's spec.replicas back into the workload, through the workload's update
rules, and records the writer's fields on the workload under the subresource "scale".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubelite.api import decoding, errors, meta, schema
from kubelite.api.types import Obj
from kubelite.apiserver import fieldmanager
from kubelite.apiserver.registry.generic import ResourceStore
from kubelite.apiserver.registry.interfaces import KindRef


def _scale_schema() -> schema.Node | None:
    return schema.load().for_kind("autoscaling", "v1", "Scale")


SCALE = KindRef("autoscaling", "v1", "Scale")


def selector_string(workload: Obj) -> str:
    """The workload's selector as a label selector string (Scale's status.selector)."""
    selector = meta.get_path(workload, "spec", "selector", default={}) or {}
    if workload.get("kind") == "ReplicationController":
        # A ReplicationController's selector is a plain label map.
        return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op = expr.get("operator")
        key = expr.get("key")
        values = ",".join(sorted(expr.get("values") or []))
        if op == "In":
            parts.append(f"{key} in ({values})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def scale_of(workload: Obj) -> Obj:
    """The Scale of a workload."""
    md = workload["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: md[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in md
        },
        "spec": {"replicas": meta.get_path(workload, "spec", "replicas", default=0)},
        "status": {
            "replicas": meta.get_path(workload, "status", "replicas", default=0),
            "selector": selector_string(workload),
        },
    }


class ScaleStore:
    """GET, PUT and PATCH of `<workloads>/<name>/scale` over the workload's storage."""

    kind = SCALE
    subresource = "scale"

    def __init__(self, workloads: ResourceStore) -> None:
        self.workloads = workloads
        self.resource = workloads.resource

    async def get(self, namespace: str, name: str) -> Obj:
        return scale_of(await self.workloads.get(namespace, name))

    async def update(
        self,
        namespace: str,
        name: str,
        change: Callable[[Obj], Any],
        *,
        manager: str,
        keep_resource_version: bool,
    ) -> Obj:
        """Write the replicas of the Scale `change` makes of the current one; the new Scale.

        With `keep_resource_version` (a PUT) the desired Scale's resourceVersion is a
        precondition on the workload; otherwise (a PATCH) conflicts are retried.
        """
        store = self.workloads
        resource = self.resource

        async def apply(workload: Obj | None) -> Obj:
            if workload is None:
                raise store.not_found(name)
            # Decoded as a Scale, as Kubernetes decodes the body into its Go type: a replicas
            # value of the wrong type or beyond int32 is a 400 naming the field. A null or
            # missing one leaves ScaleSpec.Replicas (an int32, not a pointer) at its zero
            # value, so it asks for 0 replicas, as it does of kube-apiserver.
            desired, _ = decoding.decode(
                change(scale_of(workload)), _scale_schema(), "Scale", "autoscaling/v1"
            )
            replicas = meta.get_path(desired, "spec", "replicas", default=0)
            if replicas < 0:
                problem = errors.invalid(
                    "spec.replicas", replicas, "must be greater than or equal to 0"
                )
                raise errors.invalid_object("Scale", name, [problem], "autoscaling")
            wanted_rv = meta.get_path(desired, "metadata", "resourceVersion", default="")
            if keep_resource_version and wanted_rv:
                workload["metadata"]["resourceVersion"] = wanted_rv
            else:
                workload["metadata"].pop("resourceVersion", None)
            workload.setdefault("spec", {})["replicas"] = replicas
            return workload

        result, _ = await store.update(
            namespace,
            name,
            apply,
            subresource=self.subresource,
            on_prepared=lambda new, old: fieldmanager.track_update(
                resource, old, new, manager, self.subresource
            ),
        )
        return scale_of(result)
