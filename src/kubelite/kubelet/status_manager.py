"""Sending pod statuses to the API server, without flooding it (the kubelet's status manager).

Pod workers hand in a pod's newest status as often as they like; only the newest one per pod
is kept, and one sender writes it when it differs from what the API server last got. A busy
node therefore sends at most one write per pod per change, never a queue of stale ones, and a
status that did not change costs nothing (`pkg/kubelet/status/status_manager.go`).

Each write is a strategic merge patch of pods/status that names the pod's uid, as the kubelet's
`PatchPodStatus` does: a pod deleted and made again under the same name is another pod, and the
API server refuses the write (409) instead of giving the new pod the old one's status.
Conditions merge by type, so conditions others own (PodScheduled, readiness gates) stay; a
condition of the kubelet's own that the new status no longer has (a resize condition once the
resize is done) is deleted with a `$patch: delete` item, as the kubelet's computed patch does.
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
from kubelite.kubelet.status.reasons import CONDITIONS_BY_KUBELET

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
        # The kubelet's own condition types a pending status drops: deleted by its write.
        self._dropped: dict[tuple[str, str, str], set[str]] = {}
        self._wake = asyncio.Event()
        self.writes = 0

    def set_status(self, pod: Obj, status: Obj) -> None:
        """Report `status` for `pod` (soon; only the newest report per pod is sent)."""
        key = _key(pod)
        if self._sent.get(key) == status:
            self._pending.pop(key, None)
            return
        before = self._sent.get(key) or pod.get("status") or {}
        now = {c.get("type") for c in status.get("conditions") or ()}
        self._dropped[key] = self._dropped.get(key, set()) | {
            c.get("type", "")
            for c in before.get("conditions") or ()
            if c.get("type") in CONDITIONS_BY_KUBELET and c.get("type") not in now
        }
        self._dropped[key] -= now
        self._pending[key] = status
        self._wake.set()

    def last_sent(self, pod: Obj) -> Obj | None:
        return self._sent.get(_key(pod))

    def latest(self, pod: Obj) -> Obj | None:
        """The newest status reported for `pod`, sent or still pending (GetPodStatus of the
        kubelet's status manager, whose cache holds what was set, not what was written)."""
        key = _key(pod)
        return self._pending.get(key) or self._sent.get(key)

    def forget(self, pod: Obj) -> None:
        """The pod is gone: nothing more to send for it."""
        key = _key(pod)
        self._pending.pop(key, None)
        self._sent.pop(key, None)
        self._dropped.pop(key, None)

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
        dropped = sorted(self._dropped.get(key, ()))
        if dropped:
            deletes = [{"type": t, "$patch": "delete"} for t in dropped]
            patch["status"] = {
                **status,
                "conditions": [*(status.get("conditions") or ()), *deletes],
            }
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
        if self._dropped.get(key) == set(dropped):
            self._dropped.pop(key, None)
        self.writes += 1
        return True

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.flush()
