"""Controller settings that come from kube-controller-manager's flags (node lifecycle, pod
garbage collection), apart from the controllers so that reading the flags imports nothing
else."""

from __future__ import annotations

from dataclasses import dataclass

# kube-controller-manager's defaults (1.33).
MONITOR_PERIOD = 5.0
GRACE_PERIOD = 50.0
STARTUP_GRACE_PERIOD = 60.0
EVICTION_RATE = 0.1
SECONDARY_EVICTION_RATE = 0.01
UNHEALTHY_ZONE_THRESHOLD = 0.55
LARGE_CLUSTER_THRESHOLD = 50


@dataclass
class NodeLifecycleConfig:
    """The node lifecycle controller's timings and rates, with kube-controller-manager's
    defaults."""

    monitor_period: float = MONITOR_PERIOD
    grace_period: float = GRACE_PERIOD
    startup_grace_period: float = STARTUP_GRACE_PERIOD
    eviction_rate: float = EVICTION_RATE
    secondary_eviction_rate: float = SECONDARY_EVICTION_RATE
    unhealthy_zone_threshold: float = UNHEALTHY_ZONE_THRESHOLD
    large_cluster_threshold: int = LARGE_CLUSTER_THRESHOLD


# kube-controller-manager's --terminated-pod-gc-threshold default; 0 or less turns the
# terminated-pod collection off.
TERMINATED_POD_GC_THRESHOLD = 12500
# The pod garbage collector's gcCheckPeriod and quarantineTime.
GC_CHECK_PERIOD = 20.0
QUARANTINE_TIME = 40.0


@dataclass(frozen=True)
class PodGCSettings:
    """The pod garbage collector's threshold and periods, with kube-controller-manager's
    defaults."""

    terminated_pod_threshold: int = TERMINATED_POD_GC_THRESHOLD
    period: float = GC_CHECK_PERIOD
    quarantine: float = QUARANTINE_TIME
