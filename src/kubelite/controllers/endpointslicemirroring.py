"""The EndpointSlice mirroring controller: slices for the hand-written Endpoints of Services
that have no selector.

Kubernetes' `pkg/controller/endpointslicemirroring`. Whoever owns a selectorless Service writes
its v1 Endpoints; kube-proxy and DNS read EndpointSlices, so this controller copies each
Endpoints into slices labelled `endpointslice.kubernetes.io/managed-by:
endpointslicemirroring-controller.k8s.io` and owned by the Endpoints. Ready addresses become
endpoints with `ready: true`, not-ready ones `ready: false`; each subset's ports are a port
mapping of their own (and addresses of each IP family a slice of their own), with the
reconciler the EndpointSlice controller uses. At most 1000 addresses of a subset are mirrored.

Nothing is mirrored for an Endpoints labelled `endpointslice.kubernetes.io/skip-mirror: "true"`
(the API server's own `kubernetes` Endpoints), one whose Service is gone or has a selector, or
one that does not exist: then its mirrored slices are deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kubelite.api import meta
from kubelite.api.resources import ENDPOINT_SLICES, ENDPOINTS, SERVICES
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APINotFoundError
from kubelite.client.informer import key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.client.workqueue import RetryLater, WorkQueue, process
from kubelite.controllers import endpointslice_reconciler as reconciler
from kubelite.controllers.endpoints_util import (
    LAST_APPLIED,
    LAST_CHANGE_TRIGGER_TIME,
    MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
    SKIP_MIRROR_LABEL,
    ip_family,
    selector_of,
)
from kubelite.controllers.endpointslice import (
    SliceTracker,
    SliceWriter,
    by_service,
    owned_by,
    owner_reference,
    slice_prefix,
)

log = logging.getLogger(__name__)


CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
WORKERS = 5
# endpointslicemirroring_controller.go: maxEndpointsPerSubset.
MAX_ENDPOINTS_PER_SUBSET = 1000


def should_mirror(endpoints: Obj | None, service: Obj | None) -> bool:
    if endpoints is None or service is None:
        return False
    if selector_of(service) is not None:
        return False
    return meta.labels_of(endpoints).get(SKIP_MIRROR_LABEL) != "true"


def slice_ports(ports: list[Obj]) -> list[Obj]:
    """epPortsToEpsPorts: each Endpoints port as a slice port."""
    result = []
    for port in ports:
        item: Obj = {
            "name": port.get("name") or "",
            "protocol": port.get("protocol") or "TCP",
            "port": int(port.get("port") or 0),
        }
        if port.get("appProtocol") is not None:
            item["appProtocol"] = port["appProtocol"]
        result.append(item)
    return result


def address_endpoint(address: Obj, ready: bool) -> Obj:
    """addressToEndpoint."""
    endpoint: Obj = {"addresses": [address.get("ip", "")], "conditions": {"ready": ready}}
    if address.get("hostname"):
        endpoint["hostname"] = address["hostname"]
    if address.get("targetRef") is not None:
        endpoint["targetRef"] = address["targetRef"]
    if address.get("nodeName") is not None:
        endpoint["nodeName"] = address["nodeName"]
    return endpoint


def desired_groups(endpoints: Obj) -> dict[str, dict[str, reconciler.Group]]:
    """By address type, then port mapping: the endpoints to mirror."""
    result: dict[str, dict[str, reconciler.Group]] = {}
    for subset in endpoints.get("subsets") or ():
        ports = slice_ports(subset.get("ports") or [])
        key = reconciler.port_map_key(ports)
        count = 0
        for field, ready in (("addresses", True), ("notReadyAddresses", False)):
            for address in subset.get(field) or ():
                if count >= MAX_ENDPOINTS_PER_SUBSET:
                    break
                family = ip_family(address.get("ip", ""))
                if not family:
                    continue  # Not an IP: nothing a proxy could use.
                count += 1
                group = result.setdefault(family, {}).setdefault(
                    key, reconciler.Group(family, ports)
                )
                endpoint = address_endpoint(address, ready)
                group.endpoints.setdefault(reconciler.endpoint_key(endpoint), endpoint)
    return result


def mirrored_labels(endpoints: Obj) -> dict[str, str]:
    labels = dict(meta.labels_of(endpoints))
    labels[SERVICE_NAME_LABEL] = meta.name_of(endpoints)
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    return labels


def mirrored_annotations(endpoints: Obj) -> dict[str, str]:
    annotations = meta.get_path(endpoints, "metadata", "annotations") or {}
    return {
        k: v for k, v in annotations.items() if k not in (LAST_CHANGE_TRIGGER_TIME, LAST_APPLIED)
    }


def new_mirrored_slice(endpoints: Obj, ports: list[Obj], address_type: str) -> Obj:
    """newEndpointSlice of the mirroring controller: the Endpoints' labels and annotations."""
    md: Obj = {
        "generateName": slice_prefix(meta.name_of(endpoints)),
        "namespace": meta.namespace_of(endpoints),
        "labels": mirrored_labels(endpoints),
        "ownerReferences": [owner_reference(endpoints, "Endpoints")],
    }
    annotations = mirrored_annotations(endpoints)
    if annotations:
        md["annotations"] = annotations
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": md,
        "addressType": address_type,
        "endpoints": None,
        "ports": ports or None,
    }


def plan_for_endpoints(
    endpoints: Obj,
    existing: list[Obj],
    max_per_slice: int = reconciler.MAX_ENDPOINTS_PER_SLICE,
) -> reconciler.Plan:
    groups = desired_groups(endpoints)
    plan = reconciler.Plan()
    owned = [s for s in existing if owned_by(s, endpoints)]
    plan.delete += [s for s in existing if not owned_by(s, endpoints)]

    def new_slice(ports: list[Obj], family: str) -> Obj:
        return new_mirrored_slice(endpoints, ports, family)

    def slice_labels(current: Obj) -> tuple[dict[str, str], bool]:
        wanted = mirrored_labels(endpoints)
        annotations = meta.get_path(current, "metadata", "annotations") or {}
        differs = wanted != meta.labels_of(current) or mirrored_annotations(
            endpoints
        ) != mirrored_annotations({"metadata": {"annotations": annotations}})
        return wanted, differs

    # addressType is required: every stored slice has one.
    for family in sorted({*groups, *(s["addressType"] for s in owned)}):
        part = reconciler.reconcile_address_type(
            [s for s in owned if s.get("addressType") == family],
            groups.get(family, {}),
            new_slice,
            slice_labels,
            max_per_slice,
        )
        for body in part.update:
            # The writer adds the trigger time back.
            body["metadata"]["annotations"] = mirrored_annotations(endpoints)
        plan.extend(reconciler.finalize(part))
    return plan


class EndpointSliceMirroringController:
    """Mirrors hand-written Endpoints of Services without a selector into EndpointSlices, so that
    slice readers see them too."""

    component = "endpointslice-mirroring-controller"
    queue_name = "endpoint_slice_mirroring"

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        *,
        workers: int = WORKERS,
    ) -> None:
        self.client = client
        self.informers = informers or SharedInformerFactory(client)
        self.workers = workers
        self.queue = WorkQueue(self.queue_name)
        self.tracker = SliceTracker()
        self.writer = SliceWriter(client, self.tracker)
        self.services = self.informers.informer(SERVICES)
        self.endpoints = self.informers.informer(ENDPOINTS)
        self.slices = self.informers.informer(ENDPOINT_SLICES)
        self.slices.add_indexer("service", by_service)
        self.services.add_handler(self._on_keyed, with_old=True)
        self.endpoints.add_handler(self._on_keyed, with_old=True)
        self.slices.add_handler(self._on_slice, with_old=True)

    def _on_keyed(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        self.queue.add(key_of(obj))

    def _on_slice(self, event_type: str, eps: Obj, old: Obj | None) -> None:
        mine = [
            o
            for o in (eps, old)
            if o is not None and meta.labels_of(o).get(MANAGED_BY_LABEL) == CONTROLLER_NAME
        ]
        if not mine:
            return
        if event_type == "DELETED":
            self.tracker.gone(eps)
        for obj in mine:
            for key in by_service(obj):
                self.queue.add(key)

    async def run(self) -> None:
        self.informers.start()
        try:
            await self.informers.wait_synced(self.services, self.endpoints, self.slices)
            await asyncio.gather(
                *(process(self.queue, self.sync, what=self.component) for _ in range(self.workers))
            )
        finally:
            self.queue.shut_down()

    async def sync(self, key: str) -> None:
        namespace = key.partition("/")[0]
        existing = [
            s
            for s in self.slices.by_index("service", key)
            if meta.labels_of(s).get(MANAGED_BY_LABEL) == CONTROLLER_NAME
        ]
        if self.tracker.stale(key, existing):
            raise RetryLater(f"EndpointSlice informer cache is out of date for {key}")
        endpoints = self.endpoints.get(key)
        if not should_mirror(endpoints, self.services.get(key)):
            for eps in existing:
                with contextlib.suppress(APINotFoundError):
                    await self.client.delete(
                        ENDPOINT_SLICES, meta.name_of(eps), namespace=namespace
                    )
                self.tracker.deleting(key, eps)
            return
        assert endpoints is not None
        plan = plan_for_endpoints(endpoints, existing)
        if not plan.empty():
            trigger = (meta.get_path(endpoints, "metadata", "annotations") or {}).get(
                LAST_CHANGE_TRIGGER_TIME
            )
            await self.writer.apply(key, plan, trigger, may_create=True)
