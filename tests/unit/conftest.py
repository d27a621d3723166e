"""Registers the one real API server of the unit tests (`testcluster`) for every unit test."""

from testcluster import api_server, kube

__all__ = ["api_server", "kube"]
