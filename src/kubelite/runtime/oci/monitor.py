"""Noticing container exits without polling: a pidfd per conmon, read by the event loop.

conmon exits right after it has written the container's exit file, so the end of the conmon
process is the moment a container's exit is known. `os.pidfd_open` works for any process, not
only our children, so the same watch works for containers started before a restart of the
runtime. A pidfd becomes readable when its process ends (pidfd_open(2)).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path


def process_alive(pid: int, expect_in_cmdline: str = "") -> bool:
    """Whether `pid` is alive and, if asked, still the process we started (pids are reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return not expect_in_cmdline or expect_in_cmdline.encode() in cmdline


class ExitMonitor:
    """Calls `on_exit(key)` on the event loop when a watched process ends."""

    def __init__(self, on_exit: Callable[[str], None]) -> None:
        self._on_exit = on_exit
        self._fds: dict[str, tuple[int, asyncio.AbstractEventLoop]] = {}

    def watch(self, key: str, pid: int) -> None:
        """Watch `pid`; if it is gone already, `on_exit` is called soon from the loop."""
        loop = asyncio.get_running_loop()
        self.unwatch(key)
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            loop.call_soon(self._on_exit, key)
            return
        self._fds[key] = (fd, loop)
        loop.add_reader(fd, self._fire, key)

    def _fire(self, key: str) -> None:
        self.unwatch(key)
        self._on_exit(key)

    def unwatch(self, key: str) -> None:
        entry = self._fds.pop(key, None)
        if entry is not None:
            fd, loop = entry
            if not loop.is_closed():
                loop.remove_reader(fd)
            os.close(fd)

    def watching(self, key: str) -> bool:
        return key in self._fds

    def close(self) -> None:
        for key in list(self._fds):
            self.unwatch(key)
