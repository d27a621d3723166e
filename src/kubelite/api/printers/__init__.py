"""The columns `kubectl get` shows for each kind, served as `meta.k8s.io/v1 Table` rows.

Kubernetes computes these on the server (`pkg/printers/internalversion/printers.go`); kubectl
only lays them out. Each module here covers a group of kinds and registers a `Printer` per kind
in `PRINTERS`; kinds without one get Name and Age.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubelite.api import meta

Obj = dict[str, Any]


@dataclass(frozen=True)
class Column:
    """One column of a `meta.k8s.io/v1 Table` (metav1.TableColumnDefinition)."""

    name: str
    type: str = "string"
    format: str = ""
    description: str = ""
    priority: int = 0

    def definition(self) -> Obj:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


NAME_COLUMN = Column(
    "Name",
    format="name",
    description="Name must be unique within a namespace. Is required when creating resources, "
    "although some resources may allow a client to request the generation of an appropriate "
    "name automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
)
AGE_COLUMN = Column(
    "Age",
    description="CreationTimestamp is a timestamp representing the server time when this object "
    "was created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
)


@dataclass(frozen=True)
class Printer:
    """The columns of one kind and the function that fills a row of them."""

    columns: tuple[Column, ...]
    cells: Callable[[Obj, dt.datetime], list[Any]]


def _name_and_age(obj: Obj, now: dt.datetime) -> list[Any]:
    return [meta.name_of(obj), meta.age(meta.get_path(obj, "metadata", "creationTimestamp"), now)]


DEFAULT_PRINTER = Printer((NAME_COLUMN, AGE_COLUMN), _name_and_age)

# (group, kind) -> Printer; filled by the modules of this package.
PRINTERS: dict[tuple[str, str], Printer] = {}


def printer_for(group: str, kind: str) -> Printer:
    return PRINTERS.get((group, kind), DEFAULT_PRINTER)
