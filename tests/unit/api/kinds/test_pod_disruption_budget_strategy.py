"""policy/v1 PodDisruptionBudgets: what the strategy refuses with Kubernetes' field errors,
what it resets, the columns of `kubectl get pdb`, and which pods a budget covers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api import poddisruptionbudget
from kubelite.api.printers import printer_for
from kubelite.api.strategies.policy import PodDisruptionBudgetStrategy

Obj = dict[str, Any]

STRATEGY = PodDisruptionBudgetStrategy()
PERCENT = (
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or "
    "'93%', regex used for validation is '[0-9]+%')"
)


def stored(**spec: Any) -> Obj:
    """A budget as read back from storage, ready for an update."""
    obj = pdb(**spec)
    obj["metadata"].update({"resourceVersion": "7", "generation": 1, "uid": "u"})
    return obj


def pdb(name: str = "web", **spec: Any) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
    }


def errors_of(obj: Obj) -> list[str]:
    STRATEGY.default(obj)
    return [str(e) for e in STRATEGY.validate(obj)]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"minAvailable": 2}, []),
        ({"minAvailable": "50%"}, []),
        ({"maxUnavailable": 0}, []),
        ({}, []),  # neither: valid, and allows no disruption
        (
            {"minAvailable": 1, "maxUnavailable": 1},
            [
                "spec: Invalid value: policy.PodDisruptionBudgetSpec{MinAvailable:"
                "(*intstr.IntOrString)(0xc000000000), Selector:(*v1.LabelSelector)(0xc000000000), "
                "MaxUnavailable:(*intstr.IntOrString)(0xc000000000), UnhealthyPodEvictionPolicy:"
                "(*policy.UnhealthyPodEvictionPolicyType)(nil)}: minAvailable and maxUnavailable "
                "cannot be both set"
            ],
        ),
        (
            {"minAvailable": -1},
            ["spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"],
        ),
        ({"maxUnavailable": "half"}, [f"spec.maxUnavailable: Invalid value: half: {PERCENT}"]),
        (
            {"minAvailable": "150%"},
            ["spec.minAvailable: Invalid value: 150%: must not be greater than 100%"],
        ),
        (
            {"minAvailable": 1, "unhealthyPodEvictionPolicy": "Sometimes"},
            [
                'spec.unhealthyPodEvictionPolicy: Unsupported value: "Sometimes": supported '
                'values: "AlwaysAllow", "IfHealthyBudget"'
            ],
        ),
        (
            {
                "minAvailable": 1,
                "selector": {"matchExpressions": [{"key": "app", "operator": "In"}]},
            },
            [
                "spec.selector.matchExpressions[0].values: Required value: must be specified "
                "when `operator` is 'In' or 'NotIn'"
            ],
        ),
    ],
)
def test_spec_rules(spec: Obj, expected: list[str]) -> None:
    assert errors_of(pdb(**spec)) == expected


def test_names_need_only_fit_in_a_path_and_come_after_the_spec() -> None:
    assert errors_of(pdb("Upper_Case.ok", minAvailable=1)) == []
    assert errors_of(pdb("a/b", minAvailable=1)) == [
        "metadata.name: Invalid value: \"a/b\": may not contain '/'"
    ]
    # Kubernetes checks metadata only once the spec passed.
    assert errors_of(pdb("a/b", minAvailable=-1)) == [
        "spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"
    ]


def test_create_resets_the_status_to_zero_counters_and_starts_at_generation_one() -> None:
    obj = pdb(minAvailable=1)
    obj["status"] = {"disruptionsAllowed": 5}
    STRATEGY.prepare_for_create(obj)
    assert obj["status"] == {
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    }
    assert obj["metadata"]["generation"] == 1


def test_a_spec_change_is_a_new_generation_and_keeps_the_status() -> None:
    old = stored(minAvailable=1)
    old["status"] = {"disruptionsAllowed": 1}
    new = stored(minAvailable=2)
    new["status"] = {"disruptionsAllowed": 9}
    STRATEGY.prepare_for_update(new, old)
    assert new["metadata"]["generation"] == 2
    assert new["status"] == {"disruptionsAllowed": 1}
    assert STRATEGY.validate_update(new, old) == []


def test_status_writes_keep_counters_non_negative_and_conditions_well_formed() -> None:
    old = stored(minAvailable=1)
    new = stored(minAvailable=1)
    new["status"] = {
        "disruptionsAllowed": -1,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
        "conditions": [
            {"type": "DisruptionAllowed", "status": "Maybe", "reason": "no good"},
        ],
    }
    STRATEGY.prepare_for_status_update(new, old)
    assert [str(e) for e in STRATEGY.validate_status_update(new, old)] == [
        'status.conditions[0].status: Unsupported value: "Maybe": supported values: "False", '
        '"True", "Unknown"',
        "status.conditions[0].lastTransitionTime: Required value: must be set",
        'status.conditions[0].reason: Invalid value: "no good": a condition reason must start '
        "with alphabetic character, optionally followed by a string of alphanumeric characters "
        "or '_,:', and must end with an alphanumeric character or '_' (e.g. 'my_name',  or "
        "'MY_NAME',  or 'MyName',  or 'ReasonA,ReasonB',  or 'ReasonA:ReasonB', regex used for "
        "validation is '[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?')",
        "status.disruptionsAllowed: Invalid value: -1: must be greater than or equal to 0",
    ]


def test_columns_show_the_numbers_as_given_and_na_for_the_other() -> None:
    printer = printer_for("policy", "PodDisruptionBudget")
    assert [c.name for c in printer.columns] == [
        "Name",
        "Min Available",
        "Max Unavailable",
        "Allowed Disruptions",
        "Age",
    ]
    now = dt.datetime(2025, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
    obj = pdb(maxUnavailable="25%")
    obj["metadata"]["creationTimestamp"] = "2025-05-01T11:58:00Z"
    obj["status"] = {"disruptionsAllowed": 2}
    assert printer.cells(obj, now) == ["web", "N/A", "25%", 2, "2m"]
    assert printer.cells(pdb(minAvailable=3), now)[1:4] == ["3", "N/A", 0]


@pytest.mark.parametrize(
    ("selector", "namespace", "covered"),
    [
        ({"matchLabels": {"app": "web"}}, "default", True),
        ({"matchLabels": {"app": "db"}}, "default", False),
        ({"matchLabels": {"app": "web"}}, "other", False),
        ({}, "default", True),  # policy/v1: an empty selector covers the whole namespace
        (None, "default", False),  # no selector covers nothing
        ({"matchExpressions": [{"key": "app", "operator": "Bad"}]}, "default", False),
    ],
)
def test_which_pods_a_budget_covers(selector: Obj | None, namespace: str, covered: bool) -> None:
    budget = pdb()
    budget["spec"]["selector"] = selector
    pod = {"metadata": {"name": "p", "namespace": namespace, "labels": {"app": "web"}}}
    assert poddisruptionbudget.selects(budget, pod) is covered
