"""The latest probe result of each container and probe kind, and who to tell when one changes.

Kubernetes keeps one results manager per probe kind (pkg/kubelet/prober/results/
results_manager.go); kubelite keeps one keyed by (container id, kind). A result is only
announced when it changes (or first appears), so that subscribers (the kubelet, which then
syncs the pod again) are not woken by every periodic success.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger(__name__)

ProbeKind = Literal["liveness", "readiness", "startup"]
PROBE_KINDS: tuple[ProbeKind, ...] = ("startup", "liveness", "readiness")

# The results kept (results.Success and results.Failure; results.Unknown is "no entry").
SUCCESS = "success"
FAILURE = "failure"


@dataclass(frozen=True, slots=True)
class ProbeUpdate:
    """A result that changed (results.Update)."""

    container_id: str
    kind: ProbeKind
    result: str
    pod_uid: str


Subscriber = Callable[[ProbeUpdate], None]


class ResultsManager:
    """The latest probe result of each container and kind, with subscribers told of every change, so
    that status updates follow a probe at once."""

    def __init__(self) -> None:
        self._results: dict[tuple[str, ProbeKind], str] = {}
        self._subscribers: list[Subscriber] = []

    def subscribe(self, callback: Subscriber) -> None:
        """Call `callback` on every change; it must not block (schedule work instead)."""
        self._subscribers.append(callback)

    def get(self, container_id: str, kind: ProbeKind) -> str | None:
        return self._results.get((container_id, kind))

    def set(self, container_id: str, kind: ProbeKind, result: str, pod_uid: str) -> None:
        key = (container_id, kind)
        if self._results.get(key) == result:
            return
        self._results[key] = result
        update = ProbeUpdate(container_id, kind, result, pod_uid)
        for callback in list(self._subscribers):
            try:
                callback(update)
            except Exception:
                # One broken subscriber must not stop the probes or the other subscribers.
                log.exception("probe result subscriber failed on %s", update)

    def remove(self, container_id: str) -> None:
        """Forget every result of a container (it stopped or its pod went); not announced."""
        for kind in PROBE_KINDS:
            self._results.pop((container_id, kind), None)
