"""Registers the fixtures of `apiserver_fixtures` for every test module of this directory."""

from apiserver_fixtures import api, store, stores, watch_settings

__all__ = ["api", "store", "stores", "watch_settings"]
