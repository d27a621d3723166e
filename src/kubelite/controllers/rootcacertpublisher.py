"""The root CA publisher: the cluster's CA certificate as `kube-root-ca.crt` in every namespace.

A pod reaches the API server through its API access volume, whose `ca.crt` comes from this
ConfigMap (`pkg/controller/certificates/rootcacertpublisher`). The certificate is the one this
controller trusts the API server with, so it publishes exactly what it was given; a ConfigMap
changed by hand is put back.
"""

from __future__ import annotations

from kubelite.api.resources import CONFIG_MAPS
from kubelite.api.types import Obj
from kubelite.api.wellknown import ROOT_CA_CONFIG_MAP
from kubelite.client.api import APIClient
from kubelite.client.informers import SharedInformerFactory
from kubelite.controllers.per_namespace import PerNamespaceObject

DATA_KEY = "ca.crt"
# The description Kubernetes puts on it.
DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters."
)


class RootCACertPublisher(PerNamespaceObject):
    """Publishes the cluster CA as the `kube-root-ca.crt` ConfigMap in every namespace, where
    service account token volumes find it."""

    queue_name = "root_ca_cert_publisher"
    resource = CONFIG_MAPS
    name = ROOT_CA_CONFIG_MAP

    def __init__(
        self, client: APIClient, ca_pem: str, informers: SharedInformerFactory | None = None
    ) -> None:
        super().__init__(client, informers)
        self.ca_pem = ca_pem

    def wanted(self, namespace: str) -> Obj:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": ROOT_CA_CONFIG_MAP,
                "namespace": namespace,
                "annotations": {"kubernetes.io/description": DESCRIPTION},
            },
            "data": {DATA_KEY: self.ca_pem},
        }

    def differs(self, current: Obj, wanted: Obj) -> bool:
        return bool(current.get("data") != wanted["data"])
