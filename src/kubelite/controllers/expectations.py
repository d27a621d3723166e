"""Expectations: what a controller is still waiting to see of its own writes.

A controller decides from its informers' caches, and its own creates and deletes reach those
caches only some time after the API answered. Without a record of them, the next sync of the
same ReplicaSet would see too few pods and create the same ones again. Kubernetes' controllers
(`pkg/controller/controller_utils.go`, ControllerExpectations) record, before each batch of
writes, how many creates and deletes they expect to observe, count them down as the informer
delivers them, and do not act on a key until they are all seen, or `EXPECTATIONS_TIMEOUT` has
passed (a watch event lost is then paid for with one late sync, not a stuck controller).

Deletions are tracked by pod key (UIDTrackingControllerExpectations): a pod deleted by someone
else while the controller's delete was in flight still counts once, not twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# Kubernetes' ExpectationsTimeout.
EXPECTATIONS_TIMEOUT = 300.0


@dataclass
class _Expected:
    adds: int = 0
    dels: int = 0
    since: float = field(default_factory=time.monotonic)
    # Keys of the objects whose deletion is expected (UID tracking).
    deleting: set[str] = field(default_factory=set)

    def fulfilled(self) -> bool:
        return self.adds <= 0 and self.dels <= 0


class Expectations:
    """Pending creates and deletes per controller key (`namespace/name`)."""

    def __init__(self, timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self.timeout = timeout
        self._by_key: dict[str, _Expected] = {}

    def satisfied(self, key: str) -> bool:
        """Whether the controller may act on `key`: nothing pending, or waited long enough."""
        expected = self._by_key.get(key)
        if expected is None:
            return True
        return expected.fulfilled() or time.monotonic() - expected.since > self.timeout

    def expect_creations(self, key: str, count: int) -> None:
        self._by_key[key] = _Expected(adds=count)

    def expect_deletions(self, key: str, pod_keys: list[str]) -> None:
        self._by_key[key] = _Expected(dels=len(pod_keys), deleting=set(pod_keys))

    def expect(self, key: str, creations: int, pod_keys: list[str]) -> None:
        """Creates and deletes in one batch (SetExpectations): a DaemonSet sync does both."""
        self._by_key[key] = _Expected(adds=creations, dels=len(pod_keys), deleting=set(pod_keys))

    def creation_observed(self, key: str) -> None:
        expected = self._by_key.get(key)
        if expected is not None:
            expected.adds -= 1

    def creations_failed(self, key: str, count: int) -> None:
        """`count` expected creates will never be seen: the API refused them, or they were
        never sent."""
        expected = self._by_key.get(key)
        if expected is not None:
            expected.adds -= count

    def deletion_observed(self, key: str, pod_key: str) -> None:
        """The pod `pod_key` is gone or going: counted once, however often it is reported."""
        expected = self._by_key.get(key)
        if expected is not None and pod_key in expected.deleting:
            expected.deleting.discard(pod_key)
            expected.dels -= 1

    def deletion_failed(self, key: str, pod_key: str) -> None:
        self.deletion_observed(key, pod_key)

    def forget(self, key: str) -> None:
        """The controller object is gone: drop what it waited for."""
        self._by_key.pop(key, None)

    def pending(self, key: str) -> tuple[int, int]:
        """(creates, deletes) still expected, for logs and tests."""
        expected = self._by_key.get(key)
        return (expected.adds, expected.dels) if expected is not None else (0, 0)
