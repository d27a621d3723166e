"""PodTopologyLabels: a pod learns its node's zone and region as labels (KEP-4742).

Kubernetes' admission plugin `plugin/pkg/admission/podtopologylabels`, on by default since 1.35
(the PodTopologyLabelsAdmission gate went beta, #135158): the node's
`topology.kubernetes.io/zone` and `topology.kubernetes.io/region` labels are copied

- onto a Binding (`pods/binding`) whose target is that Node, without replacing a label the
  Binding already has; the binding REST storage then copies the Binding's labels onto the pod
  (registry/binding.py);
- onto a pod created with `spec.nodeName` already set, without replacing a label the pod has.

A node that does not exist, or has neither label, adds nothing. The point is the downward API:
`fieldRef: metadata.labels['topology.kubernetes.io/zone']` works without reading the Node.
"""

from __future__ import annotations

import orjson

from kubelite.api import meta
from kubelite.api.kinds import REGISTRY, ResourceType
from kubelite.api.types import Obj
from kubelite.storage.interface import Store

ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
# The plugin's default configuration: the label keys it copies.
TOPOLOGY_LABELS = (ZONE_LABEL, REGION_LABEL)


def _nodes() -> ResourceType:
    nodes = REGISTRY.lookup("", "v1", "nodes")
    assert nodes is not None
    return nodes


async def node_topology_labels(store: Store, node_name: str) -> dict[str, str]:
    """The topology labels of the named node; none for a node that does not exist
    (topologyLabelsForNodeName ignores NotFound so as not to break binding)."""
    if not node_name:
        return {}
    kv = await store.get(_nodes().key("", node_name))
    if kv is None:
        return {}
    labels = meta.labels_of(orjson.loads(kv.value))
    return {key: labels[key] for key in TOPOLOGY_LABELS if key in labels}


def merge_labels(obj: Obj, labels: dict[str, str]) -> None:
    """mergeLabels: add `labels` to the object's, keeping any key it already has."""
    if not labels:
        return
    md = meta.metadata(obj)
    existing = md.get("labels")
    if not isinstance(existing, dict):
        existing = md["labels"] = {}
    for key, value in labels.items():
        existing.setdefault(key, value)


class PodTopologyLabels:
    """The plugin's admission of pod creates (admitPod); Bindings are labelled by the binding
    storage, which calls `node_topology_labels` itself."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def __call__(
        self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        if operation != "CREATE":
            return  # The plugin handles admission.Create only.
        node_name = meta.get_path(obj, "spec", "nodeName") or ""
        if not node_name:
            return  # Not scheduled yet: the Binding will carry the labels.
        merge_labels(obj, await node_topology_labels(self.store, node_name))
