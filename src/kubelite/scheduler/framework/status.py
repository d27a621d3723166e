"""What a plugin answers: a code and the reasons a person can act on.

Kubernetes keeps the outcomes apart because the scheduler does different things with them: a
node that is Unschedulable for a pod may become fit (another pod leaves it), one that is
UnschedulableAndUnresolvable will not (preemption would not help), an Error is the scheduler's own
trouble (the pod is retried after a back-off), and Skip from a PreFilter or PreScore means the
plugin has nothing to say about this pod, so its Filter or Score is not run at all.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Code(enum.IntEnum):
    """The kinds of answer a plugin gives, as Kubernetes' framework codes: unschedulable kinds
    differ in whether preemption could help."""

    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5


@dataclass(slots=True)
class Status:
    """A plugin's answer: a code, the reasons a person can act on, and the plugin that gave it."""

    code: Code = Code.SUCCESS
    reasons: list[str] = field(default_factory=list)
    # The plugin that answered; filled by the framework when a plugin leaves it out.
    plugin: str = ""

    @property
    def ok(self) -> bool:
        return self.code == Code.SUCCESS

    @property
    def rejects(self) -> bool:
        """Whether the node (or the pod, from a PreFilter) is refused."""
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def message(self) -> str:
        return ", ".join(self.reasons)


# Success carries nothing, so one shared instance serves every plugin (never mutate it).
SUCCESS = Status()
SKIP = Status(Code.SKIP)


def unschedulable(*reasons: str, plugin: str = "") -> Status:
    return Status(Code.UNSCHEDULABLE, list(reasons), plugin)


def unresolvable(*reasons: str, plugin: str = "") -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, list(reasons), plugin)


def error(reason: str, plugin: str = "") -> Status:
    return Status(Code.ERROR, [reason], plugin)
