"""Argument forms and error messages shared by the kubectl-like commands."""

from __future__ import annotations

import pytest

from kubelite.cli.kubectl.apply import annotated, last_applied_configuration
from kubelite.cli.kubectl.kubectl_args import (
    CommandError,
    api_error_message,
    report_errors,
    split_resource_args,
)
from kubelite.client.errors import error_from_status


@pytest.mark.parametrize(
    ("args", "pairs"),
    [
        (["pods"], [("pods", None)]),
        (["pods", "a", "b"], [("pods", "a"), ("pods", "b")]),
        (["pods,svc"], [("pods", None), ("svc", None)]),
        (["pod/a", "svc/b"], [("pod", "a"), ("svc", "b")]),
    ],
)
def test_resource_argument_forms(args: list[str], pairs: list[tuple[str, str | None]]):
    assert split_resource_args(args, "get") == pairs


def test_mixing_forms_is_refused():
    with pytest.raises(CommandError, match="there is no need to specify a resource type"):
        split_resource_args(["pods", "pod/a"], "get")


def status(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    body = {"kind": "Status", "code": code, "reason": reason, "message": message}
    if details:
        body["details"] = details
    return body


def test_api_errors_print_as_kubectl_prints_them():
    not_found = error_from_status(status(404, "NotFound", 'pods "x" not found'))
    assert api_error_message(not_found) == 'Error from server (NotFound): pods "x" not found'
    no_reason = error_from_status(status(500, "", "boom"))
    assert api_error_message(no_reason) == "Error from server: boom"
    unauthorized = error_from_status(status(401, "Unauthorized", "Unauthorized"))
    assert api_error_message(unauthorized) == (
        "error: You must be logged in to the server (Unauthorized)"
    )


def test_a_single_invalid_error_names_the_object_and_its_fields(capsys: pytest.CaptureFixture):
    invalid = error_from_status(
        status(
            422,
            "Invalid",
            'Pod "p" is invalid: ...',
            {
                "kind": "Pod",
                "name": "p",
                "causes": [
                    {"field": "spec.containers[0].image", "message": "Required value"},
                    {"field": "metadata.name", "message": "Invalid value"},
                ],
            },
        )
    )
    assert report_errors([invalid]) == 1
    assert capsys.readouterr().err == (
        'The Pod "p" is invalid: \n'
        "* spec.containers[0].image: Required value\n"
        "* metadata.name: Invalid value\n"
    )


def test_several_errors_print_one_per_line(capsys: pytest.CaptureFixture):
    errors = [
        error_from_status(status(404, "NotFound", 'pods "a" not found')),
        CommandError("something else"),
    ]
    assert report_errors(errors) == 1
    assert capsys.readouterr().err == (
        'Error from server (NotFound): pods "a" not found\nerror: something else\n'
    )


def test_last_applied_configuration_is_what_kubectl_writes():
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["a && b"]}]},
    }
    expected = (
        '{"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{},"name":"p",'
        '"namespace":"default"},"spec":{"containers":[{"command":["a \\u0026\\u0026 b"],'
        '"image":"busybox","name":"c"}]}}\n'
    )
    assert last_applied_configuration(obj) == expected
    with_annotation = annotated(obj)
    annotations = with_annotation["metadata"]["annotations"]
    assert annotations == {"kubectl.kubernetes.io/last-applied-configuration": expected}
    # Applying again computes the same value from the annotated object.
    assert last_applied_configuration(with_annotation) == expected
    assert "annotations" not in obj["metadata"]
