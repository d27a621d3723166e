"""Pod-level resources (`spec.resources`, KEP-2837, on since 1.34): what the API server keeps,
defaults, refuses and classes, as 1.37 does."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.defaulting.pods import default_pod, default_pod_spec
from kubelite.api.qos import BEST_EFFORT, BURSTABLE, GUARANTEED, compute_qos_class
from kubelite.api.strategies.pods import PodStrategy
from kubelite.api.validation.pods import validate_pod_create, validate_pod_spec, validate_pod_update

STRATEGY = PodStrategy()
Obj = dict[str, Any]


def _container(name: str = "c", requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    resources: Obj = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "image": "busybox", "resources": resources}


def _pod(resources: Obj | None, *containers: Obj, **spec: Any) -> Obj:
    body: Obj = {"containers": list(containers) or [_container("a"), _container("b")], **spec}
    if resources is not None:
        body["resources"] = resources
    metadata = {"name": "web", "namespace": "default"}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": body}


def _defaulted(resources: Obj | None, *containers: Obj, **spec: Any) -> Obj:
    pod = _pod(resources, *containers, **spec)
    default_pod(pod)
    return pod


def _errors(resources: Obj | None, *containers: Obj, **spec: Any) -> list[str]:
    return [str(e) for e in validate_pod_create(_defaulted(resources, *containers, **spec))]


LIMITS = {"cpu": "500m", "memory": "128Mi"}


# --- the strategy keeps the field -------------------------------------------------------------


def test_the_strategy_keeps_pod_level_resources_and_classes_the_pod_by_them() -> None:
    pod = _pod({"limits": dict(LIMITS)})
    STRATEGY.default(pod)
    STRATEGY.prepare_for_create(pod)
    assert pod["spec"]["resources"] == {"limits": LIMITS, "requests": LIMITS}
    assert pod["status"]["qosClass"] == GUARANTEED
    assert STRATEGY.validate(pod) == []


def test_pod_level_resources_cannot_change_in_an_ordinary_update() -> None:
    old = _defaulted({"limits": dict(LIMITS)})
    new = copy.deepcopy(old)
    new["spec"]["resources"]["limits"]["cpu"] = "1"
    errs = [str(e) for e in validate_pod_update(new, old)]
    assert len(errs) == 1
    assert errs[0].startswith(
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`"
    )
    assert "Resources" in errs[0]


# --- validation ---------------------------------------------------------------------------------


def test_valid_pod_level_resources_pass() -> None:
    assert _errors({"limits": dict(LIMITS)}) == []
    assert _errors({"requests": {"cpu": "1"}}, _container("a", requests={"cpu": "300m"})) == []
    assert (
        _errors(
            {"limits": {"cpu": "1", "memory": "1Gi", "hugepages-2Mi": "4Mi"}},
            _container("a", limits={"cpu": "500m", "hugepages-2Mi": "2Mi"}),
        )
        == []
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "ephemeral-storage",
            "spec.resources.limits[ephemeral-storage]: Unsupported value: ephemeral-storage: "
            'supported values: "cpu", "hugepages-", "memory"',
        ),
        (
            "example.com/gpu",
            "spec.resources.limits[example.com/gpu]: Unsupported value: example.com/gpu: "
            'supported values: "cpu", "hugepages-", "memory"',
        ),
        (
            "cpus",
            "spec.resources.limits[cpus]: Invalid value: cpus: "
            "must be a standard resource type or fully qualified",
        ),
    ],
)
def test_only_cpu_memory_and_huge_pages_may_be_set_for_a_pod(name: str, expected: str) -> None:
    assert _errors({"limits": {"cpu": "1", name: "1"}}) == [expected]


def test_a_container_limited_above_the_pod_is_refused() -> None:
    errs = _errors(
        {"limits": dict(LIMITS), "requests": {"cpu": "100m", "memory": "64Mi"}},
        _container("a", requests={"cpu": "100m", "memory": "64Mi"}, limits={"memory": "256Mi"}),
        _container("b"),
    )
    assert errs == [
        'spec.resources.containers[0][memory].limits: Invalid value: "256Mi": '
        "must be less than or equal to pod limits of 128Mi"
    ]


def test_pod_requests_must_cover_what_the_containers_request_together() -> None:
    errs = _errors(
        {"requests": {"cpu": "300m"}},
        _container("a", requests={"cpu": "200m"}),
        _container("b", requests={"cpu": "200m", "memory": "1Gi"}),
    )
    # Memory, which the pod leaves to its containers, is not compared.
    assert errs == [
        'spec.resources.requests[cpu]: Invalid value: "300m": '
        "must be greater than or equal to aggregate container requests of 400m"
    ]


def test_a_pod_request_above_its_limit_is_refused_as_for_a_container() -> None:
    assert _errors({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}) == [
        'spec.resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1'
    ]


def test_huge_pages_limits_of_the_pod_cover_its_containers() -> None:
    errs = _errors(
        {"limits": {"memory": "1Gi", "hugepages-2Mi": "2Mi"}, "requests": {"hugepages-2Mi": "2Mi"}},
        _container("a", limits={"memory": "100Mi", "hugepages-2Mi": "2Mi"}),
        _container("b", limits={"memory": "100Mi", "hugepages-2Mi": "2Mi"}),
    )
    assert (
        'spec.resources.limits[hugepages-2Mi]: Invalid value: "2Mi": '
        "must be greater than or equal to aggregate container limits of 4Mi"
    ) in errs


def test_huge_pages_alone_are_refused_at_the_pod_level_too() -> None:
    assert _errors({"limits": {"hugepages-2Mi": "2Mi"}}) == [
        "spec.resources: Forbidden: HugePages require cpu or memory"
    ]


def test_claims_belong_to_containers_not_to_the_pod() -> None:
    errs = [
        str(e)
        for e in validate_pod_spec(
            {**_pod({"claims": [{"name": "gpu"}]})["spec"], "terminationGracePeriodSeconds": 30},
            "spec",
        )
    ]
    assert "spec.resources.claims: Forbidden: claims cannot be set for Resources at pod-level" in (
        errs
    )
    assert (
        'spec.resources.claims[0]: Not found: "gpu": must be one of the names in '
        "pod.spec.resourceClaims which is empty"
    ) in errs


def test_a_windows_pod_may_not_have_pod_level_resources() -> None:
    assert _errors({"limits": dict(LIMITS)}, os={"name": "windows"}) == [
        "spec.resources: Forbidden: may not be set for a windows pod"
    ]


def test_a_template_is_validated_the_same_way() -> None:
    # A template gets no pod defaults: neither requests from limits, nor pod-level ones.
    spec = {
        "containers": [_container("a", limits={"cpu": "2"})],
        "resources": {"limits": {"cpu": "1"}},
    }
    default_pod_spec(spec)
    errs = [str(e) for e in validate_pod_spec(spec, "spec.template.spec")]
    assert errs == [
        'spec.template.spec.resources.containers[0][cpu].limits: Invalid value: "2": '
        "must be less than or equal to pod limits of 1"
    ]


# --- defaulting ---------------------------------------------------------------------------------


def test_pod_requests_default_to_pod_limits_when_no_container_requests() -> None:
    pod = _defaulted({"limits": dict(LIMITS)})
    assert pod["spec"]["resources"] == {"limits": LIMITS, "requests": LIMITS}
    # The containers are left as they were.
    assert [c["resources"] for c in pod["spec"]["containers"]] == [{}, {}]


def test_pod_requests_default_to_what_the_containers_request_together() -> None:
    pod = _defaulted(
        {"limits": dict(LIMITS)},
        _container("a", requests={"cpu": "100m"}),
        _container("b", limits={"cpu": "150m"}),
    )
    # b's request was copied from its limit first; memory, which no container requests,
    # comes from the pod's limit.
    assert pod["spec"]["resources"]["requests"] == {"cpu": "250m", "memory": "128Mi"}


def test_without_pod_limits_pod_requests_are_left_alone() -> None:
    pod = _defaulted({"requests": {"cpu": "1"}}, _container("a", requests={"memory": "1Gi"}))
    assert pod["spec"]["resources"] == {"requests": {"cpu": "1"}}


def test_pod_limits_default_to_the_containers_total_when_every_container_has_one() -> None:
    pod = _defaulted(
        {"requests": {"cpu": "100m"}},
        _container("a", limits={"cpu": "300m", "memory": "1Gi"}),
        _container("b", limits={"cpu": "200m"}),
    )
    # cpu: both containers limit it; memory: b does not, so the pod stays unbounded there.
    assert pod["spec"]["resources"]["limits"] == {"cpu": "500m"}


def test_huge_pages_the_containers_limit_become_a_pod_limit() -> None:
    pod = _defaulted(
        {"limits": {"memory": "1Gi"}},
        _container("a", limits={"memory": "100Mi", "hugepages-2Mi": "2Mi"}),
        _container("b", limits={"memory": "100Mi", "hugepages-2Mi": "4Mi"}),
    )
    resources = pod["spec"]["resources"]
    assert resources["limits"] == {"memory": "1Gi", "hugepages-2Mi": "6Mi"}
    assert resources["requests"] == {"memory": "200Mi", "hugepages-2Mi": "6Mi"}


def test_a_pod_without_pod_level_resources_gets_none() -> None:
    pod = _defaulted(None, _container("a", limits=dict(LIMITS)))
    assert "resources" not in pod["spec"]


# --- QoS ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resources", "containers", "expected"),
    [
        ({"requests": LIMITS, "limits": LIMITS}, [_container()], GUARANTEED),
        # The pod's own resources decide, whatever its containers say.
        ({"requests": LIMITS, "limits": LIMITS}, [_container(requests={"cpu": "1m"})], GUARANTEED),
        ({"requests": {"cpu": "1"}}, [_container(requests=LIMITS, limits=LIMITS)], BURSTABLE),
        (
            {"requests": {"cpu": "500m"}, "limits": {"cpu": "500m"}},
            [_container()],
            BURSTABLE,
        ),
        ({"requests": {"cpu": "100m"}, "limits": LIMITS}, [_container()], BURSTABLE),
        # Empty pod-level resources are as none (1.37): the containers decide.
        ({}, [_container(requests=LIMITS, limits=LIMITS)], GUARANTEED),
        ({"requests": {}}, [_container()], BEST_EFFORT),
    ],
)
def test_qos_of_a_pod_with_its_own_resources(
    resources: Obj, containers: list[Obj], expected: str
) -> None:
    assert compute_qos_class({"spec": {"resources": resources, "containers": containers}}) == (
        expected
    )
