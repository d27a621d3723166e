"""The official Python client's typed models read back every kind kubelite serves.

The `kubernetes` package's models check what they are given: a field the OpenAPI definitions
call required that comes back missing (a ReplicaSet's `status.replicas`) raises ValueError while
the answer is read, so a program using the typed API classes cannot see the object at all. Each
served kind (taken from the kinds table, so a new kind is covered as soon as it has a manifest
here) is created, read, read through `/status`, listed, watched and deleted through the typed
API class the client generates for it (`AppsV1Api.create_namespaced_replica_set`, ...), each
in a namespace of its own so that no other kind's objects are in its lists.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from apiserver_fixtures import official_client
from csr_fixtures import b64, request_pem
from kubernetes import client, utils, watch
from kubernetes.client.rest import ApiException
from testcluster import ServerThread

from kubelite.api.kinds import RESOURCES as SERVED
from kubelite.api.kinds import ResourceType

Obj = dict[str, Any]

POD_TEMPLATE: Obj = {
    "metadata": {"labels": {"app": "typed"}},
    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
}
SELECTOR: Obj = {"matchLabels": {"app": "typed"}}
NEVER_RESTARTS: Obj = {
    "metadata": {"labels": {"app": "typed"}},
    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]},
}

# One minimal valid object of each served kind, by (group, kind): its name is "typed" unless it
# must be named otherwise, and its namespace is given by the test.
# The kinds that are stored and read back (the reviews are only answered: test_rbac_api).
RESOURCES = [r for r in SERVED if "get" in r.verbs]

MANIFESTS: dict[tuple[str, str], Obj] = {
    ("", "Namespace"): {},
    ("", "Pod"): {"spec": POD_TEMPLATE["spec"]},
    ("", "Node"): {},
    ("", "Event"): {
        "involvedObject": {"kind": "Pod", "name": "web", "apiVersion": "v1"},
        "reason": "Testing",
        "message": "read back",
        "type": "Normal",
    },
    ("", "Service"): {"spec": {"selector": {"app": "typed"}, "ports": [{"port": 80}]}},
    ("", "Endpoints"): {
        "subsets": [{"addresses": [{"ip": "10.1.2.3"}], "ports": [{"port": 80}]}],
    },
    ("", "ConfigMap"): {"data": {"a": "1"}},
    ("", "LimitRange"): {"spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}}]}},
    ("", "ResourceQuota"): {"spec": {"hard": {"pods": "2", "requests.cpu": "1"}}},
    ("", "Secret"): {"stringData": {"a": "1"}},
    ("", "PersistentVolumeClaim"): {
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    },
    ("", "ServiceAccount"): {},
    ("", "ReplicationController"): {
        "spec": {"selector": {"app": "typed"}, "template": POD_TEMPLATE},
    },
    ("apiregistration.k8s.io", "APIService"): {
        "metadata": {"name": "v1alpha1.typed.example.com"},
        "spec": {
            "group": "typed.example.com",
            "version": "v1alpha1",
            "groupPriorityMinimum": 1000,
            "versionPriority": 15,
            "service": {"namespace": "default", "name": "api"},
        },
    },
    ("apps", "Deployment"): {"spec": {"selector": SELECTOR, "template": POD_TEMPLATE}},
    ("apps", "ReplicaSet"): {"spec": {"selector": SELECTOR, "template": POD_TEMPLATE}},
    ("apps", "StatefulSet"): {
        "spec": {"selector": SELECTOR, "template": POD_TEMPLATE, "serviceName": "typed"},
    },
    ("apps", "DaemonSet"): {"spec": {"selector": SELECTOR, "template": POD_TEMPLATE}},
    ("apps", "ControllerRevision"): {"revision": 1, "data": {"spec": {}}},
    ("batch", "Job"): {"spec": {"template": NEVER_RESTARTS}},
    ("batch", "CronJob"): {
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": NEVER_RESTARTS}}},
    },
    ("policy", "PodDisruptionBudget"): {"spec": {"selector": SELECTOR, "minAvailable": 1}},
    ("coordination.k8s.io", "Lease"): {"spec": {"holderIdentity": "me"}},
    ("certificates.k8s.io", "CertificateSigningRequest"): {
        "spec": {
            "request": b64(request_pem("typed")),
            "signerName": "example.com/typed",
            "usages": ["client auth"],
        }
    },
    ("rbac.authorization.k8s.io", "Role"): {
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    },
    ("rbac.authorization.k8s.io", "ClusterRole"): {
        "rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]
    },
    ("rbac.authorization.k8s.io", "RoleBinding"): {
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
    },
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): {
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "default"}],
    },
    ("discovery.k8s.io", "EndpointSlice"): {
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.1.2.3"]}],
        "ports": [{"port": 80}],
    },
    ("events.k8s.io", "Event"): {
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "example.com/typed",
        "reportingInstance": "typed-1",
        "action": "Testing",
        "reason": "Testing",
        "type": "Normal",
        "regarding": {"kind": "Pod", "name": "web", "apiVersion": "v1"},
    },
}

_namespaces = itertools.count(1)


def api_class_name(group: str, version: str) -> str:
    """The client's class for a group version: `CoreV1Api`, `AppsV1Api`, `ApiregistrationV1Api`
    (the group without `.k8s.io`, each dotted part capitalized)."""
    parts = group.removesuffix(".k8s.io").split(".") if group else ["core"]
    return "".join(p.capitalize() for p in parts) + version.capitalize() + "Api"


def snake(kind: str) -> str:
    """`ReplicaSet` -> `replica_set`, `APIService` -> `api_service`: the client's method names."""
    words = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", kind)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", words).lower()


@pytest.fixture(scope="module")
def api_client(api_server: ServerThread) -> Iterator[client.ApiClient]:
    """The official client, configured as a kubeconfig of the admin would configure it."""
    with official_client(api_server.server) as api:
        yield api


def _manifest(resource: ResourceType, namespace: str) -> Obj:
    body: Obj = {
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        **{k: v for k, v in MANIFESTS[(resource.group, resource.kind)].items() if k != "metadata"},
    }
    metadata = dict(MANIFESTS[(resource.group, resource.kind)].get("metadata") or {})
    metadata.setdefault("name", f"typed-{namespace}")
    if resource.namespaced:
        metadata["namespace"] = namespace
    body["metadata"] = metadata
    # An Event's object is in the Event's namespace.
    for reference in ("involvedObject", "regarding"):
        if reference in body:
            body[reference] = {**body[reference], "namespace": namespace}
    return body


def test_every_served_kind_has_a_manifest() -> None:
    served = {(r.group, r.kind) for r in RESOURCES}
    assert served == set(MANIFESTS)


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: f"{r.group or 'core'}/{r.kind}")
def test_the_typed_client_reads_back_every_kind(
    api_client: client.ApiClient, resource: ResourceType
) -> None:
    core = client.CoreV1Api(api_client)
    namespace = f"typed-{next(_namespaces)}"
    core.create_namespace({"metadata": {"name": namespace}})
    # The service account controller's part, which pods' ServiceAccount admission needs.
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "default"}})
    api = getattr(client, api_class_name(resource.group, resource.version))(api_client)
    kind = snake(resource.kind)
    scope = ["namespaced_"] if resource.namespaced else [""]
    where = {"namespace": namespace} if resource.namespaced else {}
    body = _manifest(resource, namespace)
    name = body["metadata"]["name"]
    try:
        created = getattr(api, f"create_{scope[0]}{kind}")(body=body, **where)
        assert created.metadata.name == name
        read = getattr(api, f"read_{scope[0]}{kind}")(name=name, **where)
        assert read.metadata.uid == created.metadata.uid
        if resource.subresource("status"):
            status = getattr(api, f"read_{scope[0]}{kind}_status")(name=name, **where)
            assert status.metadata.uid == created.metadata.uid
        lister = getattr(api, f"list_{scope[0]}{kind}")
        listed = lister(**where)
        assert name in [item.metadata.name for item in listed.items]
        # A change after the list, for the watch to deliver.
        getattr(api, f"patch_{scope[0]}{kind}")(
            name=name, body={"metadata": {"labels": {"read": "back"}}}, **where
        )
        stream = watch.Watch()
        for event in stream.stream(
            lister, resource_version=listed.metadata.resource_version, timeout_seconds=5, **where
        ):
            assert event["type"] == "MODIFIED"
            assert event["object"].metadata.labels["read"] == "back"
            break
        else:
            pytest.fail("no event")
        # Deleted through the typed API too: the Status (or object) it answers must parse.
        getattr(api, f"delete_{scope[0]}{kind}")(name=name, **where)
    finally:
        if not resource.namespaced:
            try:
                getattr(api, f"delete_{kind}")(name=name)
            except ApiException as exc:
                assert exc.status == 404
        core.delete_namespace(namespace)


def test_create_from_yaml_reports_a_conflict_in_kube_apiservers_words(
    api_client: client.ApiClient, tmp_path: Any
) -> None:
    """kubernetes-client/python's e2e test of create_from_yaml compares this text byte for byte:
    the Status in metav1.Status's field order, and the newline Go's encoder ends it with."""
    manifest = tmp_path / "api-service.yaml"
    manifest.write_text(
        "apiVersion: apiregistration.k8s.io/v1\n"
        "kind: APIService\n"
        "metadata:\n"
        "  name: v1alpha1.wardle.k8s.io\n"
        "spec:\n"
        "  insecureSkipTLSVerify: true\n"
        "  group: wardle.k8s.io\n"
        "  groupPriorityMinimum: 1000\n"
        "  versionPriority: 15\n"
        "  service:\n"
        "    name: api\n"
        "    namespace: wardle\n"
        "  version: v1alpha1\n"
    )
    registration = client.ApiregistrationV1Api(api_client)
    utils.create_from_yaml(api_client, str(manifest))
    try:
        read = registration.read_api_service(name="v1alpha1.wardle.k8s.io")
        assert (read.spec.group, read.spec.version) == ("wardle.k8s.io", "v1alpha1")
        with pytest.raises(utils.FailToCreateError) as failed:
            utils.create_from_yaml(api_client, str(manifest))
        assert str(failed.value) == (
            "Error from server (Conflict): "
            '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
            '"message":"apiservices.apiregistration.k8s.io \\"v1alpha1.wardle.k8s.io\\" '
            'already exists","reason":"AlreadyExists",'
            '"details":{"name":"v1alpha1.wardle.k8s.io","group":"apiregistration.k8s.io",'
            '"kind":"apiservices"},"code":409}\n'
        )
    finally:
        registration.delete_api_service(name="v1alpha1.wardle.k8s.io")
