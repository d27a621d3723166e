"""Objects are stored and served with their status's required fields at Go's zero values.

The official Python client refuses to read a ReplicaSet without `status.replicas`; Kubernetes
never sends one, as Go writes fields without `omitempty` whatever they hold.
"""

from __future__ import annotations

from typing import Any

import orjson
from apiserver_fixtures import Api, read_watch_lines

Obj = dict[str, Any]
NS = "/apis/apps/v1/namespaces/default"
TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
}


def replicaset(name: str) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
    }


def daemonset(name: str) -> Obj:
    return {**replicaset(name), "kind": "DaemonSet"}


DS_ZEROS = {
    "currentNumberScheduled": 0,
    "numberMisscheduled": 0,
    "desiredNumberScheduled": 0,
    "numberReady": 0,
}


async def test_created_objects_carry_their_zero_counters(api: Api) -> None:
    status, rs = await api.json("POST", f"{NS}/replicasets", body=replicaset("rs"))
    assert status == 201
    assert rs["status"] == {"replicas": 0}
    status, ds = await api.json("POST", f"{NS}/daemonsets", body=daemonset("ds"))
    assert status == 201
    assert ds["status"] == DS_ZEROS
    _, got = await api.json("GET", f"{NS}/daemonsets/ds")
    assert got["status"] == DS_ZEROS


async def test_lists_served_from_stored_bytes_and_watches_carry_them(api: Api) -> None:
    watch = await api.request("GET", f"{NS}/replicasets", params={"watch": "1"})
    await api.json("POST", f"{NS}/replicasets", body=replicaset("rs"))
    (event,) = await read_watch_lines(watch, 1)
    assert event["object"]["status"] == {"replicas": 0}
    watch.close()
    body = await (await api.request("GET", f"{NS}/replicasets")).read()
    assert b'"status":{"replicas":0}' in body
    (item,) = orjson.loads(body)["items"]
    assert item["status"] == {"replicas": 0}


async def test_a_status_write_without_a_required_field_stores_its_zero(api: Api) -> None:
    _, rs = await api.json("POST", f"{NS}/replicasets", body=replicaset("rs"))
    rs["status"] = {"replicas": 2, "readyReplicas": 1}
    _, rs = await api.json("PUT", f"{NS}/replicasets/rs/status", body=rs)
    assert rs["status"]["replicas"] == 2
    # Validated as Go validates it: the missing count is 0, and 1 ready of 0 is refused.
    status, refused = await api.json(
        "PATCH",
        f"{NS}/replicasets/rs/status",
        body={"status": {"replicas": None}},
        content_type="application/merge-patch+json",
    )
    assert status == 422
    assert (
        "status.readyReplicas: Invalid value: 1: cannot be greater than status.replicas"
        in (refused["message"])
    )
    status, patched = await api.json(
        "PATCH",
        f"{NS}/replicasets/rs/status",
        body={"status": {"replicas": None, "readyReplicas": None}},
        content_type="application/merge-patch+json",
    )
    assert status == 200, patched["message"]
    assert patched["status"] == {"replicas": 0}


async def test_required_spec_fields_are_still_required(api: Api) -> None:
    """Only the status is filled: what the client must give, it must still give."""
    body = replicaset("rs")
    del body["spec"]["selector"]
    status, answer = await api.json("POST", f"{NS}/replicasets", body=body)
    assert status == 422
    assert "spec.selector: Required value" in answer["message"]
