"""Keeps one child process running beside `kubelite server` until the server stops.

The server runs its controllers and scheduler in a child (`kubelite control-plane`); if that
child dies, it is started again after a back-off (1 s, doubling to 30 s, back to 1 s once it has
run for a minute), as a service manager would restart kube-controller-manager. On stop it gets
SIGTERM and, after a grace period, SIGKILL; it also dies with the server by itself (see
control_plane.die_with_parent), so a SIGKILLed server leaves no child behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time

log = logging.getLogger(__name__)

RESTART_INITIAL = 1.0
RESTART_MAX = 30.0
HEALTHY_AFTER = 60.0
STOP_GRACE = 10.0


class Supervised:
    """One child process of the server (the control plane, the cluster DNS, the agent, the local
    registry), restarted with back-off when it dies and stopped with the server."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        *,
        pass_fds: tuple[int, ...] = (),
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        # Descriptors the child inherits under the same numbers (the DNS server's sockets).
        self.pass_fds = pass_fds
        self.process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_running(), name=f"supervise {self.name}")

    async def _keep_running(self) -> None:
        delay = RESTART_INITIAL
        while not self._stopping:
            started = time.monotonic()
            try:
                self.process = await asyncio.create_subprocess_exec(
                    *self.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    # Its log goes where the server's goes; stdout stays the server's own.
                    stdout=sys.stderr.fileno(),
                    env=self.env,
                    # Its own process group: a Ctrl-C at the terminal reaches the server
                    # alone, which then stops the child itself instead of racing it.
                    start_new_session=True,
                    pass_fds=self.pass_fds,
                )
            except OSError as e:  # out of processes or descriptors: try again later
                code: int | str = f"not started ({e})"
            else:
                code = await self.process.wait()
            if self._stopping:
                return
            if time.monotonic() - started >= HEALTHY_AFTER:
                delay = RESTART_INITIAL
            log.warning("%s exited with %s; starting it again in %.0f s", self.name, code, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_MAX)

    async def stop(self) -> None:
        self._stopping = True
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            except Exception:  # the server's shutdown goes on whatever happened here
                log.exception("supervising %s failed", self.name)


def kubelite_argv(*args: str) -> list[str]:
    """The command line that runs `kubelite <args>` with this interpreter."""
    return [sys.executable, "-m", "kubelite", *args]


def child_env() -> dict[str, str]:
    from kubelite.cli.cluster.control_plane import PARENT_PID_ENV

    return {**os.environ, PARENT_PID_ENV: str(os.getpid())}
