"""LimitRanger and ResourceQuota with pod-level resources (`spec.resources`, KEP-2837).

- LimitRanger's Pod items see the pod's own cpu and memory where it sets them, and only those:
  its private list of pod-level resources has no huge pages (kubernetes#141247);
- ResourceQuota charges what PodRequests/PodLimits count (the pod's own amounts win), and no
  longer demands that every container state a quota'd resource when the pod states it itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.quantity import Quantity
from kubelite.api.quota.evaluators import PodEvaluator
from kubelite.apiserver import limitranger

Obj = dict[str, Any]
NOW = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
PODS = PodEvaluator(lambda: NOW)


def _pod(resources: Obj | None, *containers: Obj) -> Obj:
    spec: Obj = {"containers": list(containers) or [{"name": "app", "image": "busybox"}]}
    if resources is not None:
        spec["resources"] = resources
    return {"metadata": {"name": "web", "namespace": "shop"}, "spec": spec}


def _container(name: str, **resources: Obj) -> Obj:
    return {"name": name, "image": "busybox", "resources": resources}


def test_limit_range_pod_totals_take_the_pods_own_cpu_and_memory() -> None:
    body = _pod(
        {"requests": {"cpu": "2", "hugepages-2Mi": "4Mi"}, "limits": {"memory": "1Gi"}},
        _container("app", requests={"cpu": "1", "hugepages-2Mi": "2Mi"}),
    )
    assert limitranger._pod_total(body, "requests") == {
        "cpu": Quantity.from_json("2"),
        # LimitRanger's own list of pod-level resources stops at cpu and memory.
        "hugepages-2Mi": Quantity.from_json("2Mi"),
    }
    assert limitranger._pod_total(body, "limits") == {"memory": Quantity.from_json("1Gi")}


def test_a_limit_range_pod_maximum_holds_the_pods_own_limits() -> None:
    limit_range = {"spec": {"limits": [{"type": "Pod", "max": {"cpu": "1"}}]}}
    body = _pod({"requests": {"cpu": "2"}, "limits": {"cpu": "2"}}, _container("app"))
    assert limitranger.validate_pod(limit_range, body) == [
        "maximum cpu usage per Pod is 1, but limit is 2"
    ]


def test_quota_does_not_demand_container_resources_of_a_pod_with_its_own() -> None:
    required = ["requests.cpu", "limits.memory"]
    assert PODS.constraints(required, _pod(None)) == (
        "must specify limits.memory for: app; requests.cpu for: app"
    )
    assert PODS.constraints(required, _pod({"requests": {"cpu": "1"}})) is None


def test_quota_charges_the_pods_own_requests_and_limits() -> None:
    body = _pod(
        {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "3", "memory": "1Gi"}},
        _container("app", requests={"cpu": "1"}),
    )
    usage = {k: str(v) for k, v in PODS.usage(body).items()}
    assert usage["requests.cpu"] == "2"
    assert usage["limits.cpu"] == "3"
    assert usage["requests.memory"] == "1Gi"
