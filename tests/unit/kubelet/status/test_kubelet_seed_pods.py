"""The seed's own manifests through the status computation, as `kubectl get pods` would show
them sync after sync."""

from __future__ import annotations

from typing import Any

import yaml
from kubelet_status_builders import NOW, exited, observed, running
from tests.examples import MANIFESTS

from kubelite.api.printers.pods import summarize
from kubelite.kubelet.status import generate_pod_status


def manifest(name: str) -> dict[str, Any]:
    path = MANIFESTS / name
    pod = yaml.safe_load(path.read_text())
    pod["metadata"].update(namespace="default", uid="seed-uid")
    pod["spec"].setdefault("restartPolicy", "Always")
    pod["status"] = {"phase": "Pending"}
    return pod


def walk(pod: dict[str, Any], steps: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Feed each step's containers to the status computation, the previous status carried
    along; return (phase, READY, STATUS) after each."""
    seen = []
    for containers in steps:
        pod = {**pod, "status": generate_pod_status(pod, observed(containers), now=NOW)}
        summary = summarize(pod)
        seen.append((pod["status"]["phase"], f"{summary.ready}/{summary.total}", summary.status))
    return seen


def test_myapp_pod_goes_through_its_init_containers_to_running() -> None:
    pod = manifest("myapp-pod.yaml")
    done = exited("init-myservice", 0)
    assert walk(
        pod,
        [
            {},
            {"init-myservice": running("init-myservice")},
            {"init-myservice": done, "init-mydb": running("init-mydb")},
            {"init-myservice": done, "init-mydb": exited("init-mydb", 0)},
            {
                "init-myservice": done,
                "init-mydb": exited("init-mydb", 0),
                "myapp-container": running("myapp-container"),
            },
        ],
    ) == [
        ("Pending", "0/1", "Init:0/2"),
        ("Pending", "0/1", "Init:0/2"),
        ("Pending", "0/1", "Init:1/2"),
        ("Pending", "0/1", "PodInitializing"),
        ("Running", "1/1", "Running"),
    ]


def test_nginx_sidecar_pod_starts_both_containers() -> None:
    pod = manifest("nginx-sidecar.yaml")
    assert walk(
        pod,
        [
            {},
            {"nginx": running("nginx")},
            {"nginx": running("nginx"), "sidecar-access": running("sidecar-access")},
        ],
    ) == [
        ("Pending", "0/2", "ContainerCreating"),
        ("Pending", "1/2", "ContainerCreating"),
        ("Running", "2/2", "Running"),
    ]
