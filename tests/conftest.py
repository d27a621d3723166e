"""Options of the whole test run."""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store",
        choices=("sqlite", "etcd"),
        default=None,
        help="the store the test clusters' servers keep their objects in: sqlite (the "
        "server's default) or etcd, a Debian etcd per cluster (KUBELITE_TEST_STORE)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # tests/integration/cluster.py reads it, as do the subprocesses that start clusters.
    store = config.getoption("--store")
    if store:
        os.environ["KUBELITE_TEST_STORE"] = store
