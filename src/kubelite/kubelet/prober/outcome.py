"""What one probe attempt answers, before thresholds: Kubernetes' pkg/probe result kinds.

A handler (exec, httpGet, tcpSocket, grpc) returns an `Outcome`: a result and the output a person
reads in the `Unhealthy` event. A handler that could not even try (a named port that does not
exist, a container the runtime no longer has) raises `ProbeError` instead: Kubernetes throws such
a result away rather than counting it against the thresholds (worker.go's doProbe).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ProbeResult(Enum):
    """pkg/probe/probe.go's Result. A warning counts as a success, with a `ProbeWarning` event."""

    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One probe attempt's result and output, before the worker applies the success and failure
    thresholds."""

    result: ProbeResult
    output: str = ""


class ProbeError(Exception):
    """The probe could not be run; the message is what Kubernetes' error would print."""


# How much of a command's output or an HTTP body a probe keeps (maxReadLength in
# pkg/probe/exec/exec.go, maxRespBodyLength in pkg/probe/http/http.go: 10 KiB).
MAX_OUTPUT_BYTES = 10 * 1024
