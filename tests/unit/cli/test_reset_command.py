"""`kubelite reset` closes the runtime it opened, and says so when that fails instead of hiding
it (the runtime's `close()` is synchronous: it stops watching the containers' conmons)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from kubelite.cli.cluster import reset
from kubelite.runtime import images, service


class _Images:
    def __init__(self, root: Path) -> None:
        self.root = root

    async def __aenter__(self) -> _Images:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Runtime:
    """A runtime with nothing left on it, whose close() may fail."""

    closed = 0
    fails: Exception | None = None

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    async def list_containers(self) -> list[Any]:
        return []

    async def list_pod_sandboxes(self) -> list[Any]:
        return []

    def close(self) -> None:
        type(self).closed += 1
        if self.fails is not None:
            raise self.fails


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> type[_Runtime]:
    (tmp_path / "run" / "runtime").mkdir(parents=True)
    monkeypatch.setattr(images, "LocalImageService", _Images)
    monkeypatch.setattr(service, "OciRuntimeService", _Runtime)
    _Runtime.closed = 0
    _Runtime.fails = None
    return _Runtime


def test_the_runtime_is_closed_once(runtime: type[_Runtime], tmp_path: Path) -> None:
    assert asyncio.run(reset._remove_runtime_objects(tmp_path)) == []
    assert runtime.closed == 1


def test_a_failure_to_close_the_runtime_is_a_problem_reported(
    runtime: type[_Runtime], tmp_path: Path
) -> None:
    runtime.fails = OSError("conmon monitor: bad file descriptor")
    problems = asyncio.run(reset._remove_runtime_objects(tmp_path))
    assert problems == ["runtime: conmon monitor: bad file descriptor"]
