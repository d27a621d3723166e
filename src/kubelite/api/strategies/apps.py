"""Strategies of the apps/v1 workload kinds."""

from __future__ import annotations

from kubelite.api.strategy import Strategy


class _Workload(Strategy):
    tracks_generation = True
    has_status_subresource = True


class DeploymentStrategy(_Workload):
    pass


class ReplicaSetStrategy(_Workload):
    pass


class StatefulSetStrategy(_Workload):
    pass


class DaemonSetStrategy(_Workload):
    pass
