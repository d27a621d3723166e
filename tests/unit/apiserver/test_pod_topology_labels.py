"""What binding a pod does in 1.37 beyond 1.33: the node's zone and region labels land on the
pod (PodTopologyLabelsAdmission, beta on since 1.35), the Binding's own labels too, and the
pod's nominatedNodeName is cleared (ClearingNominatedNodeNameAfterBinding, beta on since 1.35).
A pod created with spec.nodeName gets the node's topology labels from admission."""

from __future__ import annotations

from typing import Any

from apiserver_fixtures import Stores

from kubelite.api import meta
from kubelite.apiserver.podtopologylabels import REGION_LABEL, ZONE_LABEL
from kubelite.apiserver.registry.binding import BindingStore
from kubelite.apiserver.registry.status import StatusStore

Obj = dict[str, Any]
NS = "default"
TOPOLOGY = {ZONE_LABEL: "zone-a", REGION_LABEL: "region-1"}


def pod_body(name: str = "p", labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    return {
        "metadata": {"name": name, "labels": labels or {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


async def node(stores: Stores, name: str, labels: dict[str, str]) -> None:
    await stores.of("nodes").create("", {"metadata": {"name": name, "labels": labels}})


async def test_binding_copies_the_nodes_zone_and_region_onto_the_pod(stores: Stores) -> None:
    await node(stores, "node-1", {**TOPOLOGY, "kubernetes.io/hostname": "node-1", "other": "x"})
    pods = stores.of("pods")
    await pods.create(NS, pod_body())
    await BindingStore(pods).create(NS, "p", {"target": {"name": "node-1"}}, {})
    labels = meta.labels_of(await pods.get(NS, "p"))
    # Only the two topology labels: the plugin copies no other node label.
    assert labels == {"app": "web", **TOPOLOGY}


async def test_binding_to_a_node_without_topology_or_unknown_adds_no_label(
    stores: Stores,
) -> None:
    await node(stores, "plain", {"kubernetes.io/hostname": "plain"})
    pods = stores.of("pods")
    await pods.create(NS, pod_body("a"))
    await pods.create(NS, pod_body("b"))
    await BindingStore(pods).create(NS, "a", {"target": {"name": "plain"}}, {})
    await BindingStore(pods).create(NS, "b", {"target": {"name": "no-such-node"}}, {})
    assert meta.labels_of(await pods.get(NS, "a")) == {"app": "web"}
    assert meta.labels_of(await pods.get(NS, "b")) == {"app": "web"}


async def test_the_bindings_labels_replace_the_pods_and_win_over_the_nodes(
    stores: Stores,
) -> None:
    """Admission adds the node's labels to the Binding without replacing the Binding's own;
    the storage then copies the Binding's labels onto the pod, replacing the pod's values."""
    await node(stores, "node-1", TOPOLOGY)
    pods = stores.of("pods")
    await pods.create(NS, pod_body(labels={"app": "web", ZONE_LABEL: "pods-own"}))
    binding = {
        "metadata": {"labels": {REGION_LABEL: "from-binding", "team": "a"}},
        "target": {"name": "node-1"},
    }
    await BindingStore(pods).create(NS, "p", binding, {})
    assert meta.labels_of(await pods.get(NS, "p")) == {
        "app": "web",
        ZONE_LABEL: "zone-a",
        REGION_LABEL: "from-binding",
        "team": "a",
    }


async def test_binding_clears_the_nominated_node_name(stores: Stores) -> None:
    pods = stores.of("pods")
    await pods.create(NS, pod_body())

    async def nominate(current: Obj | None) -> Obj:
        assert current is not None
        current["status"] = {"phase": "Pending", "nominatedNodeName": "node-2"}
        current["metadata"].pop("resourceVersion", None)
        return current

    await StatusStore(pods).update(NS, "p", nominate)
    assert (await pods.get(NS, "p"))["status"]["nominatedNodeName"] == "node-2"
    await BindingStore(pods).create(NS, "p", {"target": {"name": "node-1"}}, {})
    bound = await pods.get(NS, "p")
    assert bound["spec"]["nodeName"] == "node-1"
    assert "nominatedNodeName" not in bound["status"]


async def test_a_pod_created_on_a_node_gets_its_topology_labels(stores: Stores) -> None:
    await node(stores, "node-1", TOPOLOGY)
    pods = stores.of("pods")
    created = await pods.create(
        NS, pod_body(labels={"app": "web", REGION_LABEL: "mine"}, nodeName="node-1")
    )
    # Admission of a pod does not replace a label the pod set itself.
    assert meta.labels_of(created) == {"app": "web", ZONE_LABEL: "zone-a", REGION_LABEL: "mine"}
    # A pod not yet scheduled gets nothing until it is bound.
    unscheduled = await pods.create(NS, pod_body("q"))
    assert meta.labels_of(unscheduled) == {"app": "web"}
