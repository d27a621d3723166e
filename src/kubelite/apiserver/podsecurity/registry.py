"""Which checks run for a level at a policy version, and in what order (policy/registry.go).

Every numbered policy version from v1.0 to the newest a check revision names gets its own list,
built once: each check at its newest revision not newer than that version; for the restricted
level, the baseline checks that no restricted check there overrides, then the restricted ones.
Within a level the checks run in the order of their IDs, baseline first, which is the order of
the reasons in every message. A version newer than the newest listed (and `latest`) is
evaluated as the newest: in Kubernetes 1.37 that is v1.37, where sysctls last changed (in 1.36 it
was v1.35). An API server emulating an older minor evaluates `latest` (and anything newer) as
that minor instead, so its pods meet the checks of the release it stands in for.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubelite.api.types import Obj
from kubelite.apiserver.podsecurity import baseline, restricted
from kubelite.apiserver.podsecurity.checks import Check, CheckPod, CheckResult, VersionedCheck
from kubelite.apiserver.podsecurity.levels import (
    BASELINE,
    PRIVILEGED,
    RESTRICTED,
    LevelVersion,
    Version,
    v1,
)


def _in_force(check: Check, version: Version) -> VersionedCheck | None:
    """The newest revision of `check` whose minimum version is not after `version`."""
    found = None
    for revision in check.versions:
        if not version.older(revision.minimum_version):
            found = revision
    return found


class Evaluator:
    """Runs the checks of a level at a version on a pod (Kubernetes' checkRegistry)."""

    def __init__(self, checks: Sequence[Check], emulation_version: Version | None = None) -> None:
        ids = [c.id for c in checks]
        if len(set(ids)) != len(ids):
            raise ValueError("check IDs must be unique")
        # Max of the newest revisions' minimum versions: every version after it evaluates as it.
        self.max_version = max(
            (c.versions[-1].minimum_version for c in checks), key=lambda v: (v.major, v.minor)
        )
        ordered = sorted((c for c in checks if c.level == BASELINE), key=lambda c: c.id) + sorted(
            (c for c in checks if c.level == RESTRICTED), key=lambda c: c.id
        )
        self._baseline: dict[Version, list[CheckPod]] = {}
        self._restricted: dict[Version, list[CheckPod]] = {}
        for minor in range(self.max_version.minor + 1):
            version = v1(minor)
            in_force = [(c, r) for c in ordered if (r := _in_force(c, version)) is not None]
            overridden = {o for c, r in in_force if c.level == RESTRICTED for o in r.overrides}
            self._baseline[version] = [r.check_pod for c, r in in_force if c.level == BASELINE]
            self._restricted[version] = [r.check_pod for c, r in in_force if c.id not in overridden]
        # NewEvaluator's emulationVersion: only ever lowers the newest version evaluated.
        if emulation_version is not None and emulation_version.older(self.max_version):
            self.max_version = emulation_version

    def evaluate_pod(self, lv: LevelVersion, meta: Obj, spec: Obj) -> list[CheckResult]:
        """The results of every check of `lv` on a pod's metadata and spec, in order."""
        if lv.level == PRIVILEGED:
            return []
        version = self.max_version if self.max_version.older(lv.version) else lv.version
        checks = self._baseline if lv.level == BASELINE else self._restricted
        return [check(meta, spec) for check in checks[version]]


# Kubernetes' DefaultChecks: every check of both levels.
DEFAULT_CHECKS: tuple[Check, ...] = baseline.CHECKS + restricted.CHECKS
EVALUATOR = Evaluator(DEFAULT_CHECKS)
