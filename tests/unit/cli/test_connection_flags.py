"""`kubelite server --request-timeout` and `--max-connections-per-address`: kube-apiserver's
default request timeout, the per-address cap of `kubelite.apiserver.connections`, and their
checks."""

from __future__ import annotations

import argparse

import pytest

from kubelite.apiserver import connections
from kubelite.cli.cluster import server


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    server.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_defaults_are_kube_apiservers() -> None:
    flags = server.flags_from(_parse())
    assert flags.request_timeout == connections.REQUEST_TIMEOUT == 60.0
    assert flags.max_connections_per_address == connections.MAX_CONNECTIONS_PER_ADDRESS == 600


def test_flags_and_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    flags = server.flags_from(
        _parse("--request-timeout", "5", "--max-connections-per-address", "0")
    )
    assert (flags.request_timeout, flags.max_connections_per_address) == (5.0, 0)
    monkeypatch.setenv("KUBELITE_REQUEST_TIMEOUT", "7.5")
    monkeypatch.setenv("KUBELITE_MAX_CONNECTIONS_PER_ADDRESS", "50")
    flags = server.flags_from(_parse())
    assert (flags.request_timeout, flags.max_connections_per_address) == (7.5, 50)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--request-timeout", "0"], "--request-timeout must be more than 0"),
        (["--max-connections-per-address", "-1"], "cannot be negative"),
    ],
)
def test_values_out_of_range_are_refused(argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        server.flags_from(_parse(*argv))
