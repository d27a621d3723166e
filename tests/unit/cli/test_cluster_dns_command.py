"""`kubelite cluster-dns`: its sockets and its flags."""

from __future__ import annotations

import socket

import pytest

from kubelite.cli.cluster import cluster_dns
from kubelite.cli.main import main


def test_port_zero_gives_one_port_for_udp_and_tcp() -> None:
    udp, tcp = cluster_dns.bind("127.0.0.1", 0)
    try:
        assert udp.type == socket.SOCK_DGRAM and tcp.type == socket.SOCK_STREAM
        assert udp.getsockname() == tcp.getsockname()
        assert udp.getsockname()[1] != 0
    finally:
        udp.close()
        tcp.close()


def test_a_taken_port_is_an_error() -> None:
    udp, tcp = cluster_dns.bind("127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            cluster_dns.bind("127.0.0.1", udp.getsockname()[1])
    finally:
        udp.close()
        tcp.close()


@pytest.mark.parametrize(
    ("text", "upstream"),
    [
        ("10.0.0.2", ("10.0.0.2", 53)),
        ("10.0.0.2:5353", ("10.0.0.2", 5353)),
        ("fd00::2", ("fd00::2", 53)),
        ("[fd00::2]:5353", ("fd00::2", 5353)),
    ],
)
def test_upstreams_given_by_hand(text: str, upstream: tuple[str, int]) -> None:
    assert cluster_dns.parse_upstream(text) == upstream


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--upstream", "resolver.example:53"], "--upstream 'resolver.example:53' is not"),
        (["--upstream", "10.0.0.2:0"], "10.0.0.2:0': 0 is not a port"),
        (["--port", "70000"], "--port 70000 is not a port"),
    ],
)
def test_bad_flags_are_refused(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cluster-dns", *args]) == 2
    assert message in capsys.readouterr().err
