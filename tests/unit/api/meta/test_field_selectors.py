"""Field selectors: parsing with escapes, matching, and the 400 for an unsupported field."""

from __future__ import annotations

import pytest

from kubelite.api import fields
from kubelite.api.errors import StatusError
from kubelite.api.strategies.apps import DeploymentStrategy
from kubelite.api.strategies.core import ConfigMapStrategy, NodeStrategy, SecretStrategy


@pytest.mark.parametrize(
    ("text", "requirements"),
    [
        ("", []),
        ("metadata.name=web", [("metadata.name", "=", "web")]),
        ("metadata.name==web", [("metadata.name", "=", "web")]),
        ("status.phase!=Running", [("status.phase", "!=", "Running")]),
        ("a=1,,b=2", [("a", "=", "1"), ("b", "=", "2")]),
        # Terms come out sorted as text.
        ("z=1,a=2", [("a", "=", "2"), ("z", "=", "1")]),
        ("a=", [("a", "=", "")]),
        (r"a=x\,y", [("a", "=", "x,y")]),
        (r"a=x\=y", [("a", "=", "x=y")]),
        (r"a=x\\y", [("a", "=", "x\\y")]),
        # The first operator splits the term: the left side has no escapes.
        ("a!b=c", [("a!b", "=", "c")]),
    ],
)
def test_parse_splits_terms_and_unescapes_values(
    text: str, requirements: list[tuple[str, str, str]]
) -> None:
    selector = fields.parse(text)
    assert [(r.field, r.operator, r.value) for r in selector.requirements] == requirements


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
        (r"a=x\y", "invalid field selector: invalid escape sequence: \\y"),
        ("a=x\\", "invalid field selector: invalid escape sequence: \\"),
        ("a=x=y", "invalid field selector: unescaped character in value: 61"),
    ],
)
def test_bad_selectors_raise_kubernetes_message(text: str, message: str) -> None:
    with pytest.raises(fields.SelectorError) as caught:
        fields.parse(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "have", "matches"),
    [
        ("spec.nodeName=n1", {"spec.nodeName": "n1"}, True),
        ("spec.nodeName=n1", {"spec.nodeName": "n2"}, False),
        ("spec.nodeName!=n1", {"spec.nodeName": "n2"}, True),
        # A field the object does not expose reads as "".
        ("spec.nodeName=", {}, True),
        ("spec.nodeName!=", {}, False),
        ("a=1,b=2", {"a": "1", "b": "2"}, True),
        ("a=1,b=2", {"a": "1", "b": "3"}, False),
        (r"a=x\,y", {"a": "x,y"}, True),
    ],
)
def test_selectors_match_field_sets(text: str, have: dict[str, str], matches: bool) -> None:
    assert fields.parse(text).matches(have) is matches


def test_string_form_escapes_values_again() -> None:
    assert str(fields.parse(r"b!=x\,y,a==1")) == r"a=1,b!=x\,y"


def test_requires_exact_match_only_for_equality() -> None:
    selector = fields.parse("spec.nodeName=n1,status.phase!=Failed")
    assert selector.requires_exact_match("spec.nodeName") == "n1"
    assert selector.requires_exact_match("status.phase") is None


def test_transform_drops_terms_rewritten_to_nothing() -> None:
    selector = fields.parse("a=1,b=2").transform(lambda f, v: ("", "") if f == "a" else (f, v))
    assert str(selector) == "b=2"


def rejected(strategy: object, text: str) -> StatusError:
    with pytest.raises(StatusError) as caught:
        strategy.check_field_selector(fields.parse(text))  # type: ignore[attr-defined]
    return caught.value


def test_kind_with_a_conversion_rejects_unknown_fields_by_label() -> None:
    err = rejected(SecretStrategy(), "foo=bar")
    assert (err.code, err.reason, err.message) == (
        400,
        "BadRequest",
        "field label not supported: foo",
    )


def test_kind_without_a_conversion_accepts_only_metadata() -> None:
    err = rejected(ConfigMapStrategy(), "data.x=1")
    assert err.code == 400
    assert err.message == (
        '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )
    DeploymentStrategy().check_field_selector(fields.parse("metadata.namespace=default"))


def test_nodes_do_not_accept_a_namespace_selector() -> None:
    assert rejected(NodeStrategy(), "metadata.namespace=x").message == (
        "field label not supported: metadata.namespace"
    )
    NodeStrategy().check_field_selector(fields.parse("spec.unschedulable=true"))
