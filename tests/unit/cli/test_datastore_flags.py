"""`kubelite server --datastore-endpoint` and its TLS files (k3s' flags): SQLite unless given,
etcd URLs checked at start."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kubelite.apiserver import datastore
from kubelite.cli.cluster import server


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    server.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_sqlite_unless_an_endpoint_is_given() -> None:
    flags = server.flags_from(_parse())
    assert flags.datastore_endpoint == ""
    assert flags.datastore_cafile is None


def test_flags_and_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    flags = server.flags_from(
        _parse(
            "--datastore-endpoint",
            "https://10.0.0.1:2379, https://10.0.0.2:2379",
            "--datastore-cafile",
            "/etc/etcd/ca.crt",
            "--datastore-certfile",
            "/etc/etcd/client.crt",
            "--datastore-keyfile",
            "/etc/etcd/client.key",
        )
    )
    assert datastore.endpoints(flags.datastore_endpoint) == [
        "https://10.0.0.1:2379",
        "https://10.0.0.2:2379",
    ]
    assert flags.datastore_cafile == Path("/etc/etcd/ca.crt")
    assert flags.datastore_certfile == Path("/etc/etcd/client.crt")
    assert flags.datastore_keyfile == Path("/etc/etcd/client.key")
    monkeypatch.setenv("KUBELITE_DATASTORE_ENDPOINT", "http://127.0.0.1:2379")
    assert server.flags_from(_parse()).datastore_endpoint == "http://127.0.0.1:2379"


@pytest.mark.parametrize("endpoint", ["postgres://db:5432/k", "http://etcd", "https://:2379"])
def test_an_endpoint_etcd_cannot_be_is_refused(endpoint: str) -> None:
    with pytest.raises(SystemExit, match="--datastore-endpoint: datastore endpoint"):
        server.flags_from(_parse("--datastore-endpoint", endpoint))
