"""ServiceAccount admission: a pod runs as a service account that exists, and gets its token.

Kubernetes' `ServiceAccount` plugin (`plugin/pkg/admission/serviceaccount`), on pod creates:

- a pod that names no service account runs as `default` (the pod defaults here set the name
  already, as the plugin does before anything else reads it);
- the named account must exist, or the pod is refused (403, `error looking up service account
  ns/name: serviceaccount "name" not found`). The `default` account is made by the service
  account controller right after its namespace, so a pod created in the same breath as its
  namespace would race it: the plugin asks again for up to ten times 100-200 ms before refusing,
  as Kubernetes' does;
- unless the pod or, failing that, the account says `automountServiceAccountToken: false`, every
  container gets the `kube-api-access-<random>` projected volume (token, CA, namespace);
- a pod without `imagePullSecrets` gets the account's;
- an account annotated `kubernetes.io/enforce-mountable-secrets: "true"` lets its pods use only
  the Secrets it lists (volumes, env, envFrom) and pull only with its imagePullSecrets;
- a mirror pod (made by a kubelet from a static manifest) may name no service account, no
  Secret and no token projection: its spec is the file's and must not be changed.

Updates and subresources pass untouched: the plugin acts on creates alone.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import orjson

from kubelite.api import errors, meta
from kubelite.api.defaulting.pods import MIRROR_POD_ANNOTATION, mount_service_account_token
from kubelite.api.goformat import go_quote
from kubelite.api.kinds import ResourceType
from kubelite.api.types import Obj
from kubelite.apiserver import live_lookup
from kubelite.apiserver.auth import current_request
from kubelite.storage.interface import Store

DEFAULT_SERVICE_ACCOUNT = "default"
ENFORCE_MOUNTABLE_SECRETS_ANNOTATION = "kubernetes.io/enforce-mountable-secrets"
# How often the `default` account is asked for before a pod is refused (numAttempts), and the
# pause between asks, drawn once per request from [100, 200) ms as Kubernetes draws it.
DEFAULT_ACCOUNT_ATTEMPTS = 10
RETRY_INTERVAL_MS = (100, 200)


class ServiceAccountAdmission:
    """The ServiceAccount admission plugin for pods (mutating; it validates what it admits)."""

    def __init__(self, store: Store, serviceaccounts: ResourceType) -> None:
        self.store = store
        self.serviceaccounts = serviceaccounts

    async def __call__(
        self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        if operation != "CREATE":
            return
        info = current_request.get(None)
        if info is not None and info.subresource:
            return
        metadata = obj.get("metadata") or {}
        spec = obj.setdefault("spec", {})
        if MIRROR_POD_ANNOTATION in (metadata.get("annotations") or {}):
            _check_mirror_pod(resource, obj)
            return
        namespace = meta.namespace_of(obj)
        name = spec.get("serviceAccountName") or ""
        if not name:
            name = spec["serviceAccountName"] = DEFAULT_SERVICE_ACCOUNT
        account = await self._account(namespace, name)
        if account is None:
            raise _refuse(
                resource,
                obj,
                f"error looking up service account {namespace}/{name}: "
                f"serviceaccount {go_quote(name)} not found",
            )
        if _should_automount(account, spec):
            mount_service_account_token(obj)
        if not spec.get("imagePullSecrets") and account.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [
                {"name": (ref or {}).get("name", "")} for ref in account["imagePullSecrets"]
            ]
        if _enforces_mountable_secrets(account):
            problem = _secret_reference_problem(account, spec, name)
            if problem:
                raise _refuse(resource, obj, problem)

    async def _account(self, namespace: str, name: str) -> Obj | None:
        """The service account, asked for again a while when it is `default` and missing."""
        key = self.serviceaccounts.key(namespace, name)
        attempts = DEFAULT_ACCOUNT_ATTEMPTS if name == DEFAULT_SERVICE_ACCOUNT else 1
        interval = random.uniform(*RETRY_INTERVAL_MS) / 1000
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(interval)
            kv = await live_lookup.get(self.store, key)
            if kv is not None:
                account: Obj = orjson.loads(kv.value)
                return account
        return None


def _refuse(resource: ResourceType, obj: Obj, message: str) -> errors.StatusError:
    return errors.forbidden(resource.plural, meta.name_of(obj), message, resource.group)


def _should_automount(account: Obj, spec: Obj) -> bool:
    """The pod's `automountServiceAccountToken` wins, then the account's; both unset: mount."""
    pod_says = spec.get("automountServiceAccountToken")
    if pod_says is not None:
        return bool(pod_says)
    account_says = account.get("automountServiceAccountToken")
    return True if account_says is None else bool(account_says)


def _enforces_mountable_secrets(account: Obj) -> bool:
    value = ((account.get("metadata") or {}).get("annotations") or {}).get(
        ENFORCE_MOUNTABLE_SECRETS_ANNOTATION
    )
    return value is not None and _go_parse_bool(value)


def _go_parse_bool(value: str) -> bool:
    """strconv.ParseBool, where anything it cannot parse counts as false."""
    return value in ("1", "t", "T", "TRUE", "true", "True")


def _secret_reference_problem(account: Obj, spec: Obj, account_name: str) -> str:
    """The first Secret the pod uses that the account does not list (limitSecretReferences)."""
    mountable = {(ref or {}).get("name") for ref in account.get("secrets") or ()}
    refused = f"is not allowed because service account {account_name} does not reference"
    for volume in spec.get("volumes") or ():
        secret = (volume or {}).get("secret")
        if secret is None:
            continue
        secret_name = secret.get("secretName") or ""
        if secret_name not in mountable:
            return f'volume with secret.secretName="{secret_name}" {refused} that secret'
    for key, label in (("initContainers", "init container"), ("containers", "container")):
        for container in spec.get(key) or ():
            problem = _container_problem(container or {}, label, mountable, refused)
            if problem:
                return problem
    pull_secrets = {(ref or {}).get("name") for ref in account.get("imagePullSecrets") or ()}
    for index, ref in enumerate(spec.get("imagePullSecrets") or ()):
        pull_name = (ref or {}).get("name") or ""
        if pull_name not in pull_secrets:
            return f'imagePullSecrets[{index}].name="{pull_name}" {refused} that imagePullSecret'
    return ""


def _container_problem(container: Obj, label: str, mountable: set[Any], refused: str) -> str:
    name = container.get("name", "")
    for env in container.get("env") or ():
        ref = ((env or {}).get("valueFrom") or {}).get("secretKeyRef")
        if ref is not None and ref.get("name", "") not in mountable:
            return (
                f"{label} {name} with envVar {env.get('name', '')} referencing "
                f'secret.secretName="{ref.get("name", "")}" {refused} that secret'
            )
    for source in container.get("envFrom") or ():
        ref = (source or {}).get("secretRef")
        if ref is not None and ref.get("name", "") not in mountable:
            return (
                f'{label} {name} with envFrom referencing secret.secretName="{ref.get("name", "")}"'
                f" {refused} that secret"
            )
    return ""


def _check_mirror_pod(resource: ResourceType, pod: Obj) -> None:
    """What a mirror pod may not name: its spec comes from a file on the node, unchanged."""
    spec = pod.get("spec") or {}
    if spec.get("serviceAccountName"):
        raise _refuse(resource, pod, "a mirror pod may not reference service accounts")
    if _names_a_secret(spec):
        raise _refuse(resource, pod, "a mirror pod may not reference secrets")
    for volume in spec.get("volumes") or ():
        for source in ((volume or {}).get("projected") or {}).get("sources") or ():
            if (source or {}).get("serviceAccountToken") is not None:
                raise _refuse(
                    resource, pod, "a mirror pod may not use ServiceAccountToken volume projections"
                )


def _names_a_secret(spec: Obj) -> bool:
    """VisitPodSecretNames over every container: whether the pod refers to any Secret."""
    if spec.get("imagePullSecrets"):
        return True
    for volume in spec.get("volumes") or ():
        volume = volume or {}
        if volume.get("secret") is not None:
            return True
        for source in (volume.get("projected") or {}).get("sources") or ():
            if (source or {}).get("secret") is not None:
                return True
        for plugin in ("csi", "cephfs", "cinder", "flexVolume", "azureFile", "iscsi", "rbd"):
            settings = volume.get(plugin) or {}
            if settings.get("secretRef") or settings.get("nodePublishSecretRef"):
                return True
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or ():
            container = container or {}
            for env in container.get("env") or ():
                if ((env or {}).get("valueFrom") or {}).get("secretKeyRef") is not None:
                    return True
            for source in container.get("envFrom") or ():
                if (source or {}).get("secretRef") is not None:
                    return True
    return False
