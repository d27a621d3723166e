"""The EndpointSlice controller: discovery.k8s.io/v1 EndpointSlices for Services with a selector.

Kubernetes' `pkg/controller/endpointslice` with the reconciler of `k8s.io/endpointslice`
(endpointslice_reconciler.py). Handlers queue Service keys: the Service changed, a pod it
selects changed in a way that moves endpoints, or one of its slices was changed or deleted by
someone else. `sync` builds the desired endpoints of every selected pod (terminating pods
included: `ready` false, `serving` as the pod's readiness, `terminating` true), groups them by
address family and port mapping, and writes only the difference.

Each slice is labelled `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by:
endpointslice-controller.k8s.io` (plus the Service's own labels, and the headless label), owned
by the Service (the garbage collector removes them with it), named `<service>-<random>`.
A Service whose pods give no endpoints still gets one empty placeholder slice.

The informer may lag behind the controller's own writes: a sync that finds a slice older than
the generation it last wrote (or still there after it deleted it) waits for the cache rather
than act on it (endpointSliceTracker.StaleSlices).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from kubelite.api import meta
from kubelite.api.pods import is_pod_ready
from kubelite.api.resources import ENDPOINT_SLICES, NODES, PODS, SERVICES
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APIError, APINotFoundError
from kubelite.client.events import WARNING, EventRecorder
from kubelite.client.informer import Informer, by_namespace, by_node_name, key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.client.workqueue import RetryLater
from kubelite.controllers import endpointslice_reconciler as reconciler
from kubelite.controllers.endpoints import NAMESPACE_TERMINATING
from kubelite.controllers.endpoints_util import (
    HEADLESS_LABEL,
    LAST_CHANGE_TRIGGER_TIME,
    MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
    ZONE_LABEL,
    TriggerTimeTracker,
    cached_services_of,
    find_port,
    format_trigger_time,
    is_headless,
    pod_ips_of_family,
    pods_of,
    selects_pods,
    service_family,
    services_to_sync,
    should_pod_be_in_endpoints,
    should_set_hostname,
    target_ref,
)
from kubelite.controllers.owners import typed
from kubelite.controllers.queue_controller import QueueController

log = logging.getLogger(__name__)


CONTROLLER_NAME = "endpointslice-controller.k8s.io"
WORKERS = 5
RESERVED_LABELS = (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)
# spec.trafficDistribution values (trafficdist's closeTrafficDistribution): PreferClose is the
# deprecated name of PreferSameZone; PreferSameNode hints nodes as well as zones, so that a
# proxy that knows no node hints still keeps traffic in the zone (KEP-3015).
PREFER_CLOSE = "PreferClose"
PREFER_SAME_ZONE = "PreferSameZone"
PREFER_SAME_NODE = "PreferSameNode"
CLOSE_TRAFFIC_DISTRIBUTIONS = (PREFER_CLOSE, PREFER_SAME_ZONE, PREFER_SAME_NODE)
# A node by name, or None when the cache does not know it.
NodeLookup = Callable[[str], "Obj | None"]


def slice_prefix(name: str) -> str:
    """getEndpointSlicePrefix: `<name>-` unless that is too long to generate a name from."""
    return f"{name}-" if len(name) + 1 <= 253 - 5 else name


def owner_reference(obj: Obj, kind: str) -> Obj:
    """metav1.NewControllerRef for a core/v1 object."""
    return {
        "apiVersion": "v1",
        "kind": kind,
        "name": meta.name_of(obj),
        "uid": meta.get_path(obj, "metadata", "uid") or "",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned_by(eps: Obj, owner: Obj) -> bool:
    uid = meta.get_path(owner, "metadata", "uid")
    return any(
        ref.get("uid") == uid and ref.get("controller")
        for ref in meta.get_path(eps, "metadata", "ownerReferences") or ()
    )


def service_slice_labels(service: Obj, controller: str = CONTROLLER_NAME) -> dict[str, str]:
    """setEndpointSliceLabels' result: the Service's labels but the reserved ones, the
    headless label for a headless Service, then the service name and manager."""
    result = {k: v for k, v in meta.labels_of(service).items() if k not in RESERVED_LABELS}
    if is_headless(service):
        result[HEADLESS_LABEL] = ""
    result[SERVICE_NAME_LABEL] = meta.name_of(service)
    result[MANAGED_BY_LABEL] = controller
    return result


def address_types(service: Obj) -> list[str]:
    """getAddressTypesForService: the Service's IP families (its one family, if unset)."""
    families = (service.get("spec") or {}).get("ipFamilies") or []
    return [str(f) for f in families] or [service_family(service)]


def endpoint_ports(service: Obj, pod: Obj) -> list[Obj]:
    """getEndpointPorts: each Service port the pod has, with the pod's port number."""
    ports: list[Obj] = []
    for service_port in (service.get("spec") or {}).get("ports") or ():
        number = find_port(pod, service_port)
        if number is None:
            continue
        port: Obj = {
            "name": service_port.get("name") or "",
            "protocol": service_port.get("protocol") or "TCP",
            "port": number,
        }
        if service_port.get("appProtocol") is not None:
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def pod_endpoint(pod: Obj, node: Obj | None, service: Obj, address_type: str) -> Obj:
    """podToEndpoint: the pod's addresses of this type and its conditions.

    `serving` is the pod's readiness; `ready` is never true for a terminating pod unless the
    Service publishes not-ready addresses (then it is always true). The Service's
    `trafficDistribution` decides the endpoint's hints (traffic_hints).
    """
    serving = is_pod_ready(pod)
    terminating = bool(pod["metadata"].get("deletionTimestamp"))
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    endpoint: Obj = {
        "addresses": pod_ips_of_family(pod, address_type),
        "conditions": {
            "ready": publish or (serving and not terminating),
            "serving": serving,
            "terminating": terminating,
        },
    }
    if should_set_hostname(pod, service):
        endpoint["hostname"] = pod["spec"]["hostname"]
    endpoint["targetRef"] = target_ref(pod)
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        endpoint["nodeName"] = node_name
    zone = meta.labels_of(node).get(ZONE_LABEL) if node is not None else None
    if zone:
        endpoint["zone"] = zone
    hints = traffic_hints(endpoint, (service.get("spec") or {}).get("trafficDistribution"))
    if hints:
        endpoint["hints"] = hints
    return endpoint


def traffic_hints(endpoint: Obj, distribution: str | None) -> Obj | None:
    """The hints trafficdist's preferCloseHeuristic gives an endpoint, None for none.

    Only a ready endpoint is hinted: its own zone (PreferClose, PreferSameZone, PreferSameNode)
    and, for PreferSameNode, its own node. Any other distribution (or none) means cluster-wide
    routing, so no endpoint carries hints (defaultHeuristic)."""
    if distribution not in CLOSE_TRAFFIC_DISTRIBUTIONS:
        return None
    if not (endpoint.get("conditions") or {}).get("ready"):
        return None
    hints: Obj = {}
    if endpoint.get("zone"):
        hints["forZones"] = [{"name": endpoint["zone"]}]
    if distribution == PREFER_SAME_NODE and endpoint.get("nodeName"):
        hints["forNodes"] = [{"name": endpoint["nodeName"]}]
    return hints or None


def new_service_slice(service: Obj, ports: list[Obj], address_type: str) -> Obj:
    """newEndpointSlice for a Service."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": slice_prefix(meta.name_of(service)),
            "namespace": meta.namespace_of(service),
            "labels": service_slice_labels(service),
            "ownerReferences": [owner_reference(service, "Service")],
        },
        "addressType": address_type,
        # An empty list is stored as none, as Kubernetes' protobuf storage does.
        "endpoints": None,
        "ports": ports or None,
    }


def desired_groups(
    service: Obj, pods: list[Obj], nodes: NodeLookup, address_type: str
) -> tuple[dict[str, reconciler.Group], list[str]]:
    """The desired endpoints of one address type by port mapping, and the pods left out
    because their node is unknown (a retry is due for them)."""
    groups: dict[str, reconciler.Group] = {}
    missing: list[str] = []
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    for pod in sorted(pods, key=meta.name_of):
        if not should_pod_be_in_endpoints(pod, True):
            continue
        ports = endpoint_ports(service, pod)
        key = reconciler.port_map_key(ports)
        group = groups.setdefault(key, reconciler.Group(address_type, ports))
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        node = nodes(node_name)
        if node is None and not publish:
            missing.append(meta.name_of(pod))
            continue
        endpoint = pod_endpoint(pod, node, service, address_type)
        if endpoint["addresses"]:
            group.endpoints[reconciler.endpoint_key(endpoint)] = endpoint
    return groups, missing


def plan_for_service(
    service: Obj,
    pods: list[Obj],
    existing: list[Obj],
    nodes: NodeLookup,
    max_per_slice: int = reconciler.MAX_ENDPOINTS_PER_SLICE,
) -> tuple[reconciler.Plan, list[str]]:
    """What to create, update and delete for `service` (Reconciler.Reconcile), and the pods
    skipped for a node the cache does not know."""
    types = address_types(service)
    plan = reconciler.Plan()
    missing: list[str] = []
    for address_type in types:
        mine = [s for s in existing if s.get("addressType") == address_type]
        owned = [s for s in mine if owned_by(s, service)]
        strangers = [s for s in mine if not owned_by(s, service)]
        groups, skipped = desired_groups(service, pods, nodes, address_type)
        missing += skipped

        def new_slice(ports: list[Obj], family: str) -> Obj:
            return new_service_slice(service, ports, family)

        def slice_labels(current: Obj) -> tuple[dict[str, str], bool]:
            wanted = service_slice_labels(service)
            return wanted, wanted != meta.labels_of(current)

        part = reconciler.reconcile_address_type(
            owned, groups, new_slice, slice_labels, max_per_slice
        )
        if len(owned) == len(part.delete) and not part.create:
            # Nothing would be left: keep (or make) one empty placeholder slice.
            placeholder = new_service_slice(service, [], address_type)
            if len(part.delete) == 1 and reconciler.is_placeholder_like(
                part.delete[0], placeholder
            ):
                part.delete = []
            else:
                part.create.append(placeholder)
        part = reconciler.finalize(part)
        part.delete += strangers
        plan.extend(part)
    plan.delete += [s for s in existing if s.get("addressType") not in types]
    return plan, missing


def by_service(eps: Obj) -> list[str]:
    """Index value: `namespace/service` of a slice, by its service-name label."""
    name = meta.labels_of(eps).get(SERVICE_NAME_LABEL)
    return [f"{meta.namespace_of(eps)}/{name}"] if name else []


# What the tracker holds for a slice this controller deleted (deletionExpected).
_DELETION_EXPECTED = -1


class SliceTracker:
    """The generations of the slices this controller wrote, per Service, to tell a lagging
    cache from the truth (endpointSliceTracker).

    The cache is stale for a Service when it shows one of its slices at an older generation
    than was written, still shows one that was deleted, or lacks one that was created: a sync
    then waits rather than create a second slice for endpoints the first already holds.
    """

    def __init__(self) -> None:
        self._by_service: dict[str, dict[str, int]] = {}

    @staticmethod
    def _uid(eps: Obj) -> str:
        return str(meta.get_path(eps, "metadata", "uid") or "")

    def wrote(self, key: str, eps: Obj) -> None:
        generation = int(meta.get_path(eps, "metadata", "generation") or 0)
        self._by_service.setdefault(key, {})[self._uid(eps)] = generation

    def deleting(self, key: str, eps: Obj) -> None:
        self._by_service.setdefault(key, {})[self._uid(eps)] = _DELETION_EXPECTED

    def gone(self, eps: Obj) -> None:
        """The slice's deletion was seen."""
        for key in by_service(eps):
            known = self._by_service.get(key)
            if known is not None:
                known.pop(self._uid(eps), None)
                if not known:
                    del self._by_service[key]

    def forget(self, key: str) -> None:
        self._by_service.pop(key, None)

    def stale(self, key: str, slices: list[Obj]) -> bool:
        known = self._by_service.get(key)
        if not known:
            return False
        seen: set[str] = set()
        for eps in slices:
            uid = self._uid(eps)
            seen.add(uid)
            written = known.get(uid)
            if written is None:
                continue
            generation = int(meta.get_path(eps, "metadata", "generation") or 0)
            if written == _DELETION_EXPECTED or written > generation:
                return True
        return any(g != _DELETION_EXPECTED and uid not in seen for uid, g in known.items())


class SliceWriter:
    """The writes of a plan, in Kubernetes' order (creates, updates, deletes), with the
    trigger-time annotation on what is written."""

    def __init__(self, client: APIClient, tracker: SliceTracker) -> None:
        self.client = client
        self.tracker = tracker

    async def apply(
        self, key: str, plan: reconciler.Plan, trigger: str | None, *, may_create: bool
    ) -> None:
        namespace = key.partition("/")[0]
        if may_create:
            for body in plan.create:
                _annotate(body, trigger)
                try:
                    created = await self.client.create(ENDPOINT_SLICES, body, namespace=namespace)
                except APIError as e:
                    if _namespace_terminating(e):
                        return
                    raise
                self.tracker.wrote(key, created)
        for body in plan.update:
            _annotate(body, trigger)
            body.setdefault("apiVersion", "discovery.k8s.io/v1")
            body.setdefault("kind", "EndpointSlice")
            updated = await self.client.update(ENDPOINT_SLICES, body, namespace=namespace)
            self.tracker.wrote(key, updated)
        for eps in plan.delete:
            with contextlib.suppress(APINotFoundError):
                await self.client.delete(ENDPOINT_SLICES, meta.name_of(eps), namespace=namespace)
            self.tracker.deleting(key, eps)


def _annotate(body: Obj, trigger: str | None) -> None:
    md = body["metadata"]
    annotations = dict(md.get("annotations") or {})
    if trigger:
        annotations[LAST_CHANGE_TRIGGER_TIME] = trigger
    else:
        annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
    if annotations:
        md["annotations"] = annotations
    else:
        md.pop("annotations", None)


def _namespace_terminating(error: APIError) -> bool:
    details = (error.status or {}).get("details") or {}
    return any(c.get("reason") == NAMESPACE_TERMINATING for c in details.get("causes") or ())


class EndpointSliceController(QueueController):
    """Keeps the EndpointSlices of each selecting Service in step with its pods, which the service
    proxy and the cluster DNS read."""

    component = "endpointslice-controller"
    queue_name = "endpoint_slice"

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        *,
        workers: int = WORKERS,
        max_endpoints_per_slice: int = reconciler.MAX_ENDPOINTS_PER_SLICE,
    ) -> None:
        super().__init__(client, informers, queue=self.queue_name, workers=workers)
        self.max_per_slice = max_endpoints_per_slice
        self.triggers = TriggerTimeTracker()
        self.tracker = SliceTracker()
        self.writer = SliceWriter(client, self.tracker)
        self.recorder = EventRecorder(client, self.component)
        self.services = self.informers.informer(SERVICES)
        self.services.add_indexer("namespace", by_namespace)
        self.pods = self.informers.informer(PODS)
        self.pods.add_indexer("namespace", by_namespace)
        self.pods.add_indexer("node", by_node_name)
        self.nodes = self.informers.informer(NODES)
        self.slices = self.informers.informer(ENDPOINT_SLICES)
        self.slices.add_indexer("service", by_service)
        self.services.add_handler(self._on_service, with_old=True)
        self.pods.add_handler(self._on_pod, with_old=True)
        self.slices.add_handler(self._on_slice, with_old=True)
        self.nodes.add_handler(self._on_node, with_old=True)

    # --- handlers -----------------------------------------------------------------------------

    def _on_service(self, event_type: str, service: Obj, old: Obj | None) -> None:
        self.queue.add(key_of(service))

    def _on_slice(self, event_type: str, eps: Obj, old: Obj | None) -> None:
        if meta.labels_of(eps).get(MANAGED_BY_LABEL) != CONTROLLER_NAME and not (
            old is not None and meta.labels_of(old).get(MANAGED_BY_LABEL) == CONTROLLER_NAME
        ):
            return
        if event_type == "DELETED":
            self.tracker.gone(eps)
        for key in by_service(eps) + (by_service(old) if old is not None else []):
            self.queue.add(key)

    def _on_pod(self, event_type: str, pod: Obj, old: Obj | None) -> None:
        for service in services_to_sync(self.services, event_type, pod, old):
            self.queue.add(key_of(service))

    def _on_node(self, event_type: str, node: Obj, old: Obj | None) -> None:
        """A node's zone is its endpoints' zone; a node that appears completes endpoints
        skipped for want of it."""
        if old is not None and meta.labels_of(old).get(ZONE_LABEL) == meta.labels_of(node).get(
            ZONE_LABEL
        ):
            return
        for pod in self.pods.by_index("node", meta.name_of(node)):
            for service in cached_services_of(pod, self.services):
                self.queue.add(key_of(service))

    # --- running ------------------------------------------------------------------------------

    def caches(self) -> tuple[Informer, ...]:
        return (self.services, self.pods, self.nodes, self.slices)

    # --- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        namespace = key.partition("/")[0]
        service = self.services.get(key)
        if service is None:
            # Its slices belong to it: the garbage collector removes them.
            self.triggers.forget(key)
            self.tracker.forget(key)
            return
        if not selects_pods(service):
            return
        existing = [
            s
            for s in self.slices.by_index("service", key)
            if meta.labels_of(s).get(MANAGED_BY_LABEL) == CONTROLLER_NAME
        ]
        if self.tracker.stale(key, existing):
            raise RetryLater(f"EndpointSlice informer cache is out of date for {key}")
        pods = pods_of(service, self.pods.by_index("namespace", namespace))
        plan, missing = plan_for_service(
            service, pods, existing, self.nodes.get, self.max_per_slice
        )
        trigger = self.triggers.compute(key, service, pods)
        if not plan.empty():
            try:
                await self.writer.apply(
                    key,
                    plan,
                    format_trigger_time(trigger) if trigger is not None else None,
                    may_create=not service["metadata"].get("deletionTimestamp"),
                )
            except BaseException as e:
                # The retry publishes the same change: it keeps its trigger time.
                self.triggers.restore(key)
                if isinstance(e, APIError):
                    self.recorder.post(
                        typed(service, SERVICES),
                        WARNING,
                        "FailedToUpdateEndpointSlices",
                        f"Error updating Endpoint Slices for Service {key}: {e}",
                    )
                raise
        if missing:
            raise RetryLater(f"skipping pods {', '.join(missing)}: their nodes are not known")
