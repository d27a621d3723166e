"""The pod strategy: create, update, status, graceful deletion and field selectors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.api.strategies.pods import PodStrategy

Pod = dict[str, Any]
STRATEGY = PodStrategy()


def _created(spec: dict[str, Any] | None = None, **extra: Any) -> Pod:
    pod: Pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        # As stored: updates carry the resourceVersion they were read at.
        "metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"},
        "spec": spec or {"containers": [{"name": "nginx", "image": "nginx"}]},
        **extra,
    }
    STRATEGY.default(pod)
    STRATEGY.prepare_for_create(pod)
    return pod


def test_a_new_pod_is_pending_with_its_qos_class_and_generation_one() -> None:
    pod = _created(status={"phase": "Running", "podIP": "10.0.0.9"})
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert pod["metadata"]["generation"] == 1
    assert STRATEGY.validate(pod) == []


def test_the_strategy_leaves_the_token_volume_to_service_account_admission() -> None:
    # Kubernetes mounts it in the ServiceAccount admission plugin, which reads the account.
    pod = _created()
    assert "volumes" not in pod["spec"]
    assert "volumeMounts" not in pod["spec"]["containers"][0]


def test_a_gated_pod_says_why_it_is_not_scheduled() -> None:
    pod = _created(
        {
            "containers": [{"name": "c", "image": "i"}],
            "schedulingGates": [{"name": "example.com/a"}],
        }
    )
    assert pod["status"]["conditions"] == [
        {
            "type": "PodScheduled",
            "status": "False",
            "lastProbeTime": None,
            "lastTransitionTime": None,
            "reason": "SchedulingGated",
            "message": "Scheduling is blocked due to non-empty scheduling gates",
        }
    ]


def test_fields_of_features_off_in_1_33_are_dropped_on_create() -> None:
    pod = _created(
        {
            "containers": [
                {
                    "name": "c",
                    "image": "i",
                    "lifecycle": {"stopSignal": "SIGUSR1"},
                    "resources": {"claims": [{"name": "gpu"}]},
                }
            ],
            "resourceClaims": [{"name": "gpu", "resourceClaimName": "gpu"}],
        }
    )
    spec = pod["spec"]
    assert "resourceClaims" not in spec
    assert spec["containers"][0]["lifecycle"] == {}
    assert spec["containers"][0]["resources"] == {}


def test_a_bad_quantity_is_a_bad_request_as_in_kubernetes() -> None:
    pod: Pod = {
        "metadata": {"name": "web"},
        "spec": {
            "containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "1K"}}}]
        },
    }
    with pytest.raises(StatusError) as exc:
        STRATEGY.default(pod)
    assert exc.value.code == 400
    assert exc.value.message == (
        'Pod in version "v1" cannot be handled as a Pod: unable to parse quantity\'s suffix'
    )


def test_an_update_keeps_the_status_and_bumps_the_generation_on_spec_changes() -> None:
    old = _created()
    old["status"] = {"phase": "Running", "qosClass": "BestEffort"}
    relabelled = copy.deepcopy(old)
    relabelled["metadata"]["labels"] = {"app": "web"}
    relabelled["status"] = {"phase": "Failed"}
    STRATEGY.prepare_for_update(relabelled, old)
    assert relabelled["status"] == old["status"]
    assert relabelled["metadata"]["generation"] == 1

    new_image = copy.deepcopy(old)
    new_image["spec"]["containers"][0]["image"] = "nginx:1.27"
    STRATEGY.default(new_image)
    STRATEGY.prepare_for_update(new_image, old)
    assert new_image["metadata"]["generation"] == 2
    assert STRATEGY.validate_update(new_image, old) == []


def test_an_update_is_validated_as_a_pod_and_as_a_change() -> None:
    old = _created()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = " nginx"
    assert [str(e) for e in STRATEGY.validate_update(new, old)] == [
        'spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing '
        "whitespace",
        'spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing '
        "whitespace",
    ]


def test_a_status_write_changes_the_status_and_labels_but_never_the_spec() -> None:
    old = _created()
    old["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "1"}
    ]
    old["spec"]["nodeName"] = "node-1"
    new = copy.deepcopy(old)
    new["spec"]["nodeName"] = "node-2"
    new["metadata"]["ownerReferences"] = []
    new["metadata"]["labels"] = {"ready": "yes"}
    new["status"] = {
        "phase": "Running",
        "observedGeneration": 1,
        "conditions": [{"type": "Ready", "status": "True", "observedGeneration": 1}],
    }
    STRATEGY.prepare_for_status_update(new, old)
    assert new["spec"] == old["spec"]
    assert new["metadata"]["ownerReferences"] == old["metadata"]["ownerReferences"]
    assert new["metadata"]["labels"] == {"ready": "yes"}
    # The QoS class is backfilled; the observed generations are kept (GA in 1.35).
    assert new["status"] == {
        "phase": "Running",
        "observedGeneration": 1,
        "conditions": [{"type": "Ready", "status": "True", "observedGeneration": 1}],
        "qosClass": "BestEffort",
    }
    assert STRATEGY.validate_status_update(new, old) == []


def test_a_status_write_that_clears_observed_generation_keeps_the_stored_one() -> None:
    """KEP-5067: a writer that does not know the field (an old client) must not reset it;
    any value it does send, a lower one included, is taken."""
    old = _created()
    old["status"]["observedGeneration"] = 3
    cleared = copy.deepcopy(old)
    del cleared["status"]["observedGeneration"]
    STRATEGY.prepare_for_status_update(cleared, old)
    assert cleared["status"]["observedGeneration"] == 3
    lowered = copy.deepcopy(old)
    lowered["status"]["observedGeneration"] = 2
    STRATEGY.prepare_for_status_update(lowered, old)
    assert lowered["status"]["observedGeneration"] == 2


@pytest.mark.parametrize(
    ("node", "phase", "spec_period", "requested", "expected"),
    [
        ("node-1", "Running", 30, None, 30),
        ("node-1", "Running", 30, 5, 5),
        ("node-1", "Running", 30, 0, 0),
        ("node-1", "Running", None, None, 0),
        ("node-1", "Running", -5, None, 1),
        ("node-1", "Running", 30, -1, 1),
        ("", "Pending", 30, None, 0),
        ("", "Pending", 30, 10, 0),
        ("node-1", "Succeeded", 30, None, 0),
        ("node-1", "Failed", 30, 10, 0),
    ],
)
def test_grace_period_as_check_graceful_delete(
    node: str, phase: str, spec_period: int | None, requested: int | None, expected: int
) -> None:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "i"}]}
    if node:
        spec["nodeName"] = node
    if spec_period is not None:
        spec["terminationGracePeriodSeconds"] = spec_period
    pod = {"metadata": {"name": "p"}, "spec": spec, "status": {"phase": phase}}
    assert STRATEGY.grace_period(pod, requested) == expected


def test_selectable_fields_are_the_ones_kubernetes_supports() -> None:
    pod = _created()
    pod["spec"]["nodeName"] = "node-1"
    pod["status"].update(
        podIP="10.0.0.5",
        podIPs=[{"ip": "10.0.0.5"}, {"ip": "fd00::5"}],
        nominatedNodeName="node-2",
    )
    assert STRATEGY.selectable_fields(pod) == {
        "spec.nodeName": "node-1",
        "spec.restartPolicy": "Always",
        "spec.schedulerName": "default-scheduler",
        "spec.serviceAccountName": "default",
        "spec.hostNetwork": "false",
        "status.phase": "Pending",
        "status.podIP": "10.0.0.5",
        "status.nominatedNodeName": "node-2",
        "spec.host": "node-1",
    }


def test_selectable_fields_of_an_empty_pod_name_every_key() -> None:
    fields = STRATEGY.selectable_fields({})
    assert set(fields) == {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
        "spec.host",
    }
    assert fields["spec.hostNetwork"] == "false"
