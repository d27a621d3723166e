"""The text of `describe`, piece by piece, as kubectl 1.33 (and newer) lays it out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api import meta
from kubelite.api.podresources import pod_limits, pod_requests
from kubelite.cli.kubectl.describe.events import describe_events, event_interval, sort_events
from kubelite.cli.kubectl.describe.generic import smart_label
from kubelite.cli.kubectl.describe.nodes import node_roles, taint_text
from kubelite.cli.kubectl.describe.pods import describe_containers, describe_probe, describe_volumes
from kubelite.cli.kubectl.describe.printing import (
    LAST_APPLIED,
    PrefixWriter,
    annotations_multiline,
    labels_multiline,
    tolerations_multiline,
)

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
Obj = dict[str, Any]


def ago(seconds: int) -> str:
    return meta.format_time(NOW - dt.timedelta(seconds=seconds))


def render(write: Any) -> str:
    w = PrefixWriter()
    write(w)
    return w.text()


def test_labels_align_under_the_first():
    text = render(lambda w: labels_multiline(w, "Labels", {"b": "2", "a": "1"}))
    assert text == "Labels:  a=1\n         b=2\n"
    assert render(lambda w: labels_multiline(w, "Labels", {})) == "Labels:  <none>\n"


def test_annotations_hide_last_applied_and_wrap_long_values():
    annotations = {
        LAST_APPLIED: "{}",
        "short": "v",
        "long": "x" * 150,
    }
    text = render(lambda w: annotations_multiline(w, "Annotations", annotations))
    lines = text.splitlines()
    assert lines[0] == "Annotations:  long:"
    assert lines[1] == "                " + "x" * 138 + "..."
    assert lines[2] == "              short: v"


def test_tolerations_as_kubectl_prints_them():
    tolerations = [
        {
            "key": "node.kubernetes.io/unreachable",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
        {"operator": "Exists"},
        {"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"},
    ]
    text = render(lambda w: tolerations_multiline(w, "Tolerations", tolerations))
    assert text.splitlines() == [
        "Tolerations:  op=Exists",
        "              k=v:NoSchedule",
        "              node.kubernetes.io/unreachable:NoExecute op=Exists for 300s",
    ]


@pytest.mark.parametrize(
    ("event", "interval"),
    [
        ({"firstTimestamp": ago(90), "lastTimestamp": ago(90), "count": 1}, "90s"),
        ({"firstTimestamp": ago(600), "lastTimestamp": ago(60), "count": 5}, "60s (x5 over 10m)"),
        ({"eventTime": ago(30) + ""}, "30s"),
        (
            {"eventTime": ago(300), "series": {"count": 3, "lastObservedTime": ago(10)}},
            "10s (x3 over 5m)",
        ),
        ({}, "<unknown>"),
    ],
)
def test_event_intervals(event: Obj, interval: str):
    assert event_interval(event, NOW) == interval


def test_events_sort_oldest_first_by_their_latest_time():
    events = [
        {"reason": "late", "lastTimestamp": ago(10)},
        {"reason": "series", "series": {"lastObservedTime": ago(5)}, "lastTimestamp": ago(999)},
        {"reason": "early", "eventTime": ago(100)},
    ]
    assert [e["reason"] for e in sort_events(events)] == ["early", "late", "series"]


def test_the_events_table_is_aligned_on_its_own():
    events = [
        {
            "type": "Normal",
            "reason": "Scheduled",
            "firstTimestamp": ago(200),
            "lastTimestamp": ago(200),
            "count": 1,
            "source": {"component": "default-scheduler"},
            "message": "Successfully assigned default/p to n\n",
        }
    ]

    def write(w: PrefixWriter) -> None:
        w.write(0, "A-long-label:\tx\n")
        describe_events(w, events, NOW)

    assert render(write) == (
        "A-long-label:  x\n"
        "Events:\n"
        "  Type    Reason     Age    From               Message\n"
        "  ----    ------     ----   ----               -------\n"
        "  Normal  Scheduled  3m20s  default-scheduler  Successfully assigned default/p to n\n"
    )


def test_no_events_and_events_not_asked_for():
    assert render(lambda w: describe_events(w, [], NOW)) == "Events:  <none>\n"
    assert render(lambda w: describe_events(w, None, NOW)) == ""


@pytest.mark.parametrize(
    ("probe", "text"),
    [
        (
            {
                "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                "timeoutSeconds": 1,
                "periodSeconds": 10,
                "successThreshold": 1,
                "failureThreshold": 3,
            },
            "http-get http://:8080/healthz delay=0s timeout=1s period=10s "
            "successThreshold=1 failureThreshold=3",
        ),
        (
            {"exec": {"command": ["cat", "/tmp/ok"]}, "initialDelaySeconds": 5},
            "exec [cat /tmp/ok] delay=5s timeout=0s period=0s "
            "successThreshold=0 failureThreshold=0",
        ),
        (
            {"tcpSocket": {"port": 6379}},
            "tcp-socket :6379 delay=0s timeout=0s period=0s successThreshold=0 failureThreshold=0",
        ),
    ],
)
def test_probes(probe: Obj, text: str):
    assert describe_probe(probe) == text


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("creationTimestamp", "Creation Timestamp"),
        ("apiVersion", "API Version"),
        ("uid", "UID"),
        ("podIPs", "Pod I Ps"),
        ("clusterIP", "Cluster IP"),
        ("f:metadata", "f:metadata"),
    ],
)
def test_smart_labels(field: str, label: str):
    assert smart_label(field) == label


def test_running_container_state_and_restarts():
    pod = {
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "nginx",
                    "ports": [
                        {"containerPort": 80, "protocol": "TCP"},
                        {"containerPort": 443, "protocol": "TCP"},
                    ],
                }
            ]
        },
        "status": {
            "containerStatuses": [
                {
                    "name": "app",
                    "containerID": "containerd://abc",
                    "imageID": "docker.io/library/nginx@sha256:1",
                    "ready": True,
                    "restartCount": 2,
                    "state": {"running": {"startedAt": "2026-01-01T11:00:00Z"}},
                    "lastState": {
                        "terminated": {
                            "exitCode": 137,
                            "reason": "OOMKilled",
                            "startedAt": "2026-01-01T10:00:00Z",
                            "finishedAt": "2026-01-01T10:59:00Z",
                        }
                    },
                }
            ]
        },
    }
    text = render(
        lambda w: describe_containers(
            w, pod, "Containers", pod["spec"]["containers"], pod["status"]["containerStatuses"]
        )
    )
    lines = [line.strip() for line in text.splitlines()]
    assert "Ports:          80/TCP, 443/TCP" in lines
    assert "Host Ports:     0/TCP, 0/TCP" in lines
    assert "State:          Running" in lines
    assert "Last State:     Terminated" in lines
    assert "Reason:       OOMKilled" in lines
    assert "Exit Code:    137" in lines
    assert "Ready:          True" in lines
    assert "Restart Count:  2" in lines


def test_node_roles_and_taints():
    node = {
        "metadata": {
            "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker"}
        }
    }
    assert node_roles(node) == ["control-plane", "worker"]
    assert taint_text({"key": "k", "value": "v", "effect": "NoSchedule"}) == ("k=v:NoSchedule")
    assert taint_text({"key": "k", "effect": "NoExecute"}) == "k:NoExecute"


def test_pod_requests_take_the_largest_init_container():
    pod = {
        "spec": {
            "containers": [
                {"resources": {"requests": {"cpu": "100m"}}},
                {"resources": {"requests": {"cpu": "200m", "memory": "64Mi"}}},
            ],
            "initContainers": [{"resources": {"requests": {"cpu": "1"}}}],
        }
    }
    # describe node counts what the pod asks as the scheduler does (api/podresources).
    requests, limits = pod_requests(pod), pod_limits(pod)
    assert (str(requests["cpu"]), str(requests["memory"])) == ("1", "64Mi")
    assert limits == {}


def test_projected_sources_say_whether_they_are_optional_as_kubectl_1_33_does():
    # kubectl 1.32 printed the pointer (`ConfigMapOptional: 0xc000356884`); 1.33 and newer print
    # `Optional:` with the value, false when unset.
    volume = {
        "name": "v",
        "projected": {
            "sources": [
                {"secret": {"name": "s1"}},
                {"configMap": {"name": "c1", "optional": True}},
            ]
        },
    }
    text = render(lambda w: describe_volumes(w, [volume]))
    assert [line.split() for line in text.splitlines()[3:]] == [
        ["SecretName:", "s1"],
        ["Optional:", "false"],
        ["ConfigMapName:", "c1"],
        ["Optional:", "true"],
    ]
