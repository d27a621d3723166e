"""Services' spec.trafficDistribution in 1.37: PreferSameZone and PreferSameNode are accepted
(PreferSameTrafficDistribution is GA), PreferClose still is but earns a deprecation warning, and
anything else is refused with Kubernetes' list of supported values."""

from __future__ import annotations

from typing import Any

import pytest
from apiserver_fixtures import Stores

from kubelite.api import errors
from kubelite.apiserver.auth import current_warnings

Obj = dict[str, Any]
NS = "default"
DEPRECATED = 'spec.trafficDistribution: "PreferClose" is deprecated; use "PreferSameZone"'


def service(name: str, distribution: str | None) -> Obj:
    spec: Obj = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    if distribution is not None:
        spec["trafficDistribution"] = distribution
    return {"metadata": {"name": name}, "spec": spec}


async def create_with_warnings(stores: Stores, body: Obj) -> tuple[Obj, list[str]]:
    warnings: list[str] = []
    token = current_warnings.set(warnings)
    try:
        created = await stores.of("services").create(NS, body)
    finally:
        current_warnings.reset(token)
    return created, warnings


@pytest.mark.parametrize("distribution", ["PreferSameZone", "PreferSameNode"])
async def test_new_values_are_accepted_without_warning(stores: Stores, distribution: str) -> None:
    created, warnings = await create_with_warnings(stores, service("web", distribution))
    assert created["spec"]["trafficDistribution"] == distribution
    assert warnings == []


async def test_prefer_close_is_accepted_with_the_deprecation_warning(stores: Stores) -> None:
    created, warnings = await create_with_warnings(stores, service("web", "PreferClose"))
    assert created["spec"]["trafficDistribution"] == "PreferClose"
    assert warnings == [DEPRECATED]


async def test_an_update_to_prefer_close_warns_once(stores: Stores) -> None:
    services = stores.of("services")
    await services.create(NS, service("web", None))

    async def to_prefer_close(current: Obj | None) -> Obj:
        assert current is not None
        current["spec"]["trafficDistribution"] = "PreferClose"
        current["metadata"].pop("resourceVersion", None)
        return current

    warnings: list[str] = [DEPRECATED]  # Already there: warning.AddWarning deduplicates.
    token = current_warnings.set(warnings)
    try:
        await services.update(NS, "web", to_prefer_close)
    finally:
        current_warnings.reset(token)
    assert warnings == [DEPRECATED]


async def test_other_values_are_refused_naming_the_supported_ones(stores: Stores) -> None:
    with pytest.raises(errors.StatusError) as caught:
        await create_with_warnings(stores, service("web", "PreferRegion"))
    assert caught.value.code == 422
    assert (
        'spec.trafficDistribution: Unsupported value: "PreferRegion": supported values: '
        '"PreferClose", "PreferSameZone", "PreferSameNode"'
    ) in caught.value.message
