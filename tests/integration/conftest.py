"""Fixtures that start real kubelite servers for the integration tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster import Cluster
from tests import kubectl_builds

_names = itertools.count()


@pytest.fixture(autouse=True)
def _kubectl_version_at_hand(request: pytest.FixtureRequest) -> None:
    """A test parametrized on `kubectl_version` is about that build: it is skipped, with the
    reason in the summary, on a machine that lacks it, rather than run with another build."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and "kubectl_version" in callspec.params:
        kubectl_builds.exactly(callspec.params["kubectl_version"])


@pytest.fixture(scope="module")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """One server shared by the tests of a module; each test works in its own namespace.

    Its scheduler is off: these tests look at the API, and a scheduler would bind their pods
    or mark them unschedulable. A module marked `with_scheduler` gets it (scheduler tests);
    one that needs more (hollow nodes) makes a cluster of its own.
    """
    base = tmp_path_factory.mktemp("cluster")
    scheduled = request.node.get_closest_marker("with_scheduler") is not None
    extra_args = [] if scheduled else ["--disable-scheduler"]
    c = Cluster(base / "data", base / "cache", extra_args=extra_args)
    c.start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    name = f"test-{next(_names)}"
    cluster.kubectl(
        "create",
        "-f",
        "-",
        stdin=f'{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{name}"}}}}',
    )
    cluster.wait_for_service_account(name)
    yield name


@pytest.fixture
def fresh_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A server of the test's own, for tests that stop, kill or compact it (no scheduler)."""
    c = Cluster(tmp_path / "data", tmp_path / "cache", extra_args=["--disable-scheduler"])
    try:
        yield c
    finally:
        c.stop()
