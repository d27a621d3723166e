"""The two ways a defaults.go function fills in one field, and the nested object it fills in.

Go tells a string field's zero value ("") from a missing one no better than it tells them apart
from each other, so a string is defaulted when empty; a pointer field (`*int32`, `*bool`, a
pointer to a struct) is defaulted only when missing, and an explicit zero is kept. JSON carries
both as a key that may be absent, so each defaulting function says which rule a field follows.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.types import Obj


def set_if_empty(obj: Obj, key: str, value: Any) -> None:
    """Default a Go string field: unset and "" are the same thing there."""
    if not obj.get(key):
        obj[key] = value


def set_if_none(obj: Obj, key: str, value: Any) -> None:
    """Default a Go pointer field: only a missing value is defaulted, zero is kept."""
    if obj.get(key) is None:
        obj[key] = value


def object_field(obj: Obj, key: str) -> Obj:
    """The object at `key`, made an empty one first when it is missing or not an object (a Go
    pointer to a struct that the defaults allocate before filling it in)."""
    value = obj.get(key)
    if not isinstance(value, dict):
        value = obj[key] = {}
    return value
