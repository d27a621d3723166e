"""`kubelite server`'s Service flags: `--disable servicelb` reaches the control plane as
`--disable-servicelb` (which leaves ServiceLB out of the controllers), and `--service-cidr`
and `--service-node-port-range` are parsed as kube-apiserver parses its own."""

from __future__ import annotations

import argparse
import ipaddress

import pytest

from kubelite.api import servicenetwork
from kubelite.cli.cluster import control_plane, server
from kubelite.client.api import APIClient
from kubelite.client.kubeconfig import ClientConfig
from kubelite.controllers.manager import ControllerManager
from kubelite.controllers.servicelb import ServiceLBController


def _parse(module: object, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)  # type: ignore[attr-defined]
    return parser.parse_args(list(argv))


def test_disable_servicelb_is_passed_to_the_control_plane(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert "--disable-servicelb" not in server.flags_from(_parse(server)).control_plane_args
    flags = server.flags_from(_parse(server, "--disable", "servicelb"))
    assert flags.control_plane_args == ["--disable-servicelb"]
    monkeypatch.setenv("KUBELITE_DISABLE", "servicelb")
    assert server.flags_from(_parse(server)).control_plane_args == ["--disable-servicelb"]
    with pytest.raises(SystemExit, match="unknown component"):
        server.flags_from(_parse(server, "--disable", "traefik"))


def test_the_control_plane_flag_and_its_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not control_plane.flags_from(_parse(control_plane)).disable_servicelb
    assert control_plane.flags_from(_parse(control_plane, "--disable-servicelb")).disable_servicelb
    monkeypatch.setenv("KUBELITE_CONTROL_PLANE_DISABLE_SERVICELB", "true")
    assert control_plane.flags_from(_parse(control_plane)).disable_servicelb


async def test_servicelb_runs_unless_disabled() -> None:
    client = APIClient(ClientConfig(server="https://127.0.0.1:1"))
    try:
        running = ControllerManager(client).controllers
        assert any(isinstance(c, ServiceLBController) for c in running)
        off = ControllerManager(client, disable_servicelb=True).controllers
        assert not any(isinstance(c, ServiceLBController) for c in off)
    finally:
        await client.close()


def test_ranges_default_to_k3s_and_parse_as_kube_apiserver_does() -> None:
    flags = server.flags_from(_parse(server))
    assert (flags.service_cidr, flags.node_port_range) == ("10.43.0.0/16", "30000-32767")
    assert servicenetwork.parse_service_cidr("10.96.0.0/12") == ipaddress.ip_network("10.96.0.0/12")
    assert servicenetwork.parse_node_port_range("31000-31010") == (31000, 31010)
    assert servicenetwork.kubernetes_service_ip(ipaddress.ip_network("10.96.0.0/12")) == "10.96.0.1"
    for bad in ("10.96.0.1/12", "10.96.0.0/30", "nonsense"):
        with pytest.raises(ValueError):
            servicenetwork.parse_service_cidr(bad)
    for bad in ("32767-30000", "a-b", "0-10"):
        with pytest.raises(ValueError):
            servicenetwork.parse_node_port_range(bad)
    with pytest.raises(SystemExit, match="invalid service CIDR"):
        server.flags_from(_parse(server, "--service-cidr", "10.96.0.1/12"))


def test_the_control_plane_logs_a_warning_once(caplog: pytest.LogCaptureFixture) -> None:
    handle = control_plane.warn_once()
    for _ in range(3):
        handle("v1 Endpoints is deprecated")
    handle("another")
    assert [r.getMessage() for r in caplog.records] == ["v1 Endpoints is deprecated", "another"]


def test_cluster_dns_follows_the_service_range_unless_given() -> None:
    assert "--cluster-dns" not in server.flags_from(_parse(server)).agent_args
    moved = server.flags_from(_parse(server, "--service-cidr", "10.96.0.0/12")).agent_args
    assert moved[moved.index("--cluster-dns") + 1] == "10.96.0.10"
    given = server.flags_from(
        _parse(server, "--service-cidr", "10.96.0.0/12", "--cluster-dns", "10.96.0.53")
    ).agent_args
    assert given[given.index("--cluster-dns") + 1] == "10.96.0.53"
