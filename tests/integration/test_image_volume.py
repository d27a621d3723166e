"""Image volumes (KEP-4639, GA in 1.36) end to end, with kubectl 1.37.

The API part runs on the shared API-only `cluster`: the volume is stored with its pull policy
defaulted, `kubectl describe` shows it, and invalid ones get Kubernetes' 422. The node part runs
on a one-node cluster of this module's own, whose kubelet pulls docker.io images from the node's
local registry (`--local-registry`, docker.io's mirror) into which the example images `busybox`
and `nginx` are pushed, as the kubelet e2e tests do: a busybox container reads nginx's files
from an image volume, cannot write to it, mounts a subPath of it; an image that cannot be
pulled is ErrImagePull on the container that mounts it; deleting the pod and `kubelite reset`
unmount the image.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster import Cluster, wait_for
from images import build, publish
from images.recipe import load_all, select

KUBECTL = "1.37"
TIMEOUT = 90.0
NGINX_CONF_HEAD = "# Main nginx configuration of kubelite's nginx image"


def kubectl(c: Cluster, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return c.kubectl(*args, version=KUBECTL, **kwargs)


def image_pod(name: str, volume: dict[str, Any], *, mounts: list[dict] | None = None) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "reader",
                        "image": "busybox",
                        "command": ["sleep", "3600"],
                        "volumeMounts": mounts
                        if mounts is not None
                        else [{"name": "content", "mountPath": "/vol"}],
                    },
                    {"name": "other", "image": "busybox", "command": ["sleep", "3600"]},
                ],
                "volumes": [{"name": "content", **volume}],
            },
        }
    )


# --- the API ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        (
            {"image": {"reference": ""}},
            'The Pod "bad" is invalid: spec.volumes[0].image.reference: Required value',
        ),
        (
            {"image": {"reference": "nginx", "pullPolicy": "Sometimes"}},
            'The Pod "bad" is invalid: spec.volumes[0].image.pullPolicy: Unsupported value: '
            '"Sometimes": supported values: "Always", "IfNotPresent", "Never"',
        ),
    ],
    ids=["no reference", "unknown pull policy"],
)
def test_invalid_image_volumes_get_kubernetes_422(
    cluster: Cluster, namespace: str, volume: dict, message: str
) -> None:
    pod = json.loads(image_pod("bad", volume, mounts=[]))
    done = kubectl(
        cluster, "create", "-n", namespace, "-f", "-", stdin=json.dumps(pod), check=False
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"{message}"

    status, body, _ = cluster.request("POST", f"/api/v1/namespaces/{namespace}/pods", pod)
    assert status == 422
    assert body["reason"] == "Invalid"
    assert body["message"] == message.replace('The Pod "bad"', 'Pod "bad"')


def test_a_deployments_template_needs_a_reference_too(cluster: Cluster, namespace: str) -> None:
    # kubernetes#135989: an empty reference in a template used to pass, and its pods then failed.
    template = json.loads(image_pod("x", {"image": {"reference": ""}}, mounts=[]))
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {"metadata": {"labels": {"app": "d"}}, "spec": template["spec"]},
        },
    }
    done = kubectl(
        cluster, "create", "-n", namespace, "-f", "-", stdin=json.dumps(deployment), check=False
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        'The Deployment "d" is invalid: spec.template.spec.volumes[0].image.reference: '
        "Required value"
    )


def test_an_image_volume_is_stored_with_its_pull_policy_and_described(
    cluster: Cluster, namespace: str
) -> None:
    manifest = json.loads(image_pod("p", {"image": {"reference": "nginx"}}))
    manifest["spec"]["volumes"].append({"name": "pinned", "image": {"reference": "nginx:1.27"}})
    kubectl(cluster, "create", "-n", namespace, "-f", "-", stdin=json.dumps(manifest))

    stored = json.loads(kubectl(cluster, "get", "pod", "p", "-n", namespace, "-o", "json").stdout)
    assert stored["spec"]["volumes"][:2] == [
        {"name": "content", "image": {"reference": "nginx", "pullPolicy": "Always"}},
        {"name": "pinned", "image": {"reference": "nginx:1.27", "pullPolicy": "IfNotPresent"}},
    ]
    described = kubectl(cluster, "describe", "pod", "p", "-n", namespace).stdout
    volumes = described[described.index("Volumes:") :]
    # printImageVolumeSource, under each volume's name.
    assert re.search(
        r"  content:\n    Type:\s+Image \(a container image or OCI artifact\)\n"
        r"    Reference:\s+nginx\n    PullPolicy:\s+Always\n",
        volumes,
    ), volumes
    assert re.search(
        r"  pinned:\n    Type:\s+Image \(a container image or OCI artifact\)\n"
        r"    Reference:\s+nginx:1\.27\n    PullPolicy:\s+IfNotPresent\n",
        volumes,
    ), volumes


# --- a node -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) == 0


def _ready(c: Cluster) -> bool:
    done = kubectl(c, "get", "nodes", "-o", "json", check=False)
    if done.returncode != 0:
        return False
    return any(
        cond["type"] == "Ready" and cond["status"] == "True"
        for item in json.loads(done.stdout)["items"]
        for cond in item["status"].get("conditions", [])
    )


def _reset(c: Cluster, bridge: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kubelite", "reset", "--data-dir", str(c.data_dir)]
    return subprocess.run(
        [*command, "--bridge", bridge], capture_output=True, text=True, check=False
    )


def _mounts_under(path: Path) -> list[str]:
    return [
        line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(path) in line
    ]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if os.geteuid() != 0:
        pytest.skip("runs containers and mounts: needs root")
    base = tmp_path_factory.mktemp("image-volume-node")
    suffix = secrets.token_hex(2)
    registry = f"127.0.0.1:{_free_port()}"
    bridge = f"kliv{suffix}"
    c = Cluster(
        base / "data",
        base / "cache",
        extra_args=[
            "--node-name",
            f"kl-iv-{suffix}",
            "--pod-cidr",
            f"10.{110 + int(suffix[0], 16)}.{int(suffix[1:], 16) % 250}.0/24",
            "--bridge",
            bridge,
            "--local-registry",
            registry,
            "--kubelet-port",
            "0",
            "--service-cidr",
            f"10.{230 + int(suffix[0], 16)}.0.0/16",
        ],
        agent=True,
    )
    c.start()
    try:
        wait_for("the local registry", lambda: _listening(registry), TIMEOUT)
        cache = build.cache_dir_from_env()
        for recipe in select(["busybox", "nginx"], load_all()):
            built = build.build(recipe, cache_dir=cache, out_dir=base / "out")
            publish.push(built.archive, recipe.references, registry)
        wait_for("the node to be Ready", lambda: _ready(c), TIMEOUT)
        yield c
    finally:
        kubectl(c, "delete", "pods", "--all", "-A", "--grace-period=1", check=False)
        c.stop()
        reset = _reset(c, bridge)
        assert reset.returncode == 0, reset.stderr
        assert _mounts_under(c.data_dir) == []


def _pod(c: Cluster, name: str) -> dict:
    return json.loads(kubectl(c, "get", "pod", name, "-o", "json").stdout)


def _running(c: Cluster, name: str) -> dict | bool:
    pod = _pod(c, name)
    return pod["status"].get("phase") == "Running" and pod


def _waiting(c: Cluster, name: str, container: str, *reasons: str) -> dict | bool:
    for status in _pod(c, name)["status"].get("containerStatuses") or ():
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


def _gone(c: Cluster, name: str) -> Callable[[], bool]:
    return lambda: "NotFound" in kubectl(c, "get", "pod", name, check=False).stderr


@pytest.mark.e2e
def test_a_container_reads_the_image_read_only_and_a_subpath_of_it(node: Cluster) -> None:
    kubectl(
        node,
        "create",
        "-f",
        "-",
        stdin=image_pod(
            "reads",
            {"image": {"reference": "nginx", "pullPolicy": "IfNotPresent"}},
            mounts=[
                {"name": "content", "mountPath": "/vol"},
                {"name": "content", "mountPath": "/conf", "subPath": "etc/nginx"},
            ],
        ),
    )
    pod = wait_for("the pod to run", lambda: _running(node, "reads"), TIMEOUT)
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

    kubectl(node, "delete", "pod", "reads", "--grace-period=1", "--wait=false")
    wait_for("the pod to be gone", _gone(node, "reads"), TIMEOUT)
    assert _image_mounts(node, uid) == []


@pytest.mark.e2e
def test_an_image_that_cannot_be_pulled_is_err_image_pull_on_the_mounting_container(
    node: Cluster,
) -> None:
    # A registry on a loopback port nothing listens on: refused at once (docker.io, behind the
    # node's mirror, is out of reach here and would only time out).
    reference = "127.0.0.1:9/models:1.0"
    kubectl(
        node, "create", "-f", "-", stdin=image_pod("missing", {"image": {"reference": reference}})
    )
    try:
        waiting = wait_for(
            "ErrImagePull",
            lambda: _waiting(node, "missing", "reader", "ErrImagePull", "ImagePullBackOff"),
            TIMEOUT,
        )
        assert f'failed to pull and unpack image "{reference}"' in waiting["message"]
        # The container that does not mount it runs.
        wait_for(
            "the other container to run",
            lambda: any(
                s["name"] == "other" and "running" in s["state"]
                for s in _pod(node, "missing")["status"].get("containerStatuses") or ()
            ),
            TIMEOUT,
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
            TIMEOUT,
        )
        assert backing["message"].startswith(f'Back-off pulling image "{reference}"')
    finally:
        kubectl(node, "delete", "pod", "missing", "--grace-period=1", "--wait=false")
        wait_for("the pod to be gone", _gone(node, "missing"), TIMEOUT)


@pytest.mark.e2e
def test_a_subpath_the_image_lacks_is_create_container_error(node: Cluster) -> None:
    kubectl(
        node,
        "create",
        "-f",
        "-",
        stdin=image_pod(
            "nosub",
            {"image": {"reference": "nginx"}},
            mounts=[{"name": "content", "mountPath": "/conf", "subPath": "etc/nope"}],
        ),
    )
    try:
        waiting = wait_for(
            "CreateContainerError",
            lambda: _waiting(node, "nosub", "reader", "CreateContainerError"),
            TIMEOUT,
        )
        assert waiting["message"].startswith('failed to ensure image subpath "etc/nope" in ')
        assert waiting["message"].endswith("openat etc/nope: no such file or directory")
    finally:
        kubectl(node, "delete", "pod", "nosub", "--grace-period=1", "--wait=false")
        wait_for("the pod to be gone", _gone(node, "nosub"), TIMEOUT)


@pytest.mark.e2e
def test_kubelite_reset_unmounts_the_image_of_a_running_pod(node: Cluster) -> None:
    # Last in the module: it stops the node (its pods keep running, as they do) and resets it.
    kubectl(node, "create", "-f", "-", stdin=image_pod("kept", {"image": {"reference": "nginx"}}))
    uid = wait_for("the pod to run", lambda: _running(node, "kept"), TIMEOUT)["metadata"]["uid"]
    assert _image_mounts(node, uid)
    node.stop()
    assert _image_mounts(node, uid), "the server's pods outlive it, their volumes too"

    bridge = node.extra_args[node.extra_args.index("--bridge") + 1]
    reset = _reset(node, bridge)

    assert reset.returncode == 0, reset.stderr
    assert _image_mounts(node, uid) == []
    assert _mounts_under(node.data_dir) == []
