"""Pod validation: each rule of Kubernetes 1.33, with the message kubectl prints for it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from kubelite.api.defaulting.pods import default_pod
from kubelite.api.errors import invalid_object
from kubelite.api.validation.pods import validate_pod_create, validate_pod_spec

Spec = dict[str, Any]

LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def _pod(spec: Spec) -> dict[str, Any]:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": spec}
    default_pod(pod)
    return pod


def _base() -> Spec:
    return {"containers": [{"name": "nginx", "image": "nginx"}]}


def _errors(mutate: Callable[[Spec], None]) -> list[str]:
    spec = _base()
    mutate(spec)
    return [str(e) for e in validate_pod_create(_pod(spec))]


def _container(spec: Spec) -> dict[str, Any]:
    return spec["containers"][0]


def _set(**values: Any) -> Callable[[Spec], None]:
    return lambda spec: spec.update(values)


def _set_container(**values: Any) -> Callable[[Spec], None]:
    return lambda spec: _container(spec).update(values)


CASES: list[tuple[str, Callable[[Spec], None], list[str]]] = [
    ("a valid pod", lambda spec: None, []),
    ("no containers", _set(containers=[]), ["spec.containers: Required value"]),
    (
        "no image",
        lambda spec: _container(spec).pop("image"),
        ["spec.containers[0].image: Required value"],
    ),
    (
        "image with spaces",
        _set_container(image=" nginx"),
        [
            'spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing '
            "whitespace"
        ],
    ),
    (
        "container name not a DNS label",
        _set_container(name="Nginx"),
        [f'spec.containers[0].name: Invalid value: "Nginx": {LABEL_RULE}'],
    ),
    (
        "two containers with one name",
        lambda spec: spec["containers"].append({"name": "nginx", "image": "busybox"}),
        ['spec.containers[1].name: Duplicate value: "nginx"'],
    ),
    (
        "an init container named like a container",
        _set(initContainers=[{"name": "nginx", "image": "busybox"}]),
        ['spec.initContainers[0].name: Duplicate value: "nginx"'],
    ),
    (
        "container port out of range",
        _set_container(ports=[{"containerPort": 70000}]),
        [
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 "
            "and 65535, inclusive"
        ],
    ),
    (
        "container port missing",
        _set_container(ports=[{"name": "http"}]),
        ["spec.containers[0].ports[0].containerPort: Required value"],
    ),
    (
        "host port out of range",
        _set_container(ports=[{"containerPort": 80, "hostPort": 65536}]),
        [
            "spec.containers[0].ports[0].hostPort: Invalid value: 65536: must be between 1 and "
            "65535, inclusive"
        ],
    ),
    (
        "unknown protocol",
        _set_container(ports=[{"containerPort": 80, "protocol": "HTTP"}]),
        [
            'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: '
            '"SCTP", "TCP", "UDP"'
        ],
    ),
    (
        "port name not an IANA service name",
        _set_container(ports=[{"containerPort": 80, "name": "Web--1"}]),
        [
            'spec.containers[0].ports[0].name: Invalid value: "Web--1": must contain only '
            "alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            'spec.containers[0].ports[0].name: Invalid value: "Web--1": must not contain '
            "consecutive hyphens",
        ],
    ),
    (
        "two ports with one name",
        _set_container(
            ports=[{"containerPort": 80, "name": "web"}, {"containerPort": 81, "name": "web"}]
        ),
        ['spec.containers[0].ports[1].name: Duplicate value: "web"'],
    ),
    (
        "two containers on one host port",
        lambda spec: spec["containers"].extend(
            [{"name": "a", "image": "i", "ports": [{"containerPort": 80, "hostPort": 8080}]}] * 1
            + [{"name": "b", "image": "i", "ports": [{"containerPort": 81, "hostPort": 8080}]}]
        ),
        ['spec.containers[2].ports[0].hostPort: Duplicate value: "TCP//8080"'],
    ),
    (
        "host network with another host port",
        lambda spec: spec.update(
            hostNetwork=True,
            containers=[
                {
                    "name": "nginx",
                    "image": "nginx",
                    "ports": [{"containerPort": 80, "hostPort": 8080}],
                }
            ],
        ),
        [
            "spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match `containerPort` "
            "when `hostNetwork` is true"
        ],
    ),
    (
        "unknown restart policy",
        _set(restartPolicy="Sometimes"),
        [
            'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", '
            '"OnFailure", "Never"'
        ],
    ),
    (
        "unknown DNS policy",
        _set(dnsPolicy="Google"),
        [
            'spec.dnsPolicy: Unsupported value: "Google": supported values: '
            '"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"'
        ],
    ),
    (
        "an operating system Kubernetes does not know",
        _set(os={"name": "plan9"}),
        ['spec.os: Unsupported value: "plan9": supported values: "linux", "windows"'],
    ),
    (
        "an operating system with no name",
        _set(os={}),
        ["spec.os.name: Required value: cannot be empty"],
    ),
    ("a windows pod", _set(os={"name": "windows"}), []),
    (
        "unknown pull policy",
        _set_container(imagePullPolicy="Sometimes"),
        [
            'spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: '
            '"Always", "IfNotPresent", "Never"'
        ],
    ),
    (
        "unknown termination message policy",
        _set_container(terminationMessagePolicy="Logs"),
        [
            'spec.containers[0].terminationMessagePolicy: Unsupported value: "Logs": supported '
            'values: "File", "FallbackToLogsOnError"'
        ],
    ),
    (
        "a volume with two sources",
        _set(volumes=[{"name": "data", "emptyDir": {}, "hostPath": {"path": "/srv"}}]),
        ["spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"],
    ),
    (
        "two volumes with one name",
        _set(volumes=[{"name": "data"}, {"name": "data"}]),
        ['spec.volumes[1].name: Duplicate value: "data"'],
    ),
    (
        "volume name not a DNS label",
        _set(volumes=[{"name": "Data"}]),
        [f'spec.volumes[0].name: Invalid value: "Data": {LABEL_RULE}'],
    ),
    (
        "host path with a backstep",
        _set(volumes=[{"name": "data", "hostPath": {"path": "/srv/../etc"}}]),
        ["spec.volumes[0].hostPath.path: Invalid value: \"/srv/../etc\": must not contain '..'"],
    ),
    (
        "secret volume without a secret name",
        _set(volumes=[{"name": "data", "secret": {}}]),
        ["spec.volumes[0].secret.secretName: Required value"],
    ),
    (
        "file mode out of range",
        _set(volumes=[{"name": "data", "configMap": {"name": "c", "defaultMode": 1000}}]),
        [
            "spec.volumes[0].configMap.defaultMode: Invalid value: 1000: must be a number between "
            "0 "
            "and 0777 (octal), both inclusive"
        ],
    ),
    (
        "a mount of a missing volume",
        _set_container(volumeMounts=[{"name": "data", "mountPath": "/data"}]),
        ['spec.containers[0].volumeMounts[0].name: Not found: "data"'],
    ),
    (
        "a mount without a path",
        lambda spec: (
            spec.update(volumes=[{"name": "data"}])
            or _container(spec).update(volumeMounts=[{"name": "data"}])
        ),
        ["spec.containers[0].volumeMounts[0].mountPath: Required value"],
    ),
    (
        "two mounts on one path",
        lambda spec: (
            spec.update(volumes=[{"name": "a"}, {"name": "b"}])
            or _container(spec).update(
                volumeMounts=[
                    {"name": "a", "mountPath": "/data"},
                    {"name": "b", "mountPath": "/data"},
                ]
            )
        ),
        ['spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/data": must be unique'],
    ),
    (
        "an environment variable name with '='",
        _set_container(env=[{"name": "A=B", "value": "1"}]),
        [
            'spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable '
            "name must consist only of printable ASCII characters other than '='"
        ],
    ),
    (
        "a value and a source",
        _set_container(
            env=[
                {
                    "name": "A",
                    "value": "1",
                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                }
            ]
        ),
        [
            'spec.containers[0].env[0].valueFrom: Invalid value: "": may not be specified when '
            "`value` is not empty"
        ],
    ),
    (
        "an unsupported downward API field",
        _set_container(
            env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.restartPolicy"}}}]
        ),
        [
            "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "
            '"spec.restartPolicy": supported values: "metadata.name", "metadata.namespace", '
            '"metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", '
            '"status.hostIPs", "status.podIP", "status.podIPs"'
        ],
    ),
    (
        "requests above limits",
        _set_container(resources={"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}),
        [
            'spec.containers[0].resources.requests: Invalid value: "2": must be less than or '
            "equal to cpu limit of 1"
        ],
    ),
    (
        "a negative request",
        _set_container(resources={"requests": {"memory": "-1"}}),
        [
            'spec.containers[0].resources.requests[memory]: Invalid value: "-1": must be greater '
            "than or equal to 0"
        ],
    ),
    (
        "an unknown resource name",
        _set_container(resources={"limits": {"maxmemory": "1"}}),
        [
            f"spec.containers[0].resources.{kind}[maxmemory]: Invalid value: maxmemory: must be a "
            f"standard resource {rule}"
            # Requests default to the limits, so both are reported.
            for kind in ("limits", "requests")
            for rule in ("type or fully qualified", "for containers")
        ],
    ),
    (
        "a fractional extended resource",
        _set_container(resources={"limits": {"example.com/gpu": "0.5"}}),
        [
            f"spec.containers[0].resources.{kind}[example.com/gpu]: Invalid value: 500m: must be "
            "an integer"
            for kind in ("limits", "requests")
        ],
    ),
    (
        "a probe with two handlers",
        _set_container(livenessProbe={"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}),
        [
            "spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 "
            "handler type"
        ],
    ),
    (
        "a probe without a handler",
        _set_container(readinessProbe={"periodSeconds": 5}),
        ["spec.containers[0].readinessProbe: Required value: must specify a handler type"],
    ),
    (
        "a liveness probe that needs two successes",
        _set_container(livenessProbe={"tcpSocket": {"port": 80}, "successThreshold": 2}),
        ["spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"],
    ),
    (
        "a negative probe delay",
        _set_container(startupProbe={"tcpSocket": {"port": 80}, "initialDelaySeconds": -1}),
        [
            "spec.containers[0].startupProbe.initialDelaySeconds: Invalid value: -1: must be "
            "greater than or equal to 0"
        ],
    ),
    (
        "an HTTP probe on port 0",
        _set_container(livenessProbe={"httpGet": {"port": 0}}),
        [
            "spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: must be between 1 "
            "and 65535, inclusive"
        ],
    ),
    (
        "an init container with a probe",
        _set(
            initContainers=[
                {"name": "init", "image": "i", "livenessProbe": {"tcpSocket": {"port": 80}}}
            ]
        ),
        [
            "spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers "
            "without restartPolicy=Always"
        ],
    ),
    (
        "a sidecar with a probe",
        _set(
            initContainers=[
                {
                    "name": "side",
                    "image": "i",
                    "restartPolicy": "Always",
                    "livenessProbe": {"tcpSocket": {"port": 80}},
                }
            ]
        ),
        [],
    ),
    (
        # ContainerRestartRules (on since 1.35): an init container may override the pod's policy.
        "an init container that restarts on failure",
        _set(initContainers=[{"name": "init", "image": "i", "restartPolicy": "OnFailure"}]),
        [],
    ),
    (
        "a regular container with a restart policy",
        _set_container(restartPolicy="Always"),
        [],
    ),
    (
        "a zero deadline",
        _set(activeDeadlineSeconds=0),
        [
            "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, "
            "inclusive"
        ],
    ),
    (
        # Kubernetes only warns about a negative grace period, and treats it as 1.
        "a negative grace period",
        _set(terminationGracePeriodSeconds=-1),
        [],
    ),
    (
        "a node name that is no DNS subdomain",
        _set(nodeName="Node_1"),
        [f'spec.nodeName: Invalid value: "Node_1": {SUBDOMAIN_RULE}'],
    ),
    (
        "a toleration value with Exists",
        _set(tolerations=[{"key": "k", "operator": "Exists", "value": "v"}]),
        [
            'spec.tolerations[0].operator: Invalid value: "v": value must be empty when '
            "`operator` is 'Exists'"
        ],
    ),
    (
        "toleration seconds without NoExecute",
        _set(
            tolerations=[
                {"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}
            ]
        ),
        [
            'spec.tolerations[0].effect: Invalid value: "NoSchedule": effect must be '
            "'NoExecute' when `tolerationSeconds` is set"
        ],
    ),
    (
        "an empty key with Equal",
        _set(tolerations=[{"operator": "Equal", "value": "v"}]),
        [
            'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when '
            "`key` "
            'is empty, which means "match all values and all keys"'
        ],
    ),
    (
        "an unknown taint effect",
        _set(tolerations=[{"key": "k", "operator": "Exists", "effect": "NoRun"}]),
        [
            'spec.tolerations[0].effect: Unsupported value: "NoRun": supported values: '
            '"NoSchedule", '
            '"PreferNoSchedule", "NoExecute"'
        ],
    ),
    (
        "dnsPolicy None without dnsConfig",
        _set(dnsPolicy="None"),
        ["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"],
    ),
    (
        "a DNS nameserver that is no IP",
        _set(dnsConfig={"nameservers": ["dns.local"]}),
        [
            'spec.dnsConfig.nameservers[0]: Invalid value: "dns.local": must be a valid IP '
            "address, "
            "(e.g. 10.9.8.7 or 2001:db8::ffff)"
        ],
    ),
    (
        "a negative user id",
        _set(securityContext={"runAsUser": -1}),
        [
            "spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, "
            "inclusive"
        ],
    ),
    (
        "shareProcessNamespace with hostPID",
        _set(shareProcessNamespace=True, hostPID=True),
        [
            "spec.securityContext.shareProcessNamespace: Invalid value: true: "
            "ShareProcessNamespace "
            "and HostPID cannot both be enabled"
        ],
    ),
    (
        "a seccomp profile without a type",
        _set_container(securityContext={"seccompProfile": {}}),
        [
            "spec.containers[0].securityContext.seccompProfile.type: Required value: type is "
            "required when seccompProfile is set"
        ],
    ),
    (
        "ephemeral containers on create",
        _set(ephemeralContainers=[{"name": "debug", "image": "busybox"}]),
        ["spec.ephemeralContainers: Forbidden: cannot be set on create"],
    ),
    (
        "a node name while gated",
        _set(nodeName="node-1", schedulingGates=[{"name": "example.com/wait"}]),
        ["spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared"],
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validation_rules_and_their_messages(
    mutate: Callable[[Spec], None], expected: list[str]
) -> None:
    assert _errors(mutate) == expected


def test_the_seed_pod_with_its_image_typo_reads_as_kubectl_prints_it() -> None:
    # Once the unknown `imgae` field is dropped, only the missing image is left.
    pod = _pod({"containers": [{"name": "nginx"}]})
    problems = validate_pod_create(pod)
    assert invalid_object("Pod", "simple-pod", problems).message == (
        'Pod "simple-pod" is invalid: spec.containers[0].image: Required value'
    )


def test_a_token_projection_needs_a_service_account_name() -> None:
    pod = _pod({"containers": [{"name": "c", "image": "i"}]})
    pod["spec"]["serviceAccountName"] = ""
    token = {"serviceAccountToken": {"path": "t", "expirationSeconds": 3600}}
    pod["spec"]["volumes"] = [{"name": "t", "projected": {"sources": [token]}}]
    assert [str(e) for e in validate_pod_create(pod)] == [
        "spec.volumes[0].projected.sources[0].serviceAccountToken: Forbidden: must not be "
        "specified when serviceAccountName is not set"
    ]


def test_templates_may_leave_host_ports_to_the_pod_defaults() -> None:
    spec = {
        "hostNetwork": True,
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "terminationGracePeriodSeconds": 30,
        "containers": [
            {
                "name": "c",
                "image": "i",
                "imagePullPolicy": "Always",
                "terminationMessagePolicy": "File",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
            }
        ],
    }
    assert validate_pod_spec(copy.deepcopy(spec), "spec.template.spec") == []
    spec["containers"][0]["ports"][0]["hostPort"] = 8080
    assert [str(e) for e in validate_pod_spec(spec, "spec.template.spec")] == [
        "spec.template.spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match "
        "`containerPort` when `hostNetwork` is true"
    ]


def test_seed_manifests_are_valid() -> None:
    import yaml
    from tests.examples import MANIFESTS

    paths = sorted(MANIFESTS.glob("*.yaml"))
    assert paths
    for path in paths:
        try:
            with open(path) as f:
                manifest = yaml.safe_load(f)
        except yaml.YAMLError:
            continue  # simple-pod.yaml is indented with tabs on purpose
        default_pod(manifest)
        assert validate_pod_create(manifest) == [], path
