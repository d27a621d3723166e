"""What a storage says about itself, so that the generic handlers can serve it.

Kubernetes' handlers ask a storage what it can do (`rest.Getter`, `rest.Updater`,
`rest.NamedCreater`, ...) and what it takes (`New()`: the object a body decodes into). Here a
storage that serves a kind other than its resource's own (a Binding posted to a pod, a Scale of
a Deployment) names it with a `KindRef`; one that serves its resource's own kind has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

Obj = dict[str, Any]


@dataclass(frozen=True)
class KindRef:
    """The kind a storage takes and returns, when it is not its resource's own."""

    group: str
    version: str
    kind: str
    # Whether a body is decoded against the kind's schema and judged by fieldValidation, as
    # for Bindings, Evictions and TokenRequests; a Scale body is read as plain JSON.
    schema_checked: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def success(code: int) -> Obj:
    """The Status a successful POST to a subresource answers with."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}


class NamedCreater(Protocol):
    """A storage that takes a POST to a named object's subresource (rest.NamedCreater)."""

    kind: KindRef

    async def create(
        self, namespace: str, name: str, body: Obj, query: Mapping[str, str]
    ) -> tuple[Obj, int]:
        """Act on `body`; the answer and its HTTP status. `query` carries the request's options
        (dryRun, gracePeriodSeconds, ...), read with `kubelite.apiserver.options`."""
        ...
