"""An update strategy of a type the kind does not have is refused with the Go struct that
Kubernetes' NotSupported error prints, for Deployments and DaemonSets alike."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.validation.apps import validate_daemon_set, validate_deployment

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "w"}},
    "spec": {
        "containers": [
            {
                "name": "c",
                "image": "i",
                "imagePullPolicy": "Always",
                "terminationMessagePolicy": "File",
            }
        ],
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
    },
}


@pytest.mark.parametrize(
    ("validate", "field", "expected"),
    [
        (
            validate_deployment,
            "strategy",
            'spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"Bogus", '
            "RollingUpdate:(*apps.RollingUpdateDeployment)(0xc000000000)}: "
            'supported values: "Recreate", "RollingUpdate"',
        ),
        (
            validate_daemon_set,
            "updateStrategy",
            'spec.updateStrategy: Unsupported value: apps.DaemonSetUpdateStrategy{Type:"Bogus", '
            "RollingUpdate:(*apps.RollingUpdateDaemonSet)(0xc000000000)}: "
            'supported values: "RollingUpdate", "OnDelete"',
        ),
    ],
)
def test_unsupported_strategy_type(validate: Any, field: str, expected: str) -> None:
    obj = {
        "metadata": {"name": "w", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "w"}},
            "template": TEMPLATE,
            field: {"type": "Bogus", "rollingUpdate": {"maxSurge": 1}},
        },
    }
    found = [str(e) for e in validate(obj) if str(e).startswith(f"spec.{field}")]
    assert found == [expected]
