"""The Events table that ends most descriptions (DescribeEvents), and the sort and age of
events that `kubelite events` shares with it.
"""

from __future__ import annotations

import datetime as dt

from kubelite.api import meta
from kubelite.api.types import Obj
from kubelite.cli.kubectl.describe.printing import PrefixWriter, since


def event_time(event: Obj) -> dt.datetime:
    """The time kubectl sorts events by: series, else lastTimestamp, else eventTime."""
    series = event.get("series") or {}
    for value in (
        series.get("lastObservedTime"),
        event.get("lastTimestamp"),
        event.get("eventTime"),
    ):
        when = meta.parse_time(value or "")
        if when is not None:
            return when
    return dt.datetime.min.replace(tzinfo=dt.UTC)


def sort_events(events: list[Obj]) -> list[Obj]:
    """SortableEvents: oldest first, stable for equal times."""
    return sorted(events, key=event_time)


def event_interval(event: Obj, now: dt.datetime) -> str:
    """The Age / LAST SEEN cell: `5m`, or `2m (x5 over 7m)` for a repeated event."""
    first = since(event.get("eventTime"), now)
    if not event.get("eventTime"):
        first = since(event.get("firstTimestamp"), now)
    series = event.get("series")
    if series:
        return (
            f"{since(series.get('lastObservedTime'), now)} (x{series.get('count', 0)} over {first})"
        )
    count = event.get("count") or 0
    if count > 1:
        return f"{since(event.get('lastTimestamp'), now)} (x{count} over {first})"
    return first


def describe_events(w: PrefixWriter, events: list[Obj] | None, now: dt.datetime) -> None:
    """DescribeEvents; None means events were not asked for (`--show-events=false`)."""
    if events is None:
        return
    if not events:
        w.write(0, "Events:\t<none>\n")
        return
    w.flush()
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for event in sort_events(events):
        source = meta.get_path(event, "source", "component") or event.get("reportingComponent", "")
        w.write(
            1,
            f"{event.get('type', '')}\t{event.get('reason', '')}\t{event_interval(event, now)}\t"
            f"{source}\t{event_message(event)}\n",
        )


def event_message(event: Obj) -> str:
    """The Message cell: since kubectl 1.35 (kubernetes/kubernetes#133627) prefixed with the part
    of the object the event is about, `spec.containers{web}: Started container web`, so that
    the events of a pod's containers can be told apart."""
    message = (event.get("message") or "").strip()
    field_path = meta.get_path(event, "involvedObject", "fieldPath")
    return f"{field_path}: {message}" if field_path else message
