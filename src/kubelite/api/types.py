"""The one name for an object of Kubernetes JSON as kubelite passes it around.

Objects are plain dicts, decoded from the wire and encoded back unchanged (ARCHITECTURE.md,
rule 4), so a typed model per kind would only stand in the way. Every module spells that
`Obj`; defining it once keeps the hint the same everywhere and gives a type checker one place
to tighten it later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Obj = dict[str, Any]
"""A Kubernetes object, or any part of one, as a JSON dict that the holder may change."""

ObjView = Mapping[str, Any]
"""The same, for functions that only read: a caller may pass any mapping."""
