"""Event strategies: core/v1 Event and events.k8s.io/v1 Event share one storage."""

from __future__ import annotations

from kubelite.api.strategy import Strategy


class CoreEventStrategy(Strategy):
    allow_create_on_update = True


class EventsV1Strategy(Strategy):
    allow_create_on_update = True
