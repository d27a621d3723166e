"""pods/<name>/resize: the door to a pod's container resources (Kubernetes' ResizeREST).

Kubernetes serves it from a copy of the pod store whose update strategy is the resize one;
this does the same: a `ResourceStore` over the pods' storage and admission, with
`PodResizeStrategy` in place of the pod strategy, served as `/status` is (`StatusStore`). GET
answers the pod, PUT and PATCH (every patch type, server-side apply included) go through the
resize strategy's update rules, and nothing is ever created through it (no subresource creates).
Admission sees the write as an UPDATE of pods with subresource `resize` (from the request), and
RBAC authorizes it as `pods/resize`.
"""

from __future__ import annotations

from kubelite.api.strategies.pod_resize import PodResizeStrategy
from kubelite.apiserver.registry.generic import ResourceStore
from kubelite.apiserver.registry.status import StatusStore


class PodResizeStore(StatusStore):
    """GET, PUT and PATCH of `pods/<name>/resize`."""

    subresource = "resize"

    def __init__(self, pods: ResourceStore) -> None:
        # The same objects, admission and encoding; only the update rules differ.
        store = ResourceStore(pods.store, pods.resource, pods.mutating, pods.validating)
        store.strategy = PodResizeStrategy()
        super().__init__(store)
