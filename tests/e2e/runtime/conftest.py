"""Fixtures of the runtime's e2e tests: a harness per test, and a check after each module that
nothing of any harness is left on the machine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from runtime_fixtures import Harness, assert_nothing_left, runtime_harness


@pytest.fixture(scope="module", autouse=True)
def nothing_left_behind() -> Iterator[None]:
    """After the module: nothing of any of its harnesses is left, however late it appeared."""
    yield
    assert_nothing_left()


@pytest.fixture
async def rt() -> AsyncIterator[Harness]:
    async with runtime_harness() as harness:
        yield harness
