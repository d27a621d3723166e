"""pods/<name>/eviction against PodDisruptionBudgets: the decisions, then the HTTP answers.

The decisions (which pods skip the budget, when an unready pod may go, check-and-decrement)
are tables; the HTTP tests run the real application over a real store, with the budgets'
statuses written through /status as the disruption controller would write them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from apiserver_fixtures import Api

from kubelite.api import errors
from kubelite.apiserver.registry.eviction import (
    can_ignore_budget,
    check_and_decrement,
    should_enforce_resource_version,
    unhealthy_pod_may_go,
)

Obj = dict[str, Any]

PODS = "/api/v1/namespaces/default/pods"
PDBS = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
NOW = dt.datetime(2025, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."


def pod_obj(phase: str = "Running", *, ready: bool = True, deleting: bool = False) -> Obj:
    md: Obj = {"name": "p", "namespace": "default", "labels": {"app": "web"}}
    if deleting:
        md["deletionTimestamp"] = "2025-05-01T12:00:00Z"
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"metadata": md, "status": {"phase": phase, "conditions": conditions}}


def pdb_obj(
    *,
    allowed: int = 1,
    current: int = 3,
    desired: int = 2,
    generation: int = 1,
    observed: int = 1,
    policy: str | None = None,
    disrupted: Obj | None = None,
) -> Obj:
    spec: Obj = {"minAvailable": desired, "selector": {"matchLabels": {"app": "web"}}}
    if policy:
        spec["unhealthyPodEvictionPolicy"] = policy
    status: Obj = {
        "observedGeneration": observed,
        "disruptionsAllowed": allowed,
        "currentHealthy": current,
        "desiredHealthy": desired,
        "expectedPods": 3,
    }
    if disrupted is not None:
        status["disruptedPods"] = disrupted
    return {
        "metadata": {"name": "budget", "namespace": "default", "generation": generation},
        "spec": spec,
        "status": status,
    }


# --- decisions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pod", "ignored", "enforced"),
    [
        (pod_obj("Running"), False, True),
        (pod_obj("Pending"), True, True),
        (pod_obj("Succeeded"), True, False),
        (pod_obj("Failed"), True, False),
        (pod_obj("Running", deleting=True), True, False),
    ],
    ids=["running", "pending", "succeeded", "failed", "terminating"],
)
def test_which_pods_skip_the_budget_and_which_are_deleted_as_read(
    pod: Obj, ignored: bool, enforced: bool
) -> None:
    assert can_ignore_budget(pod) is ignored
    assert should_enforce_resource_version(pod) is enforced


@pytest.mark.parametrize(
    ("ready", "current", "desired", "policy", "may_go"),
    [
        (True, 3, 2, None, False),  # healthy pods always take from the budget
        (False, 3, 2, None, True),  # the application is not disrupted: an unready pod may go
        (False, 1, 2, None, False),  # already disrupted: IfHealthyBudget protects it
        (False, 0, 0, None, False),  # a budget that wants nothing healthy gives nothing away
        (False, 1, 2, "IfHealthyBudget", False),
        (False, 1, 2, "AlwaysAllow", True),
        (True, 1, 2, "AlwaysAllow", False),
    ],
)
def test_unhealthy_pods_may_go_without_taking_from_the_budget(
    ready: bool, current: int, desired: int, policy: str | None, may_go: bool
) -> None:
    budget = pdb_obj(current=current, desired=desired, policy=policy)
    assert unhealthy_pod_may_go(pod_obj(ready=ready), budget) is may_go


def test_check_and_decrement_takes_one_and_records_the_pod() -> None:
    budget = check_and_decrement(pdb_obj(allowed=2), "p", NOW)
    assert budget["status"]["disruptionsAllowed"] == 1
    assert budget["status"]["disruptedPods"] == {"p": "2025-05-01T12:00:00Z"}
    assert "conditions" not in budget["status"]


def test_taking_the_last_disruption_turns_the_condition_false() -> None:
    budget = check_and_decrement(pdb_obj(allowed=1), "p", NOW)
    assert budget["status"]["disruptionsAllowed"] == 0
    (condition,) = budget["status"]["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "DisruptionAllowed",
        "False",
        "InsufficientPods",
    )


@pytest.mark.parametrize(
    ("budget", "code", "message", "cause"),
    [
        (
            pdb_obj(allowed=0, current=3, desired=3),
            429,
            VIOLATION,
            "The disruption budget budget needs 3 healthy pods and has 3 currently",
        ),
        (
            pdb_obj(generation=2, observed=1),
            429,
            VIOLATION,
            "The disruption budget budget is still being processed by the server.",
        ),
        (
            pdb_obj(allowed=-1),
            403,
            'poddisruptionbudget.policy "budget" is forbidden: pdb disruptions allowed is negative',
            None,
        ),
        (
            pdb_obj(disrupted={f"p{i}": "2025-05-01T12:00:00Z" for i in range(2001)}),
            403,
            'poddisruptionbudget.policy "budget" is forbidden: DisruptedPods map too big - too '
            "many evictions not confirmed by PDB controller",
            None,
        ),
    ],
    ids=["none-left", "not-observed", "negative", "too-many-disrupted"],
)
def test_check_and_decrement_refusals(
    budget: Obj, code: int, message: str, cause: str | None
) -> None:
    with pytest.raises(errors.StatusError) as refused:
        check_and_decrement(budget, "p", NOW)
    assert (refused.value.code, refused.value.message) == (code, message)
    if cause is not None:
        assert (refused.value.details or {})["causes"] == [
            {"reason": "DisruptionBudget", "message": cause}
        ]


# --- over HTTP ----------------------------------------------------------------------------------


async def running_pod(api: Api, name: str, *, ready: bool = True, app: str = "web") -> Obj:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]},
    }
    status, created = await api.json("POST", PODS, body=body)
    assert status == 201, created
    created["status"] = {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "True" if ready else "False", "lastProbeTime": None}
        ],
    }
    status, running = await api.json("PUT", f"{PODS}/{name}/status", body=created)
    assert status == 200, running
    return running


async def budget(api: Api, name: str = "budget", **status: int) -> Obj:
    body = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
    }
    code, created = await api.json("POST", PDBS, body=body)
    assert code == 201, created
    created["status"] = {
        "observedGeneration": 1,
        "disruptionsAllowed": 1,
        "currentHealthy": 3,
        "desiredHealthy": 2,
        "expectedPods": 3,
        **status,
    }
    code, written = await api.json("PUT", f"{PDBS}/{name}/status", body=created)
    assert code == 200, written
    return written


async def evict(api: Api, name: str, **delete_options: Any) -> tuple[int, Obj]:
    body: Obj = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}
    if delete_options:
        body["deleteOptions"] = delete_options
    return await api.json("POST", f"{PODS}/{name}/eviction", body=body)


async def test_an_allowed_eviction_takes_from_the_budget_and_marks_the_pod(api: Api) -> None:
    await running_pod(api, "p")
    await budget(api)
    code, answer = await evict(api, "p")
    assert (code, answer["status"]) == (201, "Success")
    _, stored = await api.json("GET", f"{PDBS}/budget")
    assert stored["status"]["disruptionsAllowed"] == 0
    assert list(stored["status"]["disruptedPods"]) == ["p"]
    assert stored["status"]["conditions"][0]["reason"] == "InsufficientPods"
    _, pod = await api.json("GET", f"{PODS}/p")
    assert pod["metadata"]["deletionTimestamp"]
    target = next(c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (target["status"], target["reason"], target["message"]) == (
        "True",
        "EvictionByEvictionAPI",
        "Eviction API: evicting",
    )


async def test_an_exhausted_budget_refuses_with_kubernetes_429(api: Api) -> None:
    await running_pod(api, "p")
    await budget(api, disruptionsAllowed=0, currentHealthy=2)
    code, answer = await evict(api, "p")
    assert code == 429
    assert answer == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": VIOLATION,
        "reason": "TooManyRequests",
        "details": {
            "causes": [
                {
                    "reason": "DisruptionBudget",
                    "message": "The disruption budget budget needs 2 healthy pods and has 2 "
                    "currently",
                }
            ]
        },
        "code": 429,
    }
    _, pod = await api.json("GET", f"{PODS}/p")
    assert "deletionTimestamp" not in pod["metadata"]
    assert all(c["type"] != "DisruptionTarget" for c in pod["status"]["conditions"])


async def test_a_pod_under_two_budgets_is_a_500(api: Api) -> None:
    await running_pod(api, "p")
    await budget(api, "one")
    await budget(api, "two")
    code, answer = await evict(api, "p")
    assert code == 500
    assert answer["message"] == (
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does "
        "not support."
    )
    _, pod = await api.json("GET", f"{PODS}/p")
    assert "deletionTimestamp" not in pod["metadata"]


async def test_pods_no_budget_covers_and_pending_pods_are_simply_deleted(api: Api) -> None:
    await running_pod(api, "other", app="db")
    await budget(api, disruptionsAllowed=0)
    code, _ = await evict(api, "other")
    assert code == 201
    pending = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "pending", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    await api.json("POST", PODS, body=pending)
    code, _ = await evict(api, "pending")
    assert code == 201
    status, _ = await api.json("GET", f"{PODS}/pending")
    assert status == 404  # never scheduled: deleted at once
    _, stored = await api.json("GET", f"{PDBS}/budget")
    assert stored["status"]["disruptionsAllowed"] == 0
    assert "disruptedPods" not in stored["status"]


async def test_an_unready_pod_goes_without_taking_from_a_healthy_budget(api: Api) -> None:
    await running_pod(api, "p", ready=False)
    await budget(api, disruptionsAllowed=1, currentHealthy=3, desiredHealthy=2)
    code, _ = await evict(api, "p")
    assert code == 201
    _, stored = await api.json("GET", f"{PDBS}/budget")
    assert stored["status"]["disruptionsAllowed"] == 1
    assert "disruptedPods" not in stored["status"]


async def test_always_allow_lets_an_unready_pod_go_from_a_disrupted_application(
    api: Api,
) -> None:
    await running_pod(api, "p", ready=False)
    written = await budget(api, disruptionsAllowed=0, currentHealthy=1, desiredHealthy=2)
    code, _ = await evict(api, "p")
    assert code == 429  # IfHealthyBudget, the default: the application is already disrupted
    written["spec"]["unhealthyPodEvictionPolicy"] = "AlwaysAllow"
    code, updated = await api.json("PUT", f"{PDBS}/budget", body=written)
    assert (code, updated["metadata"]["generation"]) == (200, 2)
    updated["status"]["observedGeneration"] = 2
    await api.json("PUT", f"{PDBS}/budget/status", body=updated)
    code, _ = await evict(api, "p")
    assert code == 201


async def test_a_dry_run_eviction_checks_and_writes_nothing(api: Api) -> None:
    await running_pod(api, "p")
    await budget(api)
    response = await api.request(
        "POST",
        f"{PODS}/p/eviction",
        body={"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p"}},
        params={"dryRun": "All"},
    )
    assert response.status == 201
    _, stored = await api.json("GET", f"{PDBS}/budget")
    assert stored["status"]["disruptionsAllowed"] == 1
    _, pod = await api.json("GET", f"{PODS}/p")
    assert "deletionTimestamp" not in pod["metadata"]
    assert all(c["type"] != "DisruptionTarget" for c in pod["status"]["conditions"])


async def test_a_stale_resource_version_precondition_is_a_conflict(api: Api) -> None:
    pod = await running_pod(api, "p")
    await budget(api)
    stale = str(int(pod["metadata"]["resourceVersion"]) - 1)
    code, answer = await evict(api, "p", preconditions={"resourceVersion": stale})
    assert code == 409
    assert "the ResourceVersion in the precondition" in answer["message"]


async def test_concurrent_evictions_never_take_more_than_the_budget_allows(api: Api) -> None:
    names = [f"p{i}" for i in range(4)]
    for name in names:
        await running_pod(api, name)
    await budget(api, disruptionsAllowed=2, currentHealthy=4, desiredHealthy=2)
    answers = await asyncio.gather(*(evict(api, name) for name in names))
    codes = sorted(code for code, _ in answers)
    assert codes == [201, 201, 429, 429]
    _, stored = await api.json("GET", f"{PDBS}/budget")
    assert stored["status"]["disruptionsAllowed"] == 0
    evicted = {name for name, (code, _) in zip(names, answers, strict=True) if code == 201}
    assert set(stored["status"]["disruptedPods"]) == evicted


async def test_a_budget_with_both_numbers_is_refused_with_a_422(api: Api) -> None:
    body = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "both"},
        "spec": {"minAvailable": 1, "maxUnavailable": "10%", "selector": {}},
    }
    code, answer = await api.json("POST", PDBS, body=body)
    assert code == 422
    assert (answer["reason"], answer["details"]["group"], answer["details"]["kind"]) == (
        "Invalid",
        "policy",
        "PodDisruptionBudget",
    )
    assert answer["message"].startswith('PodDisruptionBudget.policy "both" is invalid: spec: ')
    assert answer["message"].endswith("minAvailable and maxUnavailable cannot be both set")
