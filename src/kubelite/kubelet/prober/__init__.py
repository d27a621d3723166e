"""The kubelet's container probes: startup, liveness and readiness.

`manager.ProbeManager` is what the kubelet uses: it runs one `worker` per running container and
probe kind, each probing through `prober` with one of the handlers (`exec_probe`, `http_probe`,
`tcp_probe`, `grpc_probe`), and keeps the results in `results`, where the pod worker (kills on
liveness and startup failures) and the status manager (ready, started) read them.
"""

from kubelite.kubelet.prober.manager import ProbeManager
from kubelite.kubelet.prober.prober import EventRecorder, PodIP
from kubelite.kubelet.prober.results import FAILURE, SUCCESS, ProbeKind, ProbeUpdate

__all__ = [
    "FAILURE",
    "SUCCESS",
    "EventRecorder",
    "PodIP",
    "ProbeKind",
    "ProbeManager",
    "ProbeUpdate",
]
