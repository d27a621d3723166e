"""Image volumes (KEP-4639, GA in 1.36) through the API, with kubectl 1.37: the volume is stored
with its pull policy defaulted, `kubectl describe` shows it, and invalid ones get Kubernetes' 422.

What a node does with one (the image's files read-only in the container, pull errors, unmounting)
is in tests/e2e/kubelet/test_image_volume.py: it needs a node that runs containers.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest
from cluster import Cluster
from tests.image_volume_pod import image_pod

pytestmark = pytest.mark.integration

KUBECTL = "1.37"


def kubectl(c: Cluster, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return c.kubectl(*args, version=KUBECTL, **kwargs)


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
