"""Services' endpoints on a real node: the kubelet's readiness probes move real pods in and out
of a Service's Endpoints and EndpointSlice.

Two busybox pods of a Deployment are ready only while `/tmp/ready` exists in them (an exec
readiness probe); the test creates and removes that file with `kubectl exec`, and watches the
Endpoints' addresses and the slice's conditions follow, with the pods' real IPs and node.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from tests.integration.cluster import Cluster

from conftest import wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]

Obj = dict[str, Any]

DEPLOYMENT: Obj = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "probed"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "probed"}},
        "template": {
            "metadata": {"labels": {"app": "probed"}},
            "spec": {
                "terminationGracePeriodSeconds": 2,
                "containers": [
                    {
                        "name": "app",
                        "image": "busybox",
                        "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "readinessProbe": {
                            "exec": {"command": ["cat", "/tmp/ready"]},
                            "periodSeconds": 1,
                            "failureThreshold": 1,
                        },
                    }
                ],
            },
        },
    },
}
SERVICE: Obj = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "probed"},
    "spec": {"selector": {"app": "probed"}, "ports": [{"port": 80, "targetPort": "http"}]},
}


def _get(node: Cluster, *args: str) -> Obj:
    return json.loads(node.kubectl("get", *args, "-o", "json").stdout)


def _addresses(node: Cluster) -> tuple[list[str], list[str]]:
    """The Endpoints' ready and not-ready IPs."""
    endpoints = _get(node, "endpoints", "probed")
    ready: list[str] = []
    not_ready: list[str] = []
    for subset in endpoints.get("subsets") or ():
        ready += [a["ip"] for a in subset.get("addresses") or ()]
        not_ready += [a["ip"] for a in subset.get("notReadyAddresses") or ()]
    return sorted(ready), sorted(not_ready)


def _slice_ready(node: Cluster) -> dict[str, bool]:
    """Each endpoint's IP and whether the slice says it is ready."""
    slices = _get(node, "endpointslices", "-l", "kubernetes.io/service-name=probed")["items"]
    return {
        e["addresses"][0]: e["conditions"]["ready"]
        for s in slices
        for e in s.get("endpoints") or ()
    }


def test_readiness_probes_move_real_pods_in_and_out_of_the_service(node: Cluster) -> None:
    for obj in (DEPLOYMENT, SERVICE):
        node.kubectl("apply", "-f", "-", stdin=json.dumps(obj))
    try:

        def running() -> list[Obj] | None:
            pods = _get(node, "pods", "-l", "app=probed")["items"]
            up = [
                p
                for p in pods
                if p["status"].get("phase") == "Running" and p["status"].get("podIP")
            ]
            return up if len(up) == 2 else None

        pods = wait_for("two running pods", running, timeout=120)
        ips = sorted(p["status"]["podIP"] for p in pods)
        wait_for("both pods not ready", lambda: _addresses(node) == ([], ips))
        assert _slice_ready(node) == dict.fromkeys(ips, False)

        first = pods[0]
        node.kubectl("exec", first["metadata"]["name"], "--", "touch", "/tmp/ready")
        ip = first["status"]["podIP"]
        others = [i for i in ips if i != ip]
        wait_for("the probed pod ready", lambda: _addresses(node) == ([ip], others))
        wait_for("its endpoint ready in the slice", lambda: _slice_ready(node).get(ip) is True)
        endpoints = _get(node, "endpoints", "probed")
        (address,) = [
            a for s in endpoints["subsets"] for a in s.get("addresses") or () if a["ip"] == ip
        ]
        assert address["nodeName"] == first["spec"]["nodeName"]
        assert address["targetRef"]["name"] == first["metadata"]["name"]
        ports = [p for s in endpoints["subsets"] for p in s.get("ports") or ()]
        assert {"port": 8080, "protocol": "TCP"} in [
            {k: v for k, v in p.items() if k != "name"} for p in ports
        ]

        node.kubectl("exec", first["metadata"]["name"], "--", "rm", "/tmp/ready")
        wait_for("the pod out again", lambda: _addresses(node) == ([], ips))
        wait_for("its endpoint not ready", lambda: _slice_ready(node).get(ip) is False)
    finally:
        node.kubectl("delete", "deployment/probed", "service/probed", "--wait=false", check=False)
