"""The loop a server runs beside its etcd member for the chores k3s runs on a ticker (the
learner manager, the EtcdIsVoter condition): a tick every `interval` seconds until stopped.

A tick may fail for reasons that pass (the member restarting, an election, the API server
busy): the next tick tries again. Such a failure is logged once, and again only when it changes,
so a member that stays away for minutes does not fill the log with the same line.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from typing import Any, ClassVar

log = logging.getLogger(__name__)


class Ticker(abc.ABC):
    """Subclasses name their task, say what they do (for the log), and which errors mean
    "try at the next tick"; anything else ends the task, as a bug should."""

    task_name: ClassVar[str]
    what: ClassVar[str]
    transient: ClassVar[tuple[type[Exception], ...]]

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._last_problem = ""

    @abc.abstractmethod
    async def tick(self) -> Any:
        """One round of the chore."""

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
                self._last_problem = ""
            except self.transient as e:
                if str(e) != self._last_problem:
                    log.warning("%s: %s", self.what, e)
                self._last_problem = str(e)
