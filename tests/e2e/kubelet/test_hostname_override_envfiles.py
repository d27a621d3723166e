"""Two pod features on by default in Kubernetes 1.37 on a real node, with the real kubectl 1.37:

- `spec.hostnameOverride` (KEP-4762, GA in 1.37): the pod's kernel hostname is the override, and
  its /etc/hosts maps the pod's IP to it (the 422 for one on the host network needs no node; it
  is in tests/integration/test_kubectl_hostname_override.py);
- `env[].valueFrom.fileKeyRef` (KEP-3721, EnvFiles, beta and on since 1.35): an init container
  writes an env file into an emptyDir, and the app container, which does not mount the volume,
  gets the selected key as a variable; a missing required key leaves the container waiting in
  CreateContainerConfigError with the kubelet's message, and a file that is not in the 1.35+
  format (values in single quotes) in `couldn't parse env file`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

import pytest
from tests.integration.cluster import Cluster
from tests.kubectl_builds import NEWEST

from conftest import delete_pod, get_pod, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]


def _kubectl(node: Cluster, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return node.kubectl(*args, version=NEWEST, **kwargs)


def _running(node: Cluster, name: str) -> dict[str, Any] | None:
    pod = get_pod(node, name)
    statuses = pod["status"].get("containerStatuses") or []
    running = bool(statuses) and all("running" in (s.get("state") or {}) for s in statuses)
    return pod if running else None


def _waiting(node: Cluster, name: str) -> dict[str, Any] | None:
    """The app container's `waiting` state once it has a reason other than the start-up one."""
    for status in get_pod(node, name)["status"].get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") not in (None, "PodInitializing", "ContainerCreating"):
            return dict(waiting)
    return None


# --- hostnameOverride ---------------------------------------------------------------------------

OVERRIDE = """
apiVersion: v1
kind: Pod
metadata: {name: override}
spec:
  terminationGracePeriodSeconds: 1
  hostname: db-0
  subdomain: db
  hostnameOverride: db.example.internal
  containers:
  - {name: app, image: busybox, command: [sleep, "3600"]}
"""


def test_the_override_is_the_pods_hostname_and_in_its_hosts_file(node: Cluster) -> None:
    _kubectl(node, "apply", "-f", "-", stdin=OVERRIDE)
    try:
        pod = wait_for("the pod to run", lambda: _running(node, "override"))
        assert pod["spec"]["hostnameOverride"] == "db.example.internal"
        hostname = _kubectl(node, "exec", "override", "--", "hostname").stdout
        assert hostname == "db.example.internal\n"
        hosts = _kubectl(node, "exec", "override", "--", "cat", "/etc/hosts").stdout
        ip = pod["status"]["podIP"]
        # The pod IP maps to the override alone: no FQDN from hostname and subdomain.
        assert hosts.startswith("# Kubernetes-managed hosts file.\n")
        assert hosts.endswith(f"{ip}\tdb.example.internal\n")
        assert "db-0" not in hosts
        # The process environment's HOSTNAME follows the kernel's name.
        env = _kubectl(node, "exec", "override", "--", "sh", "-c", 'echo "$HOSTNAME"').stdout
        assert env == "db.example.internal\n"
    finally:
        delete_pod(node, "override")


# --- fileKeyRef ---------------------------------------------------------------------------------


def _env_file_pod(name: str, written: str, key: str) -> str:
    """A pod whose init container writes `written` to /env/config.env in an emptyDir, and whose
    app container (not mounting it) takes $DB from `key` of that file."""
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  volumes:
  - {{name: env, emptyDir: {{}}}}
  initContainers:
  - name: write-env
    image: busybox
    command: [sh, -c, 'printf "%s\\n" "$0" > /env/config.env', {json.dumps(written)}]
    volumeMounts:
    - {{name: env, mountPath: /env}}
  containers:
  - name: app
    image: busybox
    command: [sh, -c, 'echo "DB=$DB"; exec sleep 3600']
    env:
    - name: DB
      valueFrom:
        fileKeyRef: {{volumeName: env, path: config.env, key: {key}}}
"""


def test_a_variable_from_a_file_an_init_container_wrote(node: Cluster) -> None:
    _kubectl(node, "apply", "-f", "-", stdin=_env_file_pod("envfile", "DB='postgres'", "DB"))
    try:
        pod = wait_for("the app to run", lambda: _running(node, "envfile"))
        # 1.37 serves the selector's default: optional false.
        ref = pod["spec"]["containers"][0]["env"][0]["valueFrom"]["fileKeyRef"]
        assert ref == {"volumeName": "env", "path": "config.env", "key": "DB", "optional": False}
        logs = wait_for(
            "the app's output",
            lambda: _kubectl(node, "logs", "envfile", "-c", "app").stdout,
        )
        assert logs == "DB=postgres\n"
        printed = _kubectl(node, "exec", "envfile", "-c", "app", "--", "sh", "-c", 'echo "$DB"')
        assert printed.stdout == "postgres\n"
    finally:
        delete_pod(node, "envfile")


def test_a_missing_required_key_is_a_create_container_config_error(node: Cluster) -> None:
    _kubectl(node, "apply", "-f", "-", stdin=_env_file_pod("nokey", "USER='app'", "DB"))
    try:
        waiting = wait_for("the app to wait", lambda: _waiting(node, "nokey"))
        assert waiting["reason"] == "CreateContainerConfigError"
        # The env file's path on the node: the emptyDir's directory under the pod's.
        uid = get_pod(node, "nokey")["metadata"]["uid"]
        pattern = (
            r'environment variable key "DB" not found in file "(/\S+)/pods/'
            + re.escape(uid)
            + r'/volumes/kubernetes\.io~empty-dir/env/config\.env"'
        )
        assert re.fullmatch(pattern, waiting["message"]), waiting["message"]
        events = _kubectl(
            node, "get", "events", "--field-selector", "involvedObject.name=nokey", "-o", "json"
        ).stdout
        failed = [e for e in json.loads(events)["items"] if e["reason"] == "Failed"]
        assert failed and failed[0]["message"] == f"Error: {waiting['message']}"
        assert failed[0]["involvedObject"]["fieldPath"] == "spec.containers{app}"
    finally:
        delete_pod(node, "nokey")


def test_an_unquoted_value_is_a_file_the_kubelet_cannot_parse(node: Cluster) -> None:
    """`DB=postgres` was read in 1.34's alpha; since 1.35 values must be single-quoted, and the
    kubelet tells the pod no more than that the file did not parse."""
    _kubectl(node, "apply", "-f", "-", stdin=_env_file_pod("unquoted", "DB=postgres", "DB"))
    try:
        waiting = wait_for("the app to wait", lambda: _waiting(node, "unquoted"))
        assert waiting == {
            "reason": "CreateContainerConfigError",
            "message": "couldn't parse env file",
        }
    finally:
        delete_pod(node, "unquoted")
