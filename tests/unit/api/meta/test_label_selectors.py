"""Label selectors: the query-string form, the LabelSelector object, matching and errors."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api import labels

KEY_ERROR = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("app=web", "app=web"),
        ("app==web", "app==web"),
        ("app!=web", "app!=web"),
        ("env in (prod, dev)", "env in (dev,prod)"),
        ("env notin (prod)", "env notin (prod)"),
        ("tier", "tier"),
        ("!tier", "!tier"),
        ("replicas>2", "replicas>2"),
        ("replicas<2", "replicas<2"),
        ("x in (a,,b)", "x in (,a,b)"),
        ("x in ()", "x in ()"),
        ("x=", "x="),
        ("z=1, a=2", "a=2,z=1"),
        ("x in (in, notin)", "x in (in,notin)"),
    ],
)
def test_parse_reads_every_operator_and_sorts_by_key(text: str, canonical: str) -> None:
    assert str(labels.parse(text)) == canonical


@pytest.mark.parametrize(
    ("text", "have", "matches"),
    [
        ("app=web", {"app": "web"}, True),
        ("app=web", {"app": "db"}, False),
        ("app=web", {}, False),
        ("app!=web", {}, True),
        ("app!=web", {"app": "web"}, False),
        ("env in (a,b)", {"env": "b"}, True),
        ("env in (a,b)", {}, False),
        ("env notin (a,b)", {}, True),
        ("env notin (a,b)", {"env": "a"}, False),
        ("tier", {"tier": ""}, True),
        ("tier", {}, False),
        ("!tier", {}, True),
        ("!tier", {"tier": "x"}, False),
        ("n>2", {"n": "3"}, True),
        ("n>2", {"n": "2"}, False),
        ("n<2", {"n": "-1"}, True),
        ("n>2", {"n": "three"}, False),
        ("n>2", {}, False),
        ("", {"anything": "x"}, True),
        ("app=web,tier=db", {"app": "web", "tier": "db"}, True),
        ("app=web,tier=db", {"app": "web"}, False),
    ],
)
def test_selectors_match_labels_as_kubernetes_does(
    text: str, have: dict[str, str], matches: bool
) -> None:
    assert labels.parse(text).matches(have) is matches


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a@b", f'unable to parse requirement: <nil>: Invalid value: "a@b": {KEY_ERROR}'),
        (
            "app=we b",
            "found 'b', expected: ',' or 'end of string'",
        ),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a=b,", "found '', expected: identifier after ','"),
        ("=b", "found '=', expected: !, identifier, or 'end of string'"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        (
            "a>b",
            "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' "
            "operators, the value must be an integer",
        ),
        (
            "app=-x",
            'unable to parse requirement: values[0][app]: Invalid value: "-x": a valid label must '
            "be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
            "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
    ],
)
def test_bad_selectors_raise_the_api_servers_message(text: str, message: str) -> None:
    with pytest.raises(labels.SelectorError) as caught:
        labels.parse(text)
    assert str(caught.value) == message


def test_new_requirement_aggregates_several_problems() -> None:
    with pytest.raises(labels.SelectorError) as caught:
        labels.new_requirement("a@", labels.EQUALS, [])
    text = str(caught.value)
    assert text.startswith('[key: Invalid value: "a@": ')
    assert text.endswith(
        "values: Invalid value: []string{}: exact-match compatibility requires one single value]"
    )


def test_unknown_operator_lists_the_supported_ones() -> None:
    with pytest.raises(labels.SelectorError) as caught:
        labels.new_requirement("a", "like", ["b"])
    assert str(caught.value) == (
        'operator: Unsupported value: "like": supported values: "in", "notin", "=", "==", "!=", '
        '"gt", "lt", "exists", "!"'
    )


# --- the object form ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "have", "matches"),
    [
        ({"matchLabels": {"app": "web"}}, {"app": "web", "x": "y"}, True),
        ({"matchLabels": {"app": "web"}}, {"app": "db"}, False),
        (
            {"matchExpressions": [{"key": "env", "operator": "In", "values": ["a"]}]},
            {"env": "a"},
            True,
        ),
        ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["a"]}]}, {}, True),
        ({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, {"env": ""}, True),
        ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, {"env": ""}, False),
        ({}, {"anything": "x"}, True),
        (None, {"anything": "x"}, False),
    ],
)
def test_label_selector_objects_match(
    selector: dict[str, Any] | None, have: dict[str, str], matches: bool
) -> None:
    assert labels.from_label_selector(selector).matches(have) is matches


def test_empty_selector_object_is_everything_and_nil_is_nothing() -> None:
    assert labels.from_label_selector({}).empty()
    assert not labels.from_label_selector(None).empty()


def test_bad_operator_in_a_selector_object() -> None:
    with pytest.raises(labels.SelectorError) as caught:
        labels.from_label_selector({"matchExpressions": [{"key": "a", "operator": "Gt"}]})
    assert str(caught.value) == '"Gt" is not a valid label selector operator'


def test_in_without_values_in_a_selector_object_prints_a_nil_slice() -> None:
    with pytest.raises(labels.SelectorError) as caught:
        labels.from_label_selector({"matchExpressions": [{"key": "a", "operator": "In"}]})
    assert str(caught.value) == (
        "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be "
        "empty"
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (
            {"key": "a", "operator": "In"},
            "spec.selector.matchExpressions[0].values: Required value: must be specified when "
            "`operator` is 'In' or 'NotIn'",
        ),
        (
            {"key": "a", "operator": "Exists", "values": ["x"]},
            "spec.selector.matchExpressions[0].values: Forbidden: may not be specified when "
            "`operator` is 'Exists' or 'DoesNotExist'",
        ),
        (
            {"key": "a", "operator": "Equals", "values": ["x"]},
            'spec.selector.matchExpressions[0].operator: Invalid value: "Equals": not a valid '
            "selector operator",
        ),
        (
            {"key": "a", "operator": "In", "values": ["-x"]},
            'spec.selector.matchExpressions[0].values[0]: Invalid value: "-x": a valid label must '
            "be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
            "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
    ],
)
def test_validate_label_selector_reports_each_expression(
    expression: dict[str, Any], expected: str
) -> None:
    errs = labels.validate_label_selector({"matchExpressions": [expression]}, "spec.selector")
    assert [str(e) for e in errs] == [expected]


def test_validate_label_selector_checks_match_labels_as_labels() -> None:
    errs = labels.validate_label_selector({"matchLabels": {"a": "-"}}, "spec.selector")
    assert [str(e).split(":")[0] for e in errs] == ["spec.selector.matchLabels"]


def test_selector_from_set_and_exact_match() -> None:
    selector = labels.selector_from_set({"b": "2", "a": "1"})
    assert str(selector) == "a=1,b=2"
    assert selector.requires_exact_match("a") == "1"
    assert labels.parse("a!=1").requires_exact_match("a") is None


@pytest.mark.parametrize(
    ("selector", "text"),
    [
        (None, "<none>"),
        ({}, "<none>"),
        (
            {
                "matchLabels": {"tier": "web", "app": "shop"},
                "matchExpressions": [
                    {"key": "env", "operator": "NotIn", "values": ["prod", "dev"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                ],
            },
            "app=shop,!canary,env notin (dev,prod),tier=web",
        ),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": []}]}, "<error>"),
        ({"matchExpressions": [{"key": "app", "operator": "Near"}]}, "<error>"),
    ],
)
def test_format_label_selector_prints_as_kubectl_does(selector: Any, text: str) -> None:
    assert labels.format_label_selector(selector) == text
