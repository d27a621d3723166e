"""The ObjectReference an Event names: pods and nodes always with their apiVersion (1.35,
kubernetes#134545), which `kubectl events --for Node/<name>` selects on."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.resources import EVENTS
from kubelite.client.events import EventRecorder, object_reference


@pytest.mark.parametrize("kind", ["Pod", "Node"])
def test_a_pod_or_node_without_an_api_version_is_referenced_as_v1(kind: str) -> None:
    obj = {"kind": kind, "metadata": {"name": "n1", "uid": "u1"}}
    assert object_reference(obj) == {"kind": kind, "name": "n1", "uid": "u1", "apiVersion": "v1"}


def test_an_api_version_the_object_has_is_kept_and_other_kinds_are_not_guessed() -> None:
    assert object_reference({"kind": "Deployment", "metadata": {"name": "d"}}) == {
        "kind": "Deployment",
        "name": "d",
    }
    sset = {"kind": "StatefulSet", "apiVersion": "apps/v1", "metadata": {"name": "s"}}
    assert object_reference(sset)["apiVersion"] == "apps/v1"


class _Client:
    """Records what the recorder creates, and answers with it as stored."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    async def create(self, resource: Any, body: dict[str, Any]) -> dict[str, Any]:
        assert resource is EVENTS
        self.created.append(body)
        return body


async def test_the_kubelets_pod_event_names_the_pods_api_version() -> None:
    client = _Client()
    recorder = EventRecorder(client, "kubelet", "node-1")  # type: ignore[arg-type]
    pod = {"kind": "Pod", "metadata": {"name": "web", "namespace": "default", "uid": "u"}}
    await recorder.event(pod, "Normal", "Pulled", "pulled", field_path="spec.containers{web}")
    involved = client.created[0]["involvedObject"]
    assert involved["apiVersion"] == "v1"
    assert involved["fieldPath"] == "spec.containers{web}"
