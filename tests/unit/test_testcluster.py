"""The unit tests' API server (`testcluster`): real, shared, and one namespace per test."""

from __future__ import annotations

import pytest
from testcluster import TestCluster

from kubelite.api.resources import CONFIG_MAPS
from kubelite.client.errors import APIConflictError


async def test_a_test_works_in_a_namespace_of_its_own(kube: TestCluster) -> None:
    """Objects go to the test's namespace, with what the server fills in."""
    created = await kube.create(CONFIG_MAPS, {"metadata": {"name": "c"}, "data": {"a": "1"}})
    assert created["metadata"]["namespace"] == kube.namespace
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    assert await kube.names(CONFIG_MAPS) == ["c"]


async def test_the_next_test_has_another_namespace(kube: TestCluster) -> None:
    """Isolation: the object of the test before is not in this test's namespace."""
    assert await kube.names(CONFIG_MAPS) == []


async def test_the_server_is_the_real_one(kube: TestCluster) -> None:
    """A stale resourceVersion is refused, as the API server refuses it."""
    created = await kube.create(CONFIG_MAPS, {"metadata": {"name": "c"}})
    await kube.client.update(CONFIG_MAPS, {**created, "data": {"a": "1"}})
    with pytest.raises(APIConflictError):
        await kube.client.update(CONFIG_MAPS, {**created, "data": {"a": "2"}})
    before = await kube.revision()
    await kube.client.update(CONFIG_MAPS, {**(await kube.get(CONFIG_MAPS, "c")), "data": {}})
    assert await kube.revision() > before
