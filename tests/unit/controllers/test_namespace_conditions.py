"""The namespace controller reads the conditions a client left on a namespace, whatever their
shape: the fuzzer (tests/integration/test_fuzz_api.py) wrote one without a `type` through the
status subresource, and the controller's sync failed on it with a KeyError."""

from __future__ import annotations

from testcluster import TestCluster

from kubelite.api.resources import NAMESPACES
from kubelite.controllers.namespace import NamespaceController


async def test_a_condition_without_a_type_does_not_stop_the_sync(kube: TestCluster) -> None:
    name = f"{kube.namespace}-odd"
    created = await kube.client.create(NAMESPACES, {"metadata": {"name": name}})
    kube.clean_up_later(NAMESPACES, name)
    created["status"] = {"phase": "Active", "conditions": [{"status": "True"}]}
    await kube.client.update(NAMESPACES, created, subresource="status")
    controller = NamespaceController(kube.client)
    await controller._set_conditions(name, {}, set())
    written = await kube.client.get(NAMESPACES, name)
    types = {c.get("type") for c in written["status"]["conditions"] if isinstance(c, dict)}
    assert "NamespaceDeletionDiscoveryFailure" in types
