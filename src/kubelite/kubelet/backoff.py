"""Exponential back-off per key, as client-go's `flowcontrol.Backoff` gives the kubelet.

The kubelet keeps two: one for restarting crashed containers (CrashLoopBackOff) and one for
pulling images (ImagePullBackOff). Both start at 10 s and double to 300 s
(`MaxContainerBackOff`, `backOffPeriod` in pkg/kubelet/kubelet.go). An entry not touched for
twice the maximum (10 minutes) is forgotten, so a container that ran for ten minutes
starts over at 10 s when it next crashes.

Times are the caller's (seconds, any monotonic-ish clock): a container's back-off is measured
from when it finished, not from when the kubelet noticed.
"""

from __future__ import annotations

from collections.abc import Callable

from kubelite.client import flowcontrol

# pkg/kubelet/kubelet.go: backOffPeriod and MaxContainerBackOff.
INITIAL_BACKOFF = 10.0
MAX_BACKOFF = 300.0


class Backoff(flowcontrol.Backoff):
    """client-go's back-off with the kubelet's delays."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        initial: float = INITIAL_BACKOFF,
        maximum: float = MAX_BACKOFF,
    ) -> None:
        super().__init__(clock, initial=initial, maximum=maximum)
