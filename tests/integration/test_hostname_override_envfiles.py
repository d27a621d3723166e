"""Two pod features on by default in Kubernetes 1.37, end to end: the real kubectl 1.37 against a
one-node kubelite cluster whose kubelet runs containers under runc.

- `spec.hostnameOverride` (KEP-4762, GA in 1.37): the pod's kernel hostname is the override, and
  its /etc/hosts maps the pod's IP to it; with `hostNetwork` the pod is refused with 1.37's 422;
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
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster import Cluster
from images import build, publish
from images.recipe import load_all, select
from tests.kubectl_builds import NEWEST

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]

TIMEOUT = 90.0


def wait_for(what: str, check: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    """Poll `check` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _registry_up(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) == 0


def _kubectl(node: Cluster, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return node.kubectl(*args, version=NEWEST, **kwargs)


def _node_ready(node: Cluster) -> bool:
    nodes = json.loads(_kubectl(node, "get", "nodes", "-o", "json").stdout)["items"]
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for n in nodes
        for c in n["status"].get("conditions") or ()
    )


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A one-node cluster with its scheduler and kubelet, pulling busybox from the node's own
    registry (`--local-registry`), into which the example image is pushed first."""
    base = tmp_path_factory.mktemp("hoe")
    suffix = secrets.token_hex(2)
    subnet = f"10.{110 + int(suffix[0], 16)}.{int(suffix[1:], 16) % 250}.0/24"
    registry = f"127.0.0.1:{_free_port()}"
    bridge = f"hoe{suffix}"
    cluster = Cluster(
        base / "data",
        base / "cache",
        extra_args=[
            "--node-name",
            f"hoe-{suffix}",
            "--pod-cidr",
            subnet,
            "--bridge",
            bridge,
            "--local-registry",
            registry,
            "--kubelet-port",
            "0",
            "--service-cidr",
            f"10.{220 + int(suffix[0], 16)}.0.0/16",
        ],
        agent=True,
    )
    cluster.start()
    try:
        wait_for("the local registry", lambda: _registry_up(registry))
        cache = build.cache_dir_from_env()
        for recipe in select(["busybox"], load_all()):
            built = build.build(recipe, cache_dir=cache, out_dir=base / "out")
            publish.push(built.archive, recipe.references, registry)
        wait_for("the node to be Ready", lambda: _node_ready(cluster))
        yield cluster
    finally:
        cluster.kubectl(
            "delete", "pods", "--all", "-A", "--grace-period=1", "--timeout=60s", check=False
        )
        cluster.stop()
        reset = subprocess.run(
            [sys.executable, "-m", "kubelite", "reset", "--data-dir", str(cluster.data_dir),
             "--bridge", bridge],
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        assert reset.returncode == 0, reset.stderr
        assert str(cluster.data_dir) not in Path("/proc/self/mounts").read_text()


def _get(node: Cluster, name: str) -> dict[str, Any]:
    pod: dict[str, Any] = json.loads(_kubectl(node, "get", "pod", name, "-o", "json").stdout)
    return pod


def _running(node: Cluster, name: str) -> dict[str, Any] | None:
    pod = _get(node, name)
    statuses = pod["status"].get("containerStatuses") or []
    running = bool(statuses) and all("running" in (s.get("state") or {}) for s in statuses)
    return pod if running else None


def _waiting(node: Cluster, name: str) -> dict[str, Any] | None:
    """The app container's `waiting` state once it has a reason other than the start-up one."""
    for status in _get(node, name)["status"].get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") not in (None, "PodInitializing", "ContainerCreating"):
            return dict(waiting)
    return None


def _delete(node: Cluster, name: str) -> None:
    _kubectl(node, "delete", "pod", name, "--grace-period=1", "--timeout=60s", check=False)


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
        _delete(node, "override")


def test_an_override_on_the_host_network_is_refused(node: Cluster) -> None:
    manifest = """
apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  hostNetwork: true
  hostnameOverride: db.example.internal
  containers:
  - {name: app, image: busybox, command: [sleep, "3600"]}
"""
    result = _kubectl(node, "apply", "-f", "-", stdin=manifest, check=False)
    assert result.returncode == 1
    assert result.stderr == (
        'The Pod "hostnet" is invalid: spec.hostnameOverride: Forbidden: may not be specified '
        "when hostNetwork is true\n"
    )
    missing = _kubectl(node, "get", "pod", "hostnet", check=False)
    assert missing.returncode == 1


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
        _delete(node, "envfile")


def test_a_missing_required_key_is_a_create_container_config_error(node: Cluster) -> None:
    _kubectl(node, "apply", "-f", "-", stdin=_env_file_pod("nokey", "USER='app'", "DB"))
    try:
        waiting = wait_for("the app to wait", lambda: _waiting(node, "nokey"))
        assert waiting["reason"] == "CreateContainerConfigError"
        # The env file's path on the node: the emptyDir's directory under the pod's.
        uid = _get(node, "nokey")["metadata"]["uid"]
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
        _delete(node, "nokey")


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
        _delete(node, "unquoted")
