"""Messages the kubelet composes for its waiting reasons, worded exactly as Kubernetes words them.

The kubelet's sync loop records them in its reason cache when a start fails or is held back;
`ContainerRuntimeState.waiting_message` carries them into the status.
"""

from __future__ import annotations

from kubelite.api.types import Obj
from kubelite.kubelet.podref import format_pod


def crash_loop_back_off_message(pod: Obj, container_name: str, back_off_seconds: float) -> str:
    """`back-off 10s restarting failed container=app pod=web_default(<uid>)`
    (kuberuntime_manager.go doBackOff, with the pod as format.Pod prints it)."""
    return (
        f"back-off {go_duration(back_off_seconds)} restarting failed "
        f"container={container_name} pod={format_pod(pod)}"
    )


def image_pull_back_off_message(image: str) -> str:
    """`Back-off pulling image "nginx:nope"` (images/image_manager.go)."""
    return f'Back-off pulling image "{image}"'


def go_duration(seconds: float) -> str:
    """A duration as Go's time.Duration prints it: `10s`, `1m20s`, `5m0s`, `1h0m0s`, `1.5s`."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    nanos = round(abs(seconds) * 1_000_000_000)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                return sign + _decimal(nanos, size) + unit
    hours, rest = divmod(nanos, 3600 * 1_000_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000_000)
    text = _decimal(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _decimal(value: int, unit: int) -> str:
    whole, fraction = divmod(value, unit)
    if not fraction:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{str(fraction).rjust(digits, '0').rstrip('0')}"
