"""Validation and defaults of two pod fields on by default in Kubernetes 1.37:
`spec.hostnameOverride` (KEP-4762) and `env[].valueFrom.fileKeyRef` (KEP-3721)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kubelite.api.defaulting.pods import default_pod, default_pod_spec
from kubelite.api.validation.pods import validate_pod_create, validate_pod_spec

Spec = dict[str, Any]

SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
ENV = "spec.containers[0].env[0].valueFrom"
REF = f"{ENV}.fileKeyRef"


def _errors(mutate: Callable[[Spec], object]) -> list[str]:
    spec: Spec = {
        "volumes": [{"name": "env", "emptyDir": {}}],
        "containers": [{"name": "app", "image": "busybox"}],
    }
    mutate(spec)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": spec}
    default_pod(pod)
    return [str(e) for e in validate_pod_create(pod)]


def _spec(**values: Any) -> Callable[[Spec], None]:
    return lambda spec: spec.update(values)


def _file_key(**ref: Any) -> Callable[[Spec], None]:
    def mutate(spec: Spec) -> None:
        selector = {"volumeName": "env", "path": "config.env", "key": "DB", **ref}
        spec["containers"][0]["env"] = [{"name": "DB", "valueFrom": {"fileKeyRef": selector}}]

    return mutate


# A mutation may return anything (the tuple of a lambda that makes two changes).
CASES: list[tuple[str, Callable[[Spec], object], list[str]]] = [
    # --- hostnameOverride
    ("an FQDN override", _spec(hostnameOverride="db.example.internal"), []),
    (
        "an override beside hostname and subdomain",
        _spec(hostnameOverride="db.example.internal", hostname="db-0", subdomain="db"),
        [],
    ),
    ("64 characters", _spec(hostnameOverride="a" * 31 + "." + "b" * 32), []),
    (
        "65 characters",
        _spec(hostnameOverride="a" * 32 + "." + "b" * 32),
        ["spec.hostnameOverride: Too long: must have at most 64 bytes"],
    ),
    (
        "not a subdomain",
        _spec(hostnameOverride="Not-RFC1123"),
        [f'spec.hostnameOverride: Invalid value: "Not-RFC1123": {SUBDOMAIN_RULE}'],
    ),
    (
        "an empty override",
        _spec(hostnameOverride=""),
        [f'spec.hostnameOverride: Invalid value: "": {SUBDOMAIN_RULE}'],
    ),
    (
        "with setHostnameAsFQDN",
        _spec(hostnameOverride="db", setHostnameAsFQDN=True),
        ["spec.hostnameOverride: Forbidden: may not be specified when setHostnameAsFQDN is true"],
    ),
    ("with setHostnameAsFQDN false", _spec(hostnameOverride="db", setHostnameAsFQDN=False), []),
    (
        "with hostNetwork",
        _spec(hostnameOverride="db", hostNetwork=True),
        ["spec.hostnameOverride: Forbidden: may not be specified when hostNetwork is true"],
    ),
    # --- fileKeyRef
    ("a key of a file in an emptyDir", _file_key(), []),
    ("a relative path in a directory", _file_key(path="conf/app.env", optional=True), []),
    ("a relaxed variable name as key", _file_key(key="my.key-1 x"), []),
    (
        "an empty selector",
        _file_key(volumeName="", path="", key=""),
        [
            f"{REF}.key: Required value",
            f"{REF}.path: Required value",
            f"{REF}.volumeName: Required value",
        ],
    ),
    (
        "a key with '='",
        _file_key(key="A=B"),
        [
            f'{REF}.key: Invalid value: "A=B": a valid environment variable name must consist '
            "only of printable ASCII characters other than '='"
        ],
    ),
    (
        "a key of 129 characters",
        _file_key(key="K" * 129),
        [f"{REF}.key: Too long: must have at most 128 bytes"],
    ),
    ("a key of 128 characters", _file_key(key="K" * 128), []),
    (
        "an absolute path",
        _file_key(path="/env/config.env"),
        [f'{REF}.path: Invalid value: "/env/config.env": must be a relative path'],
    ),
    (
        "a path with '..'",
        _file_key(path="../config.env"),
        [f"{REF}.path: Invalid value: \"../config.env\": must not contain '..'"],
    ),
    (
        "a volume name that is no label",
        _file_key(volumeName="Env"),
        [
            f'{REF}.volumeName: Invalid value: "Env": {LABEL_RULE}',
            f'{REF}.volumeName: Not found: "Env"',
        ],
    ),
    (
        "a volume the pod does not have",
        _file_key(volumeName="other"),
        [f'{REF}.volumeName: Not found: "other"'],
    ),
    (
        "a volume that is no emptyDir",
        lambda spec: (
            spec["volumes"].append({"name": "cfg", "configMap": {"name": "cfg"}}),
            _file_key(volumeName="cfg")(spec),
        ),
        [f'{REF}.volumeName: Invalid value: "cfg": must reference an emptyDir volume'],
    ),
    (
        "fileKeyRef beside a value",
        lambda spec: (_file_key()(spec), spec["containers"][0]["env"][0].update(value="x")),
        [f'{ENV}: Invalid value: "": may not be specified when `value` is not empty'],
    ),
    (
        "fileKeyRef beside secretKeyRef",
        lambda spec: (
            _file_key()(spec),
            spec["containers"][0]["env"][0]["valueFrom"].update(
                secretKeyRef={"name": "s", "key": "k"}
            ),
        ),
        [f'{ENV}: Invalid value: "": may not have more than one field specified at a time'],
    ),
    (
        "an init container's fileKeyRef",
        lambda spec: spec.update(
            initContainers=[
                {
                    "name": "init",
                    "image": "busybox",
                    "env": [
                        {
                            "name": "X",
                            "valueFrom": {
                                "fileKeyRef": {"volumeName": "gone", "path": "a", "key": "X"}
                            },
                        }
                    ],
                }
            ]
        ),
        ['spec.initContainers[0].env[0].valueFrom.fileKeyRef.volumeName: Not found: "gone"'],
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rules_and_messages(mutate: Callable[[Spec], object], expected: list[str]) -> None:
    assert _errors(mutate) == expected


def test_templates_are_held_to_the_same_rules() -> None:
    spec: Spec = {
        "hostnameOverride": "db",
        "hostNetwork": True,
        "containers": [
            {
                "name": "app",
                "image": "busybox",
                "env": [
                    {
                        "name": "DB",
                        "valueFrom": {"fileKeyRef": {"volumeName": "v", "path": "p", "key": "K"}},
                    }
                ],
            }
        ],
    }
    default_pod_spec(spec)
    errors = [str(e) for e in validate_pod_spec(spec, "spec.template.spec")]
    assert (
        "spec.template.spec.hostnameOverride: Forbidden: may not be specified when hostNetwork "
        "is true"
    ) in errors
    assert (
        'spec.template.spec.containers[0].env[0].valueFrom.fileKeyRef.volumeName: Not found: "v"'
    ) in errors


def test_file_key_ref_optional_defaults_to_false() -> None:
    """FileKeySelector.Optional is `+default=false`: the API serves `optional: false`, and an
    explicit true is kept."""
    spec: Spec = {
        "containers": [
            {
                "name": "app",
                "image": "busybox",
                "env": [
                    {"name": "A", "valueFrom": {"fileKeyRef": {"volumeName": "v", "path": "p"}}},
                    {"name": "B", "valueFrom": {"fileKeyRef": {"optional": True}}},
                    {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
                ],
            }
        ]
    }
    default_pod_spec(spec)
    env = spec["containers"][0]["env"]
    assert env[0]["valueFrom"]["fileKeyRef"]["optional"] is False
    assert env[1]["valueFrom"]["fileKeyRef"]["optional"] is True
    assert "optional" not in env[2]["valueFrom"]["configMapKeyRef"]
