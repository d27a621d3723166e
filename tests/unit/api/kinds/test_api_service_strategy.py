"""apiregistration.k8s.io/v1 APIServices: the name rule, the spec's rules, the defaults, the
Available condition of a local one, what /status may change, and `kubectl get apiservices`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.printers import printer_for
from kubelite.api.strategies.apiregistration import APIServiceStrategy

Obj = dict[str, Any]

STRATEGY = APIServiceStrategy()


def api_service(name: str = "v1alpha1.wardle.example.com", **spec: Any) -> Obj:
    base: Obj = {
        "group": "wardle.example.com",
        "version": "v1alpha1",
        "groupPriorityMinimum": 1000,
        "versionPriority": 15,
        "service": {"namespace": "wardle", "name": "api"},
    }
    base.update(spec)
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": name},
        "spec": {k: v for k, v in base.items() if v is not None},
    }


def errors_of(obj: Obj) -> list[str]:
    STRATEGY.default(obj)
    STRATEGY.prepare_for_create(obj)
    return [str(e) for e in STRATEGY.validate(obj)]


def test_a_valid_api_service_passes_and_its_service_port_defaults_to_443() -> None:
    obj = api_service()
    assert errors_of(obj) == []
    assert obj["spec"]["service"]["port"] == 443
    assert obj["status"] == {}


def test_the_name_must_be_version_dot_group() -> None:
    assert errors_of(api_service(name="wardle")) == [
        'metadata.name: Invalid value: "wardle": '
        'must be `spec.version+"."+spec.group`: "v1alpha1.wardle.example.com"'
    ]
    assert errors_of(api_service(name="a/b")) == [
        "metadata.name: Invalid value: \"a/b\": may not contain '/'"
    ]


def test_group_version_and_priorities() -> None:
    assert errors_of(api_service(name="v2.", group="", version="v2")) == [
        "spec.group: Required value: only v1 may have an empty group and it better be legacy kube"
    ]
    assert errors_of(api_service(name="v1.", group="", version="v1")) == []
    assert errors_of(api_service(name="V1.Bad_Group", group="Bad_Group", version="V1")) == [
        'spec.group: Invalid value: "Bad_Group": a lowercase RFC 1123 subdomain must consist of '
        "lower case alphanumeric characters, '-' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        'spec.version: Invalid value: "V1": a DNS-1035 label must consist of lower case '
        "alphanumeric characters or '-', start with an alphabetic character, and end with an "
        "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
        "'[a-z]([-a-z0-9]*[a-z0-9])?')",
    ]
    assert errors_of(api_service(groupPriorityMinimum=0, versionPriority=1001)) == [
        "spec.groupPriorityMinimum: Invalid value: 0: must be positive and less than 20000",
        "spec.versionPriority: Invalid value: 1001: must be positive and less than 1000",
    ]
    assert errors_of(api_service(groupPriorityMinimum=20000, versionPriority=1000)) == []


def test_a_service_backed_api_service_names_its_service() -> None:
    assert errors_of(api_service(service={}, caBundle="Zm9v", insecureSkipTLSVerify=True)) == [
        "spec.service.namespace: Required value",
        "spec.service.name: Required value",
        "spec.insecureSkipTLSVerify: Invalid value: true: may not be true if caBundle is present",
    ]


def test_a_local_api_service_is_available_and_may_not_carry_tls_settings() -> None:
    obj = api_service(service=None)
    assert errors_of(obj) == []
    (condition,) = obj["status"]["conditions"]
    assert condition["type"] == "Available" and condition["status"] == "True"
    assert (condition["reason"], condition["message"]) == (
        "Local",
        "Local APIServices are always available",
    )
    assert errors_of(api_service(service=None, caBundle="Zm9v", insecureSkipTLSVerify=True)) == [
        'spec.caBundle: Invalid value: "3 bytes": local APIServices may not have a caBundle',
        "spec.insecureSkipTLSVerify: Invalid value: true: "
        "local APIServices may not have insecureSkipTLSVerify",
    ]


def test_an_update_keeps_the_name_rule_and_the_status() -> None:
    old = api_service()
    errors_of(old)
    old["metadata"].update({"resourceVersion": "3", "uid": "u"})
    old["status"] = {"conditions": [{"type": "Available", "status": "False"}]}
    new = api_service(version="v1beta1")
    new["metadata"].update({"resourceVersion": "3", "uid": "u"})
    STRATEGY.default(new)
    STRATEGY.prepare_for_update(new, old)
    assert new["status"] == old["status"]
    assert [str(e) for e in STRATEGY.validate_update(new, old)] == [
        'metadata.name: Invalid value: "v1alpha1.wardle.example.com": '
        'must be `spec.version+"."+spec.group`: "v1beta1.wardle.example.com"'
    ]


def test_a_status_write_changes_only_the_status() -> None:
    old = api_service()
    errors_of(old)
    old["metadata"].update({"resourceVersion": "3", "uid": "u", "labels": {"a": "1"}})
    new = api_service(versionPriority=99)
    new["metadata"].update({"resourceVersion": "3", "uid": "u", "labels": {"a": "2"}})
    new["status"] = {"conditions": [{"type": "Available", "status": "Maybe"}]}
    STRATEGY.prepare_for_status_update(new, old)
    assert new["spec"] == old["spec"]
    assert new["metadata"]["labels"] == {"a": "1"}
    assert [str(e) for e in STRATEGY.validate_status_update(new, old)] == [
        'status.conditions[0].status: Unsupported value: "Maybe": '
        'supported values: "True", "False", "Unknown"'
    ]


def test_kubectl_get_apiservices_columns() -> None:
    printer = printer_for("apiregistration.k8s.io", "APIService")
    assert [c.name for c in printer.columns] == ["Name", "Service", "Available", "Age"]
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    remote = api_service()
    remote["metadata"]["creationTimestamp"] = "2025-12-31T23:59:00Z"
    remote["status"] = {
        "conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]
    }
    assert printer.cells(remote, now) == [
        "v1alpha1.wardle.example.com",
        "wardle/api",
        "False (MissingEndpoints)",
        "60s",
    ]
    local = api_service(name="v1.apps", group="apps", version="v1", service=None)
    local["metadata"]["creationTimestamp"] = "2025-12-31T23:59:00Z"
    errors_of(local)
    assert printer.cells(local, now)[1:3] == ["Local", "True"]
    local["status"] = {}
    assert printer.cells(local, now)[2] == "Unknown"
