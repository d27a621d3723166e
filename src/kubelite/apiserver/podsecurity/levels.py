"""Pod Security levels, policy versions, and the namespace labels that choose them.

Kubernetes' `k8s.io/pod-security-admission/api` (constants.go, helpers.go). A namespace says,
with its `pod-security.kubernetes.io/*` labels, which level (privileged, baseline, restricted)
at which policy version (`latest` or `v1.N`) each mode (enforce, audit, warn) applies; a mode
without labels keeps the server's default, which is `privileged:latest` for all three in
kube-apiserver's default configuration:

    >>> policy, problems = policy_to_evaluate(
    ...     {"pod-security.kubernetes.io/enforce": "restricted"}, DEFAULT_POLICY
    ... )
    >>> str(policy.enforce), str(policy.warn), problems
    ('restricted:latest', 'privileged:latest', [])

A label that does not parse is reported (as a field error on `metadata.labels[...]`) and
replaced as Kubernetes replaces it: an enforce level by `restricted` (fail closed), an audit or
warn level by `privileged` (fail open), a version by `latest`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubelite.api import errors

PRIVILEGED = "privileged"
BASELINE = "baseline"
RESTRICTED = "restricted"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)

LABEL_PREFIX = "pod-security.kubernetes.io/"
ENFORCE_LEVEL_LABEL = LABEL_PREFIX + "enforce"
ENFORCE_VERSION_LABEL = LABEL_PREFIX + "enforce-version"
AUDIT_LEVEL_LABEL = LABEL_PREFIX + "audit"
AUDIT_VERSION_LABEL = LABEL_PREFIX + "audit-version"
WARN_LEVEL_LABEL = LABEL_PREFIX + "warn"
WARN_VERSION_LABEL = LABEL_PREFIX + "warn-version"

# ParseVersion's pattern: `v1.` and a minor without leading zeros.
_VERSION = re.compile(r"v1\.([0-9]|[1-9][0-9]*)")
_LEVEL_ERROR = "must be one of " + ", ".join(LEVELS)
_VERSION_ERROR = 'must be "latest" or "v1.x"'


@dataclass(frozen=True, slots=True)
class Version:
    """A policy version: `v1.N`, or `latest` (newer than every numbered version)."""

    major: int = 0
    minor: int = 0
    latest: bool = False

    def __str__(self) -> str:
        return "latest" if self.latest else f"v{self.major}.{self.minor}"

    def older(self, other: Version) -> bool:
        """Whether this version comes before `other`; `latest` comes after all."""
        if self.latest:
            return False
        if other.latest:
            return True
        return (self.major, self.minor) < (other.major, other.minor)


LATEST = Version(latest=True)


def v1(minor: int) -> Version:
    """`v1.<minor>` (api.MajorMinorVersion(1, minor))."""
    return Version(1, minor)


@dataclass(frozen=True, slots=True)
class LevelVersion:
    """A level at a policy version, printed as Kubernetes prints it: `restricted:latest`."""

    level: str
    version: Version

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"


@dataclass(frozen=True, slots=True)
class Policy:
    """What a namespace enforces, audits and warns about."""

    enforce: LevelVersion
    audit: LevelVersion
    warn: LevelVersion

    def fully_privileged(self) -> bool:
        return self.enforce.level == self.audit.level == self.warn.level == PRIVILEGED


# kube-apiserver's PodSecurity defaults when its admission configuration names none.
DEFAULT_POLICY = Policy(
    enforce=LevelVersion(PRIVILEGED, LATEST),
    audit=LevelVersion(PRIVILEGED, LATEST),
    warn=LevelVersion(PRIVILEGED, LATEST),
)


def parse_level(text: str) -> tuple[str, str]:
    """ParseLevel: the level and an error ("" when it parsed); `restricted` when it did not."""
    if text in LEVELS:
        return text, ""
    return RESTRICTED, _LEVEL_ERROR


def parse_version(text: str) -> tuple[Version, str]:
    """ParseVersion: the version and an error ("" when it parsed); `latest` when it did not."""
    if text == "latest":
        return LATEST, ""
    match = _VERSION.fullmatch(text)
    if match is None:
        return LATEST, _VERSION_ERROR
    return v1(int(match.group(1))), ""


def policy_to_evaluate(
    labels: dict[str, str], defaults: Policy = DEFAULT_POLICY
) -> tuple[Policy, list[errors.FieldError]]:
    """PolicyToEvaluate: the namespace's policy from its labels, and what was wrong with them.

    A valid policy comes back whatever the labels say; each label that did not parse is one
    field error, in the order enforce, audit, warn (level before version).
    """
    problems: list[errors.FieldError] = []

    def level(label: str, default: str, fallback: str | None) -> str:
        if label not in labels:
            return default
        value, problem = parse_level(labels[label])
        if not problem:
            return value
        problems.append(errors.invalid(f"metadata.labels[{label}]", labels[label], problem))
        return fallback or value

    def version(label: str, default: Version) -> Version:
        if label not in labels:
            return default
        value, problem = parse_version(labels[label])
        if problem:
            problems.append(errors.invalid(f"metadata.labels[{label}]", labels[label], problem))
        return value

    if not labels:
        return defaults, problems
    policy = Policy(
        enforce=LevelVersion(
            level(ENFORCE_LEVEL_LABEL, defaults.enforce.level, None),
            version(ENFORCE_VERSION_LABEL, defaults.enforce.version),
        ),
        # Audit and warn fail open: a level that does not parse is privileged.
        audit=LevelVersion(
            level(AUDIT_LEVEL_LABEL, defaults.audit.level, PRIVILEGED),
            version(AUDIT_VERSION_LABEL, defaults.audit.version),
        ),
        warn=LevelVersion(
            level(WARN_LEVEL_LABEL, defaults.warn.level, PRIVILEGED),
            version(WARN_VERSION_LABEL, defaults.warn.version),
        ),
    )
    return policy, problems


def compare_levels(a: str, b: str) -> int:
    """CompareLevels: -1 when `a` is less strict than `b`, 0 when as strict, 1 when stricter."""
    if a == b:
        return 0
    if a == PRIVILEGED:
        return -1
    if a == RESTRICTED:
        return 1
    if b == PRIVILEGED:
        return 1
    if b == RESTRICTED:
        return -1
    return 0
