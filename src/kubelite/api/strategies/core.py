"""Strategies of the core/v1 kinds other than Pod and Event."""

from __future__ import annotations

from kubelite.api.strategy import Strategy


class NamespaceStrategy(Strategy):
    has_status_subresource = True


class NodeStrategy(Strategy):
    has_status_subresource = True


class ServiceStrategy(Strategy):
    has_status_subresource = True


class EndpointsStrategy(Strategy):
    allow_create_on_update = True


class ConfigMapStrategy(Strategy):
    pass


class SecretStrategy(Strategy):
    pass


class ServiceAccountStrategy(Strategy):
    pass
