"""What `kubectl describe` changed between 1.34 and 1.37, in kubelite's describers.

The expected texts are kubectl 1.37.1's own output for the same objects, described on a kubelite
server (the real kubectl's describers run client-side).
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

import pytest

from kubelite.api import meta
from kubelite.cli.kubectl.describe import accounts, command, network, workloads
from kubelite.cli.kubectl.describe.events import describe_events, event_message
from kubelite.cli.kubectl.describe.printing import PrefixWriter

NOW = dt.datetime(2026, 12, 7, 3, 0, 0, tzinfo=dt.UTC)
Obj = dict[str, Any]


def _event(field_path: str | None, message: str, reason: str = "Pulled") -> Obj:
    when = meta.format_time(NOW - dt.timedelta(hours=3))
    involved: Obj = {"kind": "Pod", "name": "p1"}
    if field_path is not None:
        involved["fieldPath"] = field_path
    return {
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "type": "Normal",
        "source": {"component": "kubelet"},
        "firstTimestamp": when,
        "lastTimestamp": when,
        "count": 1,
    }


@pytest.mark.parametrize(
    ("field_path", "message", "shown"),
    [
        (
            "spec.containers{web}",
            "  Started container web ",
            "spec.containers{web}: Started container web",
        ),
        ("", "Scheduled", "Scheduled"),
        (None, " Scheduled ", "Scheduled"),
        ("spec.containers{web}", "", "spec.containers{web}: "),
    ],
)
def test_event_messages_name_the_field_path(
    field_path: str | None, message: str, shown: str
) -> None:
    assert event_message(_event(field_path, message)) == shown


def test_the_events_table_prefixes_messages() -> None:
    w = PrefixWriter()
    describe_events(
        w,
        [
            _event("spec.containers{p1}", "msg 1", "Pulled1"),
            _event("", "msg 2", "Pulled2"),
            _event("spec.initContainers{x}", "msg 3", "Pulled3"),
        ],
        NOW,
    )
    assert w.text() == (
        "Events:\n"
        "  Type    Reason   Age   From     Message\n"
        "  ----    ------   ----  ----     -------\n"
        "  Normal  Pulled1  3h    kubelet  spec.containers{p1}: msg 1\n"
        "  Normal  Pulled2  3h    kubelet  msg 2\n"
        "  Normal  Pulled3  3h    kubelet  spec.initContainers{x}: msg 3\n"
    )


def _found(objects: int, errors: int = 0, by_prefix: bool = False) -> command.Found:
    found = command.Found(by_prefix=by_prefix)
    found.objects = [(None, {}) for _ in range(objects)]  # type: ignore[misc]
    found.errors = [RuntimeError("x") for _ in range(errors)]
    return found


@pytest.mark.parametrize(
    ("flag", "found", "wanted"),
    [
        (None, _found(1), True),
        (None, _found(2), False),
        (None, _found(0), False),
        (None, _found(1, errors=1), False),
        (None, _found(1, by_prefix=True), False),
        ("true", _found(3), True),
        ("false", _found(1), False),
    ],
)
def test_events_only_for_a_single_object_unless_asked(
    flag: str | None, found: command.Found, wanted: bool
) -> None:
    assert command.events_wanted(flag, found) is wanted


def test_show_events_is_unset_unless_given() -> None:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    assert parser.parse_args(["pods"]).show_events is None
    assert parser.parse_args(["pods", "--show-events=True"]).show_events == "true"


def test_a_service_port_shows_its_app_protocol() -> None:
    service = {
        "metadata": {"name": "svc1", "namespace": "default"},
        "spec": {
            "selector": {"app": "web"},
            "type": "ClusterIP",
            "clusterIP": "10.43.234.192",
            "clusterIPs": ["10.43.234.192"],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [
                {
                    "name": "http",
                    "port": 80,
                    "targetPort": 8080,
                    "protocol": "TCP",
                    "appProtocol": "http",
                },
                {"name": "other", "port": 81, "targetPort": 81, "protocol": "UDP"},
            ],
            "sessionAffinity": "None",
            "internalTrafficPolicy": "Cluster",
            "trafficDistribution": "PreferClose",
        },
    }
    # The Service's one EndpointSlice, with no endpoints yet (its pods do not exist).
    empty_slice = {"addressType": "IPv4", "endpoints": None, "ports": None}
    assert network.describe_service(service, [empty_slice], [], NOW) == (
        "Name:                     svc1\n"
        "Namespace:                default\n"
        "Labels:                   <none>\n"
        "Annotations:              <none>\n"
        "Selector:                 app=web\n"
        "Type:                     ClusterIP\n"
        "IP Family Policy:         SingleStack\n"
        "IP Families:              IPv4\n"
        "IP:                       10.43.234.192\n"
        "IPs:                      10.43.234.192\n"
        "Port:                     http  80/TCP\n"
        "TargetPort:               8080/TCP\n"
        "AppProtocol:              http\n"
        "Endpoints:                \n"
        "Port:                     other  81/UDP\n"
        "TargetPort:               81/UDP\n"
        "Endpoints:                \n"
        "Session Affinity:         None\n"
        "Internal Traffic Policy:  Cluster\n"
        "Traffic Distribution:     PreferClose\n"
        "Events:                   <none>\n"
    )


def _stateful_set(**spec: Any) -> Obj:
    return {
        "metadata": {
            "name": "ss1",
            "namespace": "default",
            "creationTimestamp": "2026-12-07T02:53:05Z",
        },
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "ss"}},
            "template": {
                "metadata": {"labels": {"app": "ss"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "partition": 0},
            },
            **spec,
        },
    }


def _head(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[: lines.index("Pod Template:")]


def test_a_stateful_set_shows_its_service_policy_and_claim_retention() -> None:
    sts = _stateful_set(
        serviceName="svc1",
        podManagementPolicy="Parallel",
        persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Retain"},
    )
    text = workloads.describe_stateful_set(sts, workloads.PodCounts(), [], NOW)
    assert _head(text) == [
        "Name:                   ss1",
        "Namespace:              default",
        "CreationTimestamp:      Mon, 07 Dec 2026 02:53:05 +0000",
        "Selector:               app=ss",
        "Labels:                 <none>",
        "Annotations:            <none>",
        "Service Name:           svc1",
        "Pod Management Policy:  Parallel",
        "Replicas:               0 desired | 0 total",
        "Update Strategy:        RollingUpdate",
        "  Partition:            0",
        "  MaxUnavailable:       1",
        "Persistent Volume Claim Retention Policy:",
        "  WhenDeleted:  Delete",
        "  WhenScaled:   Retain",
        "Pods Status:    0 Running / 0 Waiting / 0 Succeeded / 0 Failed",
    ]


def test_a_stateful_set_without_a_service_name_or_retention_policy() -> None:
    sts = _stateful_set(podManagementPolicy="OrderedReady")
    lines = _head(workloads.describe_stateful_set(sts, workloads.PodCounts(), [], NOW))
    assert "Pod Management Policy:  OrderedReady" in lines
    assert not [line for line in lines if line.startswith(("Service Name", "Persistent"))]


@pytest.mark.parametrize(("zone", "shown"), [("Europe/Berlin", "Europe/Berlin"), (None, "<unset>")])
def test_a_cron_job_shows_its_time_zone(zone: str | None, shown: str) -> None:
    spec: Obj = {
        "schedule": "*/5 * * * *",
        "concurrencyPolicy": "Allow",
        "suspend": False,
        "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}},
    }
    if zone is not None:
        spec["timeZone"] = zone
    cron_job = {"metadata": {"name": "cj1", "namespace": "default"}, "spec": spec}
    lines = workloads.describe_cron_job(cron_job, None, NOW).splitlines()
    suspend = lines.index("Suspend:                       False")
    assert lines[suspend + 1] == f"Time Zone:                     {shown}"


def test_a_service_account_lists_only_its_image_pull_secrets() -> None:
    account = {
        "metadata": {"name": "sa1", "namespace": "default", "labels": {"a": "b"}},
        "secrets": [{"name": "s1"}],
        "imagePullSecrets": [{"name": "pull1"}, {"name": "pull2"}, {"name": "pull3"}],
    }
    assert accounts.describe_service_account(account, [], NOW) == (
        "Name:                sa1\n"
        "Namespace:           default\n"
        "Labels:              a=b\n"
        "Annotations:         <none>\n"
        "Image pull secrets:  pull1\n"
        "                     pull2\n"
        "                     pull3\n"
        "Events:              <none>\n"
    )


def test_a_service_account_without_pull_secrets_or_events() -> None:
    account = {"metadata": {"name": "default", "namespace": "default"}}
    assert accounts.describe_service_account(account, None, NOW) == (
        "Name:                default\n"
        "Namespace:           default\n"
        "Labels:              <none>\n"
        "Annotations:         <none>\n"
        "Image pull secrets:  <none>\n"
    )
