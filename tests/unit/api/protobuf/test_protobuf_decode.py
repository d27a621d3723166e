"""Kubernetes protobuf bodies decode into the JSON Go's encoder writes for the same object.

The `captured/` bodies are what kubectl sent to a kubelite server (read from `kubectl -v=9`);
kubectl 1.32 and 1.33 send the same bytes for each of these commands. The `.json` beside each
is what `kubectl ... --dry-run=client -o json` prints for the same object, which is Go's JSON
encoding of the very struct kubectl encodes:

    namespace       kubectl create namespace web-ns
    configmap       kubectl create configmap web-config --from-literal=greeting=hello
                        --from-literal=empty= --from-file=logo.bin=<00 01 02 ff fe>
    secret          kubectl create secret generic web-secret --from-literal=password=hunter2
                        --from-file=key.bin=<00 01 02 ff fe>
    service         kubectl create service clusterip web-svc --tcp=80:8080 --tcp=443:https
    deployment      kubectl create deployment web --image=nginx --port=80 --replicas=2
    serviceaccount  kubectl create serviceaccount web-sa
    deleteoptions   kubectl drain n1 --force --disable-eviction --grace-period=5 (one pod's delete)
    pod-debug-copy  kubectl debug web --copy-to=web-copy --image=busybox -- sleep 1 (1.33), where
                        web came from the pod-run command below
    pod-run.json    kubectl run web --image=nginx --port=80 --labels=a=b --env=X=1 -- sleep 10
                        (kubectl sends this one as JSON; the test encodes it)

Bodies kubectl never sends as protobuf are built with the test encoder, which is first shown to
write kubectl's bytes exactly; the special types are also checked on hand-made bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from protobuf_encoder import (
    encode_request,
    envelope,
    key,
    length_delimited,
    varint,
    varint_field,
)

from kubelite.api import decoding, errors, schema
from kubelite.api.protobuf import MEDIA_TYPE, decode_request

CAPTURED = Path(__file__).parent / "captured"
WITH_JSON = ("namespace", "configmap", "secret", "service", "deployment", "serviceaccount")


def _without_nulls(value: Any) -> Any:
    """Go's JSON with its nulls left out, as the decoder gives it."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _captured(name: str) -> bytes:
    return (CAPTURED / f"{name}.pb").read_bytes()


def _expected(name: str) -> dict[str, Any]:
    return _without_nulls(json.loads((CAPTURED / f"{name}.json").read_text()))


def _as_json(value: Any) -> str:
    """Key order included: the decoder writes fields in Go's order."""
    return json.dumps(value)


def _namespace(raw: bytes) -> bytes:
    return envelope("v1", "Namespace", raw)


def _bad_request(body: bytes) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as caught:
        decode_request(body)
    assert caught.value.code == 400
    assert caught.value.reason == errors.REASON_BAD_REQUEST
    return caught.value


# --- bodies captured from kubectl ---------------------------------------------------------------


@pytest.mark.parametrize("name", WITH_JSON)
def test_kubectl_bodies_decode_to_what_kubectl_writes_as_json(name: str) -> None:
    assert _as_json(decode_request(_captured(name))) == _as_json(_expected(name))


@pytest.mark.parametrize("name", WITH_JSON)
def test_the_test_encoder_writes_kubectls_bytes(name: str) -> None:
    assert encode_request(_expected(name)) == _captured(name)


@pytest.mark.parametrize("name", WITH_JSON)
def test_decoded_bodies_pass_strict_decoding(name: str) -> None:
    value = decoding.parse_body(_captured(name), MEDIA_TYPE)
    group, _, version = value["apiVersion"].rpartition("/")
    node = schema.load().for_kind(group, version, value["kind"])
    obj, problems = decoding.decode(value, node, value["kind"], value["apiVersion"])
    assert problems == []
    assert obj == value


def test_configmap_data_is_text_and_binary_data_is_base64() -> None:
    configmap = decode_request(_captured("configmap"))
    assert configmap["data"] == {"empty": "", "greeting": "hello"}
    assert configmap["binaryData"] == {"logo.bin": "AAEC//4="}


def test_secret_data_is_base64() -> None:
    secret = decode_request(_captured("secret"))
    assert secret["data"] == {"key.bin": "AAEC//4=", "password": "aHVudGVyMg=="}
    assert "type" not in secret  # empty and omitempty


def test_service_target_ports_keep_int_and_string_forms() -> None:
    ports = decode_request(_captured("service"))["spec"]["ports"]
    assert [(p["port"], p["targetPort"]) for p in ports] == [(80, 8080), (443, "https")]


def test_deployment_from_kubectl_create_deployment() -> None:
    deployment = decode_request(_captured("deployment"))
    assert deployment["kind"] == "Deployment"
    assert deployment["apiVersion"] == "apps/v1"
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container == {
        "name": "nginx",
        "image": "nginx",
        "ports": [{"containerPort": 80}],
        "resources": {},
    }


def test_delete_options_from_kubectl_drain() -> None:
    assert decode_request(_captured("deleteoptions")) == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "gracePeriodSeconds": 5,
    }


def test_pod_copied_by_kubectl_debug() -> None:
    body = _captured("pod-debug-copy")
    pod = decode_request(body)
    assert encode_request(pod) == body
    spec = pod["spec"]
    volume = spec["volumes"][0]
    assert volume["projected"]["defaultMode"] == 420  # VolumeSource is inline in Volume
    assert volume["projected"]["sources"][0] == {
        "serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}
    }
    assert spec["priority"] == 0  # a pointer: written when set, even to zero
    assert spec["containers"][1] == {
        "name": spec["containers"][1]["name"],
        "image": "busybox",
        "command": ["sleep", "1"],
        "resources": {},
        "terminationMessagePolicy": "File",
    }
    assert spec["tolerations"][0]["tolerationSeconds"] == 300
    assert pod["status"] == {}


# --- objects kubectl sends as JSON, encoded here ------------------------------------------------


def test_pod_from_kubectl_run() -> None:
    pod = _without_nulls(json.loads((CAPTURED / "pod-run.json").read_text()))
    decoded = decode_request(encode_request(pod))
    assert _as_json(decoded) == _as_json(pod)
    container = decoded["spec"]["containers"][0]
    assert container["args"] == ["sleep", "10"]
    assert container["env"] == [{"name": "X", "value": "1"}]
    assert decoded["metadata"]["labels"] == {"a": "b"}


def test_eviction_with_delete_options() -> None:
    eviction = {
        "kind": "Eviction",
        "apiVersion": "policy/v1",
        "metadata": {"name": "web", "namespace": "default"},
        "deleteOptions": {
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": "1234"},
            "propagationPolicy": "Foreground",
            "dryRun": ["All"],
        },
    }
    assert decode_request(encode_request(eviction)) == eviction


def test_deployment_rolling_update_keeps_int_or_string_pointers_even_at_zero() -> None:
    deployment = {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {}, "spec": {"containers": [{"name": "c", "resources": {}}]}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
            },
        },
        "status": {},
    }
    decoded = decode_request(encode_request(deployment))
    assert decoded["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": "25%"}


def test_quantities_field_managers_and_times() -> None:
    pod = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": "web",
            "creationTimestamp": "2024-05-06T07:08:09Z",
            "managedFields": [
                {
                    "manager": "kubectl",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2024-05-06T07:08:09Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:a": {}}}},
                }
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "nginx",
                    "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}},
                }
            ],
            "overhead": {"cpu": "0"},
        },
        "status": {},
    }
    assert decode_request(encode_request(pod)) == pod


def test_events_k8s_io_event_times_are_micro_times() -> None:
    event = {
        "kind": "Event",
        "apiVersion": "events.k8s.io/v1",
        "metadata": {"name": "web.1", "namespace": "default"},
        "eventTime": "2024-05-06T07:08:09.123456Z",
        "series": {"count": 2, "lastObservedTime": "2024-05-06T07:09:00.000001Z"},
        "reportingController": "kubelite",
        "reportingInstance": "node-1",
        "action": "Pulling",
        "reason": "Pulling",
        "regarding": {"kind": "Pod", "name": "web"},
        "type": "Normal",
        "deprecatedSource": {},
    }
    assert decode_request(encode_request(event)) == event


def test_lease_and_scale() -> None:
    lease = {
        "kind": "Lease",
        "apiVersion": "coordination.k8s.io/v1",
        "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
        "spec": {
            "holderIdentity": "node-1",
            "leaseDurationSeconds": 40,
            "renewTime": "2024-05-06T07:08:09.500000Z",
        },
    }
    scale = {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 0},
        "status": {"replicas": 0},
    }
    assert decode_request(encode_request(lease)) == lease
    assert decode_request(encode_request(scale)) == {**scale, "spec": {}}


# --- special types and Go's zero values, on hand-made bytes -------------------------------------


def _metadata(*fields: bytes) -> bytes:
    return length_delimited(1, b"".join(fields))


def test_time_is_rfc3339_in_seconds_and_go_zero_time_is_null() -> None:
    stamp = varint_field(1, 1_700_000_000) + varint_field(2, 999_999_999)
    created = _metadata(length_delimited(1, b"t"), length_delimited(8, stamp))
    assert decode_request(_namespace(created))["metadata"] == {
        "name": "t",
        "creationTimestamp": "2023-11-14T22:13:20Z",
    }
    for zero in (b"", varint_field(1, -62_135_596_800)):
        body = _namespace(_metadata(length_delimited(8, zero)))
        assert decode_request(body)["metadata"] == {}


def test_micro_time_keeps_microseconds() -> None:
    stamp = varint_field(1, 1_700_000_000) + varint_field(2, 123_456_789)
    body = envelope("events.k8s.io/v1", "Event", length_delimited(2, stamp))
    assert decode_request(body)["eventTime"] == "2023-11-14T22:13:20.123456Z"


def test_negative_numbers_are_ten_byte_varints() -> None:
    body = envelope("v1", "DeleteOptions", varint_field(1, -1))
    assert decode_request(body)["gracePeriodSeconds"] == -1
    port = varint_field(2, -1) + varint_field(3, 80)
    container = length_delimited(1, b"c") + length_delimited(6, port)
    spec = length_delimited(2, length_delimited(2, container))
    pod = decode_request(envelope("v1", "Pod", spec))
    assert pod["spec"]["containers"][0]["ports"] == [{"hostPort": -1, "containerPort": 80}]


def test_repeated_scalars_may_be_packed_or_not() -> None:
    groups = length_delimited(4, varint(1) + varint(2) + varint(300)) + varint_field(4, 4)
    spec = length_delimited(2, length_delimited(14, groups))
    pod = decode_request(envelope("v1", "Pod", spec))
    assert pod["spec"]["securityContext"] == {"supplementalGroups": [1, 2, 300, 4]}


def test_a_message_sent_in_parts_is_merged() -> None:
    labels = length_delimited(11, length_delimited(1, b"a") + length_delimited(2, b"b"))
    body = _namespace(_metadata(length_delimited(1, b"x")) + _metadata(labels))
    assert decode_request(body)["metadata"] == {"name": "x", "labels": {"a": "b"}}


def test_unknown_field_numbers_are_skipped() -> None:
    unknown = varint_field(99, 7) + key(98, 1) + bytes(8) + key(97, 5) + bytes(4)
    body = _namespace(unknown + _metadata(length_delimited(1, b"x"), varint_field(90, 1)))
    assert decode_request(body)["metadata"] == {"name": "x"}


def test_zero_values_follow_go_json_tags() -> None:
    # name, namespace and hostNetwork are omitempty; containerPort and Container.name are not;
    # spec and status are structs, which Go always writes; Pod.spec.priority is a pointer.
    metadata = _metadata(length_delimited(1, b""), length_delimited(3, b""))
    container = length_delimited(6, b"") + length_delimited(2, b"nginx")
    spec = length_delimited(2, container) + varint_field(25, 0) + varint_field(11, 0)
    pod = decode_request(envelope("v1", "Pod", metadata + length_delimited(2, spec)))
    assert pod == {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {},
        "spec": {
            "containers": [
                {"name": "", "image": "nginx", "ports": [{"containerPort": 0}], "resources": {}}
            ],
            "priority": 0,
        },
        "status": {},
    }


def test_a_map_entry_without_a_value_has_the_zero_value() -> None:
    body = envelope("v1", "ConfigMap", length_delimited(2, length_delimited(1, b"k")))
    assert decode_request(body)["data"] == {"k": ""}


def test_invalid_utf8_is_replaced_as_go_json_does() -> None:
    body = _namespace(_metadata(length_delimited(1, b"a\xffb")))
    assert decode_request(body)["metadata"]["name"] == "a\ufffdb"


# --- refusals -----------------------------------------------------------------------------------


def test_a_body_without_the_magic_is_refused() -> None:
    error = _bad_request(b'{"kind":"Namespace"}')
    assert error.message == (
        "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
    )


@pytest.mark.parametrize(("body", "message"), [(b"", "empty data"), (b"k8s\x00", "empty body")])
def test_empty_bodies_are_refused(body: bytes, message: str) -> None:
    assert _bad_request(body).message == message


def test_a_kind_kubelite_does_not_serve_is_refused() -> None:
    for api_version, kind in (("v1", "Frobnicator"), ("storage.k8s.io/v1", "CSIDriver")):
        error = _bad_request(envelope(api_version, kind, b""))
        assert error.message == (
            f'no kind "{kind}" is registered for version "{api_version}" in scheme '
            '"pkg/api/legacyscheme/scheme.go:30"'
        )


def test_an_envelope_without_kind_or_version_is_refused() -> None:
    error = _bad_request(envelope("v1", "", b""))
    assert error.message == (
        "Object 'Kind' is missing in 'runtime.TypeMeta{APIVersion:\"v1\", Kind:\"\"}'"
    )
    error = _bad_request(envelope("", "Namespace", b""))
    assert error.message.startswith("Object 'apiVersion' is missing in")


def test_a_truncated_envelope_is_refused() -> None:
    assert _bad_request(_captured("namespace")[:-10]).message == "unexpected EOF"


def test_a_truncated_object_is_refused_naming_the_kind() -> None:
    body = _namespace(length_delimited(1, b"\x0a\x05ab"))
    assert _bad_request(body).message == (
        'Namespace in version "v1" cannot be handled as a Namespace: unexpected EOF'
    )


def test_a_field_of_the_wrong_wire_type_is_refused() -> None:
    body = _namespace(varint_field(1, 3))
    assert _bad_request(body).message == (
        'Namespace in version "v1" cannot be handled as a Namespace: '
        "proto: wrong wireType = 0 for field metadata"
    )


def test_an_impossible_int_or_string_type_is_refused() -> None:
    port = length_delimited(4, varint_field(1, 2))
    body = envelope("v1", "Service", length_delimited(2, length_delimited(1, port)))
    assert "impossible IntOrString.Type" in _bad_request(body).message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_namespace(_metadata(varint_field(1, 5))), "proto: wrong wireType = 0 for field name"),
        (
            envelope("v1", "DeleteOptions", length_delimited(1, b"5")),
            "proto: wrong wireType = 2 for field gracePeriodSeconds",
        ),
        (
            _namespace(_metadata(length_delimited(17, length_delimited(7, b"\x0a\x01{")))),
            "invalid JSON in a raw field",
        ),
        (
            _namespace(_metadata(length_delimited(8, varint_field(1, 1 << 62)))),
            "time out of range",
        ),
    ],
)
def test_values_that_do_not_fit_their_fields_are_refused(body: bytes, message: str) -> None:
    assert message in _bad_request(body).message
