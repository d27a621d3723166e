"""The Lease strategy (coordination.k8s.io/v1)."""

from __future__ import annotations

from kubelite.api.strategy import Strategy


class LeaseStrategy(Strategy):
    allow_create_on_update = True
