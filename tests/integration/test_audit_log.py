"""The audit log of a real server (`--audit-policy-file`, `--audit-log-path`), driven by the real
kubectl: what a policy selects is written, one `audit.k8s.io/v1` Event a line, at the stages
and levels kube-apiserver writes them; a policy kube-apiserver would refuse stops the server.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.integration.cluster import Cluster, kubectl_binary, wait_for

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  userGroups: ["system:nodes"]
- level: None
  nonResourceURLs: ["/healthz*"]
- level: RequestResponse
  verbs: [create, update, patch, delete]
  resources:
  - group: ""
    resources: ["pods"]
- level: Metadata
"""

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
}

Event = dict[str, Any]


class AuditedCluster(Cluster):
    audit_log: Path

    def events(self) -> list[Event]:
        """Every line of the log, each of which must be an audit Event."""
        lines = self.audit_log.read_text().splitlines()
        events = [json.loads(line) for line in lines]
        for event in events:
            assert event["kind"] == "Event" and event["apiVersion"] == "audit.k8s.io/v1"
        return events

    def wait_for_events(self, what: str, match: Any, count: int = 1) -> list[Event]:
        def found() -> list[Event]:
            hits = [e for e in self.events() if match(e)]
            return hits if len(hits) >= count else []

        result: list[Event] = wait_for(what, found)
        return result


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditedCluster]:
    base = tmp_path_factory.mktemp("audited")
    policy = base / "policy.yaml"
    policy.write_text(POLICY)
    log = base / "logs" / "audit.log"
    cluster = AuditedCluster(
        base / "data",
        base / "cache",
        extra_args=[
            "--disable-scheduler",
            "--audit-policy-file",
            str(policy),
            "--audit-log-path",
            str(log),
            "--audit-log-maxsize",
            "10",
        ],
    )
    cluster.audit_log = log
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _namespace(cluster: Cluster, name: str) -> str:
    """A namespace with its default service account (made by the controllers), which
    ServiceAccount admission wants before any pod."""
    cluster.kubectl("create", "namespace", name)
    wait_for(
        f"the default service account of {name}",
        lambda: (
            cluster.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode
            == 0
        ),
    )
    return name


def _user_kubectl(cluster: Cluster, tmp_path: Path, name: str, *args: str) -> str:
    path = tmp_path / f"{name}.kubeconfig"
    cluster.kubelite(
        "kubeconfig", "--user", name, "--data-dir", str(cluster.data_dir), "-o", str(path)
    )
    env = cluster.env()
    env["KUBECONFIG"] = str(path)
    result = subprocess.run(
        [kubectl_binary(), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode != 0
    return result.stderr


def test_a_pod_create_is_logged_with_its_objects_and_a_forbidden_list_with_the_decision(
    audited: AuditedCluster, tmp_path: Path
) -> None:
    namespace = _namespace(audited, "audit-pods")
    audited.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(POD))
    created = json.loads(audited.kubectl("get", "pod", "web", "-n", namespace, "-o", "json").stdout)

    (complete,) = audited.wait_for_events(
        "the pod create's ResponseComplete",
        lambda e: (
            e["stage"] == "ResponseComplete"
            and e["verb"] == "create"
            and e.get("objectRef", {}).get("resource") == "pods"
            and e["objectRef"].get("namespace") == namespace
        ),
    )
    assert complete["level"] == "RequestResponse"
    assert complete["objectRef"]["name"] == "web"
    assert complete["requestObject"]["metadata"]["name"] == "web"
    assert complete["requestObject"]["spec"]["containers"][0]["image"] == "busybox"
    assert complete["responseObject"]["metadata"]["uid"] == created["metadata"]["uid"]
    assert complete["responseStatus"]["code"] == 201
    assert complete["user"]["username"] == "system:admin"
    assert complete["userAgent"].startswith("kubectl")
    assert complete["annotations"]["authorization.k8s.io/decision"] == "allow"
    received = [
        e
        for e in audited.events()
        if e["auditID"] == complete["auditID"] and e["stage"] == "RequestReceived"
    ]
    assert len(received) == 1

    stderr = _user_kubectl(audited, tmp_path, "auditee", "get", "pods", "-n", namespace)
    assert "Forbidden" in stderr
    (refused,) = audited.wait_for_events(
        "the forbidden list",
        lambda e: (
            e["stage"] == "ResponseComplete"
            and e["user"].get("username") == "auditee"
            and e.get("objectRef", {}).get("resource") == "pods"
        ),
    )
    assert refused["level"] == "Metadata"
    assert refused["verb"] == "list"
    assert refused["responseStatus"]["code"] == 403
    assert refused["responseStatus"]["reason"] == "Forbidden"
    assert refused["annotations"]["authorization.k8s.io/decision"] == "forbid"
    assert "responseObject" not in refused and "requestObject" not in refused


def test_a_watch_is_logged_when_it_starts_and_when_it_ends(audited: AuditedCluster) -> None:
    namespace = _namespace(audited, "audit-watch")
    status, _, headers = audited.request(
        "GET", f"/api/v1/namespaces/{namespace}/configmaps?watch=true&timeoutSeconds=1"
    )
    assert status == 200
    audit_id = headers["Audit-ID"]
    events = audited.wait_for_events(
        "the watch's events", lambda e: e["auditID"] == audit_id, count=3
    )
    assert [e["stage"] for e in events] == [
        "RequestReceived",
        "ResponseStarted",
        "ResponseComplete",
    ]
    assert {e["verb"] for e in events} == {"watch"}
    assert events[1]["responseStatus"] == {"metadata": {}, "code": 200}


def test_what_the_policy_leaves_out_is_not_written(audited: AuditedCluster) -> None:
    status, _, headers = audited.request("GET", "/healthz")
    assert status == 200
    marker_status, _, marker = audited.request("GET", "/version")
    assert marker_status == 200
    # Once the later request is in the log, the earlier one would be too.
    audited.wait_for_events("the /version request", lambda e: e["auditID"] == marker["Audit-ID"])
    assert not [e for e in audited.events() if e["auditID"] == headers["Audit-ID"]]
    assert not [e for e in audited.events() if e["requestURI"].startswith("/healthz")]


def test_pod_security_audit_mode_annotates_the_pods_event(audited: AuditedCluster) -> None:
    namespace = _namespace(audited, "audit-restricted")
    audited.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/audit=restricted")
    result = subprocess.run(
        [kubectl_binary(), "create", "-n", namespace, "-f", "-"],
        input=json.dumps(POD),
        capture_output=True,
        text=True,
        env=audited.env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # The audit mode warns no one.
    assert "would violate" not in result.stderr
    (complete,) = audited.wait_for_events(
        "the pod create in the audited namespace",
        lambda e: (
            e["stage"] == "ResponseComplete"
            and e["verb"] == "create"
            and e.get("objectRef", {}).get("resource") == "pods"
            and e["objectRef"].get("namespace") == namespace
        ),
    )
    annotations = complete["annotations"]
    assert annotations["pod-security.kubernetes.io/enforce-policy"] == "privileged:latest"
    assert annotations["pod-security.kubernetes.io/audit-violations"].startswith(
        'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false'
    )


def test_an_invalid_policy_stops_the_server_naming_the_field_and_the_file(
    audited: AuditedCluster, tmp_path: Path
) -> None:
    policy = tmp_path / "bad-policy.yaml"
    policy.write_text(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n- verbs: [get]\n"
    )
    result = audited.kubelite(
        "server",
        "--data-dir",
        str(tmp_path / "data"),
        "--https-port",
        "0",
        "--bind-address",
        "127.0.0.1",
        "--disable-agent",
        "--audit-policy-file",
        str(policy),
        "--audit-log-path",
        str(tmp_path / "audit.log"),
        check=False,
    )
    assert result.returncode != 0
    assert (
        f"loading audit policy file: rules[1].level: Required value: from file {policy}"
        in result.stderr
    )
    assert not (tmp_path / "data").exists()
