"""`kubectl get events.events.k8s.io`: events.k8s.io/v1 Events, in the columns of core Events.

Kubernetes keeps one internal Event type behind both APIs and prints it once, so an event has the
same row whichever API it is read through. The events.k8s.io/v1 fields carry other names
(`regarding`, `note`, `deprecatedCount`, `reportingController`...); `as_core_event` renames the
ones the row reads, as Kubernetes' conversion between the two versions does, and the core
printer does the rest.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.printers import PRINTERS, Printer
from kubelite.api.printers.core import EVENT_COLUMNS, event_cells
from kubelite.api.types import Obj

# events.k8s.io/v1 field -> core/v1 field, for the fields the row reads.
_CORE_FIELD = {
    "metadata": "metadata",
    "regarding": "involvedObject",
    "note": "message",
    "reason": "reason",
    "type": "type",
    "eventTime": "eventTime",
    "series": "series",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
    # The core field keeps its old JSON name for the same value.
    "reportingController": "reportingComponent",
    "reportingInstance": "reportingInstance",
}


def as_core_event(event: Obj) -> Obj:
    """The core/v1 view of an events.k8s.io/v1 Event, as far as printing needs it."""
    return {core: event[v1] for v1, core in _CORE_FIELD.items() if v1 in event}


def events_v1_cells(event: Obj, now: dt.datetime) -> list[Any]:
    return event_cells(as_core_event(event), now)


PRINTERS[("events.k8s.io", "Event")] = Printer(EVENT_COLUMNS, events_v1_cells)
