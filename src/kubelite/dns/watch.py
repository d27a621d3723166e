"""Feeding the index from the API: Services, EndpointSlices and Namespaces informers."""

from __future__ import annotations

from kubelite.api.resources import ENDPOINT_SLICES, NAMESPACES, SERVICES
from kubelite.client.informers import SharedInformerFactory
from kubelite.dns.index import ClusterIndex


def watch(index: ClusterIndex, factory: SharedInformerFactory) -> None:
    """Register the index's handlers on the factory's informers (start the factory after).

    Until Services and Namespaces have been listed, a missing name is answered SERVFAIL, not
    NXDOMAIN (CoreDNS does the same until its informers sync): those two decide whether a
    name exists. Slices only add endpoints to names that exist, and a server without
    discovery.k8s.io must not be kept from ever answering NXDOMAIN.
    """
    services = factory.informer(SERVICES)
    slices = factory.informer(ENDPOINT_SLICES)
    namespaces = factory.informer(NAMESPACES)
    services.add_handler(index.on_service)
    slices.add_handler(index.on_endpoint_slice)
    namespaces.add_handler(index.on_namespace)
    index.synced = lambda: services.synced and namespaces.synced
