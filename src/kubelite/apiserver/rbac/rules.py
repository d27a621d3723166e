"""RBAC's rule matching and rule coverage (`rbac/v1/evaluation_helpers.go`,
`registry/rbac/validation/policy_comparator.go`).

A rule allows a request when its verbs, API groups, resources (or non-resource URLs) and
resource names all match; `*` matches anything in its list, `*/status` matches the status
subresource of every resource, and a non-resource URL ending in `*` matches by prefix. Coverage
answers the escalation check's question: does one set of rules allow everything another does?
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubelite.api.goformat import go_quote
from kubelite.api.types import Obj

ALL = "*"


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


@dataclass(frozen=True, slots=True)
class Rule:
    """One PolicyRule, its lists as tuples so that rules can be compared and hashed."""

    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def parse(cls, rule: Any) -> Rule:
        if not isinstance(rule, dict):
            return cls()
        return cls(
            _strings(rule.get("verbs")),
            _strings(rule.get("apiGroups")),
            _strings(rule.get("resources")),
            _strings(rule.get("resourceNames")),
            _strings(rule.get("nonResourceURLs")),
        )

    def to_object(self) -> Obj:
        """The rule as the API writes it (keys present only when their list is not empty)."""
        out: Obj = {}
        for key, values in (
            ("verbs", self.verbs),
            ("apiGroups", self.api_groups),
            ("resources", self.resources),
            ("resourceNames", self.resource_names),
            ("nonResourceURLs", self.non_resource_urls),
        ):
            if values or key == "verbs":
                out[key] = list(values)
        return out

    def __str__(self) -> str:
        """As Kubernetes prints a rule in an escalation error (`PolicyRule.CompactString`)."""
        parts = []
        for label, values in (
            ("APIGroups", self.api_groups),
            ("Resources", self.resources),
            ("NonResourceURLs", self.non_resource_urls),
            ("ResourceNames", self.resource_names),
            ("Verbs", self.verbs),
        ):
            if values:
                parts.append(f"{label}:{go_quote_list(values)}")
        return "{" + ", ".join(parts) + "}"


def go_quote_list(values: Iterable[str]) -> str:
    """Go's %q of a []string: `["a" "b"]`."""
    return "[" + " ".join(go_quote(v) for v in values) + "]"


def parse_rules(value: Any) -> tuple[Rule, ...]:
    return tuple(Rule.parse(r) for r in value) if isinstance(value, list) else ()


def verb_matches(rule: Rule, verb: str) -> bool:
    return ALL in rule.verbs or verb in rule.verbs


def group_matches(rule: Rule, group: str) -> bool:
    return ALL in rule.api_groups or group in rule.api_groups


def resource_matches(rule: Rule, resource: str, subresource: str) -> bool:
    """`pods` for pods, `pods/log` (or `*/log`) for a subresource, `*` for any."""
    combined = f"{resource}/{subresource}" if subresource else resource
    for candidate in rule.resources:
        if candidate in (ALL, combined):
            return True
        if subresource and candidate == f"*/{subresource}":
            return True
    return False


def name_matches(rule: Rule, name: str) -> bool:
    return not rule.resource_names or name in rule.resource_names


def _url_in(patterns: tuple[str, ...], path: str) -> bool:
    """`*`, the path itself, or a pattern ending in `*` that is a prefix of it."""
    for candidate in patterns:
        if candidate in (ALL, path):
            return True
        if candidate.endswith("*") and path.startswith(candidate.rstrip("*")):
            return True
    return False


def url_matches(rule: Rule, path: str) -> bool:
    return _url_in(rule.non_resource_urls, path)


def allows_resource(
    rule: Rule, verb: str, group: str, resource: str, subresource: str, name: str
) -> bool:
    """RuleAllows for a resource request."""
    return (
        verb_matches(rule, verb)
        and group_matches(rule, group)
        and resource_matches(rule, resource, subresource)
        and name_matches(rule, name)
    )


def allows_url(rule: Rule, verb: str, path: str) -> bool:
    """RuleAllows for a non-resource request (`/healthz`, `/api`)."""
    return verb_matches(rule, verb) and url_matches(rule, path)


# --- coverage ------------------------------------------------------------------------------


def _breakdown(rule: Rule) -> list[Rule]:
    """A rule as its smallest parts, one verb/group/resource/name (or URL) each
    (`BreakdownRule`), so that each part can be checked on its own."""
    parts = []
    for group in rule.api_groups:
        for resource in rule.resources:
            for verb in rule.verbs:
                if rule.resource_names:
                    for name in rule.resource_names:
                        parts.append(Rule((verb,), (group,), (resource,), (name,)))
                else:
                    parts.append(Rule((verb,), (group,), (resource,)))
    for url in rule.non_resource_urls:
        for verb in rule.verbs:
            parts.append(Rule((verb,), non_resource_urls=(url,)))
    return parts


def _has_all(owner: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    return ALL in owner or all(w in owner for w in wanted)


def _resource_covered(owner: tuple[str, ...], wanted: str) -> bool:
    if ALL in owner or wanted in owner:
        return True
    _, slash, subresource = wanted.partition("/")
    return bool(slash) and f"*/{subresource}" in owner


def _rule_covers(owner: Rule, part: Rule) -> bool:
    """`ruleCovers`: whether one owner rule allows all of a broken-down part."""
    if not _has_all(owner.verbs, part.verbs):
        return False
    if part.non_resource_urls:
        return all(_url_in(owner.non_resource_urls, u) for u in part.non_resource_urls)
    if not _has_all(owner.api_groups, part.api_groups):
        return False
    if not all(_resource_covered(owner.resources, r) for r in part.resources):
        return False
    if not owner.resource_names:
        return True
    return bool(part.resource_names) and all(n in owner.resource_names for n in part.resource_names)


def uncovered(owner: Iterable[Rule], wanted: Iterable[Rule]) -> list[Rule]:
    """The parts of `wanted` that no rule of `owner` allows (`validation.Covers`)."""
    held = list(owner)
    missing = []
    for rule in wanted:
        for part in _breakdown(rule):
            if not any(_rule_covers(o, part) for o in held):
                missing.append(part)
    return missing


def compact(parts: Iterable[Rule]) -> list[Rule]:
    """`CompactRules`: parts that differ only in their verb, one group, one resource and at
    most one name, become one rule with all their verbs (for a readable error)."""
    simple: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
    out: list[Rule] = []
    for rule in parts:
        if (
            len(rule.api_groups) == 1
            and len(rule.resources) == 1
            and len(rule.resource_names) <= 1
            and not rule.non_resource_urls
        ):
            key = (rule.api_groups[0], rule.resources[0], rule.resource_names)
            simple.setdefault(key, []).extend(rule.verbs)
        else:
            out.append(rule)
    for (group, resource, names), verbs in simple.items():
        out.append(Rule(tuple(verbs), (group,), (resource,), names))
    return out
