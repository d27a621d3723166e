"""Recording Events the way Kubernetes components do: repeats become a count, floods a summary.

In Kubernetes the aggregation of events happens in the client (client-go's
`tools/record` EventCorrelator), not in the API server, and kubelite keeps it there:

- **Deduplication.** An event identical to one this recorder already sent (same object, source,
  type, reason and message) is not created again: the existing Event is patched with
  `count + 1` and a new `lastTimestamp`, so `kubectl describe` shows `(x5 over 2m)`.
- **Aggregation.** When one object gets more than `MAX_SIMILAR_EVENTS` events with the same
  reason but different messages within `AGGREGATION_WINDOW`, further ones are folded into a
  single Event whose message starts with `(combined from similar events): `.

Event names are `<object name>.<hex nanoseconds>`, as client-go names them, and the namespace is
the object's (or `default` for cluster-scoped objects). Sending fails quietly (logged): an event
is a report, never a reason to fail the work that produced it, as in client-go.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

from kubelite.api.resources import EVENTS, NODES, PODS
from kubelite.api.types import Obj
from kubelite.client.api import APIClient, PatchType
from kubelite.client.errors import APIConnectionError, APIError, APINotFoundError

log = logging.getLogger(__name__)


NORMAL = "Normal"
WARNING = "Warning"

# client-go tools/record: defaultAggregateMaxEvents, defaultAggregateIntervalInSeconds and the
# LRU size of the correlator's caches.
MAX_SIMILAR_EVENTS = 10
AGGREGATION_WINDOW = 600.0
CACHE_SIZE = 4096
COMBINED_PREFIX = "(combined from similar events): "


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _time(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# The apiVersion of the kinds whose events must always name it, for an object that came without
# one (a list item, a hand-made reference such as the kubelet's nodeRef). Kubernetes fixed the
# last such references for pods and nodes in 1.35 (#134545), so `kubectl events --for
# Node/<name>`, which selects on involvedObject.apiVersion, finds them.
_API_VERSION_OF_KIND = {r.kind: r.api_version for r in (PODS, NODES)}


def object_reference(obj: Obj, field_path: str = "") -> Obj:
    """An ObjectReference to `obj` (kind, namespace, name, uid, apiVersion, resourceVersion)."""
    md = obj.get("metadata") or {}
    kind = obj.get("kind", "")
    ref = {
        "kind": kind,
        "namespace": md.get("namespace", ""),
        "name": md.get("name", ""),
        "uid": md.get("uid", ""),
        "apiVersion": obj.get("apiVersion") or _API_VERSION_OF_KIND.get(kind, ""),
        "resourceVersion": md.get("resourceVersion", ""),
    }
    if field_path:
        ref["fieldPath"] = field_path
    return {k: v for k, v in ref.items() if v}


@dataclass
class _Sent:
    """What this recorder knows of an Event it created: enough to patch it on a repeat."""

    name: str
    namespace: str
    count: int
    first: str


@dataclass
class _Similar:
    """Messages seen for one object and reason inside the aggregation window."""

    messages: set[str]
    started: float


class _LRU(collections.OrderedDict[tuple[str, ...], Any]):
    def remember(self, key: tuple[str, ...], value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > CACHE_SIZE:
            self.popitem(last=False)


class EventRecorder:
    """Sends Events about objects on behalf of one component (`default-scheduler`, `kubelet`)."""

    def __init__(self, client: APIClient, component: str, host: str = "") -> None:
        self.client = client
        self.component = component
        self.host = host
        self._sent = _LRU()
        self._similar = _LRU()
        # Events being sent by `post`: asyncio keeps only weak references to tasks.
        self._posting: set[asyncio.Task[Any]] = set()
        # Per Event key, the lock its sends take turns on and how many want it. Two posts of
        # the same event in quick succession would otherwise both create (two Events where
        # there should be one with count 2) or both patch the same count; client-go's
        # broadcaster sends one event at a time.
        self._turns: dict[tuple[str, ...], tuple[asyncio.Lock, list[int]]] = {}

    def post(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        """Record an event without waiting for it: from an informer handler, which cannot
        wait, or where a report must not hold up the work it reports on."""
        task = asyncio.create_task(self.event(obj, event_type, reason, message))
        self._posting.add(task)
        task.add_done_callback(self._posting.discard)

    def _source_key(self, ref: Obj, event_type: str, reason: str) -> tuple[str, ...]:
        return (
            self.component,
            self.host,
            ref.get("kind", ""),
            ref.get("namespace", ""),
            ref.get("name", ""),
            ref.get("uid", ""),
            ref.get("apiVersion", ""),
            event_type,
            reason,
        )

    def _aggregate(self, key: tuple[str, ...], message: str) -> tuple[str, bool]:
        """The message to send, and whether it stands for several similar events."""
        now = time.monotonic()
        similar = self._similar.get(key)
        if similar is None or now - similar.started > AGGREGATION_WINDOW:
            similar = _Similar(set(), now)
        similar.messages.add(message)
        self._similar.remember(key, similar)
        if len(similar.messages) > MAX_SIMILAR_EVENTS:
            return COMBINED_PREFIX + message, True
        return message, False

    async def event(
        self,
        obj: Obj,
        event_type: str,
        reason: str,
        message: str,
        *,
        field_path: str = "",
    ) -> Obj | None:
        """Record an event about `obj`; returns the Event as stored, None if sending failed."""
        ref = object_reference(obj, field_path)
        source_key = self._source_key(ref, event_type, reason)
        message, combined = self._aggregate(source_key, message)
        # A combined event is one Event per object and reason, whatever the message.
        key = (*source_key, field_path, "" if combined else message)
        lock, waiting = self._turns.setdefault(key, (asyncio.Lock(), [0]))
        waiting[0] += 1
        try:
            async with lock:
                return await self._send(key, ref, event_type, reason, message)
        finally:
            waiting[0] -= 1
            if not waiting[0]:
                del self._turns[key]

    async def _send(
        self, key: tuple[str, ...], ref: Obj, event_type: str, reason: str, message: str
    ) -> Obj | None:
        """Create the Event, or count one more of the Event already sent under `key`."""
        now = _time(_now())
        seen = self._sent.get(key)
        try:
            if seen is not None:
                try:
                    stored = await self.client.patch(
                        EVENTS,
                        seen.name,
                        {"count": seen.count + 1, "lastTimestamp": now, "message": message},
                        patch_type=PatchType.STRATEGIC,
                        namespace=seen.namespace,
                    )
                    seen.count += 1
                    self._sent.remember(key, seen)
                    return stored
                except APINotFoundError:
                    # The Event expired (its time to live) or was deleted: start a new one.
                    seen = None
            stored = await self.client.create(
                EVENTS, self._new_event(ref, event_type, reason, message, now)
            )
        except (APIError, APIConnectionError) as e:
            # One left over when its component stopped is dropped, as client-go's broadcaster
            # drops what it has not sent at Shutdown.
            stopped = getattr(self.client, "closed", False)
            (log.debug if stopped else log.warning)(
                "could not record event %s/%s: %s", reason, ref.get("name"), e
            )
            return None
        md = stored["metadata"]
        self._sent.remember(key, _Sent(md["name"], md["namespace"], 1, now))
        return stored

    def _new_event(self, ref: Obj, event_type: str, reason: str, message: str, now: str) -> Obj:
        namespace = ref.get("namespace") or "default"
        name = f"{ref.get('name', '')}.{time.time_ns():x}"
        source: Obj = {"component": self.component}
        if self.host:
            source["host"] = self.host
        event: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": event_type,
            "eventTime": None,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }
        return event
