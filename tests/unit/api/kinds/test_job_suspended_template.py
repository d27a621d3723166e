"""What of a suspended Job's pod template may change (Kubernetes 1.37: the beta, on-by-default
MutableSchedulingDirectivesForSuspendedJobs and MutablePodResourcesForSuspendedJobs, with the
1.36 regression fixed by kubernetes#139287)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from kubelite.api.strategies.batch import JobStrategy

Obj = dict[str, Any]
UID = "3c0f2a64-5a77-4e55-8d0e-7f3a0b9e1d22"
IMMUTABLE = "spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"
STARTED = "2026-01-01T00:00:00Z"
SUSPENDED = {"type": "Suspended", "status": "True", "reason": "JobSuspended"}


def stored_job(suspend: bool = True, **status: Any) -> Obj:
    """A Job as the server stores it (defaulted, selector generated), with `status`."""
    obj: Obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train", "namespace": "default", "uid": UID},
        "spec": {
            "suspend": suspend,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "initContainers": [
                        {
                            "name": "fetch",
                            "image": "busybox",
                            "resources": {"requests": {"cpu": "100m"}},
                        }
                    ],
                    "containers": [
                        {
                            "name": "trainer",
                            "image": "busybox",
                            "resources": {
                                "requests": {"cpu": "8", "memory": "32Gi"},
                                "limits": {"cpu": "8", "memory": "32Gi"},
                            },
                        }
                    ],
                }
            },
        },
    }
    strategy = JobStrategy()
    strategy.default(obj)
    strategy.prepare_for_create(obj)
    obj["metadata"]["resourceVersion"] = "1"
    if status:
        obj["status"] = status
    return obj


def update_errors(old: Obj, change: Callable[[Obj], None]) -> list[str]:
    new = copy.deepcopy(old)
    change(new)
    strategy = JobStrategy()
    strategy.default(new)
    strategy.prepare_for_update(new, old)
    return [str(e) for e in strategy.validate_update(new, old)]


def pod_spec(job: Obj) -> Obj:
    spec: Obj = job["spec"]["template"]["spec"]
    return spec


def smaller(job: Obj) -> None:
    """Halve the trainer's resources and the init container's request."""
    pod_spec(job)["containers"][0]["resources"] = {
        "requests": {"cpu": "4", "memory": "16Gi"},
        "limits": {"cpu": "4", "memory": "16Gi"},
    }
    pod_spec(job)["initContainers"][0]["resources"] = {"requests": {"cpu": "50m"}}


def elsewhere(job: Obj) -> None:
    """New scheduling directives and template labels."""
    pod_spec(job)["nodeSelector"] = {"zone": "b"}
    pod_spec(job)["tolerations"] = [{"key": "gpu", "operator": "Exists"}]
    job["spec"]["template"]["metadata"]["labels"]["queue"] = "a"


def resumed_smaller(job: Obj) -> None:
    """Resize and resume in the one update, as the KEP advises queue controllers to."""
    smaller(job)
    job["spec"]["suspend"] = False


@pytest.mark.parametrize("change", [smaller, elsewhere, resumed_smaller])
@pytest.mark.parametrize(
    "old",
    [
        # Created suspended: the controller has not yet set the condition (kubernetes#139287).
        stored_job(),
        stored_job(conditions=[SUSPENDED]),
        # Ran, then was suspended: the condition is set and every pod is gone.
        stored_job(startTime=STARTED, conditions=[SUSPENDED], active=0),
        stored_job(startTime=STARTED, conditions=[SUSPENDED]),
    ],
    ids=["created-suspended", "condition-set", "ran-then-suspended", "no-active-count"],
)
def test_a_suspended_job_whose_pods_are_gone_may_change_resources_and_placement(
    old: Obj, change: Callable[[Obj], None]
) -> None:
    assert update_errors(old, change) == []


@pytest.mark.parametrize("change", [smaller, elsewhere])
@pytest.mark.parametrize(
    "old",
    [
        # Running.
        stored_job(suspend=False, startTime=STARTED, active=1),
        # Suspended by the user, but the controller has not yet marked it so.
        stored_job(startTime=STARTED, active=1),
        stored_job(startTime=STARTED),
        # Marked, but a pod is still active.
        stored_job(startTime=STARTED, conditions=[SUSPENDED], active=1),
        # Resuming: the condition still says Suspended but the stored spec no longer does.
        stored_job(suspend=False, startTime=STARTED, conditions=[SUSPENDED]),
        # A condition that is not True does not count.
        stored_job(startTime=STARTED, conditions=[{**SUSPENDED, "status": "False"}]),
    ],
    ids=["running", "unmarked-active", "unmarked", "active-pod", "resuming", "condition-false"],
)
def test_the_template_is_fixed_while_pods_may_run_it(
    old: Obj, change: Callable[[Obj], None]
) -> None:
    assert update_errors(old, change) == [IMMUTABLE]


@pytest.mark.parametrize(
    "change",
    [
        lambda j: pod_spec(j)["containers"][0].update(image="busybox:2"),
        lambda j: pod_spec(j)["containers"].append({"name": "extra", "image": "busybox"}),
        lambda j: pod_spec(j).update(resources={"requests": {"cpu": "16"}}),
        lambda j: pod_spec(j)["containers"][0].update(env=[{"name": "A", "value": "1"}]),
    ],
    ids=["image", "added-container", "pod-level-resources", "env"],
)
def test_only_resources_and_scheduling_directives_may_change(change: Any) -> None:
    assert update_errors(stored_job(), change) == [IMMUTABLE]


def test_resources_may_be_dropped_and_the_rest_of_the_container_stays_checked() -> None:
    def drop(job: Obj) -> None:
        del pod_spec(job)["containers"][0]["resources"]

    assert update_errors(stored_job(), drop) == []

    def drop_and_rename(job: Obj) -> None:
        drop(job)
        pod_spec(job)["containers"][0]["name"] = "other"

    assert IMMUTABLE in update_errors(stored_job(), drop_and_rename)
