"""The LimitRanger admission plugin: defaults set on pods (and the annotation saying so), the
bounds of Container, Pod and PersistentVolumeClaim items with Kubernetes' 403 messages, and the
writes it leaves alone (pod updates, subresources, objects being deleted)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Iterator
from typing import Any

import pytest
from apiserver_fixtures import Stores

from kubelite.api import errors
from kubelite.api.quantity import Quantity
from kubelite.apiserver import limitranger, request_info
from kubelite.apiserver.auth import current_request
from kubelite.apiserver.registry import DeleteOptions

Obj = dict[str, Any]
NS = "default"
ANNOTATION = "kubernetes.io/limit-ranger"


async def refusal(call: Awaitable[Any]) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as caught:
        await call
    return caught.value


@contextlib.contextmanager
def requesting(method: str, path: str) -> Iterator[None]:
    """The request as the application sees it (which subresource it writes)."""
    token = current_request.set(request_info.parse(method, path))
    try:
        yield
    finally:
        current_request.reset(token)


def container(name: str = "app", **resources: Obj) -> Obj:
    return {"name": name, "image": "busybox", "resources": resources}


def pod(name: str = "web", *containers: Obj, init: tuple[Obj, ...] = ()) -> Obj:
    spec: Obj = {"containers": list(containers) or [container()]}
    if init:
        spec["initContainers"] = list(init)
    return {"metadata": {"name": name}, "spec": spec}


async def limits(stores: Stores, *items: Obj, name: str = "limits", ns: str = NS) -> Obj:
    body = {"metadata": {"name": name}, "spec": {"limits": list(items)}}
    return await stores.of("limitranges").create(ns, body)


async def create_pod(stores: Stores, body: Obj, ns: str = NS) -> Obj:
    return await stores.of("pods").create(ns, body)


def claim(name: str = "data", storage: str = "1Gi") -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}},
    }


CONTAINER_DEFAULTS = {
    "type": "Container",
    "default": {"cpu": "500m", "memory": "256Mi"},
    "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
}


# --- defaults ---------------------------------------------------------------------------------


async def test_a_pod_without_resources_gets_the_defaults_and_the_annotation(
    stores: Stores,
) -> None:
    await limits(stores, CONTAINER_DEFAULTS)
    created = await create_pod(stores, pod())
    resources = created["spec"]["containers"][0]["resources"]
    assert resources == {
        "limits": {"cpu": "500m", "memory": "256Mi"},
        "requests": {"cpu": "100m", "memory": "128Mi"},
    }
    assert created["metadata"]["annotations"][ANNOTATION] == (
        "LimitRanger plugin set: cpu, memory request for container app; "
        "cpu, memory limit for container app"
    )
    # Kubernetes computes the QoS class after admission: the defaults count.
    assert created["status"]["qosClass"] == "Burstable"


async def test_defaults_equal_to_their_limits_make_a_guaranteed_pod(stores: Stores) -> None:
    await limits(stores, {"type": "Container", "max": {"cpu": "1", "memory": "1Gi"}})
    created = await create_pod(stores, pod())
    assert created["status"]["qosClass"] == "Guaranteed"
    assert created["spec"]["containers"][0]["resources"]["requests"] == {
        "cpu": "1",
        "memory": "1Gi",
    }


async def test_only_what_a_container_leaves_out_is_set_and_noted(stores: Stores) -> None:
    await limits(stores, CONTAINER_DEFAULTS)
    # A limit without a request: defaulting already made the request equal to it.
    own = container("app", limits={"cpu": "200m"})
    body = pod("web", own, container("side"), init=(container("setup"),))
    created = await create_pod(stores, body)
    app, side = created["spec"]["containers"]
    assert app["resources"] == {
        "limits": {"cpu": "200m", "memory": "256Mi"},
        "requests": {"cpu": "200m", "memory": "128Mi"},
    }
    assert created["spec"]["initContainers"][0]["resources"]["limits"]["cpu"] == "500m"
    assert side["resources"]["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert created["metadata"]["annotations"][ANNOTATION] == (
        "LimitRanger plugin set: memory request for container app; "
        "memory limit for container app; "
        "cpu, memory request for container side; cpu, memory limit for container side; "
        "cpu, memory request for init container setup; "
        "cpu, memory limit for init container setup"
    )


async def test_a_pod_that_needs_no_default_is_not_annotated(stores: Stores) -> None:
    await limits(stores, {"type": "Container", "default": {"cpu": "1"}})
    both = container(limits={"cpu": "1"}, requests={"cpu": "1"})
    created = await create_pod(stores, pod("web", both))
    assert ANNOTATION not in (created["metadata"].get("annotations") or {})


async def test_a_namespace_without_limit_ranges_changes_nothing(stores: Stores) -> None:
    await stores.namespace("free")
    created = await create_pod(stores, pod(), ns="free")
    assert created["spec"]["containers"][0]["resources"] == {}
    assert created["status"]["qosClass"] == "BestEffort"
    assert "annotations" not in created["metadata"]


async def test_another_namespace_s_limit_ranges_do_not_apply(stores: Stores) -> None:
    await stores.namespace("other")
    await limits(stores, CONTAINER_DEFAULTS, ns="other")
    created = await create_pod(stores, pod())
    assert created["spec"]["containers"][0]["resources"] == {}


# --- Container bounds -------------------------------------------------------------------------


async def test_a_pod_over_max_is_forbidden_with_every_violation(stores: Stores) -> None:
    await limits(stores, {"type": "Container", "max": {"cpu": "1", "memory": "1Gi"}})
    greedy = container(limits={"cpu": "2", "memory": "2Gi"})
    err = await refusal(create_pod(stores, pod("x", greedy)))
    assert (err.code, err.reason) == (403, "Forbidden")
    assert err.message == (
        'pods "x" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, '
        "maximum memory usage per Container is 1Gi, but limit is 2Gi]"
    )
    assert err.details == {"name": "x", "kind": "pods"}


async def test_a_request_under_min_is_forbidden(stores: Stores) -> None:
    await limits(stores, {"type": "Container", "min": {"memory": "100Mi"}})
    err = await refusal(create_pod(stores, pod("x", container(requests={"memory": "50Mi"}))))
    assert err.message == (
        'pods "x" is forbidden: minimum memory usage per Container is 100Mi, but request is 50Mi'
    )


async def test_a_limit_over_the_ratio_is_forbidden(stores: Stores) -> None:
    await limits(stores, {"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}})
    wide = container(requests={"cpu": "250m"}, limits={"cpu": "1"})
    err = await refusal(create_pod(stores, pod("x", wide)))
    assert err.message == (
        'pods "x" is forbidden: cpu max limit to request ratio per Container is 2, but provided '
        "ratio is 4.000000"
    )


async def test_init_containers_are_bounded_too(stores: Stores) -> None:
    await limits(stores, {"type": "Container", "max": {"cpu": "1"}})
    err = await refusal(
        create_pod(stores, pod("x", init=(container("setup", limits={"cpu": "3"}),)))
    )
    assert err.message == (
        'pods "x" is forbidden: maximum cpu usage per Container is 1, but limit is 3'
    )


async def test_a_pod_within_bounds_is_created(stores: Stores) -> None:
    await limits(
        stores,
        {"type": "Container", "min": {"cpu": "100m"}, "max": {"cpu": "1"}},
    )
    created = await create_pod(stores, pod("ok", container(requests={"cpu": "200m"})))
    # The limit came from max (the default SetDefaults_LimitRangeItem made from it).
    assert created["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "1"}


async def test_the_first_limit_range_violated_decides(stores: Stores) -> None:
    await limits(stores, {"type": "Container", "max": {"cpu": "2"}}, name="a")
    await limits(stores, {"type": "Container", "max": {"cpu": "1"}}, name="b")
    err = await refusal(create_pod(stores, pod("x", container(limits={"cpu": "3"}))))
    assert (
        err.message == 'pods "x" is forbidden: maximum cpu usage per Container is 2, but limit is 3'
    )


async def test_a_generated_name_is_the_name_refused(stores: Stores) -> None:
    await limits(stores, {"type": "Container", "max": {"cpu": "1"}})
    body = pod("", container(limits={"cpu": "2"}))
    body["metadata"] = {"generateName": "web-"}
    err = await refusal(create_pod(stores, body))
    assert err.message.startswith('pods "web-')


# --- Pod bounds -------------------------------------------------------------------------------


async def test_a_pod_item_bounds_the_sum_of_the_containers(stores: Stores) -> None:
    await limits(stores, {"type": "Pod", "max": {"cpu": "1"}})
    half = container("a", limits={"cpu": "600m"})
    err = await refusal(create_pod(stores, pod("x", half, {**half, "name": "b"})))
    assert err.message == (
        'pods "x" is forbidden: maximum cpu usage per Pod is 1, but limit is 1200m'
    )


async def test_a_pod_item_counts_the_largest_init_container(stores: Stores) -> None:
    await limits(stores, {"type": "Pod", "max": {"memory": "1Gi"}})
    small = container("app", limits={"memory": "256Mi"})
    big = container("setup", limits={"memory": "2Gi"})
    err = await refusal(create_pod(stores, pod("x", small, init=(big,))))
    assert err.message == (
        'pods "x" is forbidden: maximum memory usage per Pod is 1Gi, but limit is 2Gi'
    )


def quantities(**values: str) -> dict[str, Quantity]:
    return {name: Quantity.from_json(v) for name, v in values.items()}


def test_pod_totals_count_sidecars_as_kubernetes_does() -> None:
    sidecar = {**container("proxy", requests={"cpu": "200m"}), "restartPolicy": "Always"}
    setup = container("setup", requests={"cpu": "1"})
    body = pod("x", container("app", requests={"cpu": "500m"}), init=(sidecar, setup))
    # app + proxy run together (700m); setup runs beside the proxy (1200m): the most wins.
    assert limitranger._pod_total(body, "requests") == quantities(cpu="1200m")
    body["spec"]["initContainers"] = [setup, sidecar]
    # setup alone (1), then app + proxy (700m).
    assert limitranger._pod_total(body, "requests") == quantities(cpu="1")


@pytest.mark.parametrize(
    ("request_", "limit", "expected"),
    [
        (
            {},
            {"cpu": "1"},
            "cpu max limit to request ratio per Container is 2, but no request "
            "is specified or request is 0",
        ),
        (
            {"cpu": "1"},
            {},
            "cpu max limit to request ratio per Container is 2, but no limit is "
            "specified or limit is 0",
        ),
        ({"cpu": "1"}, {"cpu": "2"}, None),
        (
            {"cpu": "3"},
            {"cpu": "7"},
            "cpu max limit to request ratio per Container is 2, but provided ratio is 2.333333",
        ),
    ],
)
def test_ratio_constraint(request_: dict[str, str], limit: dict[str, str], expected: str) -> None:
    got = limitranger.ratio_constraint(
        "Container", "cpu", Quantity.from_json("2"), quantities(**request_), quantities(**limit)
    )
    assert got == expected


def test_min_and_max_say_what_is_missing() -> None:
    one = Quantity.from_json("1")
    assert limitranger.min_constraint("Container", "cpu", one, {}, {}) == (
        "minimum cpu usage per Container is 1.  No request is specified"
    )
    assert limitranger.max_constraint("Container", "cpu", one, {}, {}) == (
        "maximum cpu usage per Container is 1.  No limit is specified"
    )


# --- what is left alone -----------------------------------------------------------------------


async def test_pod_updates_are_not_checked(stores: Stores) -> None:
    created = await create_pod(stores, pod("web", container(limits={"cpu": "2"})))
    await limits(stores, {"type": "Container", "max": {"cpu": "1"}})

    async def relabel(current: Obj | None) -> Obj | None:
        assert current is not None
        current["metadata"]["labels"] = {"x": "y"}
        return current

    updated, _ = await stores.of("pods").update(NS, "web", relabel)
    assert updated["metadata"]["labels"] == {"x": "y"}
    assert updated["spec"] == created["spec"]


# --- PersistentVolumeClaims -------------------------------------------------------------------


CLAIM_BOUNDS = {
    "type": "PersistentVolumeClaim",
    "min": {"storage": "1Gi"},
    "max": {"storage": "2Gi"},
}


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        (
            "5Gi",
            'persistentvolumeclaims "data" is forbidden: maximum storage usage per '
            "PersistentVolumeClaim is 2Gi, but request is 5Gi",
        ),
        (
            "500Mi",
            'persistentvolumeclaims "data" is forbidden: minimum storage usage per '
            "PersistentVolumeClaim is 1Gi, but request is 500Mi",
        ),
    ],
)
async def test_a_claim_outside_the_bounds_is_forbidden(
    stores: Stores, storage: str, message: str
) -> None:
    await limits(stores, CLAIM_BOUNDS)
    err = await refusal(stores.of("persistentvolumeclaims").create(NS, claim(storage=storage)))
    assert (err.code, err.message) == (403, message)


async def test_a_claim_is_checked_on_update_but_not_through_status(stores: Stores) -> None:
    claims = stores.of("persistentvolumeclaims")
    await claims.create(NS, claim(storage="5Gi"))
    await limits(stores, CLAIM_BOUNDS)

    async def relabel(current: Obj | None) -> Obj | None:
        assert current is not None
        current["metadata"]["labels"] = {"x": "y"}
        return current

    with requesting("PUT", f"/api/v1/namespaces/{NS}/persistentvolumeclaims/data"):
        err = await refusal(claims.update(NS, "data", relabel))
    assert err.message.endswith(
        "maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi"
    )

    async def bound(current: Obj | None) -> Obj | None:
        assert current is not None
        current["status"] = {"phase": "Bound"}
        return current

    with requesting("PUT", f"/api/v1/namespaces/{NS}/persistentvolumeclaims/data/status"):
        updated, _ = await claims.update(NS, "data", bound, subresource="status")
    assert updated["status"]["phase"] == "Bound"


async def test_a_claim_being_deleted_is_let_through(stores: Stores) -> None:
    claims = stores.of("persistentvolumeclaims")
    body = claim(storage="5Gi")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    await claims.create(NS, body)
    await limits(stores, CLAIM_BOUNDS)
    await claims.delete(NS, "data", DeleteOptions())

    async def release(current: Obj | None) -> Obj | None:
        assert current is not None
        current["metadata"]["finalizers"] = []
        return current

    await claims.update(NS, "data", release)
    with pytest.raises(errors.StatusError) as gone:
        await claims.get(NS, "data")
    assert gone.value.code == 404
