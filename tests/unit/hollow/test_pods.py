"""A hollow node reports a started pod with the status shapes a kubelet writes."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from kubelite.hollow import pods
from kubelite.hollow.pods import PodAddresses

Obj = dict[str, Any]

NOW = "2026-01-02T03:04:05Z"
SCHEDULED_AT = "2026-01-02T03:04:00Z"


def _pod(**spec: Any) -> Obj:
    spec.setdefault("containers", [{"name": "web", "image": "nginx"}])
    spec.setdefault("nodeName", "hollow-node-0")
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "u-1"},
        "spec": spec,
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": SCHEDULED_AT,
                }
            ],
        },
    }


def _running(pod: Obj) -> Obj:
    return pods.running_status(pod, host_ip="198.18.0.1", pod_ip="100.64.0.7", now=NOW)


def test_a_started_pod_is_running_with_addresses_and_a_start_time() -> None:
    status = _running(_pod())
    assert status["phase"] == "Running"
    assert status["startTime"] == NOW
    assert (status["hostIP"], status["hostIPs"]) == ("198.18.0.1", [{"ip": "198.18.0.1"}])
    assert (status["podIP"], status["podIPs"]) == ("100.64.0.7", [{"ip": "100.64.0.7"}])
    assert "initContainerStatuses" not in status


def test_the_kubelets_conditions_come_in_its_order_and_podscheduled_is_kept() -> None:
    conditions = _running(_pod())["conditions"]
    assert [(c["type"], c["status"]) for c in conditions] == [
        ("PodReadyToStartContainers", "True"),
        ("Initialized", "True"),
        ("Ready", "True"),
        ("ContainersReady", "True"),
        ("PodScheduled", "True"),
    ]
    assert all(c["lastProbeTime"] is None for c in conditions)
    assert all("reason" not in c for c in conditions)
    assert [c["lastTransitionTime"] for c in conditions] == [NOW] * 4 + [SCHEDULED_AT]


def test_conditions_of_other_components_are_kept_first() -> None:
    pod = _pod()
    other = {"type": "example.com/warm", "status": "True", "lastTransitionTime": SCHEDULED_AT}
    pod["status"]["conditions"].insert(0, other)
    conditions = _running(pod)["conditions"]
    assert conditions[0] == other
    assert [c["type"] for c in conditions[1:]][-1] == "PodScheduled"


@pytest.mark.parametrize(
    ("gate_condition", "message"),
    [
        (None, 'corresponding condition of pod readiness gate "example.com/lb" does not exist.'),
        (
            {"type": "example.com/lb", "status": "False"},
            'the status of pod readiness gate "example.com/lb" is not "True", but False',
        ),
    ],
)
def test_a_pod_whose_readiness_gate_is_not_true_runs_but_is_not_ready(
    gate_condition: Obj | None, message: str
) -> None:
    pod = _pod(readinessGates=[{"conditionType": "example.com/lb"}])
    if gate_condition is not None:
        pod["status"]["conditions"].append(gate_condition)
    status = _running(pod)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        "ReadinessGatesNotReady",
        message,
    )
    assert status["phase"] == "Running"


def test_a_satisfied_readiness_gate_lets_the_pod_be_ready() -> None:
    pod = _pod(readinessGates=[{"conditionType": "example.com/lb"}])
    pod["status"]["conditions"].append({"type": "example.com/lb", "status": "True"})
    ready = next(c for c in _running(pod)["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"


def test_container_statuses_are_running_started_ready_and_sorted_by_name() -> None:
    pod = _pod(
        containers=[
            {
                "name": "web",
                "image": "nginx:1.27",
                "resources": {
                    "requests": {"cpu": "100m", "example.com/gpu": "1"},
                    "limits": {"memory": "128Mi"},
                },
                "volumeMounts": [
                    {"name": "token", "mountPath": "/var/run/secrets", "readOnly": True},
                    {"name": "data", "mountPath": "/data"},
                ],
            },
            {"name": "sidecar", "image": "quay.io/org/agent:v2"},
        ]
    )
    statuses = _running(pod)["containerStatuses"]
    assert [s["name"] for s in statuses] == ["sidecar", "web"]
    web = statuses[1]
    assert web["state"] == {"running": {"startedAt": NOW}}
    assert web["lastState"] == {}
    assert (web["ready"], web["started"], web["restartCount"]) == (True, True, 0)
    assert web["image"] == "docker.io/library/nginx:1.27"
    assert web["imageID"].startswith("docker.io/library/nginx@sha256:")
    assert web["containerID"].startswith("kubelite-hollow://")
    assert len(web["containerID"].removeprefix("kubelite-hollow://")) == 64
    assert web["volumeMounts"] == [
        {
            "name": "token",
            "mountPath": "/var/run/secrets",
            "readOnly": True,
            "recursiveReadOnly": "Disabled",
        },
        {"name": "data", "mountPath": "/data"},
    ]
    # Only cpu, memory and ephemeral-storage are reported.
    assert web["resources"] == {"requests": {"cpu": "100m"}, "limits": {"memory": "128Mi"}}
    assert statuses[0]["resources"] == {}
    assert "volumeMounts" not in statuses[0]


def test_init_containers_completed_and_sidecars_running_in_spec_order() -> None:
    pod = _pod(
        initContainers=[
            {"name": "setup", "image": "busybox"},
            {"name": "proxy", "image": "envoy", "restartPolicy": "Always"},
        ]
    )
    setup, proxy = _running(pod)["initContainerStatuses"]
    assert setup["name"] == "setup"
    assert setup["state"]["terminated"] == {
        "exitCode": 0,
        "reason": "Completed",
        "startedAt": NOW,
        "finishedAt": NOW,
        "containerID": setup["containerID"],
    }
    assert (setup["ready"], setup["started"], setup["restartCount"]) == (True, False, 0)
    assert "resources" not in setup
    assert proxy["state"] == {"running": {"startedAt": NOW}}
    assert (proxy["ready"], proxy["started"]) == (True, True)


def test_an_earlier_start_time_is_kept() -> None:
    pod = _pod()
    pod["status"]["startTime"] = SCHEDULED_AT
    assert _running(pod)["startTime"] == SCHEDULED_AT


def test_the_status_patch_names_the_pods_uid() -> None:
    pod = _pod()
    patch = pods.status_patch(pod, {"phase": "Running"})
    assert patch == {"metadata": {"uid": "u-1"}, "status": {"phase": "Running"}}


@pytest.mark.parametrize(
    ("image", "normalized"),
    [
        ("nginx", "docker.io/library/nginx:latest"),
        ("nginx:1.27", "docker.io/library/nginx:1.27"),
        ("bitnami/redis", "docker.io/bitnami/redis:latest"),
        ("quay.io/org/app:v1", "quay.io/org/app:v1"),
        ("localhost/app", "localhost/app:latest"),
        ("127.0.0.1:5000/app:2", "127.0.0.1:5000/app:2"),
        ("busybox@sha256:" + "a" * 64, "docker.io/library/busybox@sha256:" + "a" * 64),
    ],
)
def test_images_are_reported_as_runtimes_normalise_them(image: str, normalized: str) -> None:
    assert pods.normalize_image(image) == normalized


def test_an_image_id_is_a_digest_reference_and_stable() -> None:
    assert pods.image_id("nginx") == pods.image_id("docker.io/library/nginx:latest")
    assert pods.image_id("nginx") != pods.image_id("nginx:1.27")
    digest = "busybox@sha256:" + "b" * 64
    assert pods.image_id(digest) == "docker.io/library/" + digest


def test_which_pods_need_a_status_write() -> None:
    pending = _pod()
    assert pods.needs_status(pending)
    running = _pod()
    running["status"] = _running(running)
    assert not pods.needs_status(running)
    gated = _pod(readinessGates=[{"conditionType": "example.com/lb"}])
    gated["status"] = _running(gated)  # Ready False: the gate condition is missing
    assert not pods.needs_status(gated)
    gated["status"]["conditions"].insert(0, {"type": "example.com/lb", "status": "True"})
    assert pods.needs_status(gated)  # the gate is now True: Ready must follow
    finished = _pod()
    finished["status"]["phase"] = "Succeeded"
    assert pods.is_terminal(finished)


def test_pod_addresses_are_unique_in_the_node_cidr_and_given_back() -> None:
    network = ipaddress.IPv4Network("100.64.1.0/29")  # six usable addresses
    addresses = PodAddresses(network)
    given = [addresses.allocate(f"ns/p{i}") for i in range(6)]
    assert given == [f"100.64.1.{i}" for i in range(1, 7)]
    assert addresses.allocate("ns/p3") == "100.64.1.4"  # the same pod, the same address
    with pytest.raises(IndexError):
        addresses.allocate("ns/p6")
    addresses.release("ns/p1")
    assert addresses.allocate("ns/p6") == "100.64.1.2"
    assert len(addresses) == 6


def test_addresses_found_on_running_pods_are_reserved() -> None:
    addresses = PodAddresses(ipaddress.IPv4Network("100.64.0.0/24"))
    assert addresses.reserve("ns/old", "100.64.0.1")
    assert not addresses.reserve("ns/other", "100.64.0.1")  # already held
    assert not addresses.reserve("ns/x", "10.0.0.1")  # not this node's
    assert not addresses.reserve("ns/y", "100.64.0.0")  # the network address
    assert addresses.allocate("ns/new") == "100.64.0.2"
    assert addresses.address_of("ns/old") == "100.64.0.1"
