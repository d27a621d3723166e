"""The audit policy (`audit.k8s.io/v1` Policy): which requests are logged, and how much of them.

kube-apiserver reads it from `--audit-policy-file` (`pkg/audit/policy/reader.go`), validates it
(`pkg/apis/audit/validation/validation.go`) and refuses to start on any error, naming the field
and the file. Each request is then matched against the rules in order
(`pkg/audit/policy/checker.go`): the first rule whose every field matches decides the level
(None, Metadata, Request, RequestResponse), the stages left out (the rule's `omitStages` joined
with the policy's) and whether managed fields are dropped from logged objects (the rule's
`omitManagedFields` when set, else the policy's). A request no rule matches is not logged.

The rules are turned into frozensets once, so that matching one costs a few set lookups.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

from kubelite.api import errors
from kubelite.api.goformat import json_type
from kubelite.api.validation.names import is_dns1123_subdomain
from kubelite.apiserver.auth import User
from kubelite.apiserver.request_info import RequestInfo

GROUP_VERSION = "audit.k8s.io/v1"

NONE = "None"
METADATA = "Metadata"
REQUEST = "Request"
REQUEST_RESPONSE = "RequestResponse"
# The levels from least to most (audit.Level.Less orders them this way).
LEVELS = (NONE, METADATA, REQUEST, REQUEST_RESPONSE)
ORDER = {level: i for i, level in enumerate(LEVELS)}

REQUEST_RECEIVED = "RequestReceived"
RESPONSE_STARTED = "ResponseStarted"
RESPONSE_COMPLETE = "ResponseComplete"
PANIC = "Panic"
STAGES = (REQUEST_RECEIVED, RESPONSE_STARTED, RESPONSE_COMPLETE, PANIC)


class PolicyError(ValueError):
    """A policy kube-apiserver would refuse to start with; the text is its message."""


@dataclass(frozen=True, slots=True)
class GroupResources:
    """Resources of one API group a rule matches (`GroupResources`)."""

    group: str = ""
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RequestAuditConfig:
    """What the policy decided for one request (`auditinternal.RequestAuditConfig`)."""

    level: str
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False


NOT_AUDITED = RequestAuditConfig(NONE)


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One rule (`PolicyRule`); an empty field matches everything."""

    level: str
    users: frozenset[str] = frozenset()
    user_groups: frozenset[str] = frozenset()
    verbs: frozenset[str] = frozenset()
    resources: tuple[GroupResources, ...] = ()
    namespaces: frozenset[str] = frozenset()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: frozenset[str] = frozenset()
    # None: the policy's own value applies.
    omit_managed_fields: bool | None = None

    def matches(self, user: User | None, info: RequestInfo, path: str) -> bool:
        """ruleMatches: users, groups and verbs, then resources or non-resource URLs."""
        if self.users and (user is None or user.name not in self.users):
            return False
        if self.user_groups and (
            user is None or not any(g in self.user_groups for g in user.groups)
        ):
            return False
        if self.verbs and info.verb not in self.verbs:
            return False
        if self.namespaces or self.resources:
            return self._matches_resource(info)
        if self.non_resource_urls:
            return not info.is_resource and any(
                _path_matches(path, spec) for spec in self.non_resource_urls
            )
        return True

    def _matches_resource(self, info: RequestInfo) -> bool:
        if not info.is_resource:
            return False
        # Cluster-scoped resources are in the namespace "".
        if self.namespaces and info.namespace not in self.namespaces:
            return False
        if not self.resources:
            return True
        resource, subresource = info.resource, info.subresource
        combined = f"{resource}/{subresource}" if subresource else resource
        name = info.name or info.selected_name
        for gr in self.resources:
            if gr.group != info.group:
                continue
            if not gr.resources:
                return True
            if gr.resource_names and name not in gr.resource_names:
                continue
            for res in gr.resources:
                if res in (combined, "*"):
                    return True
                if subresource and res.startswith("*/") and res[2:] == subresource:
                    return True
                if res.endswith("/*") and res[:-2] == resource:
                    return True
        return False


def _path_matches(path: str, spec: str) -> bool:
    """pathMatches: `*`, the path itself, or a prefix ending in `*`."""
    if spec in ("*", path):
        return True
    return spec.endswith("*") and path.startswith(spec.rstrip("*"))


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated policy: its rules, in order, and its defaults."""

    rules: tuple[PolicyRule, ...]
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False

    def evaluate(self, user: User | None, info: RequestInfo, path: str) -> RequestAuditConfig:
        """EvaluatePolicyRule: the first matching rule's level, or None."""
        for rule in self.rules:
            if rule.matches(user, info, path):
                return RequestAuditConfig(
                    rule.level,
                    rule.omit_stages | self.omit_stages,
                    self.omit_managed_fields
                    if rule.omit_managed_fields is None
                    else rule.omit_managed_fields,
                )
        return RequestAuditConfig(NONE, self.omit_stages, self.omit_managed_fields)


# --- reading and validation ---------------------------------------------------------------


def load_policy(path: Path | str) -> Policy:
    """LoadPolicyFromFile: the policy in the file, or a PolicyError with kube-apiserver's
    message (`<problem>: from file <path>`)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise PolicyError(f'failed to read file path "{path}": {e}') from None
    try:
        return parse_policy(data)
    except PolicyError as e:
        raise PolicyError(f"{e}: from file {path}") from None


def parse_policy(data: bytes | str) -> Policy:
    """LoadPolicyFromBytes: decode (JSON or YAML), check the kind, validate, and refuse a
    policy without rules."""
    try:
        raw = yaml.safe_load(data)
    except yaml.YAMLError as e:
        raise PolicyError(f"failed decoding: {e}") from None
    if not isinstance(raw, dict):
        raise PolicyError("failed decoding: couldn't get version/kind; json parse error")
    api_version, kind = raw.get("apiVersion"), raw.get("kind")
    if not kind:
        raise PolicyError(f"failed decoding: Object 'Kind' is missing in '{_compact(raw)}'")
    if not api_version:
        raise PolicyError(f"failed decoding: Object 'apiVersion' is missing in '{_compact(raw)}'")
    if api_version != GROUP_VERSION or kind != "Policy":
        raise PolicyError(
            f'failed decoding: no kind "{kind}" is registered for version "{api_version}"'
        )
    rules_raw = _typed(raw.get("rules"), list, "Policy.rules", "[]audit.PolicyRule")
    problems: list[errors.FieldError] = []
    rules = [_rule(r, i, problems) for i, r in enumerate(rules_raw)]
    omit_stages = _strings(raw.get("omitStages"), "Policy.omitStages", "[]audit.Stage")
    omit_managed = _typed(raw.get("omitManagedFields"), bool, "Policy.omitManagedFields", "bool")
    if problems:
        raise PolicyError(errors.aggregate(problems))
    if not rules:
        raise PolicyError("loaded illegal policy with 0 rules")
    # The policy's omitStages are not validated (only each rule's are): an unknown stage there
    # simply never matches, as in Kubernetes.
    return Policy(tuple(rules), frozenset(omit_stages), bool(omit_managed))


def _compact(value: Any) -> str:
    return orjson.dumps(value).decode()


def _typed(value: Any, kind: type, field: str, go_type: str) -> Any:
    """A field of the expected JSON type (or absent); what encoding/json would refuse
    otherwise, in its words."""
    if value is None:
        return kind()
    if kind is bool and isinstance(value, bool):
        return value
    if kind is not bool and isinstance(value, kind) and not isinstance(value, bool):
        return value
    raise PolicyError(
        f"failed decoding: json: cannot unmarshal {json_type(value)} into Go struct field "
        f"{field} of type {go_type}"
    )


def _strings(value: Any, field: str, go_type: str = "[]string") -> list[str]:
    items = _typed(value, list, field, go_type)
    for item in items:
        if not isinstance(item, str):
            raise PolicyError(
                f"failed decoding: json: cannot unmarshal {json_type(item)} into Go struct "
                f"field {field} of type string"
            )
    return list(items)


def _rule(raw: Any, index: int, problems: list[errors.FieldError]) -> PolicyRule:
    if not isinstance(raw, dict):
        raise PolicyError(
            f"failed decoding: json: cannot unmarshal {json_type(raw)} into Go value of type "
            "audit.PolicyRule"
        )
    path = f"rules[{index}]"
    level = _typed(raw.get("level"), str, "PolicyRule.rules.level", "audit.Level")
    urls = _strings(raw.get("nonResourceURLs"), "PolicyRule.rules.nonResourceURLs")
    namespaces = _strings(raw.get("namespaces"), "PolicyRule.rules.namespaces")
    stages = _strings(raw.get("omitStages"), "PolicyRule.rules.omitStages", "[]audit.Stage")
    resources = [
        _group_resources(gr)
        for gr in _typed(
            raw.get("resources"), list, "PolicyRule.rules.resources", "[]audit.GroupResources"
        )
    ]
    omit_managed = raw.get("omitManagedFields")
    if omit_managed is not None:
        omit_managed = _typed(omit_managed, bool, "PolicyRule.rules.omitManagedFields", "bool")

    # validatePolicyRule, in its order: level, URLs, resources, stages, then the mix.
    if level == "":
        problems.append(errors.required(f"{path}.level"))
    elif level not in LEVELS:
        problems.append(errors.not_supported(f"{path}.level", level, LEVELS))
    for i, url in enumerate(urls):
        if url == "*":
            continue
        if not url.startswith("/"):
            problems.append(
                errors.invalid(
                    f"{path}.nonResourceURLs[{i}]",
                    url,
                    "non-resource URL rules must begin with a '/' character",
                )
            )
        if url and "*" in url[:-1]:
            problems.append(
                errors.invalid(
                    f"{path}.nonResourceURLs[{i}]",
                    url,
                    "non-resource URL wildcards '*' must be the final character of the rule",
                )
            )
    for gr in resources:
        # The paths lack the index, as Kubernetes' do.
        if gr.group:
            messages = is_dns1123_subdomain(gr.group)
            if messages:
                problems.append(
                    errors.invalid(f"{path}.resources.group", gr.group, ",".join(messages))
                )
        if gr.resource_names and not gr.resources:
            problems.append(
                errors.invalid(
                    f"{path}.resources.resourceNames",
                    errors.GoStrings(gr.resource_names),
                    "using resourceNames requires at least one resource",
                )
            )
    for i, stage in enumerate(stages):
        if stage not in STAGES:
            problems.append(
                errors.invalid(
                    f"{path}.omitStages[{i}]", stage, "allowed stages are " + ",".join(STAGES)
                )
            )
    if urls and (resources or namespaces):
        problems.append(
            errors.invalid(
                f"{path}.nonResourceURLs",
                errors.GoStrings(tuple(urls)),
                "rules cannot apply to both regular resources and non-resource URLs",
            )
        )
    return PolicyRule(
        level=level,
        users=frozenset(_strings(raw.get("users"), "PolicyRule.rules.users")),
        user_groups=frozenset(_strings(raw.get("userGroups"), "PolicyRule.rules.userGroups")),
        verbs=frozenset(_strings(raw.get("verbs"), "PolicyRule.rules.verbs")),
        resources=tuple(resources),
        namespaces=frozenset(namespaces),
        non_resource_urls=tuple(urls),
        omit_stages=frozenset(stages),
        omit_managed_fields=omit_managed,
    )


def _group_resources(raw: Any) -> GroupResources:
    if not isinstance(raw, dict):
        raise PolicyError(
            f"failed decoding: json: cannot unmarshal {json_type(raw)} into Go struct field "
            "PolicyRule.rules.resources of type audit.GroupResources"
        )
    names = _strings(raw.get("resourceNames"), "GroupResources.rules.resources.resourceNames")
    return GroupResources(
        group=_typed(raw.get("group"), str, "GroupResources.rules.resources.group", "string"),
        resources=tuple(_strings(raw.get("resources"), "GroupResources.rules.resources")),
        resource_names=tuple(names),
    )
