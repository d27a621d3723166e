"""Which pods a StatefulSet claims: its selector must match and the name must be one of its own."""

from __future__ import annotations

from typing import Any

from kubelite.api import labels
from kubelite.controllers import statefulset_pods as sp
from kubelite.controllers.podcontrol import PodControl

Obj = dict[str, Any]
SET: Obj = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "web", "namespace": "default", "uid": "set-uid"},
    "spec": {"selector": {"matchLabels": {"app": "web"}}},
}


class RecordingClient:
    """Answers patches with the patched pod's name, and remembers them."""

    def __init__(self) -> None:
        self.patches: list[tuple[str, Obj]] = []

    async def patch(self, resource: Any, name: str, patch: Obj, **kwargs: Any) -> Obj:
        self.patches.append((name, patch))
        return {"metadata": {"name": name, "namespace": "default"}}


def pod(name: str, owner_uid: str | None = None) -> Obj:
    md: Obj = {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": {"app": "web"}}
    if owner_uid:
        md["ownerReferences"] = [{"kind": "StatefulSet", "uid": owner_uid, "controller": True}]
    return {"metadata": md}


async def test_only_pods_named_as_its_own_are_adopted_and_kept() -> None:
    client = RecordingClient()
    control = PodControl(client, recorder=None)  # type: ignore[arg-type]

    async def can_adopt() -> bool:
        return True

    claimed = await control.claim(
        SET,
        labels.from_label_selector(SET["spec"]["selector"]),
        [pod("web-0", "set-uid"), pod("web-1"), pod("other-0"), pod("webby-2", "set-uid")],
        can_adopt,
        member=lambda p: sp.is_member(SET, p),
    )
    assert [p["metadata"]["name"] for p in claimed] == ["web-0", "web-1"]
    adopted, released = client.patches
    assert adopted[0] == "web-1"
    assert adopted[1]["metadata"]["ownerReferences"][0]["uid"] == "set-uid"
    # A pod it controls whose name is not one of its own is let go.
    assert released[0] == "webby-2"
    assert released[1]["metadata"]["ownerReferences"] == [{"$patch": "delete", "uid": "set-uid"}]
