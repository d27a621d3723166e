"""RBAC's rule matching and rule coverage, case by case (after Kubernetes' rbac/v1
`evaluation_helpers.go`, `plugin/pkg/auth/authorizer/rbac/rbac_test.go` and
`registry/rbac/validation/policy_comparator_test.go`)."""

from __future__ import annotations

import pytest

from kubelite.apiserver.rbac.rules import (
    Rule,
    allows_resource,
    allows_url,
    compact,
    parse_rules,
    uncovered,
)


def res(verbs: str, groups: str, resources: str, names: str = "") -> Rule:
    """A resource rule from space-separated lists (`""` is the core group)."""

    def split(text: str) -> tuple[str, ...]:
        return tuple("" if part == '""' else part for part in text.split())

    return Rule(split(verbs), split(groups), split(resources), split(names))


def url(verbs: str, urls: str) -> Rule:
    return Rule(tuple(verbs.split()), non_resource_urls=tuple(urls.split()))


# --- what a rule allows --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "request_", "allowed"),
    [
        pytest.param(res("get", '""', "pods"), ("get", "", "pods", "", ""), True, id="exact"),
        pytest.param(res("get", '""', "pods"), ("list", "", "pods", "", ""), False, id="verb"),
        pytest.param(res("get", '""', "pods"), ("get", "apps", "pods", "", ""), False, id="group"),
        pytest.param(
            res("get", '""', "pods"), ("get", "", "services", "", ""), False, id="resource"
        ),
        pytest.param(res("*", '""', "pods"), ("delete", "", "pods", "", ""), True, id="any-verb"),
        pytest.param(
            res("get", "*", "deployments"),
            ("get", "apps", "deployments", "", ""),
            True,
            id="any-group",
        ),
        pytest.param(
            res("get", '""', "*"), ("get", "", "pods", "log", ""), True, id="star-is-subresources"
        ),
        pytest.param(
            res("get", '""', "pods"),
            ("get", "", "pods", "log", ""),
            False,
            id="resource-is-not-its-subresources",
        ),
        pytest.param(
            res("get", '""', "pods/log"), ("get", "", "pods", "log", ""), True, id="subresource"
        ),
        pytest.param(
            res("get", '""', "pods/log"),
            ("get", "", "pods", "", ""),
            False,
            id="subresource-is-not-the-resource",
        ),
        pytest.param(
            res("update", "apps", "*/status"),
            ("update", "apps", "deployments", "status", ""),
            True,
            id="star-slash-status",
        ),
        pytest.param(
            res("update", "apps", "*/status"),
            ("update", "apps", "deployments", "", ""),
            False,
            id="star-slash-status-not-main",
        ),
        pytest.param(
            res("update", "apps", "*/status"),
            ("update", "apps", "deployments", "scale", ""),
            False,
            id="star-slash-status-not-scale",
        ),
        pytest.param(
            res("get", '""', "pods", "web"), ("get", "", "pods", "", "web"), True, id="named"
        ),
        pytest.param(
            res("get", '""', "pods", "web"),
            ("get", "", "pods", "", "db"),
            False,
            id="named-other",
        ),
        pytest.param(
            res("list", '""', "pods", "web"),
            ("list", "", "pods", "", ""),
            False,
            id="named-rule-no-list",
        ),
        pytest.param(
            res("get", '""', "pods"), ("get", "", "pods", "", "anything"), True, id="no-names-any"
        ),
        pytest.param(
            res("get list", '"" apps', "pods deployments"),
            ("list", "apps", "pods", "", ""),
            True,
            id="lists-are-sets",
        ),
    ],
)
def test_a_resource_rule_allows(
    rule: Rule, request_: tuple[str, str, str, str, str], allowed: bool
) -> None:
    verb, group, resource, subresource, name = request_
    assert allows_resource(rule, verb, group, resource, subresource, name) is allowed


@pytest.mark.parametrize(
    ("rule", "verb", "path", "allowed"),
    [
        pytest.param(url("get", "/healthz"), "get", "/healthz", True, id="exact"),
        pytest.param(url("get", "/healthz"), "get", "/healthz/ping", False, id="exact-only"),
        pytest.param(url("get", "/healthz"), "post", "/healthz", False, id="verb"),
        pytest.param(url("get", "/healthz/*"), "get", "/healthz/ping", True, id="prefix"),
        pytest.param(url("get", "/healthz/*"), "get", "/healthz", False, id="prefix-has-slash"),
        pytest.param(url("get", "/api*"), "get", "/apis/apps", True, id="prefix-no-slash"),
        pytest.param(url("get", "/x**"), "get", "/xyz", True, id="stars-trimmed"),
        pytest.param(url("get", "*"), "get", "/metrics", True, id="star"),
        pytest.param(url("*", "/metrics"), "get", "/metrics", True, id="any-verb"),
        pytest.param(res("*", "*", "*"), "get", "/metrics", False, id="resource-rule"),
    ],
)
def test_a_non_resource_rule_allows(rule: Rule, verb: str, path: str, allowed: bool) -> None:
    assert allows_url(rule, verb, path) is allowed


def test_a_url_rule_allows_no_resource() -> None:
    assert not allows_resource(url("*", "*"), "get", "", "pods", "", "")


def test_rules_parse_from_the_api_form_and_back() -> None:
    obj = [
        {"apiGroups": [""], "resources": ["pods"], "resourceNames": ["web"], "verbs": ["get"]},
        {"nonResourceURLs": ["/healthz"], "verbs": ["get"]},
        "not a rule",
    ]
    parsed = parse_rules(obj)
    assert parsed == (res("get", '""', "pods", "web"), url("get", "/healthz"), Rule())
    assert [r.to_object() for r in parsed[:2]] == obj[:2]
    assert Rule().to_object() == {"verbs": []}


# --- coverage ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("owner", "wanted", "missing"),
    [
        pytest.param([res("get", '""', "pods")], [res("get", '""', "pods")], [], id="same"),
        pytest.param(
            [res("*", '""', "pods")], [res("get list delete", '""', "pods")], [], id="any-verb"
        ),
        pytest.param(
            [res("get", '""', "pods")],
            [res("get list", '""', "pods")],
            [res("list", '""', "pods")],
            id="a-verb-missing",
        ),
        pytest.param(
            [res("get", "*", "deployments")],
            [res("get", "apps extensions", "deployments")],
            [],
            id="any-group",
        ),
        pytest.param(
            [res("get", "apps", "deployments")],
            [res("get", "apps extensions", "deployments")],
            [res("get", "extensions", "deployments")],
            id="a-group-missing",
        ),
        pytest.param(
            [res("get", '""', "*")], [res("get", '""', "pods pods/log")], [], id="any-resource"
        ),
        pytest.param(
            [res("update", "apps", "*/status")],
            [res("update", "apps", "deployments/status")],
            [],
            id="star-slash-status-covers-one",
        ),
        pytest.param(
            [res("update", "apps", "*/status")],
            [res("update", "apps", "deployments")],
            [res("update", "apps", "deployments")],
            id="star-slash-status-not-main",
        ),
        pytest.param(
            [res("update", "apps", "deployments/status")],
            [res("update", "apps", "*/status")],
            [res("update", "apps", "*/status")],
            id="one-status-not-star-slash",
        ),
        pytest.param(
            [res("get", '""', "pods")],
            [res("get", '""', "pods", "web")],
            [],
            id="all-names-cover-one",
        ),
        pytest.param(
            [res("get", '""', "pods", "web")],
            [res("get", '""', "pods", "web")],
            [],
            id="same-name",
        ),
        pytest.param(
            [res("get", '""', "pods", "web")],
            [res("get", '""', "pods")],
            [res("get", '""', "pods")],
            id="one-name-not-all",
        ),
        pytest.param(
            [res("get", '""', "pods", "web")],
            [res("get", '""', "pods", "web db")],
            [res("get", '""', "pods", "db")],
            id="a-name-missing",
        ),
        pytest.param([url("get", "/healthz")], [url("get", "/healthz")], [], id="url-exact"),
        pytest.param(
            [url("get", "/api/*")],
            [url("get", "/api/v1 /apis")],
            [url("get", "/apis")],
            id="url-prefix",
        ),
        pytest.param([url("get", "/api*")], [url("get", "/apis/apps")], [], id="url-prefix-bare"),
        pytest.param([url("*", "*")], [url("get post", "/a /b/c")], [], id="url-star"),
        pytest.param(
            [url("get", "/api/v1")],
            [url("get", "/api/*")],
            [url("get", "/api/*")],
            id="url-not-prefix",
        ),
        pytest.param(
            [res("*", "*", "*")],
            [url("get", "/healthz")],
            [url("get", "/healthz")],
            id="resources-not-urls",
        ),
        pytest.param(
            [url("*", "*")],
            [res("get", '""', "pods")],
            [res("get", '""', "pods")],
            id="urls-not-resources",
        ),
        pytest.param(
            [res("get", '""', "pods"), res("list", '""', "pods")],
            [res("get list", '""', "pods")],
            [],
            id="parts-by-different-owners",
        ),
        pytest.param(
            [],
            [res("get", '"" apps', "a b")],
            [
                res("get", '""', "a"),
                res("get", '""', "b"),
                res("get", "apps", "a"),
                res("get", "apps", "b"),
            ],
            id="broken-down-group-resource-verb",
        ),
    ],
)
def test_coverage(owner: list[Rule], wanted: list[Rule], missing: list[Rule]) -> None:
    assert uncovered(owner, wanted) == missing


def test_compact_merges_the_verbs_of_one_group_and_resource() -> None:
    parts = uncovered([], [res("get list", '""', "pods"), res("watch", '""', "pods")])
    assert compact(parts) == [res("get list watch", '""', "pods")]


def test_compact_keeps_names_and_urls_apart() -> None:
    parts = [
        res("get", '""', "pods", "a"),
        res("update", '""', "pods", "a"),
        res("get", '""', "pods", "b"),
        res("get", '""', "pods"),
        url("get", "/x"),
        url("post", "/x"),
        res("get", '""', "pods services"),
    ]
    assert sorted(map(str, compact(parts))) == sorted(
        [
            '{APIGroups:[""], Resources:["pods"], ResourceNames:["a"], Verbs:["get" "update"]}',
            '{APIGroups:[""], Resources:["pods"], ResourceNames:["b"], Verbs:["get"]}',
            '{APIGroups:[""], Resources:["pods"], Verbs:["get"]}',
            '{NonResourceURLs:["/x"], Verbs:["get"]}',
            '{NonResourceURLs:["/x"], Verbs:["post"]}',
            '{APIGroups:[""], Resources:["pods" "services"], Verbs:["get"]}',
        ]
    )


# --- as an escalation error prints a rule --------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        (
            res("get list", '""', "pods"),
            '{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}',
        ),
        (url("get", "/healthz /livez"), '{NonResourceURLs:["/healthz" "/livez"], Verbs:["get"]}'),
        (
            res("update", "apps", "deployments", "web"),
            '{APIGroups:["apps"], Resources:["deployments"], ResourceNames:["web"], '
            'Verbs:["update"]}',
        ),
        (res("get", '""', 'a"b'), '{APIGroups:[""], Resources:["a\\"b"], Verbs:["get"]}'),
    ],
)
def test_str_is_kubernetes_compact_string(rule: Rule, text: str) -> None:
    assert str(rule) == text


def test_str_leaves_out_empty_verbs_as_compact_string_does() -> None:
    assert (
        str(Rule(api_groups=("",), resources=("pods",))) == '{APIGroups:[""], Resources:["pods"]}'
    )
