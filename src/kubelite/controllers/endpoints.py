"""The Endpoints controller: a v1 Endpoints for every Service with a selector.

Kubernetes' `pkg/controller/endpoint`. Handlers queue Service keys: the Service changed, a pod
it selects (before or after the change) changed in a way that moves endpoints, or its Endpoints
was deleted. `sync`:

1. a Service that is gone takes its Endpoints with it (they have no owner reference for the
   garbage collector to follow); an ExternalName or selectorless Service is left alone;
2. the subsets are computed from the selected pods (endpoints_subsets.py);
3. the Endpoints is created or updated only when its subsets, labels (the Service's, plus
   `service.kubernetes.io/headless` for a headless Service) or over-capacity mark differ,
   with the last-change-trigger-time annotation of what moved.

At start every existing Endpoints is queued too (checkLeftoverEndpoints), so that those of
Services deleted while no controller ran are removed.
"""

from __future__ import annotations

import contextlib
import logging

from kubelite.api import meta
from kubelite.api.resources import ENDPOINTS, PODS, SERVICES
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APIError, APINotFoundError
from kubelite.client.events import WARNING, EventRecorder
from kubelite.client.informer import Informer, by_namespace, key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.controllers import endpoints_subsets as subsets_of
from kubelite.controllers.endpoints_util import (
    HEADLESS_LABEL,
    LAST_CHANGE_TRIGGER_TIME,
    OVER_CAPACITY,
    TriggerTimeTracker,
    format_trigger_time,
    is_headless,
    pods_of,
    selects_pods,
    services_to_sync,
)
from kubelite.controllers.queue_controller import QueueController

log = logging.getLogger(__name__)


WORKERS = 5
# resourcelock.LeaderElectionRecordAnnotationKey: Endpoints used as leader locks have no Service.
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
NAMESPACE_TERMINATING = "NamespaceTerminating"


def desired_endpoints(service: Obj, pods: list[Obj], current: Obj | None) -> Obj | None:
    """The Endpoints to write for `service`, or None when `current` is already right.

    The trigger-time annotation is left to the caller: a change of it alone writes nothing.
    """
    subsets, truncated = subsets_of.desired_subsets(service, pods)
    service_labels = dict(meta.labels_of(service))
    if current is not None:
        current_labels = {k: v for k, v in meta.labels_of(current).items() if k != HEADLESS_LABEL}
        annotations = meta.get_path(current, "metadata", "annotations") or {}
        capacity_right = (annotations.get(OVER_CAPACITY) == subsets_of.TRUNCATED) == truncated
        if (
            subsets_of.ignoring_resource_versions(current.get("subsets") or [])
            == subsets_of.ignoring_resource_versions(subsets)
            and current_labels == service_labels
            and capacity_right
        ):
            return None
        body = meta.clone(current)
    else:
        body = {"metadata": {"name": meta.name_of(service)}}
    body["apiVersion"] = "v1"
    body["kind"] = "Endpoints"
    md = body["metadata"]
    md["namespace"] = meta.namespace_of(service)
    new_labels = service_labels
    if is_headless(service):
        new_labels[HEADLESS_LABEL] = ""
    md["labels"] = new_labels
    annotations = dict(md.get("annotations") or {})
    if truncated:
        annotations[OVER_CAPACITY] = subsets_of.TRUNCATED
    else:
        annotations.pop(OVER_CAPACITY, None)
    md["annotations"] = annotations
    body["subsets"] = subsets
    # Empty ones are not written, as Kubernetes' storage keeps no empty map or list.
    for holder, key in ((md, "labels"), (body, "subsets")):
        if not holder[key]:
            del holder[key]
    return body


class EndpointsController(QueueController):
    """Keeps a v1 Endpoints object per selecting Service in step with the Service's ready and
    not-ready pods, for the clients that still read Endpoints."""

    component = "endpoint-controller"
    queue_name = "endpoint"

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        *,
        workers: int = WORKERS,
    ) -> None:
        super().__init__(client, informers, queue=self.queue_name, workers=workers)
        self.triggers = TriggerTimeTracker()
        self.recorder = EventRecorder(client, self.component)
        self.services = self.informers.informer(SERVICES)
        self.services.add_indexer("namespace", by_namespace)
        self.pods = self.informers.informer(PODS)
        self.pods.add_indexer("namespace", by_namespace)
        self.endpoints = self.informers.informer(ENDPOINTS)
        self.services.add_handler(self._on_service, with_old=True)
        self.pods.add_handler(self._on_pod, with_old=True)
        self.endpoints.add_handler(self._on_endpoints, with_old=True)

    # --- handlers -----------------------------------------------------------------------------

    def _on_service(self, event_type: str, service: Obj, old: Obj | None) -> None:
        self.queue.add(key_of(service))

    def _on_endpoints(self, event_type: str, endpoints: Obj, old: Obj | None) -> None:
        if event_type == "DELETED":
            self.queue.add(key_of(endpoints))

    def _on_pod(self, event_type: str, pod: Obj, old: Obj | None) -> None:
        for service in services_to_sync(self.services, event_type, pod, old):
            self.queue.add(key_of(service))

    # --- running ------------------------------------------------------------------------------

    def caches(self) -> tuple[Informer, ...]:
        return (self.services, self.pods, self.endpoints)

    def on_synced(self) -> None:
        # checkLeftoverEndpoints: Endpoints whose Service went while no controller ran are
        # synced once, which deletes them; a leader-election lock is not a Service's.
        for endpoints in self.endpoints.list():
            annotations = meta.get_path(endpoints, "metadata", "annotations") or {}
            if LEADER_ANNOTATION not in annotations:
                self.queue.add(key_of(endpoints))

    # --- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        service = self.services.get(key)
        if service is None:
            self.triggers.forget(key)
            with contextlib.suppress(APINotFoundError):
                await self.client.delete(ENDPOINTS, name, namespace=namespace)
            return
        if not selects_pods(service):
            return
        pods = pods_of(service, self.pods.by_index("namespace", namespace))
        trigger = self.triggers.compute(key, service, pods)
        current = self.endpoints.get(key)
        body = desired_endpoints(service, pods, current)
        if body is None:
            return
        annotations = body["metadata"]["annotations"]
        if trigger is not None:
            annotations[LAST_CHANGE_TRIGGER_TIME] = format_trigger_time(trigger)
        else:
            annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
        if not annotations:
            del body["metadata"]["annotations"]
        try:
            await self._write(key, body, current)
        except BaseException:
            # The retry publishes the same change: it keeps its trigger time.
            self.triggers.restore(key)
            raise

    async def _write(self, key: str, body: Obj, current: Obj | None) -> None:
        """Create or update the Endpoints; a failure becomes a Warning Event on it."""
        namespace = meta.namespace_of(body)
        try:
            if current is None:
                await self.client.create(ENDPOINTS, body, namespace=namespace)
            else:
                await self.client.update(ENDPOINTS, body, namespace=namespace)
        except APIError as e:
            if current is None and _namespace_terminating(e):
                return  # Creates will go on failing: drop the key.
            if current is None:
                reason = "FailedToCreateEndpoint"
                message = f"Failed to create endpoint for service {key}: {e}"
            else:
                reason = "FailedToUpdateEndpoint"
                message = f"Failed to update endpoint {key}: {e}"
            self.recorder.post(body, WARNING, reason, message)
            raise


def _namespace_terminating(error: APIError) -> bool:
    details = (error.status or {}).get("details") or {}
    return any(c.get("reason") == NAMESPACE_TERMINATING for c in details.get("causes") or ())
