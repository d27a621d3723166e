"""The Pod strategy (Kubernetes' `pkg/registry/core/pod/strategy.go`)."""

from __future__ import annotations

from kubelite.api.strategy import Strategy


class PodStrategy(Strategy):
    has_status_subresource = True
