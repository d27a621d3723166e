"""Container restart rules on a real node (ContainerRestartRules, KEP-5307, and
RestartAllContainersOnContainerExits, KEP-5532, both on in 1.37): the kubelet restarts a
container whose exit code a rule names even in a `restartPolicy: Never` pod, leaves alone one
whose own policy is Never in an Always pod, and restarts every container in place when one
exits into a RestartAllContainers rule.

The 422s for invalid rules are in tests/integration/test_kubectl_container_restart_rules.py.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from tests.integration.cluster import Cluster

from conftest import apply_manifest, delete_pod, get_pod, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]


def _status(pod: dict[str, Any], name: str) -> dict[str, Any]:
    for entry in (
        *(pod["status"].get("initContainerStatuses") or ()),
        *(pod["status"].get("containerStatuses") or ()),
    ):
        if entry["name"] == name:
            return entry
    return {}


def _running(pod: dict[str, Any], name: str) -> Any:
    """The container's `running` state, or None when it is not running."""
    return _status(pod, name).get("state", {}).get("running")


def _condition(pod: dict[str, Any], type_: str) -> dict[str, Any]:
    for condition in pod["status"].get("conditions") or ():
        if condition["type"] == type_:
            return condition
    return {}


def _started(node: Cluster, pod: str, container: str) -> int:
    """How many times the kubelet said it started `container` (its Started events)."""
    out = node.kubectl(
        "get", "events", "--field-selector", f"involvedObject.name={pod}", "-o", "json"
    ).stdout
    return sum(
        event.get("count", 1)
        for event in json.loads(out)["items"]
        if event["reason"] == "Started"
        and event["message"] == "Container started"
        and event["involvedObject"].get("fieldPath") == f"spec.containers{{{container}}}"
    )


def test_a_rule_restarts_a_container_on_its_exit_code_only(node: Cluster) -> None:
    # The first run exits 42, which the rule names: restarted, though the pod says Never.
    # The second exits 1, which it does not: the pod fails.
    apply_manifest(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: rule-42}
spec:
  restartPolicy: Never
  volumes: [{name: marks, emptyDir: {}}]
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "if [ -f /marks/ran ]; then exit 1; fi; touch /marks/ran; exit 42"]
    volumeMounts: [{name: marks, mountPath: /marks}]
    restartPolicy: Never
    restartPolicyRules:
    - action: Restart
      exitCodes: {operator: In, values: [42]}
""",
    )
    try:
        failed = wait_for(
            "the pod to fail",
            lambda: (p := get_pod(node, "rule-42"))["status"].get("phase") == "Failed" and p,
        )
        main = _status(failed, "main")
        assert main["restartCount"] == 1
        assert main["lastState"]["terminated"]["exitCode"] == 42
        assert main["state"]["terminated"]["exitCode"] == 1
        assert main["state"]["terminated"]["reason"] == "Error"
        assert _started(node, "rule-42", "main") == 2
    finally:
        delete_pod(node, "rule-42")


def test_a_container_whose_own_policy_is_never_is_not_restarted_in_an_always_pod(
    node: Cluster,
) -> None:
    # `ticker` restarts (the pod's Always) every two seconds: once it has restarted twice, the
    # kubelet has had its chances to restart `once` as well.
    apply_manifest(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: own-never}
spec:
  containers:
  - name: once
    image: busybox
    command: ["sh", "-c", "exit 3"]
    restartPolicy: Never
  - name: ticker
    image: busybox
    command: ["sh", "-c", "sleep 2"]
""",
    )
    try:
        pod = wait_for(
            "the ticker to restart twice",
            lambda: (
                _status(p := get_pod(node, "own-never"), "ticker").get("restartCount", 0) >= 2 and p
            ),
            timeout=90,
        )
        once = _status(pod, "once")
        assert once["restartCount"] == 0
        assert once["state"]["terminated"]["exitCode"] == 3
        assert pod["status"]["phase"] == "Running"
        assert _started(node, "own-never", "once") == 1
    finally:
        delete_pod(node, "own-never")


def test_restart_all_containers_reruns_init_containers_in_the_same_sandbox(node: Cluster) -> None:
    # `trigger` exits 88 on its first run only; the init container counts its runs.
    apply_manifest(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: restart-all}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 30
  volumes: [{name: marks, emptyDir: {}}]
  initContainers:
  - name: setup
    image: busybox
    command: ["sh", "-c", "echo run >> /marks/setup"]
    volumeMounts: [{name: marks, mountPath: /marks}]
  containers:
  - name: app
    image: busybox
    command: ["sleep", "3600"]
  - name: trigger
    image: busybox
    command:
    - sh
    - -c
    - if [ -f /marks/fired ]; then exec sleep 3600; fi; touch /marks/fired; sleep 1; exit 88
    volumeMounts: [{name: marks, mountPath: /marks}]
    restartPolicy: Never
    restartPolicyRules:
    - action: RestartAllContainers
      exitCodes: {operator: In, values: [88]}
""",
    )
    try:
        first = wait_for(
            "the pod to run",
            lambda: (
                (p := get_pod(node, "restart-all"))["status"].get("podIP")
                and _running(p, "app")
                and p
            ),
        )
        again = wait_for(
            "every container to run again",
            lambda: (
                all(
                    _status(p := get_pod(node, "restart-all"), name).get("restartCount") == 1
                    for name in ("setup", "app", "trigger")
                )
                and _running(p, "trigger")
                and _running(p, "app")
                and p
            ),
            timeout=90,
        )
        assert again["metadata"]["uid"] == first["metadata"]["uid"]
        assert again["status"]["podIP"] == first["status"]["podIP"]
        assert again["status"]["phase"] == "Running"
        app = _status(again, "app")["lastState"]["terminated"]
        assert (app["reason"], app["exitCode"]) == ("RestartingAllContainers", 137)
        assert app["message"] == "The container is removed because RestartAllContainers in place"
        assert _condition(again, "AllContainersRestarting")["status"] == "False"
        assert _condition(again, "Initialized")["status"] == "True"
        runs = node.kubectl("exec", "restart-all", "-c", "trigger", "--", "cat", "/marks/setup")
        assert runs.stdout.split() == ["run", "run"]
    finally:
        delete_pod(node, "restart-all")
