"""A real etcd for the store tests that run on etcd (tests/etcd_server.py)."""

from tests.etcd_server import etcd_server, etcd_server_factory

__all__ = ["etcd_server", "etcd_server_factory"]
