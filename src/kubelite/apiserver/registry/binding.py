"""pods/<name>/binding: the scheduler's door to a pod's node, which it may open once.

Kubernetes' BindingREST (`pkg/registry/core/pod/storage/storage.go`, `assignPod`): the Binding
names the node; the pod gets it in spec.nodeName only if it has none yet, is not being deleted,
has no scheduling gates left, and is the pod the Binding meant (its uid, when given). The pod's
PodScheduled condition turns True in the same write, and the Binding's annotations are copied
onto the pod.

What 1.37 adds, both on by default:

- ClearingNominatedNodeNameAfterBinding (KEP-5278, beta since 1.35): the bound pod's
  `status.nominatedNodeName` is cleared, whoever nominated it, so no stale nomination is left;
- PodTopologyLabelsAdmission (KEP-4742, beta since 1.35): the PodTopologyLabels admission puts
  the node's zone and region labels on the Binding (podtopologylabels.py), and every label of
  the Binding is copied onto the pod, replacing a value the pod had (copyLabelsWithOverwriting,
  as annotations are).
"""

from __future__ import annotations

from collections.abc import Mapping

from kubelite.api import errors, meta
from kubelite.api.conditions import update_pod_condition
from kubelite.api.pods import observed_by
from kubelite.api.types import Obj
from kubelite.apiserver import options, podtopologylabels
from kubelite.apiserver.registry.generic import ResourceStore
from kubelite.apiserver.registry.interfaces import KindRef, success

BINDING = KindRef("", "v1", "Binding")


class BindingStore:
    """POST of `pods/<name>/binding` over the pods' storage."""

    kind = BINDING
    subresource = "binding"

    def __init__(self, pods: ResourceStore) -> None:
        self.pods = pods

    async def create(
        self, namespace: str, name: str, body: Obj, query: Mapping[str, str]
    ) -> tuple[Obj, int]:
        """Assign the pod `name` to the Binding's node (dryRun from `query`); a 201 Status."""
        await self.bind(namespace, name, body, dry_run=options.dry_run(query))
        return success(201), 201

    async def bind(self, namespace: str, name: str, binding: Obj, *, dry_run: bool = False) -> Obj:
        """Assign the pod to the Binding's target node, once; the pod as written."""
        if meta.name_of(binding) and meta.name_of(binding) != name:
            raise errors.bad_request("name in URL does not match name in Binding object")
        target = binding.get("target") or {}
        problems = []
        if not target.get("name"):
            problems.append(errors.required("target.name"))
        if target.get("kind") not in (None, "", "Node"):
            problems.append(errors.not_supported("target.kind", target.get("kind"), ["Node"]))
        if problems:
            raise errors.invalid_object("Binding", name, problems)
        node_name = target["name"]
        annotations = meta.get_path(binding, "metadata", "annotations", default={})
        # Admission (PodTopologyLabels) labels the Binding before the storage sees it.
        podtopologylabels.merge_labels(
            binding, await podtopologylabels.node_topology_labels(self.pods.store, node_name)
        )
        labels = meta.labels_of(binding)
        wanted_uid = meta.get_path(binding, "metadata", "uid", default="")
        pods = self.pods

        def refuse(reason: str) -> errors.StatusError:
            return errors.conflict("pods/binding", name, reason)

        async def assign(pod: Obj | None) -> Obj:
            if pod is None:
                raise pods.not_found(name)
            md = pod["metadata"]
            if wanted_uid and md.get("uid") != wanted_uid:
                raise refuse(
                    f"Precondition failed: UID in precondition: {wanted_uid}, UID in object "
                    f"meta: {md.get('uid')}"
                )
            if md.get("deletionTimestamp"):
                raise refuse(f"pod {name} is being deleted, cannot be assigned to a host")
            spec = pod.setdefault("spec", {})
            if spec.get("nodeName"):
                raise refuse(f'pod {name} is already assigned to node "{spec["nodeName"]}"')
            if spec.get("schedulingGates"):
                raise refuse(f"pod {name} has non-empty .spec.schedulingGates")
            spec["nodeName"] = node_name
            status = pod.get("status")
            if isinstance(status, dict):
                status.pop("nominatedNodeName", None)
            if annotations:
                md.setdefault("annotations", {}).update(annotations)
            if labels:
                pod_labels = md.get("labels")
                if not isinstance(pod_labels, dict):
                    pod_labels = md["labels"] = {}
                pod_labels.update(labels)
            # podutil.UpdatePodCondition: the whole condition replaced (an earlier
            # Unschedulable reason and message go), its time kept if it was True already.
            update_pod_condition(
                pod,
                observed_by({"type": "PodScheduled", "status": "True", "lastProbeTime": None}, pod),
                meta.now(),
            )
            md.pop("resourceVersion", None)
            return pod

        pod, _ = await pods.update(
            namespace, name, assign, subresource=self.subresource, dry_run=dry_run
        )
        return pod
