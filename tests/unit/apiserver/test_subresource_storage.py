"""The subresource storages on their own, without HTTP: binding, eviction, scale, finalize,
token, status.

Each storage is the business rule Kubernetes keeps beside a kind's main storage; here they are
called as the handlers call them, over the real generic stores on a SQLite store, and what they
left in storage is read back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from apiserver_fixtures import Stores
from cryptography.hazmat.primitives.asymmetric import rsa

from kubelite.api import errors, meta
from kubelite.apiserver import fieldmanager
from kubelite.apiserver import serviceaccount_token as sat
from kubelite.apiserver.registry.binding import BindingStore
from kubelite.apiserver.registry.eviction import EvictionStore
from kubelite.apiserver.registry.finalize import NamespaceFinalizeStore
from kubelite.apiserver.registry.generic import DeleteOptions, ResourceStore
from kubelite.apiserver.registry.scale import ScaleStore
from kubelite.apiserver.registry.status import StatusStore
from kubelite.apiserver.registry.token import TokenRequestStore

Obj = dict[str, Any]

NS = "default"


def pod_body(name: str = "p", **spec: Any) -> Obj:
    return {
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


async def refusal(call: Awaitable[Any]) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as caught:
        await call
    return caught.value


def replace_with(change: Callable[[Obj], None]) -> Callable[[Obj | None], Awaitable[Obj]]:
    async def mutate(current: Obj | None) -> Obj:
        assert current is not None
        change(current)
        current["metadata"].pop("resourceVersion", None)
        return current

    return mutate


async def create_tracked(store: ResourceStore, body: Obj) -> Obj:
    """Create as the create handler does, recording its manager: the object's fields have
    owners, and later writes add theirs."""
    resource = store.resource
    return await store.create(
        NS,
        body,
        on_prepared=lambda o: fieldmanager.track_update(resource, None, o, "kubectl", ""),
    )


async def set_pod_status(stores: Stores, name: str, status: Obj) -> Obj:
    def change(pod: Obj) -> None:
        pod["status"] = status

    result, _ = await StatusStore(stores.of("pods")).update(NS, name, replace_with(change))
    return result


# --- pods/binding ---------------------------------------------------------------------------


async def test_binding_assigns_the_node_once_and_sets_pod_scheduled(stores: Stores) -> None:
    pods = stores.of("pods")
    await pods.create(NS, pod_body())
    binding = BindingStore(pods)
    answer, code = await binding.create(NS, "p", {"target": {"name": "node-1"}}, {})
    assert (answer["status"], code) == ("Success", 201)
    pod = await pods.get(NS, "p")
    assert pod["spec"]["nodeName"] == "node-1"
    scheduled = meta.find_condition(pod["status"]["conditions"], "PodScheduled")
    assert scheduled is not None and scheduled["status"] == "True"

    again = await refusal(binding.create(NS, "p", {"target": {"name": "node-2"}}, {}))
    assert again.code == 409
    assert 'already assigned to node "node-1"' in again.message
    assert (await pods.get(NS, "p"))["spec"]["nodeName"] == "node-1"


async def test_binding_replaces_the_schedulers_unschedulable_condition(stores: Stores) -> None:
    # An earlier attempt left PodScheduled False with the scheduler's reason; the binding puts a
    # whole new condition in its place (podutil.UpdatePodCondition), so the reason goes.
    pods = stores.of("pods")
    await pods.create(NS, pod_body())
    await set_pod_status(
        stores,
        "p",
        {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/1 nodes are available",
                    "lastProbeTime": None,
                    "lastTransitionTime": "2020-01-01T00:00:00Z",
                }
            ],
        },
    )
    await BindingStore(pods).create(NS, "p", {"target": {"name": "node-1"}}, {})
    pod = await pods.get(NS, "p")
    [scheduled] = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert scheduled["status"] == "True"
    assert "reason" not in scheduled and "message" not in scheduled
    assert scheduled["lastTransitionTime"] != "2020-01-01T00:00:00Z"


async def test_binding_refuses_a_deleting_pod(stores: Stores) -> None:
    pods = stores.of("pods")
    body = pod_body()
    body["metadata"]["finalizers"] = ["example.com/hold"]
    await pods.create(NS, body)
    await pods.delete(NS, "p", DeleteOptions())
    refused = await refusal(BindingStore(pods).bind(NS, "p", {"target": {"name": "node-1"}}))
    assert refused.code == 409
    assert "is being deleted" in refused.message


async def test_binding_refuses_a_gated_pod(stores: Stores) -> None:
    pods = stores.of("pods")
    await pods.create(NS, pod_body(schedulingGates=[{"name": "example.com/wait"}]))
    refused = await refusal(BindingStore(pods).bind(NS, "p", {"target": {"name": "node-1"}}))
    assert refused.code == 409
    assert "non-empty .spec.schedulingGates" in refused.message


async def test_binding_refuses_another_pods_uid(stores: Stores) -> None:
    pods = stores.of("pods")
    await pods.create(NS, pod_body())
    binding = {"metadata": {"uid": "not-this-one"}, "target": {"name": "node-1"}}
    refused = await refusal(BindingStore(pods).bind(NS, "p", binding))
    assert refused.code == 409
    assert "UID in precondition: not-this-one" in refused.message
    assert not (await pods.get(NS, "p"))["spec"].get("nodeName")


async def test_binding_checks_its_own_name_and_target(stores: Stores) -> None:
    pods = stores.of("pods")
    await pods.create(NS, pod_body())
    binding = BindingStore(pods)
    misnamed = {"metadata": {"name": "other"}, "target": {"name": "node-1"}}
    assert (await refusal(binding.bind(NS, "p", misnamed))).code == 400
    assert (await refusal(binding.bind(NS, "p", {"target": {}}))).code == 422


async def test_binding_dry_run_assigns_nothing(stores: Stores) -> None:
    pods = stores.of("pods")
    await pods.create(NS, pod_body())
    await BindingStore(pods).create(NS, "p", {"target": {"name": "n"}}, {"dryRun": "All"})
    assert not (await pods.get(NS, "p"))["spec"].get("nodeName")


# --- pods/eviction --------------------------------------------------------------------------


async def running_pod_under_budget(stores: Stores, allowed: int) -> EvictionStore:
    """A ready, running pod `p`, and a budget over it that allows `allowed` disruptions."""
    pods = stores.of("pods")
    budgets = stores.of("poddisruptionbudgets", "policy")
    await pods.create(NS, pod_body())
    await set_pod_status(
        stores, "p", {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    )
    created = await create_tracked(
        budgets,
        {
            "metadata": {"name": "budget"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
        },
    )

    def status(pdb: Obj) -> None:
        pdb["status"] = {
            "observedGeneration": created["metadata"].get("generation", 0),
            "disruptionsAllowed": allowed,
            "currentHealthy": 1 + allowed,
            "desiredHealthy": 1,
            "expectedPods": 1 + allowed,
        }

    await StatusStore(budgets).update(NS, "budget", replace_with(status))
    return EvictionStore(pods, budgets)


async def pod_is_going(pods: ResourceStore, name: str) -> bool:
    try:
        pod = await pods.get(NS, name)
    except errors.StatusError as exc:
        return exc.code == 404
    return bool(pod["metadata"].get("deletionTimestamp"))


async def test_eviction_allowed_by_the_budget_takes_one_disruption(stores: Stores) -> None:
    eviction = await running_pod_under_budget(stores, allowed=1)
    answer, code = await eviction.create(NS, "p", {"metadata": {"name": "p"}}, {})
    assert (answer["status"], code) == ("Success", 201)
    assert await pod_is_going(stores.of("pods"), "p")
    budget = await eviction.budgets.get(NS, "budget")
    assert budget["status"]["disruptionsAllowed"] == 0
    assert set(budget["status"]["disruptedPods"]) == {"p"}
    # The budget's status was written by the API server itself, as in Kubernetes.
    managers = {(f["manager"], f.get("subresource")) for f in budget["metadata"]["managedFields"]}
    assert ("kube-apiserver", "status") in managers


async def test_eviction_refused_by_the_budget_is_a_429(stores: Stores) -> None:
    eviction = await running_pod_under_budget(stores, allowed=0)
    refused = await refusal(eviction.create(NS, "p", {"metadata": {"name": "p"}}, {}))
    assert refused.code == 429
    assert refused.message == "Cannot evict pod as it would violate the pod's disruption budget."
    pod = await stores.of("pods").get(NS, "p")
    assert not pod["metadata"].get("deletionTimestamp")
    budget = await eviction.budgets.get(NS, "budget")
    assert budget["status"]["disruptionsAllowed"] == 0
    assert "disruptedPods" not in budget["status"]


async def test_eviction_of_a_pod_no_budget_covers_just_deletes_it(stores: Stores) -> None:
    pods = stores.of("pods")
    await pods.create(NS, pod_body())
    eviction = EvictionStore(pods, stores.of("poddisruptionbudgets", "policy"))
    _, code = await eviction.create(NS, "p", {"metadata": {"name": "p"}}, {})
    assert code == 201
    assert await pod_is_going(pods, "p")


async def test_eviction_checks_its_name(stores: Stores) -> None:
    eviction = await running_pod_under_budget(stores, allowed=1)
    misnamed = await refusal(eviction.create(NS, "p", {"metadata": {"name": "q"}}, {}))
    assert misnamed.code == 400


# --- scale ----------------------------------------------------------------------------------


async def deployment(stores: Stores, replicas: int = 2) -> ScaleStore:
    labels = {"app": "d"}
    workloads = stores.of("deployments", "apps")
    await create_tracked(
        workloads,
        {
            "metadata": {"name": "d"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        },
    )
    return ScaleStore(workloads)


def to_replicas(n: Any) -> Callable[[Obj], Obj]:
    def change(scale: Obj) -> Obj:
        scale["spec"]["replicas"] = n
        return scale

    return change


async def test_scale_reads_the_workloads_replicas_and_selector(stores: Stores) -> None:
    scale = await (await deployment(stores, replicas=3)).get(NS, "d")
    assert scale["kind"] == "Scale"
    assert scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"]["selector"] == "app=d"


async def test_scale_writes_replicas_into_the_workload_as_the_scale_subresource(
    stores: Stores,
) -> None:
    scales = await deployment(stores)
    result = await scales.update(
        NS, "d", to_replicas(5), manager="autoscaler", keep_resource_version=False
    )
    assert result["spec"]["replicas"] == 5
    workload = await stores.of("deployments", "apps").get(NS, "d")
    assert workload["spec"]["replicas"] == 5
    assert result["metadata"]["resourceVersion"] == workload["metadata"]["resourceVersion"]
    entries = [f for f in workload["metadata"]["managedFields"] if f["manager"] == "autoscaler"]
    assert [(f["operation"], f["subresource"]) for f in entries] == [("Update", "scale")]


@pytest.mark.parametrize(
    ("replicas", "code", "words"),
    [
        (-1, 422, "must be greater than or equal to 0"),
        # The Scale is decoded as Kubernetes decodes it into its Go type: a value that is not a
        # number, or a number beyond int32, fails the decoding (400) and names the field.
        ("3", 400, "cannot unmarshal string into Go struct field ScaleSpec.spec.replicas"),
        (True, 400, "cannot unmarshal bool into Go struct field ScaleSpec.spec.replicas"),
        (2**70, 400, f"cannot unmarshal number {2**70} into Go struct field ScaleSpec.spec."),
        (2**31, 400, "ScaleSpec.spec.replicas of type int32"),
    ],
)
async def test_scale_refuses_replicas_that_are_not_a_count(
    stores: Stores, replicas: Any, code: int, words: str
) -> None:
    scales = await deployment(stores)
    refused = await refusal(
        scales.update(NS, "d", to_replicas(replicas), manager="m", keep_resource_version=False)
    )
    assert refused.code == code
    assert words in refused.message
    assert (await stores.of("deployments", "apps").get(NS, "d"))["spec"]["replicas"] == 2


async def test_scale_with_null_replicas_asks_for_none_as_in_go(stores: Stores) -> None:
    # ScaleSpec.Replicas is an int32: Go's decoder leaves it at 0 for a null (or for no
    # replicas at all), so kube-apiserver scales the workload to 0; it used to be a 422.
    scales = await deployment(stores, replicas=3)
    result = await scales.update(
        NS, "d", to_replicas(None), manager="m", keep_resource_version=False
    )
    assert result["spec"] == {"replicas": 0}
    assert (await stores.of("deployments", "apps").get(NS, "d"))["spec"]["replicas"] == 0

    def without_spec(scale: Obj) -> Obj:
        scale.pop("spec")
        return scale

    await scales.update(NS, "d", to_replicas(2), manager="m", keep_resource_version=False)
    result = await scales.update(NS, "d", without_spec, manager="m", keep_resource_version=False)
    assert result["spec"] == {"replicas": 0}


async def test_scale_put_with_a_stale_resource_version_conflicts(stores: Stores) -> None:
    scales = await deployment(stores)
    stale = await scales.get(NS, "d")
    await scales.update(NS, "d", to_replicas(4), manager="m", keep_resource_version=False)

    def from_stale(_current: Obj) -> Obj:
        return to_replicas(7)(meta.clone(stale))

    refused = await refusal(
        scales.update(NS, "d", from_stale, manager="m", keep_resource_version=True)
    )
    assert refused.code == 409
    assert (await scales.get(NS, "d"))["spec"]["replicas"] == 4
    # A patch carries no precondition: the stale version is not held against it.
    patched = await scales.update(NS, "d", from_stale, manager="m", keep_resource_version=False)
    assert patched["spec"]["replicas"] == 7


# --- namespaces/finalize --------------------------------------------------------------------


def finalizers(values: list[str]) -> Callable[[Obj | None], Awaitable[Obj]]:
    async def body(_current: Obj | None) -> Obj:
        return {"metadata": {"name": "team"}, "spec": {"finalizers": values}}

    return body


async def test_finalize_empties_the_finalizers_of_a_live_namespace(stores: Stores) -> None:
    namespaces = stores.of("namespaces")
    await namespaces.create("", {"metadata": {"name": "team"}})
    assert (await namespaces.get("", "team"))["spec"]["finalizers"] == ["kubernetes"]
    result, created = await NamespaceFinalizeStore(namespaces).update("", "team", finalizers([]))
    assert not created
    assert not result["spec"].get("finalizers")
    stored = await namespaces.get("", "team")
    assert not stored["spec"].get("finalizers")
    assert not stored["metadata"].get("deletionTimestamp")


async def test_finalize_lets_a_deleting_namespace_go(stores: Stores) -> None:
    namespaces = stores.of("namespaces")
    await namespaces.create("", {"metadata": {"name": "team"}})
    held, gone = await namespaces.delete("", "team", DeleteOptions())
    assert not gone and held["status"]["phase"] == "Terminating"
    await NamespaceFinalizeStore(namespaces).update("", "team", finalizers([]))
    missing = await refusal(namespaces.get("", "team"))
    assert missing.code == 404


async def test_finalize_of_a_missing_namespace_is_a_404(stores: Stores) -> None:
    store = NamespaceFinalizeStore(stores.of("namespaces"))
    assert (await refusal(store.update("", "nope", finalizers([])))).code == 404


# --- serviceaccounts/token ------------------------------------------------------------------


async def test_token_request_without_an_issuer_is_a_503(stores: Stores) -> None:
    tokens = TokenRequestStore(None, sat.object_lookup(stores.by_resource))
    refused = await refusal(tokens.create(NS, "default", {"spec": {}}, {}))
    assert refused.code == 503


async def test_token_request_issues_a_token_for_the_service_account(stores: Stores) -> None:
    await stores.of("serviceaccounts").create(NS, {"metadata": {"name": "robot"}})
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tokens = TokenRequestStore(sat.TokenIssuer(key), sat.object_lookup(stores.by_resource))
    request = {"spec": {"audiences": [sat.API_AUDIENCE], "expirationSeconds": 3600}}
    answer, code = await tokens.create(NS, "robot", request, {})
    assert code == 201
    token = answer["status"]["token"]
    claims = sat.TokenVerifier([key.public_key()]).verify(token)
    assert claims is not None
    assert claims.username == "system:serviceaccount:default:robot"
