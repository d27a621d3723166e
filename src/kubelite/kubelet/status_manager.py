"""Sending pod statuses to the API server, without flooding it (the kubelet's status manager).

Pod workers hand in a pod's newest status as often as they like; only the newest one per pod
is kept, and one sender writes it when it differs from what the API server last got. A busy
node therefore sends at most one write per pod per change, never a queue of stale ones, and a
status that did not change costs nothing (`pkg/kubelet/status/status_manager.go`).

Each write is a strategic merge patch of pods/status that names the pod's uid, as the kubelet's
`PatchPodStatus` does: a pod deleted and made again under the same name is another pod, and the
API server refuses the write (409) instead of giving the new pod the old one's status.
Conditions merge by type, so conditions others own (PodScheduled, readiness gates) stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kubelite.api.resources import PODS
from kubelite.api.types import Obj
from kubelite.client.api import APIClient, PatchType
from kubelite.client.errors import (
    APIConflictError,
    APIConnectionError,
    APIError,
    APINotFoundError,
)

log = logging.getLogger(__name__)


# How many status writes are in flight at once, and how long to wait after a failed one.
CONCURRENCY = 4
RETRY_AFTER = 1.0


def _key(pod: Obj) -> tuple[str, str, str]:
    md = pod["metadata"]
    return md["namespace"], md["name"], md.get("uid", "")


class StatusManager:
    """The newest status of every pod on the node, and the writer that reports it."""

    def __init__(self, client: APIClient) -> None:
        self.client = client
        # (namespace, name, uid) -> the newest status not yet written.
        self._pending: dict[tuple[str, str, str], Obj] = {}
        # What the API server last accepted, to skip writes that change nothing.
        self._sent: dict[tuple[str, str, str], Obj] = {}
        self._wake = asyncio.Event()
        self.writes = 0

    def set_status(self, pod: Obj, status: Obj) -> None:
        """Report `status` for `pod` (soon; only the newest report per pod is sent)."""
        key = _key(pod)
        if self._sent.get(key) == status:
            self._pending.pop(key, None)
            return
        self._pending[key] = status
        self._wake.set()

    def last_sent(self, pod: Obj) -> Obj | None:
        return self._sent.get(_key(pod))

    def forget(self, pod: Obj) -> None:
        """The pod is gone: nothing more to send for it."""
        key = _key(pod)
        self._pending.pop(key, None)
        self._sent.pop(key, None)

    async def flush(self) -> None:
        """Write everything pending now (for shutdown and tests)."""
        while self._pending:
            await self._send_some()

    async def run(self) -> None:
        """Send statuses as they come, until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            failed = await self._send_some()
            if failed:
                await asyncio.sleep(RETRY_AFTER)
                self._wake.set()

    async def _send_some(self) -> bool:
        batch = list(self._pending.items())[: CONCURRENCY * 8]
        for key, _ in batch:
            self._pending.pop(key, None)
        semaphore = asyncio.Semaphore(CONCURRENCY)
        failures = 0

        async def send(key: tuple[str, str, str], status: Obj) -> None:
            nonlocal failures
            async with semaphore:
                if not await self._write(key, status):
                    failures += 1
                    # Keep it unless a newer one came meanwhile.
                    self._pending.setdefault(key, status)

        await asyncio.gather(*(send(key, status) for key, status in batch))
        if self._pending:
            self._wake.set()
        return failures > 0

    async def _write(self, key: tuple[str, str, str], status: Obj) -> bool:
        namespace, name, uid = key
        patch = {"metadata": {"uid": uid}, "status": status}
        try:
            await self.client.patch(
                PODS,
                name,
                patch,
                namespace=namespace,
                subresource="status",
                patch_type=PatchType.STRATEGIC,
            )
        except (APINotFoundError, APIConflictError):
            # Gone, or another pod under the same name now: nothing to report.
            self._sent.pop(key, None)
            return True
        except (APIError, APIConnectionError) as e:
            log.warning("writing the status of pod %s/%s failed: %s", namespace, name, e)
            return False
        self._sent[key] = status
        self.writes += 1
        return True

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.flush()
