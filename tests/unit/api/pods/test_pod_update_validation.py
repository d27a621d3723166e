"""What may change in a running pod (ValidatePodUpdate) and through pods/status."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from kubelite.api.defaulting.pods import default_pod
from kubelite.api.validation.pods import validate_pod_status_update, validate_pod_update

Pod = dict[str, Any]

FORBIDDEN_PREFIX = (
    "spec: Forbidden: pod updates may not change fields other than "
    "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
    "\n"
)


def _stored(**spec: Any) -> Pod:
    pod: Pod = {
        "metadata": {"name": "web"},
        "spec": {
            "containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}]}],
            **spec,
        },
    }
    default_pod(pod)
    return pod


def _update(old: Pod, change: Callable[[dict[str, Any]], None]) -> list[str]:
    new = copy.deepcopy(old)
    change(new["spec"])
    default_pod(new)
    return [str(e) for e in validate_pod_update(new, old)]


def _container(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["containers"][0]


ALLOWED: list[tuple[str, Pod, Callable[[dict[str, Any]], None]]] = [
    ("nothing", _stored(), lambda spec: None),
    ("an image", _stored(), lambda spec: _container(spec).update(image="nginx:1.27")),
    (
        "an init container image",
        _stored(initContainers=[{"name": "init", "image": "busybox"}]),
        lambda spec: spec["initContainers"][0].update(image="busybox:1.36"),
    ),
    ("a deadline set", _stored(), lambda spec: spec.update(activeDeadlineSeconds=600)),
    (
        "a deadline shortened",
        _stored(activeDeadlineSeconds=600),
        lambda spec: spec.update(activeDeadlineSeconds=60),
    ),
    (
        "a toleration added",
        _stored(),
        lambda spec: spec["tolerations"].append({"key": "gpu", "operator": "Exists"}),
    ),
    (
        "the seconds of a toleration changed",
        _stored(),
        lambda spec: spec["tolerations"][0].update(tolerationSeconds=60),
    ),
    (
        "a scheduling gate removed",
        _stored(schedulingGates=[{"name": "example.com/a"}, {"name": "example.com/b"}]),
        lambda spec: spec["schedulingGates"].pop(0),
    ),
    (
        "a negative grace period set to 1",
        _stored(terminationGracePeriodSeconds=-1),
        lambda spec: spec.update(terminationGracePeriodSeconds=1),
    ),
    (
        "a node selector added to a gated pod",
        _stored(schedulingGates=[{"name": "example.com/a"}]),
        lambda spec: spec.update(nodeSelector={"disk": "ssd"}),
    ),
    (
        "an empty list where the stored pod has none",
        _stored(),
        lambda spec: _container(spec).update(command=[]),
    ),
]


@pytest.mark.parametrize(("old", "change"), [c[1:] for c in ALLOWED], ids=[c[0] for c in ALLOWED])
def test_allowed_updates(old: Pod, change: Callable[[dict[str, Any]], None]) -> None:
    assert _update(old, change) == []


REFUSED: list[tuple[str, Pod, Callable[[dict[str, Any]], None], list[str]]] = [
    (
        "a container added",
        _stored(),
        lambda spec: spec["containers"].append({"name": "side", "image": "busybox"}),
        ["spec.containers: Forbidden: pod updates may not add or remove containers"],
    ),
    (
        "an init container removed",
        _stored(initContainers=[{"name": "init", "image": "busybox"}]),
        lambda spec: spec.pop("initContainers"),
        ["spec.initContainers: Forbidden: pod updates may not add or remove containers"],
    ),
    (
        "an image removed",
        _stored(),
        lambda spec: _container(spec).update(image=""),
        ["spec.containers[0].image: Required value"],
    ),
    (
        "a deadline lengthened",
        _stored(activeDeadlineSeconds=100),
        lambda spec: spec.update(activeDeadlineSeconds=200),
        [
            "spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to "
            "previous value"
        ],
    ),
    (
        "a deadline removed",
        _stored(activeDeadlineSeconds=100),
        lambda spec: spec.pop("activeDeadlineSeconds"),
        [
            'spec.activeDeadlineSeconds: Invalid value: "null": must not update from a positive '
            "integer to nil value"
        ],
    ),
    (
        # (the default tolerations would come back: DefaultTolerationSeconds runs on updates)
        "a toleration removed",
        _stored(tolerations=[{"key": "gpu", "operator": "Exists"}]),
        lambda spec: spec["tolerations"].pop(0),
        [
            "spec.tolerations: Forbidden: existing toleration can not be modified except its "
            "tolerationSeconds"
        ],
    ),
    (
        "a scheduling gate added",
        _stored(schedulingGates=[{"name": "example.com/a"}]),
        lambda spec: spec["schedulingGates"].append({"name": "example.com/b"}),
        [
            "spec.schedulingGates[1].name: Forbidden: only deletion is allowed, but found new "
            "scheduling gate 'example.com/b'"
        ],
    ),
]


@pytest.mark.parametrize(
    ("old", "change", "expected"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_refused_updates(
    old: Pod, change: Callable[[dict[str, Any]], None], expected: list[str]
) -> None:
    assert _update(old, change) == expected


def test_a_changed_port_is_refused_with_the_diff_kubernetes_prints() -> None:
    errors = _update(
        _stored(), lambda spec: _container(spec)["ports"][0].update(containerPort=8080)
    )
    assert errors == [
        FORBIDDEN_PREFIX + "  core.PodSpec{\n"
        "  \tVolumes:        nil,\n"
        "  \tInitContainers: nil,\n"
        "  \tContainers: []core.Container{\n"
        "  \t\t{\n"
        "  \t\t\t... // 3 identical fields\n"
        "  \t\t\tArgs:       nil,\n"
        '  \t\t\tWorkingDir: "",\n'
        "  \t\t\tPorts: []core.ContainerPort{\n"
        "  \t\t\t\t{\n"
        '  \t\t\t\t\tName:          "",\n'
        "  \t\t\t\t\tHostPort:      0,\n"
        "- \t\t\t\t\tContainerPort: 80,\n"
        "+ \t\t\t\t\tContainerPort: 8080,\n"
        '  \t\t\t\t\tProtocol:      "TCP",\n'
        '  \t\t\t\t\tHostIP:        "",\n'
        "  \t\t\t\t},\n"
        "  \t\t\t},\n"
        "  \t\t\tEnvFrom: nil,\n"
        "  \t\t\tEnv:     nil,\n"
        "  \t\t\t... // 16 identical fields\n"
        "  \t\t},\n"
        "  \t},\n"
        "  \tEphemeralContainers: nil,\n"
        '  \tRestartPolicy:       "Always",\n'
        "  \t... // 29 identical fields\n"
        "  }\n"
    ]


def test_a_refused_change_names_the_new_value_with_its_go_type() -> None:
    (error,) = _update(_stored(), lambda spec: spec.update(nodeSelector={"disk": "ssd"}))
    assert error.startswith(FORBIDDEN_PREFIX)
    assert "- \tNodeSelector:                 nil,\n" in error
    assert '+ \tNodeSelector:                 map[string]string{"disk": "ssd"},\n' in error


def test_a_changed_limit_shows_the_quantities_as_go_prints_them() -> None:
    old = _stored()
    _container(old["spec"])["resources"] = {"limits": {"cpu": "500m"}, "requests": {"cpu": "500m"}}
    (error,) = _update(old, lambda spec: _container(spec)["resources"]["limits"].update(cpu="1"))
    # A one-entry map that changed is shown whole, the longer line broken up, as go-cmp does.
    assert (
        "- \t\t\t\tLimits: core.ResourceList{\n"
        '- \t\t\t\t\ts"cpu": {i: resource.int64Amount{value: 500, scale: -3}, s: "500m", '
        'Format: "DecimalSI"},\n'
        "- \t\t\t\t},\n"
        '+ \t\t\t\tLimits:   core.ResourceList{s"cpu": {i: resource.int64Amount{value: 1}, '
        's: "1", Format: "DecimalSI"}},\n'
        '  \t\t\t\tRequests: {s"cpu": {i: {value: 500, scale: -3}, s: "500m", '
        'Format: "DecimalSI"}},\n'
    ) in error


def test_the_host_network_flag_is_shown_where_kubernetes_keeps_it() -> None:
    (error,) = _update(_stored(), lambda spec: spec.update(hostNetwork=True))
    assert "  \tSecurityContext: &core.PodSecurityContext{\n" in error
    assert "- \t\tHostNetwork: false,\n" in error
    assert "+ \t\tHostNetwork: true,\n" in error


def _with_status(pod: Pod, **status: Any) -> Pod:
    result = copy.deepcopy(pod)
    result["status"] = {"phase": "Running", "qosClass": "BestEffort", **status}
    return result


def test_status_may_not_move_a_pod_to_another_node() -> None:
    old = _with_status(_stored(nodeName="node-1"))
    new = copy.deepcopy(old)
    new["spec"]["nodeName"] = "node-2"
    assert [str(e) for e in validate_pod_status_update(new, old)] == [
        "status.nodeName: Forbidden: may not be changed directly"
    ]


def test_the_qos_class_is_immutable() -> None:
    old = _with_status(_stored())
    new = _with_status(_stored(), qosClass="Guaranteed")
    assert [str(e) for e in validate_pod_status_update(new, old)] == [
        'status.qosClass: Invalid value: "Guaranteed": field is immutable'
    ]


def test_custom_condition_types_are_qualified_names_reported_under_metadata() -> None:
    old = _with_status(_stored())
    new = _with_status(_stored(), conditions=[{"type": "Ready"}, {"type": "bad type"}])
    assert [str(e) for e in validate_pod_status_update(new, old)] == [
        'metadata.conditions[1].Type: Invalid value: "bad type": name part must consist of '
        "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
        "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    ]


@pytest.mark.parametrize(
    ("restart_policy", "exit_code", "refused"),
    [("Never", 0, True), ("Never", 1, True), ("OnFailure", 1, False), ("OnFailure", 0, True)],
)
def test_finished_containers_that_will_not_restart_stay_finished(
    restart_policy: str, exit_code: int, refused: bool
) -> None:
    stored = _stored(restartPolicy=restart_policy)
    old = _with_status(
        stored,
        containerStatuses=[{"name": "nginx", "state": {"terminated": {"exitCode": exit_code}}}],
    )
    new = _with_status(stored, containerStatuses=[{"name": "nginx", "state": {"running": {}}}])
    expected = (
        [
            "status.containerStatuses[0].state: Forbidden: may not be transitioned to "
            "non-terminated state"
        ]
        if refused
        else []
    )
    assert [str(e) for e in validate_pod_status_update(new, old)] == expected


def test_pod_ips_must_be_ips_one_per_family() -> None:
    old = _with_status(_stored())
    new = _with_status(_stored(), podIPs=[{"ip": "10.0.0.1"}, {"ip": "10.0.0.1"}, {"ip": "x"}])
    assert [str(e) for e in validate_pod_status_update(new, old)] == [
        'status.podIPs[2]: Invalid value: "x": must be a valid IP address, (e.g. 10.9.8.7 or '
        "2001:db8::ffff)",
        'status.podIPs: Invalid value: []core.PodIP{core.PodIP{IP:"10.0.0.1"}, '
        'core.PodIP{IP:"10.0.0.1"}, core.PodIP{IP:"x"}}: may specify no more than one IP for each '
        "IP family",
        'status.podIPs[1]: Duplicate value: core.PodIP{IP:"10.0.0.1"}',
    ]


def test_the_first_host_ip_is_the_host_ip() -> None:
    old = _with_status(_stored())
    new = _with_status(_stored(), hostIP="192.168.1.2", hostIPs=[{"ip": "192.168.1.3"}])
    assert [str(e) for e in validate_pod_status_update(new, old)] == [
        'status.hostIPs[0].ip: Invalid value: "192.168.1.3": must be equal to `hostIP`'
    ]
