"""Fixtures of the multi-host e2e tests: a `Hosts` (tests/e2e/hosts.py) per test module, torn
down (reset, namespaces, bridge, registry) after it, also when a test failed."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from tests.e2e.hosts import Hosts


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    """A test bridge with two subnets and a registry of the example images; the module adds
    hosts and starts kubelites on them."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces and containers: needs root")
    with Hosts(tmp_path_factory.mktemp("hosts"), subnets=2) as made:
        yield made
