"""What the CSR controllers that work request by request share (Kubernetes'
`pkg/controller/certificates.CertificateController`): a queue fed by every CertificateSigningRequest
that is added or changes, and a cache of them to read each from when its key comes up."""

from __future__ import annotations

from kubelite.api.resources import CERTIFICATE_SIGNING_REQUESTS
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.informer import Informer, key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.controllers.queue_controller import QueueController

WORKERS = 2  # two syncs at a time each: requests are few, each is a round trip or two


class CertificateController(QueueController):
    """A queue controller over the requests' informer; subclasses write `sync`."""

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        *,
        workers: int = WORKERS,
    ) -> None:
        super().__init__(client, informers, queue=self.component, workers=workers)
        self.requests = self.informers.informer(CERTIFICATE_SIGNING_REQUESTS)
        self.requests.add_handler(self._on_request)

    def _on_request(self, event_type: str, csr: Obj) -> None:
        if event_type != "DELETED":
            self.queue.add(key_of(csr))

    def caches(self) -> tuple[Informer, ...]:
        return (self.requests,)
