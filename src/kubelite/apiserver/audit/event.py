"""One request's audit event (`audit.k8s.io/v1` Event), and how it is written.

An event is made once per audited request and written at each stage it reaches
(RequestReceived, ResponseStarted for long-running requests, ResponseComplete or Panic), each
time with that stage and its time. Its JSON has the fields in the order of the Go struct
(`pkg/apis/audit/v1/types.go`), leaves out the empty ones as its `omitempty` tags do, and writes
times as metav1.MicroTime does: RFC 3339 in UTC with microseconds.
"""

from __future__ import annotations

import logging
import os
import time
from ipaddress import IPv6Address, ip_address
from typing import Any

import orjson

from kubelite.apiserver.audit.policy import RESPONSE_STARTED
from kubelite.apiserver.auth import User, user_info

log = logging.getLogger(__name__)

KIND = "Event"
API_VERSION = "audit.k8s.io/v1"
# The request and response header carrying the audit ID (auditinternal.HeaderAuditID).
HEADER_AUDIT_ID = "Audit-ID"
# User agents longer than this are cut, and say so (audit/request.go).
MAX_USER_AGENT_LENGTH = 1024
USER_AGENT_TRUNCATE_SUFFIX = "...TRUNCATED"
# What the authorization filter notes (endpoints/filters/authorization.go).
DECISION_ANNOTATION = "authorization.k8s.io/decision"
REASON_ANNOTATION = "authorization.k8s.io/reason"
DECISION_ALLOW = "allow"
DECISION_FORBID = "forbid"


# Random bytes for audit IDs, fetched many IDs at a time: a getrandom call per request was the
# largest single cost of auditing one (about 20 us under load on this project's machines).
_RANDOM_BATCH = 16 * 256
_random = memoryview(b"")


def new_audit_id() -> str:
    """A random (version 4) UUID, as google/uuid's New gives WithAuditInit."""
    global _random
    if len(_random) < 16:
        _random = memoryview(os.urandom(_RANDOM_BATCH))
    h = _random[:16].hex()
    _random = _random[16:]
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


# The formatted second of the last time written: events come many to a second, and the
# formatting of the date and time is most of the cost of a timestamp.
_last_second: tuple[int, str] = (-1, "")


def micro_time(stamp: float) -> str:
    """metav1.MicroTime's JSON: `2006-01-02T15:04:05.000000Z`."""
    global _last_second
    seconds, micros = divmod(round(stamp * 1_000_000), 1_000_000)
    known, text = _last_second
    if known != seconds:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _last_second = (seconds, text)
    return f"{text}.{micros:06d}Z"


def _canonical_ip(text: str) -> str | None:
    """net.ParseIP then String(): None for what is not an address; IPv4 in IPv6 as IPv4."""
    try:
        address = ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def source_ips(forwarded_for: str, real_ip: str, peer: str | None) -> list[str]:
    """utilnet.SourceIPs: X-Forwarded-For's valid addresses, X-Real-Ip unless already there,
    then the peer's address unless it is the last one already."""
    ips: list[str] = []
    if forwarded_for:
        for part in forwarded_for.split(","):
            found = _canonical_ip(part)
            if found is not None:
                ips.append(found)
    if real_ip:
        found = _canonical_ip(real_ip)
        if found is not None and found not in ips:
            ips.append(found)
    if peer:
        remote = _canonical_ip(peer) if ips or ":" in peer else peer
        if remote is not None and (not ips or ips[-1] != remote):
            ips.append(remote)
    return ips


def truncate_user_agent(agent: str) -> str:
    if len(agent) > MAX_USER_AGENT_LENGTH:
        return agent[:MAX_USER_AGENT_LENGTH] + USER_AGENT_TRUNCATE_SUFFIX
    return agent


class AuditEvent:
    """What is known of one audited request so far; `line` writes it at a stage."""

    __slots__ = (
        "annotations",
        "audit_id",
        "completed",
        "failed_authentication",
        "impersonated_user",
        "level",
        "long_running",
        "object_ref",
        "omit_managed_fields",
        "omit_stages",
        "received",
        "received_text",
        "request_object",
        "request_uri",
        "response_object",
        "response_status",
        "source_ips",
        "started",
        "user",
        "user_agent",
        "verb",
    )

    def __init__(
        self,
        *,
        level: str,
        audit_id: str,
        request_uri: str,
        verb: str,
        user: dict[str, Any],
        source_ips: list[str],
        user_agent: str,
        object_ref: dict[str, str] | None,
        received: float,
        omit_stages: frozenset[str] = frozenset(),
        omit_managed_fields: bool = False,
        long_running: bool = False,
    ) -> None:
        self.level = level
        self.audit_id = audit_id
        self.request_uri = request_uri
        self.verb = verb
        self.user = user
        self.impersonated_user: dict[str, Any] | None = None
        self.source_ips = source_ips
        self.user_agent = user_agent
        self.object_ref = object_ref
        self.response_status: dict[str, Any] | None = None
        self.request_object: Any = None
        self.response_object: Any = None
        self.received = received
        self.received_text = micro_time(received)
        self.annotations: dict[str, str] = {}
        self.omit_stages = omit_stages
        self.omit_managed_fields = omit_managed_fields
        self.long_running = long_running
        # Set once ResponseStarted is written (long-running requests) and once finished.
        self.started = False
        self.completed = False
        # A request whose credentials were refused: written once, at ResponseStarted.
        self.failed_authentication = False

    def annotate(self, key: str, value: str) -> None:
        """logAnnotation: a key keeps its first value (a different second one is refused)."""
        known = self.annotations.get(key)
        if known is None:
            self.annotations[key] = value
        elif known != value:
            log.warning(
                'Failed to set annotations["%s"] to "%s" for audit:"%s", it has already been '
                'set to "%s"',
                key,
                value,
                self.audit_id,
                known,
            )

    def impersonated(self, user: User) -> None:
        """LogImpersonatedUser: whom the request acts as."""
        self.impersonated_user = user_info(user)

    def authorized(self, allowed: bool, reason: str) -> None:
        """The authorizer's decision and its reason (empty reasons too, as Kubernetes)."""
        self.annotate(DECISION_ANNOTATION, DECISION_ALLOW if allowed else DECISION_FORBID)
        self.annotate(REASON_ANNOTATION, reason)

    def set_code(self, code: int) -> None:
        """The status code, on the status already known (a Status body's) or alone."""
        if self.response_status is None:
            self.response_status = {"metadata": {}, "code": code}
        else:
            self.response_status["code"] = code

    def to_dict(self, stage: str, stage_timestamp: float) -> dict[str, Any]:
        event: dict[str, Any] = {
            "kind": KIND,
            "apiVersion": API_VERSION,
            "level": self.level,
            "auditID": self.audit_id,
            "stage": stage,
            "requestURI": self.request_uri,
            "verb": self.verb,
            "user": self.user,
        }
        if self.impersonated_user is not None:
            event["impersonatedUser"] = self.impersonated_user
        if self.source_ips:
            event["sourceIPs"] = self.source_ips
        if self.user_agent:
            event["userAgent"] = self.user_agent
        if self.object_ref:
            event["objectRef"] = self.object_ref
        if self.response_status is not None:
            event["responseStatus"] = self.response_status
        if self.request_object is not None:
            event["requestObject"] = self.request_object
        if self.response_object is not None:
            event["responseObject"] = self.response_object
        event["requestReceivedTimestamp"] = self.received_text
        event["stageTimestamp"] = (
            self.received_text if stage_timestamp == self.received else micro_time(stage_timestamp)
        )
        if self.annotations:
            # Go writes a map's keys sorted.
            event["annotations"] = dict(sorted(self.annotations.items()))
        return event

    def line(self, stage: str, stage_timestamp: float) -> bytes | None:
        """The event at `stage` as one line of the log; None when the policy omits the stage."""
        if stage == RESPONSE_STARTED:
            self.started = True
        if stage in self.omit_stages:
            return None
        return orjson.dumps(self.to_dict(stage, stage_timestamp), option=orjson.OPT_APPEND_NEWLINE)
