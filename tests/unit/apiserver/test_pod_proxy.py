"""pods/log and pods/exec at the API server: the checks made before anything is proxied."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import MultiDict

from kubelite.api import errors
from kubelite.apiserver import pod_proxy


def pod(containers: list[str], init: list[str] = (), **status: Any) -> dict[str, Any]:  # type: ignore[assignment]
    spec: dict[str, Any] = {"containers": [{"name": c} for c in containers]}
    if init:
        spec["initContainers"] = [{"name": c} for c in init]
    return {"metadata": {"name": "web"}, "spec": spec, "status": status}


def refusal(call: Any, *args: Any) -> tuple[int, str]:
    with pytest.raises(errors.StatusError) as caught:
        call(*args)
    return caught.value.code, caught.value.message


# --- which container ------------------------------------------------------------------------


def test_the_only_container_is_chosen() -> None:
    assert pod_proxy.choose_container(pod(["app"]), "") == "app"


@pytest.mark.parametrize(
    ("p", "message"),
    [
        (pod(["a", "b"]), "a container name must be specified for pod web, choose one of: [a b]"),
        (
            pod(["a", "b"], init=["setup"]),
            "a container name must be specified for pod web, choose one of: [a b] "
            "or one of the init containers: [setup]",
        ),
    ],
)
def test_several_containers_need_a_name(p: dict[str, Any], message: str) -> None:
    assert refusal(pod_proxy.choose_container, p, "") == (400, message)


def test_an_unknown_container_is_refused_and_init_containers_are_known() -> None:
    p = pod(["app"], init=["setup"])
    assert refusal(pod_proxy.choose_container, p, "nope") == (
        400,
        "container nope is not valid for pod web",
    )
    assert pod_proxy.choose_container(p, "setup") == "setup"


# --- whether it has a log -------------------------------------------------------------------


def status_of(state: dict[str, Any], last: dict[str, Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": "app", "state": state}
    if last is not None:
        entry["lastState"] = last
    return {"containerStatuses": [entry]}


TERMINATED_OLD = {"terminated": {"exitCode": 1, "containerID": "kubelite://old"}}


@pytest.mark.parametrize(
    ("status", "previous", "message"),
    [
        (status_of({"running": {}}), False, None),
        (status_of({"terminated": {"containerID": "kubelite://x"}}), False, None),
        (status_of({"running": {}}, TERMINATED_OLD), True, None),
        (
            status_of({"waiting": {"reason": "ContainerCreating"}}),
            False,
            'container "app" in pod "web" is waiting to start: ContainerCreating',
        ),
        (
            status_of({"waiting": {"reason": "ImagePullBackOff"}}),
            False,
            'container "app" in pod "web" is waiting to start: trying and failing to pull image',
        ),
        (
            status_of({"waiting": {"reason": "ErrImagePull"}}),
            False,
            'container "app" in pod "web" is waiting to start: image can\'t be pulled',
        ),
        # A crash loop still has the last instance's log.
        (status_of({"waiting": {"reason": "CrashLoopBackOff"}}, TERMINATED_OLD), False, None),
        (
            status_of({"running": {}}),
            True,
            'previous terminated container "app" in pod "web" not found',
        ),
        (
            {},
            False,
            'container "app" in pod "web" is waiting to start: ContainerCreating',
        ),
    ],
)
def test_log_status(status: dict[str, Any], previous: bool, message: str | None) -> None:
    p = pod(["app"], **status)
    if message is None:
        pod_proxy.check_log_status(p, "app", previous)
    else:
        assert refusal(pod_proxy.check_log_status, p, "app", previous) == (400, message)


def test_a_container_behind_init_containers_is_initializing() -> None:
    p = pod(["app"], init=["setup"])
    assert refusal(pod_proxy.check_log_status, p, "app", False)[1] == (
        'container "app" in pod "web" is waiting to start: PodInitializing'
    )


# --- options --------------------------------------------------------------------------------


def test_log_options_become_the_kubelet_query() -> None:
    query = MultiDict(
        {
            "follow": "true",
            "tailLines": "5",
            "timestamps": "1",
            "sinceSeconds": "60",
            "limitBytes": "100",
            "previous": "false",
            "container": "app",
        }
    )
    assert pod_proxy.log_query(query, "web") == {
        "follow": "true",
        "timestamps": "true",
        "tailLines": "5",
        "limitBytes": "100",
        "sinceSeconds": "60",
    }


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        (
            {"tailLines": "-1"},
            422,
            "tailLines: Invalid value: -1: must be greater than or equal to 0",
        ),
        ({"limitBytes": "0"}, 422, "limitBytes: Invalid value: 0: must be greater than 0"),
        ({"sinceSeconds": "0"}, 422, "sinceSeconds: Invalid value: 0: must be greater than 0"),
        (
            {"sinceSeconds": "5", "sinceTime": "2026-12-02T03:00:00Z"},
            422,
            "at most one of `sinceTime` or `sinceSeconds` may be specified",
        ),
        ({"tailLines": "x"}, 400, 'strconv.ParseInt: parsing "x": invalid syntax'),
        ({"follow": "yes"}, 400, 'strconv.ParseBool: parsing "yes": invalid syntax'),
    ],
)
def test_bad_log_options(query: dict[str, str], code: int, message: str) -> None:
    got_code, got_message = refusal(pod_proxy.log_query, MultiDict(query), "web")
    assert got_code == code
    assert message in got_message
