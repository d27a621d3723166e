"""The controller manager: runs kubelite's controllers side by side until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from kubelite.client.api import APIClient
from kubelite.controllers.garbagecollector import GarbageCollector
from kubelite.controllers.namespace import NamespaceController
from kubelite.controllers.rootcacertpublisher import RootCACertPublisher
from kubelite.controllers.serviceaccount import ServiceAccountsController

log = logging.getLogger(__name__)


class ControllerManager:
    def __init__(self, client: APIClient) -> None:
        self.client = client
        self.controllers: list[Any] = [
            NamespaceController(client),
            GarbageCollector(client),
            ServiceAccountsController(client),
        ]
        ca = client.config.certificate_authority_data
        if ca:
            self.controllers.append(RootCACertPublisher(client, ca.decode()))
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for controller in self.controllers:
            name = type(controller).__name__
            self._tasks.append(asyncio.create_task(controller.run(), name=name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.client.close()
