"""`kubelite describe limits`: kubectl's LimitRange table. The text is compared with the real
kubectl's in tests/integration/test_limit_range.py."""

from __future__ import annotations

from kubelite.cli.kubectl.describe.limitranges import describe_limit_range


def test_one_row_per_item_and_resource_with_dashes_for_what_is_unset() -> None:
    limit_range = {
        "metadata": {"name": "limits", "namespace": "default"},
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "max": {"cpu": "1", "memory": "1Gi"},
                    "min": {"cpu": "100m"},
                    "default": {"cpu": "1", "memory": "1Gi"},
                    "defaultRequest": {"cpu": "500m", "memory": "1Gi"},
                    "maxLimitRequestRatio": {"cpu": "4"},
                },
                {"type": "Pod", "max": {"cpu": "2"}},
                {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}},
            ]
        },
    }
    assert describe_limit_range(limit_range) == (
        # The first column is aligned over every line, as Go's tabwriter aligns it.
        "Name:                  limits\n"
        "Namespace:             default\n"
        "Type                   Resource  Min   Max  Default Request  Default Limit  "
        "Max Limit/Request Ratio\n"
        "----                   --------  ---   ---  ---------------  -------------  "
        "-----------------------\n"
        "Container              cpu       100m  1    500m             1              4\n"
        "Container              memory    -     1Gi  1Gi              1Gi            -\n"
        "Pod                    cpu       -     2    -                -              -\n"
        "PersistentVolumeClaim  storage   1Gi   -    -                -              -\n"
    )


def test_a_limit_range_without_items_is_its_header() -> None:
    text = describe_limit_range({"metadata": {"name": "empty", "namespace": "ns"}, "spec": {}})
    assert text.splitlines()[:2] == ["Name:       empty", "Namespace:  ns"]
    assert len(text.splitlines()) == 4
