"""Helpers for the parts every object shares: metadata, timestamps, owner references, conditions.

Objects are plain dicts of Kubernetes JSON (ARCHITECTURE.md, rule 4). These helpers read and
write the common fields without each caller repeating the `obj.get("metadata") or {}` dance.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import math
import time
import uuid
from typing import Any, TypeVar

import orjson

from kubelite.api.types import Obj


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def format_time(when: dt.datetime) -> str:
    """metav1.Time on the wire: RFC 3339 in UTC with second precision."""
    return _format_second(math.floor(when.timestamp()))


@functools.lru_cache(maxsize=64)
def _format_second(epoch: int) -> str:
    # Every write stamps the current second; strftime is slow enough to show in profiles.
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def format_micro_time(when: dt.datetime) -> str:
    """metav1.MicroTime on the wire: RFC 3339 in UTC with microseconds."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> dt.datetime | None:
    """Read a metav1.Time or MicroTime; None for an empty or unreadable value."""
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def new_uid() -> str:
    return str(uuid.uuid4())


# What `clone` copies: an object, or a list (a merge patch may be one).
_JSON = TypeVar("_JSON", dict[str, Any], list[Any])


def clone(obj: _JSON) -> _JSON:
    """A deep copy of a JSON object, through orjson: several times faster than copy.deepcopy,
    which the write path pays on every update. Values orjson cannot carry (integers beyond 64
    bits, which the decoder lets through as Go's Quantity or json.Number would) fall back."""
    try:
        return orjson.loads(orjson.dumps(obj))
    except (TypeError, orjson.JSONEncodeError):
        return copy.deepcopy(obj)


def metadata(obj: Obj) -> Obj:
    """The object's metadata dict, created if missing."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta


def dict_field(obj: Obj, field: str) -> Obj:
    """`obj[field]` when it is a JSON object, else a new empty one (not stored in `obj`): for
    code that reads a field which strict decoding may have let through as another type."""
    value = obj.get(field)
    return value if isinstance(value, dict) else {}


def name_of(obj: Obj) -> str:
    meta = obj.get("metadata")
    return meta.get("name", "") if isinstance(meta, dict) else ""


def namespace_of(obj: Obj) -> str:
    meta = obj.get("metadata")
    return meta.get("namespace", "") if isinstance(meta, dict) else ""


def labels_of(obj: Obj) -> dict[str, str]:
    meta = obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return labels if isinstance(labels, dict) else {}


def get_path(obj: Any, *path: str | int, default: Any = None) -> Any:
    """Walk nested dicts and lists; `default` where anything along the way is missing."""
    cur = obj
    for part in path:
        if isinstance(part, int):
            if not isinstance(cur, list) or part >= len(cur) or part < -len(cur):
                return default
            cur = cur[part]
        else:
            if not isinstance(cur, dict) or part not in cur:
                return default
            cur = cur[part]
    return default if cur is None else cur


def find_condition(conditions: list[Obj] | None, type_: str) -> Obj | None:
    for condition in conditions or ():
        if condition.get("type") == type_:
            return condition
    return None


def human_duration(seconds: float) -> str:
    """How kubectl prints an age (apimachinery duration.HumanDuration): `5s`, `3m20s`, `2d4h`."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    s = int(seconds)
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m{rem}s" if rem else f"{minutes}m"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rem = (s % 3600) // 60
        return f"{hours}h{rem}m" if rem else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem = hours % 24
        return f"{hours // 24}d{rem}h" if rem else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years = hours // 24 // 365
        rem = (hours // 24) % 365
        return f"{years}y{rem}d" if rem else f"{years}y"
    return f"{hours // 24 // 365}y"


def age(timestamp: str | None, at: dt.datetime | None = None) -> str:
    """The AGE column: time since a timestamp, `<unknown>` when there is none."""
    when = parse_time(timestamp or "")
    if when is None:
        return "<unknown>"
    return human_duration(((at or now()) - when).total_seconds())
