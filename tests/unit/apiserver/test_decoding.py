"""Strict decoding of request bodies (`kubelite.api.decoding`), as Kubernetes decodes them."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api import decoding, errors, quantity, schema

Obj = dict[str, Any]


def decode(
    body: str,
    kind: str = "Pod",
    *,
    group: str = "",
    version: str = "v1",
    content_type: str = "application/json",
) -> tuple[Obj, list[str]]:
    value = decoding.parse_body(body.encode(), content_type)
    node = schema.load().for_kind(group, version, kind)
    api_version = f"{group}/{version}" if group else version
    return decoding.decode(value, node, kind, api_version, quantity.canonical_json)


def refused(body: str, kind: str = "Pod", **kwargs: Any) -> str:
    with pytest.raises(errors.StatusError) as err:
        decode(body, kind, **kwargs)
    assert (err.value.code, err.value.reason) == (400, "BadRequest")
    return err.value.message


# --- unknown and duplicate fields -------------------------------------------------------------


def test_unknown_and_duplicate_fields_with_their_paths() -> None:
    obj, problems = decode(
        '{"metadata":{"name":"a","name":"b"},'
        '"spec":{"containers":[{"name":"c","imgae":"x","image":"y"}],"x":2},'
        '"zzz":1}'
    )
    assert problems == [
        'duplicate field "metadata.name"',
        'unknown field "spec.containers[0].imgae"',
        'unknown field "spec.x"',
        'unknown field "zzz"',
    ]
    # Unknown fields are dropped; a repeated key keeps its last value.
    assert obj == {"metadata": {"name": "b"}, "spec": {"containers": [{"name": "c", "image": "y"}]}}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('{"metadata":{"labels":{"a":"x","a":"y"}}}', 'duplicate field "metadata.labels.a"'),
        (
            '{"spec":{"containers":[{"name":"c","ports":[{"containerPort":80,"name":"x","name":"y"}]}]}}',
            'duplicate field "spec.containers[0].ports[0].name"',
        ),
        (
            '{"spec":{"containers":[{"name":"c","ports":[{"containerPort":80,"targetPort":1}]}]}}',
            'unknown field "spec.containers[0].ports[0].targetPort"',
        ),
    ],
)
def test_problems_deep_in_lists_and_maps(body: str, problem: str) -> None:
    _, problems = decode(body)
    assert problems == [problem]


def test_problems_in_one_object_come_in_document_order() -> None:
    _, problems = decode('{"metadata":{"bogus":1,"name":"a","name":"b"}}')
    assert problems == ['unknown field "metadata.bogus"', 'duplicate field "metadata.name"']


def test_free_form_fields_are_kept_whole() -> None:
    obj, problems = decode(
        '{"metadata":{"name":"a","annotations":{"x":"1"}},"data":{"any":"thing"}}', "ConfigMap"
    )
    assert problems == []
    assert obj["data"] == {"any": "thing"}


def test_nulls_are_dropped() -> None:
    obj, problems = decode(
        '{"spec":{"containers":[{"name":"c","env":[{"name":"A","value":null}]}]}}'
    )
    assert problems == []
    assert obj["spec"]["containers"][0]["env"] == [{"name": "A"}]


@pytest.mark.parametrize(
    ("body", "kind", "where", "decoded"),
    [
        # sigs.k8s.io/json decodes into a fresh element of the map or list and stores it: a
        # null becomes the zero value of the element's type, never a missing key or an error.
        (
            '{"metadata":{"labels":{"a":null,"b":"c"}}}',
            "Pod",
            ("metadata", "labels"),
            {"a": "", "b": "c"},
        ),
        ('{"metadata":{"annotations":{"a":null}}}', "Pod", ("metadata", "annotations"), {"a": ""}),
        ('{"data":{"a":null}}', "ConfigMap", ("data",), {"a": ""}),
        ('{"binaryData":{"a":null}}', "ConfigMap", ("binaryData",), {"a": ""}),
        (
            '{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":null}}}]}}',
            "Pod",
            ("spec", "containers", 0, "resources", "limits"),
            {"cpu": "0"},
        ),
        (
            '{"spec":{"containers":[{"name":"c","args":["a",null]}]}}',
            "Pod",
            ("spec", "containers", 0, "args"),
            ["a", ""],
        ),
        ('{"spec":{"containers":[null]}}', "Pod", ("spec", "containers"), [{}]),
    ],
)
def test_a_null_in_a_map_or_list_is_the_zero_value_of_its_type(
    body: str, kind: str, where: tuple[Any, ...], decoded: Any
) -> None:
    obj, problems = decode(body, kind)
    assert problems == []
    value: Any = obj
    for step in where:
        value = value[step]
    assert value == decoded


def test_strict_error_message() -> None:
    _, problems = decode('{"spec":{"containers":[{"name":"c","imgae":"x"}]}}')
    err = decoding.strict_error("Pod", "v1", problems)
    assert (err.code, err.message) == (
        400,
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field '
        '"spec.containers[0].imgae"',
    )
    assert decoding.strict_error("Deployment", "apps/v1", ["a", "b"]).message == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: a, b'
    )


def test_duplicates_of_a_patch_body() -> None:
    parsed = decoding.parse_json(
        b'{"metadata":{"labels":{"a":"1","a":"2"}},"spec":[{"x":1,"x":2}]}'
    )
    assert decoding.duplicates(parsed) == [
        'duplicate field "metadata.labels.a"',
        'duplicate field "spec[0].x"',
    ]
    assert decoding.plain(parsed) == {"metadata": {"labels": {"a": "2"}}, "spec": [{"x": 2}]}


# --- type errors ------------------------------------------------------------------------------

# body, kind, group -> what Go's decoder says: "json: cannot unmarshal <value> into Go struct
# field <Struct.json.path> of type <type>".
TYPE_ERRORS = [
    ('{"metadata":{"name":5}}', "Pod", "", "number", "ObjectMeta.metadata.name", "string"),
    (
        '{"spec":{"containers":[{"name":"c","image":7}]}}',
        "Pod",
        "",
        "number",
        "Container.spec.containers.image",
        "string",
    ),
    (
        '{"spec":{"containers":[{"name":"c","ports":[{"containerPort":"80"}]}]}}',
        "Pod",
        "",
        "string",
        "ContainerPort.spec.containers.ports.containerPort",
        "int32",
    ),
    (
        '{"spec":{"containers":[{"name":"c","ports":[{"containerPort":80.5}]}]}}',
        "Pod",
        "",
        "number 80.5",
        "ContainerPort.spec.containers.ports.containerPort",
        "int32",
    ),
    (
        '{"metadata":{"labels":{"a":1}}}',
        "Pod",
        "",
        "number",
        "ObjectMeta.metadata.labels",
        "string",
    ),
    ('{"spec":{"containers":"x"}}', "Pod", "", "string", "PodSpec.spec.containers", "[]Container"),
    ('{"spec":{"hostNetwork":"true"}}', "Pod", "", "string", "PodSpec.spec.hostNetwork", "bool"),
    (
        '{"spec":{"replicas":"3"}}',
        "Deployment",
        "apps",
        "string",
        "DeploymentSpec.spec.replicas",
        "int32",
    ),
]


@pytest.mark.parametrize(("body", "kind", "group", "value", "field", "go_type"), TYPE_ERRORS)
def test_type_errors_name_the_go_struct_field(
    body: str, kind: str, group: str, value: str, field: str, go_type: str
) -> None:
    assert refused(body, kind, group=group) == (
        f'{kind} in version "v1" cannot be handled as a {kind}: json: cannot unmarshal {value} '
        f"into Go struct field {field} of type {go_type}"
    )


def test_a_body_that_is_not_an_object() -> None:
    assert refused("[1,2]") == (
        'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal array into Go '
        'value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind '
        'string "json:\\"kind,omitempty\\"" }'
    )


def test_a_type_error_fails_whatever_field_validation_says() -> None:
    """It is raised by decode() itself, not returned among the strict problems."""
    with pytest.raises(errors.StatusError):
        decode('{"metadata":{"name":5},"bogus":1}')


def test_integers_written_as_whole_floats_are_integers() -> None:
    obj, _ = decode('{"spec":{"containers":[{"name":"c","ports":[{"containerPort":80.0}]}]}}')
    port = obj["spec"]["containers"][0]["ports"][0]["containerPort"]
    assert port == 80 and isinstance(port, int)


def test_int_or_string_and_quantities() -> None:
    obj, _ = decode('{"spec":{"ports":[{"port":80,"targetPort":"http"}]}}', "Service")
    assert obj["spec"]["ports"][0]["targetPort"] == "http"
    obj, _ = decode(
        '{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":0.5,"memory":"1Gi"},'
        '"requests":{"cpu":"1000m"}}}]}}'
    )
    resources = obj["spec"]["containers"][0]["resources"]
    assert resources == {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "1"}}
    assert "quantities must match the regular expression" in refused(
        '{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"1x"}}}]}}'
    )


# --- times ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
        ("2024-01-01T02:30:00+02:30", "2024-01-01T00:00:00Z"),
        ("2023-12-31T23:00:00-01:00", "2024-01-01T00:00:00Z"),
        ("2024-01-01T00:00:00.987654Z", "2024-01-01T00:00:00Z"),
    ],
)
def test_times_are_stored_in_utc_to_the_second(given: str, stored: str) -> None:
    obj, _ = decode(f'{{"metadata":{{"creationTimestamp":"{given}"}}}}')
    assert obj["metadata"]["creationTimestamp"] == stored


def test_micro_times_keep_microseconds() -> None:
    obj, _ = decode('{"eventTime":"2024-01-01T00:00:00.5+01:00"}', "Event")
    assert obj["eventTime"] == "2023-12-31T23:00:00.500000Z"


@pytest.mark.parametrize(
    "given",
    [
        "yesterday",
        "2024-01-01",
        "2024-01-01T00:00:00",
        "2024-01-01 00:00:00Z",
    ],
)
def test_times_that_are_not_rfc3339_are_refused(given: str) -> None:
    message = refused(f'{{"metadata":{{"creationTimestamp":"{given}"}}}}')
    assert f'parsing time "{given}" as "2006-01-02T15:04:05Z07:00"' in message


# --- YAML bodies ------------------------------------------------------------------------------


def test_yaml_bodies_decode_like_json_and_report_a_repeated_key() -> None:
    obj, problems = decode(
        "metadata:\n  name: a\n  name: b\nspec:\n  containers:\n  - name: c\n    image: x\n",
        content_type="application/yaml",
    )
    assert obj["metadata"] == {"name": "b"}
    assert obj["spec"]["containers"] == [{"name": "c", "image": "x"}]
    assert len(problems) == 1 and "name" in problems[0]


def test_a_repeated_yaml_key_is_reported_as_yaml() -> None:
    """Kubernetes' YAML serializer reports repeats from YAMLToJSONStrict, in go-yaml's words."""
    _, problems = decode("metadata:\n  name: a\n  name: b\n", content_type="application/yaml")
    assert problems == ['yaml: unmarshal errors:\n  line 3: key "name" already set in map']


def test_repeated_yaml_keys_are_one_problem_before_the_unknown_fields() -> None:
    body = (
        "metadata:\n"
        "  labels:\n"
        "    a: x\n"
        "    a: y\n"
        "  name: p\n"
        "  bogus: 1\n"
        "  bogus: 2\n"
        "spec:\n"
        "  containers:\n"
        "  - name: c\n"
        "spec:\n"
        "  containers:\n"
        "  - name: d\n"
        "    name: e\n"
    )
    obj, problems = decode(body, content_type="application/yaml")
    assert problems == [
        "yaml: unmarshal errors:\n"
        '  line 4: key "a" already set in map\n'
        '  line 7: key "bogus" already set in map\n'
        # go-yaml decodes a value before it sets its key: the repeat inside comes first.
        '  line 14: key "name" already set in map\n'
        '  line 12: key "spec" already set in map',
        'unknown field "metadata.bogus"',
    ]
    # The last value wins, as in YAMLToJSON.
    assert obj["metadata"]["labels"] == {"a": "y"}
    assert obj["spec"]["containers"] == [{"name": "e"}]


@pytest.mark.parametrize(
    ("key", "shown"), [("1", "1"), ("true", "true"), ('"x y"', '"x y"'), ("null", "<nil>")]
)
def test_a_repeated_yaml_key_is_printed_as_go_prints_it(key: str, shown: str) -> None:
    value = decoding.parse_yaml(f"data:\n  {key}: a\n  {key}: b\n".encode())
    assert decoding.yaml_duplicates(value) == (
        f"yaml: unmarshal errors:\n  line 3: key {shown} already set in map"
    )


def test_yaml_without_repeats_and_json_carry_no_yaml_error() -> None:
    assert decoding.yaml_duplicates(decoding.parse_yaml(b"a: 1\nb: 2\n")) == ""
    assert decoding.yaml_duplicates(decoding.parse_json(b'{"a":1,"a":2}')) == ""


def test_a_yaml_error_becomes_one_warning_a_line() -> None:
    """handlers/rest.go parseYAMLWarnings; other problems are warnings as they are."""
    assert decoding.as_warnings(
        [
            'yaml: unmarshal errors:\n  line 3: key "a" already set in map\n'
            '  line 5: key "b" already set in map',
            'unknown field "x"',
        ]
    ) == [
        'line 3: key "a" already set in map',
        'line 5: key "b" already set in map',
        'unknown field "x"',
    ]


def test_yaml_apply_patch_content_type_is_yaml() -> None:
    assert decoding.parse_body(b"a: 1\n", "application/apply-patch+yaml") == {"a": 1}
    assert decoding.parse_body(b'{"a": 1}', "application/apply-patch+yaml") == {"a": 1}


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (b'{"a":', "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"a: [1\n", "application/yaml", 400),
        (b"<a/>", "application/xml", 415),
    ],
)
def test_unreadable_bodies(body: bytes, content_type: str, code: int) -> None:
    with pytest.raises(errors.StatusError) as err:
        decoding.parse_body(body, content_type)
    assert err.value.code == code


def test_yaml_syntax_errors_read_as_kubernetes_words_them() -> None:
    with pytest.raises(errors.StatusError) as err:
        decoding.parse_yaml(b"a:\n\tb: 1\n")
    assert err.value.message == (
        "error converting YAML to JSON: yaml: line 2: found character that cannot start any token"
    )


# --- base64 (format: byte) --------------------------------------------------------------------


def test_byte_fields_must_be_base64() -> None:
    obj, _ = decode('{"data":{"a":"YWJj","b":""}}', "Secret")
    assert obj["data"] == {"a": "YWJj", "b": ""}
    assert "illegal base64 data" in refused('{"data":{"a":"not base64!"}}', "Secret")
    assert "illegal base64 data" in refused('{"data":{"a":"YWJ"}}', "Secret")
    assert "illegal base64 data" in refused('{"binaryData":{"a":"%%%%"}}', "ConfigMap")


def test_base64_error_names_the_offending_byte() -> None:
    assert refused('{"data":{"a":"not base64!"}}', "Secret") == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3'
    )
