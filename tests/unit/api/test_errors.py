"""Field errors print their bad values as Kubernetes' field.Error prints them."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api import errors


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("web", '"web"'),
        (5, "5"),
        (True, "true"),
        # A nil is the string "null" to 1.33's ErrorBody, quoted by %q (1.34 prints JSON).
        (None, '"null"'),
        # A []string is printed with %#v, not as JSON.
        (errors.GoStrings(("10.44.0.1",)), '[]string{"10.44.0.1"}'),
        (errors.GoStrings(("a", "b")), '[]string{"a", "b"}'),
        (errors.GoStrings(()), "[]string{}"),
        (errors.GoStrings(None), "[]string(nil)"),
        (errors.GoStrings(('say "hi"\n',)), '[]string{"say \\"hi\\"\\n"}'),
        # A string is printed with %q: control and invisible characters escaped as Go does.
        ("a\x00b", '"a\\x00b"'),
        ("zero\u200bwidth", '"zero\\u200bwidth"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("\U0001f600", '"\U0001f600"'),
    ],
)
def test_invalid_values_are_printed_as_go_prints_them(value: Any, shown: str) -> None:
    assert str(errors.invalid("spec.x", value, "why")) == f"spec.x: Invalid value: {shown}: why"


def test_go_quote_escapes_as_strconv_quote() -> None:
    assert errors.go_quote('a"b\\c\td\x01') == '"a\\"b\\\\c\\td\\x01"'
    assert errors.go_quote("é") == '"é"'


def test_statuses_quote_the_name_as_go_does() -> None:
    # NewNotFound, NewAlreadyExists, NewConflict, NewForbidden and NewInvalid use %q.
    name = 'a\x00"b'
    shown = '"a\\x00\\"b"'
    assert errors.not_found("events", name).message == f"events {shown} not found"
    assert errors.already_exists("events", name).message == f"events {shown} already exists"
    assert errors.conflict("events", name, "why").message == (
        f"Operation cannot be fulfilled on events {shown}: why"
    )
    assert errors.forbidden("events", name, "why").message == f"events {shown} is forbidden: why"
    assert errors.invalid_object("Event", name, [errors.required("reason")]).message == (
        f"Event {shown} is invalid: reason: Required value"
    )
