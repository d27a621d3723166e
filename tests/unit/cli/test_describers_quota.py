"""`kubelite describe quota`: kubectl's ResourceQuotaDescriber layout. The real kubectl's
text is checked against a live server in tests/integration/test_resource_quota.py."""

from __future__ import annotations

from kubelite.cli.kubectl.describe.quota import describe_quota


def test_the_table_of_used_and_hard_sorted_by_resource() -> None:
    quota = {
        "metadata": {"name": "compute", "namespace": "team"},
        "spec": {"hard": {"pods": "2", "requests.cpu": "1"}},
        "status": {
            "hard": {"requests.cpu": "1", "pods": "2", "requests.memory": "1Gi"},
            "used": {"pods": "1", "requests.cpu": "500m", "requests.memory": "0"},
        },
    }
    assert describe_quota(quota) == (
        "Name:            compute\n"
        "Namespace:       team\n"
        "Resource         Used  Hard\n"
        "--------         ----  ----\n"
        "pods             1     2\n"
        "requests.cpu     500m  1\n"
        "requests.memory  0     1Gi\n"
    )


def test_scopes_are_listed_with_what_they_match() -> None:
    quota = {
        "metadata": {"name": "q", "namespace": "team"},
        "spec": {"hard": {"pods": "2"}, "scopes": ["NotTerminating", "BestEffort"]},
        "status": {"hard": {"pods": "2"}, "used": {"pods": "0"}},
    }
    assert describe_quota(quota).splitlines()[2:5] == [
        "Scopes:     BestEffort, NotTerminating",
        " * Matches all pods that do not have resource requirements set. These pods have a "
        "best effort quality of service.",
        " * Matches all pods that do not have an active deadline. These pods usually include "
        "long running pods whose container command is not expected to terminate.",
    ]
