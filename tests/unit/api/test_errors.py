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
        (None, "null"),
        # A []string is printed with %#v, not as JSON.
        (errors.GoStrings(("10.44.0.1",)), '[]string{"10.44.0.1"}'),
        (errors.GoStrings(("a", "b")), '[]string{"a", "b"}'),
        (errors.GoStrings(()), "[]string{}"),
        (errors.GoStrings(None), "[]string(nil)"),
        (errors.GoStrings(('say "hi"\n',)), '[]string{"say \\"hi\\"\\n"}'),
    ],
)
def test_invalid_values_are_printed_as_go_prints_them(value: Any, shown: str) -> None:
    assert str(errors.invalid("spec.x", value, "why")) == f"spec.x: Invalid value: {shown}: why"


def test_go_quote_escapes_as_strconv_quote() -> None:
    assert errors.go_quote('a"b\\c\td\x01') == '"a\\"b\\\\c\\td\\x01"'
    assert errors.go_quote("é") == '"é"'
