"""The audit event of the request being served, for code deep below the handlers.

kube-apiserver keeps the event in the request's `context.Context`, and admission plugins add
annotations to it with `audit.AddAuditAnnotation` (Pod Security's `enforce-policy` and
`audit-violations`). Here it is a context variable, like `auth.current_warnings`: None when the
request is not audited, so that callers can skip work whose only use is an annotation.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubelite.apiserver.audit.event import AuditEvent

current_event: ContextVar[AuditEvent | None] = ContextVar("current_audit_event", default=None)


def auditing() -> bool:
    """Whether the current request is audited (at Metadata or above)."""
    return current_event.get() is not None


def add_annotation(key: str, value: str) -> None:
    """AddAuditAnnotation: note `key: value` on the current request's audit event, if any."""
    event = current_event.get()
    if event is not None:
        event.annotate(key, value)
