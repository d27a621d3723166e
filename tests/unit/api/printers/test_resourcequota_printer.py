"""`kubectl get quota` rows: `used/hard` per limit, `limits.*` in their own column."""

from __future__ import annotations

import datetime as dt

from kubelite.api import meta
from kubelite.api.printers import printer_for
from kubelite.api.printers.resourcequota import resource_quota_cells

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)


def test_columns_are_kubernetes_own() -> None:
    columns = [c.name for c in printer_for("", "ResourceQuota").columns]
    assert columns == ["Name", "Age", "Request", "Limit"]


def test_each_limit_is_shown_used_over_hard_sorted_limits_apart() -> None:
    quota = {
        "metadata": {
            "name": "compute",
            "creationTimestamp": meta.format_time(NOW - dt.timedelta(minutes=3)),
        },
        "status": {
            "hard": {"pods": "10", "requests.cpu": "1", "limits.cpu": "2", "limits.memory": "1Gi"},
            "used": {"pods": "1", "requests.cpu": "500m", "limits.cpu": "1"},
        },
    }
    assert resource_quota_cells(quota, NOW) == [
        "compute",
        "3m",
        "pods: 1/10, requests.cpu: 500m/1",
        "limits.cpu: 1/2, limits.memory: 0/1Gi",
    ]


def test_a_quota_the_controller_has_not_seen_shows_nothing() -> None:
    quota = {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "1"}}}
    assert resource_quota_cells(quota, NOW)[2:] == ["", ""]
