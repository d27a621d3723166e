"""Which pods a StatefulSet claims: its selector must match and the name must be one of its own."""

from __future__ import annotations

import copy
from typing import Any

from testcluster import Recorder, TestCluster

from kubelite.api import labels
from kubelite.api.resources import PODS
from kubelite.controllers import statefulset_pods as sp
from kubelite.controllers.podcontrol import PodControl

Obj = dict[str, Any]
SET: Obj = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "web", "namespace": "default", "uid": "set-uid"},
    "spec": {"selector": {"matchLabels": {"app": "web"}}},
}


def pod(name: str, owner_uid: str | None = None) -> Obj:
    md: Obj = {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": {"app": "web"}}
    if owner_uid:
        md["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "name": "web",
                "uid": owner_uid,
                "controller": True,
            }
        ]
    return {"metadata": md, "spec": {"containers": [{"name": "c", "image": "i"}]}}


async def test_only_pods_named_as_its_own_are_adopted_and_kept(kube: TestCluster) -> None:
    """Against the unit tests' real API server (`testcluster`); a `Recorder` notes the patches."""
    client = Recorder(kube.client)
    control = PodControl(client, recorder=None)  # type: ignore[arg-type]
    sset = copy.deepcopy(SET)
    sset["metadata"]["namespace"] = kube.namespace

    async def can_adopt() -> bool:
        return True

    pods = [pod("web-0", "set-uid"), pod("web-1"), pod("other-0"), pod("webby-2", "set-uid")]
    for p in pods:
        del p["metadata"]["uid"], p["metadata"]["namespace"]
    stored = [await kube.create(PODS, p) for p in pods]
    claimed = await control.claim(
        sset,
        labels.from_label_selector(SET["spec"]["selector"]),
        stored,
        can_adopt,
        member=lambda p: sp.is_member(sset, p),
    )
    assert [p["metadata"]["name"] for p in claimed] == ["web-0", "web-1"]
    adopted, released = [(w.name, w.sent) for w in client.writes if w.verb == "patch"]
    assert adopted[0] == "web-1"
    assert adopted[1]["metadata"]["ownerReferences"][0]["uid"] == "set-uid"
    # A pod it controls whose name is not one of its own is let go.
    assert released[0] == "webby-2"
    assert released[1]["metadata"]["ownerReferences"] == [{"$patch": "delete", "uid": "set-uid"}]
    refs = {
        p["metadata"]["name"]: [r["uid"] for r in p["metadata"].get("ownerReferences") or ()]
        for p in await kube.list(PODS)
    }
    assert refs == {"web-0": ["set-uid"], "web-1": ["set-uid"], "other-0": [], "webby-2": []}
