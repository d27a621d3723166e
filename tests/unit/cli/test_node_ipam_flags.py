"""`kubelite control-plane` runs node IPAM unless `--allocate-node-cidrs=false`, from
`--cluster-cidr` (10.42.0.0/16, as k3s) in blocks of `--node-cidr-mask-size`; `kubelite
server` passes its `--cluster-cidr` on."""

from __future__ import annotations

import argparse

import pytest

from kubelite.cli.cluster import control_plane, server
from kubelite.controllers.nodeipam import NodeIpamConfig


def _parse(module: object, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)  # type: ignore[attr-defined]
    return parser.parse_args(list(argv))


def test_node_ipam_is_on_by_default_with_k3s_range() -> None:
    flags = control_plane.flags_from(_parse(control_plane))
    config = control_plane._node_ipam_config(flags)
    assert config == NodeIpamConfig("10.42.0.0/16", 0)
    assert (str(config.cidr_set().cluster_cidr), config.cidr_set().node_mask_size) == (
        "10.42.0.0/16",
        24,
    )


@pytest.mark.parametrize("argv", [["--allocate-node-cidrs=false"], ["--allocate-node-cidrs", "f"]])
def test_allocate_node_cidrs_false_turns_it_off(argv: list[str]) -> None:
    flags = control_plane.flags_from(_parse(control_plane, *argv))
    assert control_plane._node_ipam_config(flags) is None


def test_the_range_and_mask_are_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBELITE_CONTROL_PLANE_NODE_CIDR_MASK_SIZE", "26")
    flags = control_plane.flags_from(_parse(control_plane, "--cluster-cidr", "10.9.0.0/20"))
    assert control_plane._node_ipam_config(flags) == NodeIpamConfig("10.9.0.0/20", 26)
    wrong = control_plane.flags_from(_parse(control_plane, "--node-cidr-mask-size", "12"))
    with pytest.raises(SystemExit, match="smaller than the cluster CIDR's"):
        control_plane._node_ipam_config(wrong)


def test_the_server_passes_its_cluster_cidr_on_only_when_given() -> None:
    assert "--cluster-cidr" not in server.flags_from(_parse(server)).control_plane_args
    given = server.flags_from(_parse(server, "--cluster-cidr", "10.50.0.0/16"))
    assert given.control_plane_args[-2:] == ["--cluster-cidr", "10.50.0.0/16"]
    assert given.agent_args[-2:] == ["--cluster-cidr", "10.50.0.0/16"]
