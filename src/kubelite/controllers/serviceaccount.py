"""The service account controller: a `default` ServiceAccount in every namespace.

Every pod names a service account (`default` unless it says otherwise), and its API access
volume asks for that account's token; Kubernetes' controller manager makes `default` in each
namespace as soon as the namespace exists, and again if someone deletes it.
"""

from __future__ import annotations

from kubelite.api.resources import SERVICE_ACCOUNTS
from kubelite.api.types import Obj
from kubelite.controllers.per_namespace import PerNamespaceObject

DEFAULT_SERVICE_ACCOUNT = "default"


class ServiceAccountsController(PerNamespaceObject):
    """Makes sure every namespace has its `default` ServiceAccount, which pods get when they name
    none."""

    queue_name = "serviceaccount"
    resource = SERVICE_ACCOUNTS
    name = DEFAULT_SERVICE_ACCOUNT

    def wanted(self, namespace: str) -> Obj:
        return {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": namespace},
        }
