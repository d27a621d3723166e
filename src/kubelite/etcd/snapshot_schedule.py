"""Scheduled etcd snapshots, as every k3s server with embedded etcd takes them.

k3s (pkg/etcd/etcd.go Start, snapshot.go setSnapshotFunction) starts a cron job on each server
running an etcd member unless `--etcd-disable-snapshots`: at every tick of
`--etcd-snapshot-schedule-cron` (default `0 */12 * * *`, the machine's local time) it waits a
random jitter of up to 5 s, so that the servers of a cluster do not all snapshot at once,
saves `<--etcd-snapshot-name>-<node name>-<unix time>` into `--etcd-snapshot-dir` from its own
member, and then applies `--etcd-snapshot-retention` (default 5) to the files with that name
prefix. A tick that comes while a snapshot still runs is skipped (cron.SkipIfStillRunning). A
failed snapshot or prune is logged and the next tick tries again; it never stops the server.

The schedule is read by `kubelite.api.cron`, the robfig/cron v3 standard parser CronJobs use,
since k3s' `cron.New()` parses with the same one; only the zone differs: a CronJob's schedule
is UTC unless it names one, k3s' snapshots run in the machine's local time (time.Local).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kubelite.api import cron
from kubelite.etcd import snapshot
from kubelite.etcd.process import EtcdMember

# k3s' --etcd-snapshot-schedule-cron and --etcd-snapshot-retention defaults.
DEFAULT_SCHEDULE = "0 */12 * * *"
DEFAULT_RETENTION = 5
# k3s' snapshotJitterMax (pkg/etcd/etcd.go).
JITTER_MAX = 5.0
# The longest single sleep before the wall clock is read again, so that a clock set forward
# or a machine woken from suspend does not leave a tick waiting on a stale monotonic timer.
MAX_SLEEP = 30.0

LOCALTIME = Path("/etc/localtime")

log = logging.getLogger(__name__)


def local_zone() -> tzinfo:
    """Go's time.Local: the zone $TZ names (UTC when it is empty), else /etc/localtime, else
    UTC."""
    name = os.environ.get("TZ")
    try:
        if name is not None:
            return ZoneInfo(name.removeprefix(":")) if name else UTC
        with LOCALTIME.open("rb") as data:
            return ZoneInfo.from_file(data, key="localtime")
    except (OSError, ValueError, ZoneInfoNotFoundError):
        return UTC


def parse_schedule(spec: str) -> cron.Schedule:
    """`--etcd-snapshot-schedule-cron` as k3s reads it: robfig's standard syntax, in local
    time unless the line starts with CRON_TZ= or TZ=. CronError says what is wrong."""
    schedule = cron.parse_standard(spec)
    if spec.startswith(("TZ=", "CRON_TZ=")):
        return schedule
    return dataclasses.replace(schedule, zone=local_zone())


@dataclass(frozen=True)
class SnapshotPolicy:
    """The server's scheduled-snapshot flags, checked."""

    spec: str
    schedule: cron.Schedule
    directory: Path
    retention: int = DEFAULT_RETENTION
    name: str = snapshot.SCHEDULED_NAME
    compress: bool = False


class SnapshotSchedule:
    """Takes this server's member's snapshots on the policy's schedule, in a task of its own."""

    def __init__(
        self,
        policy: SnapshotPolicy,
        member: EtcdMember,
        node_name: str,
        *,
        jitter: Callable[[], float] = lambda: random.uniform(0, JITTER_MAX),
    ) -> None:
        self.policy = policy
        self.member = member
        self.node_name = node_name
        self._jitter = jitter
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="etcd-snapshot-schedule")
        log.info(
            "etcd snapshots scheduled at %r into %s, keeping %d",
            self.policy.spec,
            self.policy.directory,
            self.policy.retention,
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def take(self) -> Path:
        """One scheduled snapshot, then retention; what `_run` does at every tick."""
        policy = self.policy
        path = await snapshot.save(
            self.member.local_client_url,
            self.member.pki,
            policy.directory,
            prefix=policy.name,
            node_name=self.node_name,
            compress=policy.compress,
        )
        log.info("etcd snapshot %s saved to %s", path.name, path)
        # A failed prune leaves the snapshot just taken in place (k3s only warns too).
        try:
            pruned = await asyncio.to_thread(
                snapshot.prune, policy.directory, policy.name, policy.retention
            )
        except OSError as e:
            log.warning("etcd snapshot retention in %s failed: %s", policy.directory, e)
        else:
            for old in pruned:
                log.info("etcd snapshot %s removed (retention %d)", old, policy.retention)
        return path

    async def _run(self) -> None:
        while True:
            fire = self.policy.schedule.next(datetime.now(UTC))
            if fire is None:
                log.warning("etcd snapshot schedule %r never fires", self.policy.spec)
                return
            await _sleep_until(fire.timestamp())
            await asyncio.sleep(self._jitter())
            try:
                await self.take()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a failed snapshot must not stop the server
                log.warning("etcd snapshot failed, retrying at the next tick: %s", e)


async def _sleep_until(deadline: float) -> None:
    while (remaining := deadline - time.time()) > 0:
        await asyncio.sleep(min(remaining, MAX_SLEEP))
