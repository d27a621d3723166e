"""The API server's audit log: kube-apiserver's `--audit-policy-file` and `--audit-log-*`.

- `policy`: the `audit.k8s.io/v1` Policy, read, validated and matched against each request;
- `event`: one request's `audit.k8s.io/v1` Event and its JSON line;
- `log_backend`: the file (or standard out) the lines go to, rotated as lumberjack does, written
  from a thread so the event loop never waits on the disk;
- `auditor`: what the application calls at each stage of a request;
- `context`: the current request's event, for admission's annotations (Pod Security).

Auditing is on when both a policy file and a log path are given, as in kube-apiserver (a policy
without a backend, or a backend without a policy, audits nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubelite.apiserver.audit.auditor import Auditor
from kubelite.apiserver.audit.log_backend import LogBackend
from kubelite.apiserver.audit.policy import Policy, PolicyError, load_policy

__all__ = ["AuditOptions", "Auditor", "Policy", "PolicyError", "load_policy"]


@dataclass(frozen=True)
class AuditOptions:
    """The audit flags of `kubelite server`, with kube-apiserver's names and defaults."""

    policy_file: Path | None = None
    log_path: str = ""
    # --audit-log-maxage (days), --audit-log-maxbackup, --audit-log-maxsize (MB; 0 is
    # lumberjack's 100).
    max_age: int = 0
    max_backups: int = 0
    max_size: int = 0

    def problems(self) -> list[str]:
        """AuditLogOptions.Validate's checks of the rotation flags."""
        out = []
        for flag, value in (
            ("--audit-log-maxage", self.max_age),
            ("--audit-log-maxbackup", self.max_backups),
            ("--audit-log-maxsize", self.max_size),
        ):
            if value < 0:
                out.append(f"{flag} {value} can't be a negative number")
        return out

    def load_policy(self) -> Policy | None:
        """The policy, read and validated; PolicyError (kube-apiserver's `loading audit policy
        file: ...`) when it is wrong."""
        if self.policy_file is None:
            return None
        try:
            return load_policy(self.policy_file)
        except PolicyError as e:
            raise PolicyError(f"loading audit policy file: {e}") from None

    def auditor(self) -> Auditor | None:
        """The auditor these options ask for, or None when auditing is off."""
        policy = self.load_policy()
        if policy is None or not self.log_path:
            return None
        backend = LogBackend.open(
            self.log_path,
            max_size_mb=self.max_size,
            max_backups=self.max_backups,
            max_age_days=self.max_age,
        )
        return Auditor(policy, backend)
