"""Image volumes in the API (ImageVolume, GA in 1.36): kept, defaulted and validated as 1.37."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.strategies.pods import PodStrategy
from kubelite.api.validation.pods.spec import validate_pod_spec

STRATEGY = PodStrategy()


def _pod(volume: dict[str, Any], mount: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "volumeMounts": [{"name": "v", "mountPath": "/v", **(mount or {})}],
                }
            ],
            "volumes": [{"name": "v", **volume}],
        },
    }


def _created(pod: dict[str, Any]) -> dict[str, Any]:
    STRATEGY.default(pod)
    STRATEGY.prepare_for_create(pod)
    return pod


def _errors(pod: dict[str, Any]) -> list[str]:
    return [str(e) for e in STRATEGY.validate(_created(pod))]


def test_an_image_volume_is_kept_on_create_and_update() -> None:
    pod = _created(_pod({"image": {"reference": "registry.example.com/models:v1"}}))
    assert pod["spec"]["volumes"] == [
        {
            "name": "v",
            "image": {"reference": "registry.example.com/models:v1", "pullPolicy": "IfNotPresent"},
        }
    ]
    assert STRATEGY.validate(pod) == []
    new = copy.deepcopy(pod)
    new["metadata"]["labels"] = {"a": "b"}
    STRATEGY.default(new)
    STRATEGY.prepare_for_update(new, pod)
    assert new["spec"]["volumes"] == pod["spec"]["volumes"]
    assert STRATEGY.validate_update(new, pod) == []


@pytest.mark.parametrize(
    ("reference", "policy"),
    [
        ("nginx", "Always"),  # no tag is :latest
        ("nginx:latest", "Always"),
        ("registry.example.com:5000/models:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("", "IfNotPresent"),  # does not parse: validation speaks of it, not defaulting
    ],
)
def test_the_pull_policy_defaults_as_a_containers(reference: str, policy: str) -> None:
    pod = _created(_pod({"image": {"reference": reference}}))
    assert pod["spec"]["volumes"][0]["image"]["pullPolicy"] == policy


def test_a_given_pull_policy_stays() -> None:
    pod = _created(_pod({"image": {"reference": "nginx", "pullPolicy": "Never"}}))
    assert pod["spec"]["volumes"][0]["image"]["pullPolicy"] == "Never"


@pytest.mark.parametrize(
    ("volume", "expected"),
    [
        (
            {"image": {"reference": ""}},
            [
                "spec.volumes[0].image.reference: Required value",
                # An invalid volume is no volume its mounts may name (ValidateVolumes).
                'spec.containers[0].volumeMounts[0].name: Not found: "v"',
            ],
        ),
        (
            {"image": {}},
            [
                "spec.volumes[0].image.reference: Required value",
                'spec.containers[0].volumeMounts[0].name: Not found: "v"',
            ],
        ),
        (
            {"image": {"reference": "nginx", "pullPolicy": "Sometimes"}},
            [
                'spec.volumes[0].image.pullPolicy: Unsupported value: "Sometimes": '
                'supported values: "Always", "IfNotPresent", "Never"',
                'spec.containers[0].volumeMounts[0].name: Not found: "v"',
            ],
        ),
        (
            {"emptyDir": {}, "image": {"reference": "nginx"}},
            [
                "spec.volumes[0].image: Forbidden: may not specify more than 1 volume type",
                'spec.containers[0].volumeMounts[0].name: Not found: "v"',
            ],
        ),
    ],
)
def test_invalid_image_volumes_and_kubernetes_messages(
    volume: dict[str, Any], expected: list[str]
) -> None:
    assert _errors(_pod(volume)) == expected


@pytest.mark.parametrize(
    "mount",
    [
        {"subPath": "etc/nginx"},
        {"subPathExpr": "$(POD_NAME)"},
        {"readOnly": False},  # mounted read-only anyway
    ],
)
def test_sub_paths_of_image_volumes_are_allowed_since_1_33(mount: dict[str, Any]) -> None:
    assert _errors(_pod({"image": {"reference": "nginx:1.27"}}, mount)) == []


def test_a_sub_path_in_an_image_volume_is_checked_as_any_other() -> None:
    pod = _pod({"image": {"reference": "nginx:1.27"}}, {"subPath": "../etc"})
    assert _errors(pod) == [
        "spec.containers[0].volumeMounts.subPath: Invalid value: \"../etc\": must not contain '..'"
    ]


def test_a_pod_templates_image_volume_needs_a_reference_too() -> None:
    # kubernetes#135989: templates were spared until then, and their pods then failed.
    spec = _pod({"image": {"reference": "", "pullPolicy": "IfNotPresent"}})["spec"]
    errors = [str(e) for e in validate_pod_spec(spec, "spec.template.spec")]
    assert "spec.template.spec.volumes[0].image.reference: Required value" in errors
