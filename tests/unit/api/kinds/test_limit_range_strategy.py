"""core/v1 LimitRanges: SetDefaults_LimitRangeItem, ValidateLimitRange with Kubernetes' field
errors (a Quantity bad value printed as Go's `%#v` prints it), the strategy's create rules and
the columns of `kubectl get limits`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api.printers import printer_for
from kubelite.api.strategies.limitrange import LimitRangeStrategy

Obj = dict[str, Any]

STRATEGY = LimitRangeStrategy()


def limit_range(*items: Obj, name: str = "limits") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"limits": list(items)},
    }


def q(value: int, scale: int, text: str, fmt: str = "DecimalSI") -> str:
    """A Quantity as field.Error prints it."""
    return (
        f"resource.Quantity{{i:resource.int64Amount{{value:{value}, scale:{scale}}}, "
        f'd:resource.infDecAmount{{Dec:(*inf.Dec)(nil)}}, s:"{text}", Format:"{fmt}"}}'
    )


def errors_of(*items: Obj) -> list[str]:
    obj = limit_range(*items)
    STRATEGY.default(obj)
    return [str(e) for e in STRATEGY.validate(obj)]


def defaulted(item: Obj) -> Obj:
    obj = limit_range(item)
    STRATEGY.default(obj)
    assert STRATEGY.validate(obj) == []
    STRATEGY.canonicalize(obj)
    result: Obj = obj["spec"]["limits"][0]
    return result


# --- defaults ---------------------------------------------------------------------------------


def test_a_container_max_becomes_the_default_limit_and_request() -> None:
    item = defaulted({"type": "Container", "max": {"cpu": "2", "memory": "1Gi"}})
    assert item["default"] == {"cpu": "2", "memory": "1Gi"}
    assert item["defaultRequest"] == {"cpu": "2", "memory": "1Gi"}


def test_the_default_request_comes_from_the_default_before_the_min() -> None:
    item = defaulted(
        {"type": "Container", "min": {"cpu": "100m", "memory": "64Mi"}, "default": {"cpu": "1"}}
    )
    assert item["defaultRequest"] == {"cpu": "1", "memory": "64Mi"}
    assert item["default"] == {"cpu": "1"}


def test_values_given_are_kept() -> None:
    item = defaulted(
        {
            "type": "Container",
            "max": {"cpu": "2"},
            "default": {"cpu": "1"},
            "defaultRequest": {"cpu": "500m"},
        }
    )
    assert (item["default"], item["defaultRequest"]) == ({"cpu": "1"}, {"cpu": "500m"})


@pytest.mark.parametrize("limit_type", ["Pod", "PersistentVolumeClaim"])
def test_only_container_items_are_defaulted(limit_type: str) -> None:
    bound = {"storage": "1Gi"} if limit_type == "PersistentVolumeClaim" else {"cpu": "1"}
    item = defaulted({"type": limit_type, "max": bound})
    assert "default" not in item and "defaultRequest" not in item


def test_a_container_item_without_bounds_gets_no_empty_lists() -> None:
    assert defaulted({"type": "Container"}) == {"type": "Container"}


def test_quantities_are_stored_rounded_up_to_millis_and_canonical() -> None:
    item = defaulted({"type": "Container", "max": {"cpu": "0.0001", "memory": "1024Mi"}})
    assert item["max"] == {"cpu": "1m", "memory": "1Gi"}
    assert item["default"] == {"cpu": "1m", "memory": "1Gi"}


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item",
    [
        {"type": "Container", "min": {"cpu": "100m"}, "max": {"cpu": "2"}},
        {
            "type": "Container",
            "min": {"memory": "64Mi"},
            "defaultRequest": {"memory": "128Mi"},
            "default": {"memory": "256Mi"},
            "max": {"memory": "1Gi"},
            "maxLimitRequestRatio": {"memory": "4"},
        },
        {"type": "Pod", "max": {"cpu": "4", "ephemeral-storage": "1Gi"}},
        {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}},
        {"type": "example.com/thing", "max": {"example.com/dongle": "1"}},
        {"type": "Container", "default": {"hugepages-2Mi": "2Mi"}, "max": {"memory": "1Gi"}},
    ],
)
def test_valid_limit_ranges(item: Obj) -> None:
    assert errors_of(item) == []


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (
            [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}],
            [
                f"spec.limits[0].min[cpu]: Invalid value: {q(2, 0, '2')}: min value 2 is greater "
                "than max value 1",
                # The defaults come from max, so min is above them too.
                f"spec.limits[0].defaultRequest[cpu]: Invalid value: {q(1, 0, '1')}: min value "
                "2 is greater than default request value 1",
                f"spec.limits[0].default[cpu]: Invalid value: {q(2, 0, '2')}: min value 2 is "
                "greater than default value 1",
            ],
        ),
        (
            [{"type": "Container", "defaultRequest": {"memory": "2Gi"}, "max": {"memory": "1Gi"}}],
            [
                f"spec.limits[0].defaultRequest[memory]: Invalid value: "
                f"{q(2147483648, 0, '2Gi', 'BinarySI')}: default request value 2Gi is greater "
                "than max value 1Gi",
                # The default limit comes from max.
                f"spec.limits[0].defaultRequest[memory]: Invalid value: "
                f"{q(2147483648, 0, '2Gi', 'BinarySI')}: default request value 2Gi is greater "
                "than default limit value 1Gi",
            ],
        ),
        (
            [{"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "1"}}],
            [
                f"spec.limits[0].defaultRequest[cpu]: Invalid value: {q(1, 0, '1')}: default "
                "request value 1 is greater than default limit value 500m",
            ],
        ),
        (
            [
                {
                    "type": "Container",
                    "default": {"cpu": "3"},
                    "defaultRequest": {"cpu": "1"},
                    "max": {"cpu": "2"},
                }
            ],
            # The bad value Kubernetes passes here is the max, not the default.
            [
                f"spec.limits[0].default[cpu]: Invalid value: {q(2, 0, '2')}: default value 3 "
                "is greater than max value 2",
            ],
        ),
        (
            [{"type": "Container", "maxLimitRequestRatio": {"cpu": "500m"}}],
            [
                f"spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: {q(500, -3, '500m')}: "
                "ratio 500m is less than 1",
            ],
        ),
        (
            [
                {
                    "type": "Container",
                    "min": {"cpu": "500m"},
                    "max": {"cpu": "1"},
                    "maxLimitRequestRatio": {"cpu": "3"},
                }
            ],
            [
                f"spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: {q(3, 0, '3')}: "
                "ratio 3 is greater than max/min = 2.000000",
            ],
        ),
        (
            [
                {
                    "type": "Container",
                    "default": {"example.com/gpu": "2"},
                    "defaultRequest": {"example.com/gpu": "1"},
                }
            ],
            [
                f"spec.limits[0].defaultRequest[example.com/gpu]: Invalid value: {q(1, 0, '1')}: "
                "default value 2 must equal to defaultRequest value 1 in example.com/gpu",
            ],
        ),
        (
            [{"type": "Pod", "default": {"cpu": "1"}, "defaultRequest": {"cpu": "1"}}],
            [
                "spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'",
                "spec.limits[0].defaultRequest: Forbidden: may not be specified when `type` is "
                "'Pod'",
            ],
        ),
        (
            [{"type": "Container"}, {"type": "Container"}],
            ['spec.limits[1].type: Duplicate value: "Container"'],
        ),
        (
            [{"type": "Node"}],
            [
                'spec.limits[0].type: Invalid value: "Node": must be a standard limit type or '
                "fully qualified"
            ],
        ),
        (
            [{"type": "PersistentVolumeClaim", "max": {"cpu": "1"}}],
            [
                "spec.limits[0].limits: Required value: either minimum or maximum storage value "
                "is required, but neither was provided",
            ],
        ),
        (
            [{"type": "Container", "max": {"storage": "1Gi"}}],
            # The defaults copied from max are refused too.
            [
                f"spec.limits[0].{field}[storage]: Invalid value: storage: must be a standard "
                "resource for containers"
                for field in ("max", "default", "defaultRequest")
            ],
        ),
        (
            [{"type": "PersistentVolumeClaim", "max": {"storage": "1Gi", "bogus": "1"}}],
            [
                "spec.limits[0].max[bogus]: Invalid value: bogus: must be a standard resource "
                "type or fully qualified",
            ],
        ),
    ],
)
def test_invalid_limit_ranges(items: list[Obj], expected: list[str]) -> None:
    assert errors_of(*items) == expected


def test_a_quantity_given_in_another_form_is_shown_as_kubernetes_parsed_it() -> None:
    # `2000m` is held as 2000 thousandths and prints as `2`; `1.5` as 15 tenths.
    assert errors_of({"type": "Container", "min": {"cpu": "2000m"}, "max": {"cpu": "1.5"}})[0] == (
        f"spec.limits[0].min[cpu]: Invalid value: {q(2000, -3, '2')}: min value 2 is greater "
        "than max value 1500m"
    )


def test_updates_are_validated_as_creates() -> None:
    old = limit_range({"type": "Container", "max": {"cpu": "1"}})
    STRATEGY.default(old)
    new = limit_range({"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}})
    new["metadata"]["resourceVersion"] = "1"
    STRATEGY.default(new)
    assert any("min value 2" in str(e) for e in STRATEGY.validate_update(new, old))


def test_a_limit_range_made_without_a_name_is_named_with_a_uuid() -> None:
    obj = limit_range({"type": "Container"}, name="")
    STRATEGY.prepare_for_create(obj)
    assert len(obj["metadata"]["name"]) == 36
    assert STRATEGY.validate(obj) == []


def test_a_put_of_a_missing_limit_range_creates_it() -> None:
    assert STRATEGY.allow_create_on_update


def test_kubectl_get_limits_shows_name_and_created_at() -> None:
    printer = printer_for("", "LimitRange")
    assert [c.name for c in printer.columns] == ["Name", "Created At"]
    assert printer.columns[1].type == "date"
    obj = limit_range({"type": "Container"})
    obj["metadata"]["creationTimestamp"] = "2025-06-01T10:00:00Z"
    now = dt.datetime(2025, 6, 2, tzinfo=dt.UTC)
    assert printer.cells(obj, now) == ["limits", "2025-06-01T10:00:00Z"]
