"""What the real kubectl shows of quantities and pod fields at the edges of what Kubernetes reads.

A binary quantity past 2^63-1 is capped (quantity.go maxAllowed) and served back as the bare
number, a decimal one is kept as written however large (`1e999`); kubectl reads both back and
prints them unchanged in `get` and `describe`. What Kubernetes refuses reaches kubectl with its
words: an unknown `spec.os.name`, an overhead without a RuntimeClass.
"""

from __future__ import annotations

import json
import re

from cluster import Cluster


def _pod(name: str, **spec: object) -> str:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }
    return json.dumps(body)


def test_a_capped_quantity_reads_back_as_kubernetes_prints_it(cluster: Cluster, namespace: str):
    resources = {
        "requests": {"cpu": "1e999", "memory": "99999999999999999999999999Ei"},
        "limits": {"cpu": "1e999", "memory": "99999999999999999999999999Ei"},
    }
    body = json.loads(_pod("big"))
    body["spec"]["containers"][0]["resources"] = resources
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(body))
    stored = cluster.kubectl(
        "get", "pod", "big", "-n", namespace, "-o", "jsonpath={.spec.containers[0].resources}"
    ).stdout
    assert json.loads(stored) == {
        "limits": {"cpu": "1e999", "memory": "9223372036854775807"},
        "requests": {"cpu": "1e999", "memory": "9223372036854775807"},
    }
    described = cluster.kubectl("describe", "pod", "big", "-n", namespace).stdout
    assert len(re.findall(r"^\s+cpu:\s+1e999$", described, re.M)) == 2, described
    assert len(re.findall(r"^\s+memory:\s+9223372036854775807$", described, re.M)) == 2
    assert re.search(r"^QoS Class:\s+Guaranteed$", described, re.M)


def test_kubectl_prints_kubernetes_refusals_of_os_and_overhead(cluster: Cluster, namespace: str):
    out = cluster.kubectl(
        "create", "-n", namespace, "-f", "-", stdin=_pod("plan9", os={"name": "plan9"}), check=False
    )
    assert out.returncode == 1
    assert (
        'The Pod "plan9" is invalid: spec.os: Unsupported value: "plan9": supported values: '
        '"linux", "windows"'
    ) in out.stderr
    out = cluster.kubectl(
        "create",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=_pod("heavy", overhead={"cpu": "1"}),
        check=False,
    )
    assert out.returncode == 1
    assert (
        'Error from server (Forbidden): error when creating "STDIN": pods "heavy" is forbidden: '
        "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead"
    ) in out.stderr
    assert cluster.kubectl("get", "pods", "-n", namespace, "-o", "name").stdout == ""
