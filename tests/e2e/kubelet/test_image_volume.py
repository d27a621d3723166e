"""Image volumes (KEP-4639, GA in 1.36) on a real node, with kubectl 1.37: the node's kubelet
pulls docker.io images from the node's local registry (docker.io's mirror), into which the example
images `busybox` and `nginx` are pushed (conftest.py). A busybox container reads nginx's files
from an image volume, cannot write to it, mounts a subPath of it; an image that cannot be pulled
is ErrImagePull on the container that mounts it; deleting the pod and `kubelite reset` unmount
the image.

What the API keeps and refuses is in tests/integration/test_kubectl_image_volume.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.image_volume_pod import image_pod
from tests.integration.cluster import Cluster

from conftest import get_pod, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers and mounts: needs root"),
]

KUBECTL = "1.37"
NGINX_CONF_HEAD = "# Main nginx configuration of kubelite's nginx image"


def kubectl(c: Cluster, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return c.kubectl(*args, version=KUBECTL, **kwargs)


def _reset(c: Cluster, bridge: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kubelite", "reset", "--data-dir", str(c.data_dir)]
    return subprocess.run(
        [*command, "--bridge", bridge], capture_output=True, text=True, check=False
    )


def _mounts_under(path: Path) -> list[str]:
    return [
        line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(path) in line
    ]


def _running(c: Cluster, name: str) -> dict | bool:
    pod = get_pod(c, name)
    return pod["status"].get("phase") == "Running" and pod


def _waiting(c: Cluster, name: str, container: str, *reasons: str) -> dict | bool:
    for status in get_pod(c, name)["status"].get("containerStatuses") or ():
        waiting = status["state"].get("waiting") or {}
        if status["name"] == container and waiting.get("reason") in reasons:
            return waiting
    return False


def _events(c: Cluster, name: str) -> list[dict]:
    done = kubectl(
        c, "get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json"
    )
    return list(json.loads(done.stdout)["items"])


def _exec(c: Cluster, name: str, *command: str) -> subprocess.CompletedProcess[str]:
    return kubectl(c, "exec", name, "-c", "reader", "--", *command, check=False)


def _image_mounts(c: Cluster, uid: str) -> list[str]:
    return [
        line for line in _mounts_under(c.data_dir) if uid in line and "kubernetes.io~image" in line
    ]


def _create(c: Cluster, manifest: str) -> None:
    kubectl(c, "create", "-f", "-", stdin=manifest)


def _delete(c: Cluster, name: str) -> None:
    """Delete the pod and wait until it is gone (its volumes torn down)."""
    kubectl(c, "delete", "pod", name, "--grace-period=1", "--wait=false")
    wait_for(
        "the pod to be gone",
        lambda: "NotFound" in kubectl(c, "get", "pod", name, check=False).stderr,
    )


def test_a_container_reads_the_image_read_only_and_a_subpath_of_it(node: Cluster) -> None:
    _create(
        node,
        image_pod(
            "reads",
            {"image": {"reference": "nginx", "pullPolicy": "IfNotPresent"}},
            mounts=[
                {"name": "content", "mountPath": "/vol"},
                {"name": "content", "mountPath": "/conf", "subPath": "etc/nginx"},
            ],
        ),
    )
    pod = wait_for("the pod to run", lambda: _running(node, "reads"))
    uid = pod["metadata"]["uid"]

    read = _exec(node, "reads", "cat", "/vol/etc/nginx/nginx.conf")
    assert read.returncode == 0, read.stderr
    assert read.stdout.startswith(NGINX_CONF_HEAD)
    sub = _exec(node, "reads", "cat", "/conf/nginx.conf")
    assert sub.stdout == read.stdout

    write = _exec(node, "reads", "touch", "/vol/new-file")
    assert write.returncode != 0
    assert "Read-only file system" in write.stderr
    options = _exec(node, "reads", "sh", "-c", "grep ' /vol ' /proc/mounts").stdout.split()
    assert options[3].split(",")[0] == "ro"
    # Not noexec (the KEP dropped it; containerd never set it): the image's own busybox runs.
    assert "noexec" not in options[3].split(",")
    ran = _exec(node, "reads", "/vol/bin/busybox", "echo", "executable")
    assert ran.stdout.strip() == "executable", ran.stderr

    # The pull's events are the pod's own (no field path), as the kubelet records them.
    pulls = [e for e in _events(node, "reads") if e["reason"] in ("Pulling", "Pulled")]
    image_events = [e for e in pulls if '"nginx"' in e["message"]]
    assert image_events and all("fieldPath" not in e["involvedObject"] for e in image_events)
    assert _image_mounts(node, uid)

    _delete(node, "reads")
    assert _image_mounts(node, uid) == []


def test_an_image_that_cannot_be_pulled_is_err_image_pull_on_the_mounting_container(
    node: Cluster,
) -> None:
    # A registry on a loopback port nothing listens on: refused at once (docker.io, behind the
    # node's mirror, is out of reach here and would only time out).
    reference = "127.0.0.1:9/models:1.0"
    _create(node, image_pod("missing", {"image": {"reference": reference}}))
    try:
        waiting = wait_for(
            "ErrImagePull",
            lambda: _waiting(node, "missing", "reader", "ErrImagePull", "ImagePullBackOff"),
        )
        assert f'failed to pull and unpack image "{reference}"' in waiting["message"]
        # The container that does not mount it runs.
        wait_for(
            "the other container to run",
            lambda: any(
                s["name"] == "other" and "running" in s["state"]
                for s in get_pod(node, "missing")["status"].get("containerStatuses") or ()
            ),
        )
        events = _events(node, "missing")
        failed_pull = [
            e for e in events if e["message"].startswith(f'Failed to pull image "{reference}"')
        ]
        assert failed_pull and failed_pull[0]["type"] == "Warning"
        assert "fieldPath" not in failed_pull[0]["involvedObject"]
        on_container = [e for e in events if e["message"] == "Error: ErrImagePull"]
        assert on_container[0]["involvedObject"]["fieldPath"] == "spec.containers{reader}"
        backing = wait_for(
            "ImagePullBackOff",
            lambda: _waiting(node, "missing", "reader", "ImagePullBackOff"),
        )
        assert backing["message"].startswith(f'Back-off pulling image "{reference}"')
    finally:
        _delete(node, "missing")


def test_a_subpath_the_image_lacks_is_create_container_error(node: Cluster) -> None:
    _create(
        node,
        image_pod(
            "nosub",
            {"image": {"reference": "nginx"}},
            mounts=[{"name": "content", "mountPath": "/conf", "subPath": "etc/nope"}],
        ),
    )
    try:
        waiting = wait_for(
            "CreateContainerError",
            lambda: _waiting(node, "nosub", "reader", "CreateContainerError"),
        )
        assert waiting["message"].startswith('failed to ensure image subpath "etc/nope" in ')
        assert waiting["message"].endswith("openat etc/nope: no such file or directory")
    finally:
        _delete(node, "nosub")


def test_kubelite_reset_unmounts_the_image_of_a_running_pod(node: Cluster) -> None:
    # Last in the module: it stops the node (its pods keep running, as they do) and resets it.
    _create(node, image_pod("kept", {"image": {"reference": "nginx"}}))
    uid = wait_for("the pod to run", lambda: _running(node, "kept"))["metadata"]["uid"]
    assert _image_mounts(node, uid)
    node.stop()
    assert _image_mounts(node, uid), "the server's pods outlive it, their volumes too"

    bridge = node.extra_args[node.extra_args.index("--bridge") + 1]
    reset = _reset(node, bridge)

    assert reset.returncode == 0, reset.stderr
    assert _image_mounts(node, uid) == []
    assert _mounts_under(node.data_dir) == []
