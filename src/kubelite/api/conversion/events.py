"""events.k8s.io/v1 Event <-> core/v1 Event (Kubernetes' `pkg/apis/events/v1/conversion.go`).

Kubernetes keeps one storage for events: the API server stores core/v1 Events and serves
events.k8s.io/v1 by converting each object on the way in and out. The two versions carry the
same information under different names:

    events.k8s.io/v1            core/v1
    regarding                   involvedObject
    note                        message
    reportingController         reportingComponent
    deprecatedSource            source
    deprecatedFirstTimestamp    firstTimestamp
    deprecatedLastTimestamp     lastTimestamp
    deprecatedCount             count

and the rest (metadata, eventTime, series, reportingInstance, action, reason, related, type)
unchanged. Both directions produce the object as Kubernetes serializes it: a time that is not set
is `null` rather than absent (metav1.Time and MicroTime marshal their zero value so), the object
references and the source are always present, and empty strings and a zero count are left out.
"""

from __future__ import annotations

import copy
from typing import Any

from kubelite.api.types import Obj

EVENTS_API_VERSION = "events.k8s.io/v1"
CORE_API_VERSION = "v1"

# (events.k8s.io/v1 name, core/v1 name) of the fields that are renamed.
_RENAMED = (
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
)
# Fields both versions share under one name.
_SHARED = ("eventTime", "series", "reportingInstance", "action", "reason", "related", "type")
# Struct-valued fields Kubernetes always writes (an empty struct is not omitted).
_ALWAYS_OBJECTS = {"regarding", "involvedObject", "deprecatedSource", "source"}
# Time fields Kubernetes writes as null when unset.
_NULLABLE_TIMES = {
    "eventTime",
    "deprecatedFirstTimestamp",
    "deprecatedLastTimestamp",
    "firstTimestamp",
    "lastTimestamp",
}


def to_core(event: Obj) -> Obj:
    """An events.k8s.io/v1 Event as the core/v1 Event Kubernetes stores."""
    return _convert(event, {new: old for new, old in _RENAMED}, CORE_API_VERSION)


def from_core(event: Obj) -> Obj:
    """A stored core/v1 Event as events.k8s.io/v1 serves it."""
    return _convert(event, {old: new for new, old in _RENAMED}, EVENTS_API_VERSION)


def _convert(source: Obj, renames: dict[str, str], api_version: str) -> Obj:
    out: Obj = {"kind": "Event", "apiVersion": api_version}
    if "metadata" in source:
        out["metadata"] = copy.deepcopy(source["metadata"])
    names = [(name, name) for name in _SHARED] + list(renames.items())
    for src, dst in names:
        value = source.get(src)
        if _is_empty(value):
            if dst in _NULLABLE_TIMES:
                out[dst] = None
            elif dst in _ALWAYS_OBJECTS:
                out[dst] = {}
            continue
        out[dst] = copy.deepcopy(value)
    return out


def _is_empty(value: Any) -> bool:
    """Go's omitempty, which also drops a zero count."""
    return value is None or value == "" or value == 0 or value == {}
