"""NodePorts: host ports must be free on the node, per protocol and address."""

from __future__ import annotations

from typing import Any

import pytest
from plugin_objects import filter_all, make_node, make_pod

from kubelite.scheduler.framework.status import Code
from kubelite.scheduler.framework.types import CycleState
from kubelite.scheduler.plugins.node_ports import NodePorts

REASON = "node(s) didn't have free ports for the requested pod ports"


def port(number: int, protocol: str | None = None, ip: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"containerPort": number, "hostPort": number}
    if protocol:
        result["protocol"] = protocol
    if ip:
        result["hostIP"] = ip
    return result


@pytest.mark.parametrize(
    ("wanted", "taken", "fits"),
    [
        ([port(8080)], [], True),
        ([port(8080)], [port(8080)], False),
        ([port(8080)], [port(8081)], True),
        ([port(8080, "UDP")], [port(8080, "TCP")], True),
        ([port(8080, "UDP")], [port(8080, "UDP")], False),
        # Different addresses share a port; 0.0.0.0 (the default) conflicts with any.
        ([port(8080, ip="127.0.0.1")], [port(8080, ip="127.0.0.2")], True),
        ([port(8080, ip="127.0.0.1")], [port(8080, ip="127.0.0.1")], False),
        ([port(8080, ip="127.0.0.1")], [port(8080)], False),
        ([port(8080)], [port(8080, ip="127.0.0.1")], False),
        ([port(8080), port(9090)], [port(9090)], False),
    ],
)
def test_host_ports_must_be_free(
    wanted: list[dict[str, Any]], taken: list[dict[str, Any]], fits: bool
) -> None:
    running = make_pod("running", host_ports=taken)
    node = make_node("n1", pods=[running])
    (status,) = filter_all(NodePorts(), make_pod(host_ports=wanted), [node])
    if fits:
        assert status.ok
    else:
        assert (status.code, status.reasons) == (Code.UNSCHEDULABLE, [REASON])


def test_prefilter_skips_a_pod_without_host_ports() -> None:
    plugin = NodePorts()
    _, status = plugin.pre_filter(CycleState(), make_pod(host_ports=[{"containerPort": 80}]), [])
    assert status.code == Code.SKIP


def test_sidecar_host_ports_count() -> None:
    running = make_pod("running")
    running.pod["spec"]["initContainers"] = [
        {"name": "sidecar", "restartPolicy": "Always", "ports": [port(7000)]}
    ]
    running = type(running)(running.pod)
    node = make_node("n1", pods=[running])
    (status,) = filter_all(NodePorts(), make_pod(host_ports=[port(7000)]), [node])
    assert status.code == Code.UNSCHEDULABLE


def test_registers_pod_deletes_and_node_adds() -> None:
    assert NodePorts().events_to_register() == {"Pod/Delete", "Node/Add"}
