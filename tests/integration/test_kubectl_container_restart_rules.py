"""Container restart policies and rules through the real kubectl against a real server: what
Kubernetes 1.37 accepts (ContainerRestartRules and RestartAllContainersOnContainerExits on), and
the 422 it answers, word for word, for what it refuses.

What the kubelet does with the rules is in tests/e2e/kubelet/test_container_restart_rules.py:
it needs a node that runs containers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from cluster import Cluster

pytestmark = pytest.mark.integration


def _pod(name: str, container: dict[str, Any], **spec: Any) -> str:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox", **container}],
            **spec,
        },
    }
    return yaml.safe_dump(body)


def _rule(action: str = "Restart", operator: str = "In", values: list[int] | None = None) -> dict:
    return {"action": action, "exitCodes": {"operator": operator, "values": values or [42]}}


def test_rules_without_the_containers_own_policy_are_a_422(cluster: Cluster, namespace: str):
    manifest = _pod("no-policy", {"restartPolicyRules": [_rule()]})
    out = cluster.kubectl("apply", "-v=6", "-n", namespace, "-f", "-", stdin=manifest, check=False)
    assert out.returncode == 1
    assert "422 Unprocessable Entity" in out.stderr
    assert (
        'The Pod "no-policy" is invalid: spec.containers[0].restartPolicy: Required value: '
        "must specify restartPolicy when restart rules are used"
    ) in out.stderr
    assert cluster.kubectl("get", "pods", "-n", namespace, "-o", "name").stdout == ""


def test_every_bad_rule_is_named(cluster: Cluster, namespace: str):
    rules = [
        _rule(action="Ignore"),
        _rule(operator="Equals"),
        {"action": "RestartAllContainers"},
        _rule(values=list(range(256))),
    ]
    manifest = _pod("bad-rules", {"restartPolicy": "Sometimes", "restartPolicyRules": rules})
    out = cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=manifest, check=False)
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert lines[0] == 'The Pod "bad-rules" is invalid: '
    assert lines[1:] == [
        '* spec.containers[0].restartPolicy: Unsupported value: "Sometimes": supported values: '
        '"Always", "Never", "OnFailure"',
        '* spec.containers[0].restartPolicyRules[0].action: Unsupported value: "Ignore": '
        'supported values: "Restart", "RestartAllContainers"',
        "* spec.containers[0].restartPolicyRules[1].exitCodes.operator: Unsupported value: "
        '"Equals": supported values: "In", "NotIn"',
        "* spec.containers[0].restartPolicyRules[2].exitCodes: Required value: must be specified",
        "* spec.containers[0].restartPolicyRules[3].exitCodes.values: Too many: 256: must have "
        "at most 255 items",
    ]


def test_too_many_rules(cluster: Cluster, namespace: str):
    manifest = _pod("many", {"restartPolicy": "Never", "restartPolicyRules": [_rule()] * 21})
    out = cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=manifest, check=False)
    assert out.returncode == 1
    assert out.stderr.strip() == (
        'The Pod "many" is invalid: spec.containers[0].restartPolicyRules: Too many: 21: must '
        "have at most 20 items"
    )


def test_container_policies_and_rules_are_accepted_and_kept(cluster: Cluster, namespace: str):
    init_containers = [
        {"name": "setup", "image": "busybox", "restartPolicy": "OnFailure"},
        {
            "name": "watcher",
            "image": "busybox",
            "restartPolicy": "Always",
            "restartPolicyRules": [_rule("RestartAllContainers", "In", [88])],
        },
    ]
    rules = [_rule(), _rule("Restart", "NotIn", [0])]
    manifest = _pod(
        "accepted",
        {"restartPolicy": "Never", "restartPolicyRules": rules},
        initContainers=init_containers,
    )
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest)
    got = cluster.kubectl("get", "pod", "accepted", "-n", namespace, "-o", "json").stdout
    pod = json.loads(got)
    main = pod["spec"]["containers"][0]
    assert main["restartPolicy"] == "Never"
    assert main["restartPolicyRules"] == rules
    init = pod["spec"]["initContainers"]
    assert [c.get("restartPolicy") for c in init] == ["OnFailure", "Always"]
    assert init[1]["restartPolicyRules"][0]["action"] == "RestartAllContainers"
    # A container's policy cannot change once the pod exists.
    changed = _pod(
        "accepted",
        {"restartPolicy": "Always", "restartPolicyRules": rules},
        initContainers=init_containers,
    )
    out = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=changed, check=False)
    assert out.returncode == 1
    assert 'The Pod "accepted" is invalid: spec: Forbidden: pod updates may not change fields' in (
        out.stderr
    )
