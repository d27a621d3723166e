"""The Strategy base: metadata validation for every kind, generation, and the status subresource."""

from __future__ import annotations

from typing import Any

from kubelite.api.strategy import Strategy
from kubelite.api.validation import names

Obj = dict[str, Any]


class Tracked(Strategy):
    tracks_generation = True
    has_status_subresource = True


class ClusterScoped(Strategy):
    namespaced = False
    name_rule = staticmethod(names.name_is_dns_label)


def stored(**extra: Any) -> Obj:
    return {
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "u-1",
            "resourceVersion": "7",
            "creationTimestamp": "2025-06-01T12:00:00Z",
            "generation": 3,
        },
        "spec": {"replicas": 1},
        "status": {"ready": 1},
        **extra,
    }


def test_validate_checks_metadata_with_the_kinds_name_rule() -> None:
    errs = ClusterScoped().validate({"metadata": {"name": "a.b"}})
    assert [e.field for e in errs] == ["metadata.name"]


def test_validate_of_a_good_object_is_clean() -> None:
    assert Strategy().validate({"metadata": {"name": "web", "namespace": "default"}}) == []


def test_update_checks_the_name_only_as_a_path_segment() -> None:
    # A name made under an older, looser rule still passes an update.
    class LabelNamed(Strategy):
        name_rule = staticmethod(names.name_is_dns_label)

    old = stored()
    old["metadata"]["name"] = "Old_Name"
    new = stored()
    new["metadata"]["name"] = "Old_Name"
    assert LabelNamed().validate({"metadata": {"name": "Old_Name", "namespace": "d"}}) != []
    assert LabelNamed().validate_update(new, old) == []


def test_update_reports_a_bad_label_once() -> None:
    new = stored()
    new["metadata"]["labels"] = {"bad key": "x"}
    errs = Strategy().validate_update(new, stored())
    assert [e.field for e in errs] == ["metadata.labels"]


def test_create_resets_status_and_starts_generation_at_one() -> None:
    obj: Obj = {"metadata": {"name": "web"}, "spec": {}, "status": {"ready": 5}}
    Tracked().prepare_for_create(obj)
    assert obj["status"] == {}
    assert obj["metadata"]["generation"] == 1


def test_spec_change_bumps_generation_and_keeps_status() -> None:
    new = stored()
    new["spec"]["replicas"] = 3
    new["status"] = {"ready": 99}
    Tracked().prepare_for_update(new, stored())
    assert new["metadata"]["generation"] == 4
    assert new["status"] == {"ready": 1}


def test_metadata_only_change_keeps_generation() -> None:
    new = stored()
    new["metadata"]["labels"] = {"a": "b"}
    Tracked().prepare_for_update(new, stored())
    assert new["metadata"]["generation"] == 3


def test_status_write_keeps_the_stored_spec_and_new_metadata() -> None:
    new = stored()
    new["spec"] = {"replicas": 10}
    new["status"] = {"ready": 2}
    new["metadata"]["annotations"] = {"note": "x"}
    Tracked().prepare_for_status_update(new, stored())
    assert new["spec"] == {"replicas": 1}
    assert new["status"] == {"ready": 2}
    assert new["metadata"]["annotations"] == {"note": "x"}


def test_status_write_validates_metadata_rules() -> None:
    new = stored()
    new["metadata"]["uid"] = "u-2"
    errs = Tracked().validate_status_update(new, stored())
    assert [str(e) for e in errs] == ['metadata.uid: Invalid value: "u-2": field is immutable']
