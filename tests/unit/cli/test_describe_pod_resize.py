"""`kubectl describe pod` of a pod being resized, as kubectl 1.37's describePod prints it.

describePod prints the resize conditions like any other (type and status only), the spec's
requests and limits under each container (describeContainerResource), and the stored QoS class;
neither `status.containerStatuses[*].allocatedResources` nor `.resources` is printed.
"""

from __future__ import annotations

import datetime as dt

from kubelite.cli.kubectl.describe.pods import describe_pod

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def _resizing_pod() -> dict[str, object]:
    spec_resources = {"requests": {"cpu": "200m"}, "limits": {"cpu": "200m"}}
    return {
        "metadata": {"name": "web", "namespace": "default", "generation": 2},
        "spec": {
            "nodeName": "node-a",
            "containers": [{"name": "c", "image": "nginx", "resources": spec_resources}],
        },
        "status": {
            "phase": "Running",
            "qosClass": "Burstable",
            "conditions": [
                {"type": "Ready", "status": "True"},
                {
                    "type": "PodResizePending",
                    "status": "True",
                    "reason": "Infeasible",
                    "message": "Node didn't have enough capacity: cpu, requested: 200, "
                    "capacity: 100",
                },
                {"type": "PodResizeInProgress", "status": "True"},
            ],
            "containerStatuses": [
                {
                    "name": "c",
                    "image": "nginx",
                    "imageID": "",
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": "2026-01-01T11:00:00Z"}},
                    "allocatedResources": {"cpu": "12345m"},
                    "resources": {"requests": {"cpu": "6789m"}, "limits": {"cpu": "6789m"}},
                }
            ],
        },
    }


def test_resize_conditions_print_as_any_condition() -> None:
    text = describe_pod(_resizing_pod(), None, NOW)
    lines = text.splitlines()
    start = lines.index("Conditions:")
    assert [line.split() for line in lines[start + 1 : start + 5]] == [
        ["Type", "Status"],
        ["Ready", "True"],
        ["PodResizePending", "True"],
        ["PodResizeInProgress", "True"],
    ]
    # Neither the reason nor the message of a condition is printed.
    assert "Infeasible" not in text


def test_only_the_desired_resources_are_printed() -> None:
    text = describe_pod(_resizing_pod(), None, NOW)
    assert "200m" in text
    assert "12345m" not in text
    assert "6789m" not in text
    assert ["QoS", "Class:", "Burstable"] in [line.split() for line in text.splitlines()]
