"""Objects created by a PUT (kinds that allow create-on-update) or by a server-side apply get
their system metadata as a POST would (1.37, #138908; test/integration/apiserver/
metadata_test.go), and a uid in such a request is refused rather than replaced."""

from __future__ import annotations

from typing import Any

import pytest
from apiserver_fixtures import Api

LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
CMS = "/api/v1/namespaces/default/configmaps"
APPLY = "application/apply-patch+yaml"
UID = "00000000-0000-0000-0000-000000000000"
# What the client sends and the server must not keep.
SYSTEM = {
    "creationTimestamp": "1999-01-01T00:00:00Z",
    "selfLink": "/this/should/be/wiped",
    "deletionTimestamp": "2020-01-01T00:00:00Z",
    "deletionGracePeriodSeconds": 30,
}


def lease(name: str, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, **metadata},
        "spec": {"holderIdentity": "metadata-test"},
    }


def assert_created_fresh(md: dict[str, Any]) -> None:
    assert md["uid"] and md["uid"] != UID
    assert md["creationTimestamp"] != SYSTEM["creationTimestamp"]
    for wiped in ("selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"):
        assert wiped not in md, md


async def test_a_put_that_creates_wipes_the_system_fields(api: Api) -> None:
    status, out = await api.json("PUT", f"{LEASES}/put-create", body=lease("put-create", **SYSTEM))
    assert status == 201, out
    assert_created_fresh(out["metadata"])


async def test_an_apply_that_creates_wipes_the_system_fields(api: Api) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa", **SYSTEM}}
    status, out = await api.json(
        "PATCH", f"{CMS}/ssa", body=body, content_type=APPLY, params={"fieldManager": "t"}
    )
    assert status == 201, out
    assert_created_fresh(out["metadata"])


async def test_a_put_with_a_uid_does_not_create(api: Api) -> None:
    """The uid is the update's precondition, checked against the empty object the storage
    reads for a missing key."""
    status, out = await api.json("PUT", f"{LEASES}/gone", body=lease("gone", uid=UID))
    assert (status, out["reason"], out["message"]) == (
        409,
        "Conflict",
        'Operation cannot be fulfilled on leases.coordination.k8s.io "gone": StorageError: '
        "invalid object, Code: 4, Key: /registry/leases/default/gone, ResourceVersion: 0, "
        f"AdditionalErrorMsg: Precondition failed: UID in precondition: {UID}, "
        "UID in object meta: ",
    )
    status, _ = await api.json("GET", f"{LEASES}/gone")
    assert status == 404


async def test_a_put_with_a_uid_of_a_kind_that_never_creates_is_not_found(api: Api) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nope", "uid": UID}}
    status, out = await api.json("PUT", f"{CMS}/nope", body=body)
    assert (status, out["reason"]) == (404, "NotFound"), out


@pytest.mark.parametrize(
    ("path", "body", "resource"),
    [
        (
            f"{CMS}/ghost",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ghost", "uid": UID}},
            "configmaps",
        ),
        (f"{LEASES}/ghost", lease("ghost", uid=UID), "leases.coordination.k8s.io"),
    ],
)
async def test_an_apply_with_a_uid_does_not_create(
    api: Api, path: str, body: dict[str, Any], resource: str
) -> None:
    status, out = await api.json(
        "PATCH", path, body=body, content_type=APPLY, params={"fieldManager": "t"}
    )
    assert (status, out["reason"], out["message"]) == (
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {resource} "ghost": uid mismatch: the provided '
        f"object specified uid {UID}, and no existing object was found",
    )
    status, _ = await api.json("GET", path)
    assert status == 404
