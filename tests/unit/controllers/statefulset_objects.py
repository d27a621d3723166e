"""A StatefulSet and a Running pod status for the StatefulSet controller's unit tests (which
run against the real API server: see test_statefulset_control)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from kubelite.api import meta

Obj = dict[str, Any]
NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
_uids = itertools.count(1)


def stateful_set(replicas: int = 3, image: str = "redis:7", **spec: Any) -> Obj:
    body: Obj = {
        "serviceName": "redis-svc",
        "replicas": replicas,
        "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "revisionHistoryLimit": 10,
        "selector": {"matchLabels": {"app": "redis"}},
        "template": {
            "metadata": {"labels": {"app": "redis"}},
            "spec": {"containers": [{"name": "redis", "image": image}]},
        },
    }
    body.update(spec)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "redis", "namespace": "default", "uid": "set-uid", "generation": 1},
        "spec": body,
        "status": {},
    }


def running(pod: Obj, *, ready_since: dt.datetime = NOW - dt.timedelta(hours=1)) -> Obj:
    pod["status"] = {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": meta.format_time(ready_since)}
        ],
    }
    return pod
