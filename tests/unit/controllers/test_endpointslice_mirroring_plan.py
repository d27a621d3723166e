"""The mirroring controller, table-driven: a selectorless Service's hand-written Endpoints in,
mirrored slices out."""

from __future__ import annotations

from typing import Any

import pytest
from endpoints_fixtures import service

from kubelite.api import meta
from kubelite.controllers.endpointslicemirroring import (
    desired_groups,
    plan_for_endpoints,
    should_mirror,
)

Obj = dict[str, Any]


def endpoints(*subsets: Obj, labels: dict[str, str] | None = None, **annotations: str) -> Obj:
    md: Obj = {"name": "ext", "namespace": "ns", "uid": "ep-uid"}
    if labels:
        md["labels"] = labels
    if annotations:
        md["annotations"] = annotations
    return {"metadata": md, "subsets": list(subsets)}


def test_only_selectorless_services_not_skipped_are_mirrored() -> None:
    ep = endpoints()
    assert should_mirror(ep, service("ext", selector={}))
    assert not should_mirror(ep, service("ext"))
    assert not should_mirror(ep, None)
    skipped = endpoints(labels={"endpointslice.kubernetes.io/skip-mirror": "true"})
    assert not should_mirror(skipped, service("ext", selector={}))


@pytest.mark.parametrize(
    ("subsets", "expected"),
    [
        (
            [{"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 80, "protocol": "TCP"}]}],
            {"IPv4": [(["192.0.2.1"], True)]},
        ),
        (
            [
                {
                    "addresses": [{"ip": "192.0.2.1"}, {"ip": "2001:db8::1"}],
                    "notReadyAddresses": [{"ip": "192.0.2.2"}],
                }
            ],
            {
                "IPv4": [(["192.0.2.1"], True), (["192.0.2.2"], False)],
                "IPv6": [(["2001:db8::1"], True)],
            },
        ),
    ],
)
def test_groups(subsets: list[Obj], expected: dict[str, list[tuple[list[str], bool]]]) -> None:
    groups = desired_groups(endpoints(*subsets))
    got = {
        family: [
            (e["addresses"], e["conditions"]["ready"])
            for g in by_ports.values()
            for e in g.endpoints.values()
        ]
        for family, by_ports in groups.items()
    }
    assert got == expected


def test_at_most_1000_addresses_of_a_subset_are_mirrored() -> None:
    subset = {"addresses": [{"ip": f"10.0.{i // 250}.{i % 250 + 1}"} for i in range(1200)]}
    (group,) = desired_groups(endpoints(subset))["IPv4"].values()
    assert len(group.endpoints) == 1000


def test_a_mirrored_slice_keeps_the_endpoints_labels_annotations_and_owner() -> None:
    ep = endpoints(
        {
            "addresses": [{"ip": "192.0.2.1", "hostname": "db", "nodeName": "n1"}],
            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
        },
        labels={"team": "db"},
        note="kept",
        **{"kubectl.kubernetes.io/last-applied-configuration": "{}"},
    )
    plan = plan_for_endpoints(ep, [])
    (eps,) = plan.create
    assert eps["metadata"]["labels"] == {
        "team": "db",
        "kubernetes.io/service-name": "ext",
        "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io",
    }
    assert eps["metadata"]["annotations"] == {"note": "kept"}
    assert eps["metadata"]["ownerReferences"][0]["kind"] == "Endpoints"
    assert eps["ports"] == [{"name": "pg", "protocol": "TCP", "port": 5432}]
    assert eps["endpoints"] == [
        {
            "addresses": ["192.0.2.1"],
            "conditions": {"ready": True},
            "hostname": "db",
            "nodeName": "n1",
        }
    ]
    stored = meta.clone(eps)
    stored["metadata"].update({"name": "ext-abcde", "uid": "s1", "resourceVersion": "3"})
    assert plan_for_endpoints(ep, [stored]).empty()
    emptied = endpoints()
    assert [meta.name_of(s) for s in plan_for_endpoints(emptied, [stored]).delete] == ["ext-abcde"]
