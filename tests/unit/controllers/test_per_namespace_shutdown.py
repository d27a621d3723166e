"""A per-namespace controller (service accounts, the root CA publisher) shuts its work queue
down when it stops, so that no delayed key fires into a controller that is gone."""

from __future__ import annotations

import asyncio
from typing import Any

from kubelite.api.resources import SERVICE_ACCOUNTS
from kubelite.controllers.serviceaccount import ServiceAccountsController


class _Informer:
    def add_handler(self, handler: Any) -> None:
        self.handler = handler

    def get(self, key: str) -> None:
        return None


class _Informers:
    """Informers that never sync: the controller waits until it is stopped."""

    def __init__(self) -> None:
        self.made: dict[Any, _Informer] = {}

    def informer(self, resource: Any) -> _Informer:
        return self.made.setdefault(resource, _Informer())

    def start(self) -> None:
        pass

    async def wait_synced(self, *informers: Any) -> None:
        await asyncio.Event().wait()


async def _synced(*informers: Any) -> None:
    return None


async def _shut_down_when_stopped(*, synced: bool) -> bool:
    """Run the controller a moment, stop it, and say whether its queue's delayed keys are gone."""
    informers = _Informers()
    if synced:
        informers.wait_synced = _synced  # type: ignore[method-assign]
    controller = ServiceAccountsController(client=None, informers=informers)  # type: ignore[arg-type]
    controller.queue.add_after("kube-system", 3600)
    task = asyncio.create_task(controller.run())
    await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return not controller.queue._timers


def test_the_queue_is_shut_down_when_stopped_before_the_caches_sync() -> None:
    assert asyncio.run(_shut_down_when_stopped(synced=False))


def test_the_queue_is_shut_down_when_stopped_while_working() -> None:
    assert asyncio.run(_shut_down_when_stopped(synced=True))


def test_it_watches_namespaces_and_its_own_object() -> None:
    informers = _Informers()
    ServiceAccountsController(client=None, informers=informers)  # type: ignore[arg-type]
    assert SERVICE_ACCOUNTS in informers.made
    assert len(informers.made) == 2
