"""The columns `kubectl get` shows for each kind, served as `meta.k8s.io/v1 Table` rows.

Kubernetes computes these on the server (`pkg/printers/internalversion/printers.go`); kubectl
only lays them out. Each module here covers a group of kinds and registers a `Printer` per kind
in `PRINTERS`; kinds without one get Name and Age.

The server always fills every column, the priority-1 ones too (Kubernetes prints its tables with
`Wide: true`); kubectl hides priority-1 columns unless asked for `-o wide`. Cells keep the JSON
types Kubernetes sends, which are not always the declared column type: a count is a number even
in a `string` column (a Deployment's Up-to-date, an Event's Count).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubelite.api import meta
from kubelite.api.types import Obj


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


# What Kubernetes prints for a value that is not set, or a time it does not know.
NONE = "<none>"
UNKNOWN = "<unknown>"


def _no_conditions(obj: Obj) -> list[Obj]:
    return []


@dataclass(frozen=True)
class Printer:
    """The columns of one kind and the functions that fill a row of them.

    `conditions` gives the row's `metav1.TableRowCondition`s; Kubernetes sets them only on pods
    that have finished (`Completed`), so most kinds keep the default of none.
    """

    columns: tuple[Column, ...]
    cells: Callable[[Obj, dt.datetime], list[Any]]
    conditions: Callable[[Obj], list[Obj]] = _no_conditions


def age_of(obj: Obj, now: dt.datetime) -> str:
    """The AGE cell: time since the object's creationTimestamp."""
    return meta.age(meta.get_path(obj, "metadata", "creationTimestamp"), now)


def format_labels(labels: dict[str, str] | None) -> str:
    """A label map as `k1=v1,k2=v2`, sorted by key; `<none>` when empty (labels.FormatLabels)."""
    if not labels:
        return NONE
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


def _name_and_age(obj: Obj, now: dt.datetime) -> list[Any]:
    return [meta.name_of(obj), age_of(obj, now)]


DEFAULT_PRINTER = Printer((NAME_COLUMN, AGE_COLUMN), _name_and_age)

# (group, kind) -> Printer; filled by the modules of this package.
PRINTERS: dict[tuple[str, str], Printer] = {}


def printer_for(group: str, kind: str) -> Printer:
    return PRINTERS.get((group, kind), DEFAULT_PRINTER)


# The modules register their printers when imported. They import the names above from this
# package, so they come last, once those names exist.
from kubelite.api.printers import (  # noqa: E402, F401
    apiregistration,
    apps,
    batch,
    certificates,
    coordination,
    core,
    discovery,
    events,
    limitrange,
    pods,
    policy,
    rbac,
    resourcequota,
    storage,
)
