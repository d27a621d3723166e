"""The audit policy: reading, validation in kube-apiserver's words, and which rule a request
matches (`pkg/audit/policy/checker.go`, `pkg/apis/audit/validation/validation.go`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.apiserver.audit import AuditOptions
from kubelite.apiserver.audit.policy import (
    METADATA,
    NONE,
    REQUEST,
    REQUEST_RESPONSE,
    Policy,
    PolicyError,
    load_policy,
    parse_policy,
)
from kubelite.apiserver.auth import User
from kubelite.apiserver.request_info import parse

ALICE = User("alice", ("dev", "system:authenticated"))
NODE = User("system:node:n1", ("system:nodes", "system:authenticated"))

POLICY = """
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  userGroups: ["system:nodes"]
- level: None
  nonResourceURLs: ["/healthz*", "/version"]
- level: RequestResponse
  resources:
  - group: ""
    resources: ["pods"]
  omitStages: [ResponseStarted]
  omitManagedFields: false
- level: Request
  resources:
  - group: ""
    resources: ["pods/log", "configmaps"]
    resourceNames: ["special"]
  - group: apps
    resources: ["*/scale"]
  - group: batch
    resources: ["jobs/*"]
- level: Metadata
  namespaces: [""]
  verbs: [get, list]
- level: Request
  users: [alice]
  resources: [{group: "rbac.authorization.k8s.io"}]
- level: Metadata
  verbs: [get, list, watch]
"""


@pytest.fixture(scope="module")
def policy() -> Policy:
    return parse_policy(POLICY)


def level(policy: Policy, method: str, path: str, user: User | None = ALICE) -> str:
    query = path.partition("?")[2]
    watch = "true" if "watch=true" in query else ""
    return policy.evaluate(user, parse(method, path.partition("?")[0], watch), path).level


@pytest.mark.parametrize(
    ("method", "path", "user", "expected"),
    [
        # The first matching rule wins: a node's request is never logged.
        ("GET", "/api/v1/namespaces/default/pods", NODE, NONE),
        # Non-resource URLs: a prefix with `*`, an exact path; other paths fall through.
        ("GET", "/healthz", ALICE, NONE),
        ("GET", "/healthz/etcd", ALICE, NONE),
        ("GET", "/version", ALICE, NONE),
        ("GET", "/versionx", ALICE, METADATA),
        ("GET", "/metrics", ALICE, METADATA),
        # Resources: the group must match; `pods` is not `pods/log`.
        ("POST", "/api/v1/namespaces/default/pods", ALICE, REQUEST_RESPONSE),
        ("GET", "/api/v1/namespaces/default/pods/web/log", ALICE, METADATA),
        # resourceNames narrows every resource of its group entry.
        ("GET", "/api/v1/namespaces/default/pods/special/log", ALICE, REQUEST),
        ("PUT", "/api/v1/namespaces/default/configmaps/special", ALICE, REQUEST),
        ("PUT", "/api/v1/namespaces/default/configmaps/other", ALICE, NONE),
        # `*/scale` matches the scale subresource of any resource of the group, only that one.
        ("PUT", "/apis/apps/v1/namespaces/default/deployments/web/scale", ALICE, REQUEST),
        ("PUT", "/apis/apps/v1/namespaces/default/deployments/web/status", ALICE, NONE),
        ("PUT", "/apis/apps/v1/namespaces/default/deployments/web", ALICE, NONE),
        # `jobs/*` matches every subresource of jobs, and (as checker.go has it, whatever the
        # API docs say) jobs themselves.
        ("PUT", "/apis/batch/v1/namespaces/default/jobs/j/status", ALICE, REQUEST),
        ("PUT", "/apis/batch/v1/namespaces/default/jobs/j", ALICE, REQUEST),
        ("PUT", "/apis/batch/v1/namespaces/default/cronjobs/j", ALICE, NONE),
        # namespaces [""] is the cluster scope; verbs narrow it.
        ("GET", "/api/v1/nodes", ALICE, METADATA),
        ("DELETE", "/api/v1/nodes/n1", ALICE, NONE),
        # A group with no resources matches all of that group's; users narrow it.
        ("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", ALICE, REQUEST),
        ("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", NODE, NONE),
        # The last rule's verbs: watch yes, delete no (no match is None).
        ("GET", "/api/v1/namespaces/default/secrets?watch=true", ALICE, METADATA),
        ("DELETE", "/api/v1/namespaces/default/secrets/s", ALICE, NONE),
    ],
)
def test_the_first_matching_rule_decides_the_level(
    policy: Policy, method: str, path: str, user: User, expected: str
) -> None:
    assert level(policy, method, path, user) == expected


def test_a_request_without_a_user_matches_no_rule_naming_users_or_groups() -> None:
    policy = parse_policy(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
        "- {level: None, userGroups: [system:unauthenticated]}\n"
        "- {level: None, users: [system:anonymous]}\n"
        "- {level: Metadata}\n"
    )
    assert level(policy, "GET", "/api/v1/pods", None) == METADATA


def test_omit_stages_join_the_policys_and_omit_managed_fields_is_the_rules_when_set(
    policy: Policy,
) -> None:
    pods = policy.evaluate(ALICE, parse("GET", "/api/v1/namespaces/d/pods"), "")
    assert pods.omit_stages == {"RequestReceived", "ResponseStarted"}
    assert pods.omit_managed_fields is False
    nodes = policy.evaluate(ALICE, parse("GET", "/api/v1/nodes"), "")
    assert nodes.omit_stages == {"RequestReceived"}
    strict = parse_policy(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitManagedFields: true\nrules:\n"
        "- {level: Metadata, verbs: [get], omitManagedFields: false}\n- {level: Request}\n"
    )
    assert not strict.evaluate(ALICE, parse("GET", "/api/v1/nodes/n"), "").omit_managed_fields
    assert strict.evaluate(ALICE, parse("GET", "/api/v1/nodes"), "").omit_managed_fields


def test_json_policies_are_read_too() -> None:
    policy = parse_policy(
        '{"apiVersion":"audit.k8s.io/v1","kind":"Policy","rules":[{"level":"Request"}]}'
    )
    assert level(policy, "GET", "/anything") == REQUEST


def _rules(*rules: str) -> str:
    return "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n" + "".join(
        f"- {r}\n" for r in rules
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_rules("{verbs: [get]}"), "rules[0].level: Required value"),
        (
            _rules("{level: Metadata}", "{level: Everything}"),
            'rules[1].level: Unsupported value: "Everything": supported values: "None", '
            '"Metadata", "Request", "RequestResponse"',
        ),
        (
            _rules("{level: None, nonResourceURLs: [healthz]}"),
            'rules[0].nonResourceURLs[0]: Invalid value: "healthz": non-resource URL rules '
            "must begin with a '/' character",
        ),
        (
            _rules("{level: None, nonResourceURLs: ['/a*b']}"),
            'rules[0].nonResourceURLs[0]: Invalid value: "/a*b": non-resource URL wildcards '
            "'*' must be the final character of the rule",
        ),
        (
            _rules("{level: None, nonResourceURLs: ['/x'], namespaces: [default]}"),
            'rules[0].nonResourceURLs: Invalid value: []string{"/x"}: rules cannot apply to '
            "both regular resources and non-resource URLs",
        ),
        (
            _rules("{level: None, resources: [{group: '', resourceNames: [a]}]}"),
            'rules[0].resources.resourceNames: Invalid value: []string{"a"}: using '
            "resourceNames requires at least one resource",
        ),
        (
            _rules("{level: None, omitStages: [Sometime]}"),
            'rules[0].omitStages[0]: Invalid value: "Sometime": allowed stages are '
            "RequestReceived,ResponseStarted,ResponseComplete,Panic",
        ),
        (
            _rules("{level: Metadata}", "{}", "{level: Nope}"),
            '[rules[1].level: Required value, rules[2].level: Unsupported value: "Nope": '
            'supported values: "None", "Metadata", "Request", "RequestResponse"]',
        ),
        (
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n",
            "loaded illegal policy with 0 rules",
        ),
        (
            "apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: [{level: None}]\n",
            'failed decoding: no kind "Policy" is registered for version "audit.k8s.io/v1beta1"',
        ),
        (
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: {level: None}\n",
            "failed decoding: json: cannot unmarshal object into Go struct field Policy.rules "
            "of type []audit.PolicyRule",
        ),
    ],
)
def test_invalid_policies_are_refused_in_kube_apiservers_words(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as refused:
        parse_policy(text)
    assert str(refused.value) == message


def test_a_refused_file_is_named_after_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(_rules("{verbs: [get]}"))
    with pytest.raises(PolicyError) as refused:
        load_policy(path)
    assert str(refused.value) == f"rules[0].level: Required value: from file {path}"
    with pytest.raises(PolicyError) as at_start:
        AuditOptions(policy_file=path, log_path="-").auditor()
    assert str(at_start.value) == (
        f"loading audit policy file: rules[0].level: Required value: from file {path}"
    )


def test_negative_rotation_flags_are_refused_as_kube_apiserver_does() -> None:
    assert AuditOptions(max_age=-1, max_backups=-2, max_size=-3).problems() == [
        "--audit-log-maxage -1 can't be a negative number",
        "--audit-log-maxbackup -2 can't be a negative number",
        "--audit-log-maxsize -3 can't be a negative number",
    ]


def test_auditing_needs_both_a_policy_and_a_log(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(_rules("{level: Metadata}"))
    assert AuditOptions(policy_file=path).auditor() is None
    assert AuditOptions(log_path=str(tmp_path / "audit.log")).auditor() is None
