"""Values a careless or hostile client sends, answered as a real cluster answers them.

Each case was looked up in Kubernetes 1.33 rather than guessed, and several are ACCEPTED there:
a core/v1 Event's name is only checked to fit in a URL (events.go skips ObjectMeta validation for
core/v1 writes; rest.BeforeCreate then applies ValidatePathSegmentName), a quantity is capped only
when binary (quantity.go maxAllowed), a null label value is the empty string (sigs.k8s.io/json),
and an empty apiVersion or kind is the endpoint's (the JSON serializer's gvkWithDefaults). What is
accepted must also be stored, listed, watched and read back. What Kubernetes refuses is refused
with its words: a pod overhead or runtimeClassName without a RuntimeClass (the RuntimeClass
admission plugin).
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import orjson
import pytest
from apiserver_fixtures import Api, build_stores, read_watch_lines

from kubelite.storage.sqlite import SqliteStore

PODS = "/api/v1/namespaces/default/pods"
EVENTS = "/api/v1/namespaces/default/events"
EVENTS_V1 = "/apis/events.k8s.io/v1/namespaces/default/events"

SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def pod(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


def with_requests(requests: dict[str, str], *more: dict[str, str]) -> dict[str, Any]:
    body = pod()
    body["spec"]["containers"] = [
        {"name": f"c{i}", "image": "busybox", "resources": {"requests": r, "limits": r}}
        for i, r in enumerate((requests, *more))
    ]
    return body


async def status_of(api: Api, method: str, path: str, body: Any) -> tuple[int, Any]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    response = await api.request(method, path, raw=raw)
    return response.status, orjson.loads(await response.read())


def path_of(collection: str, name: str) -> str:
    return f"{collection}/{urllib.parse.quote(name, safe='')}"


async def get_by_name(api: Api, collection: str, name: str) -> tuple[int, Any]:
    # aiohttp's client would re-quote the path: send it as it is on the wire.
    url = api.client.make_url("").with_path(path_of(collection, name), encoded=True)
    response = await api.client.session.get(
        url, headers={"Authorization": "Bearer admin-token-for-tests"}
    )
    return response.status, orjson.loads(await response.read())


# --- quantities -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ({"cpu": "1e999"}, {"cpu": "1e999"}),
        ({"memory": "99999999999999999999999999Ei"}, {"memory": "9223372036854775807"}),
        ({"cpu": "1e2147483647"}, {"cpu": "10e2147483646"}),
        # An extended resource must be a whole number: 1e999's milli value is 0 in Go.
        ({"example.com/dongle": "1e999"}, {"example.com/dongle": "1e999"}),
    ],
)
async def test_quantities_kubernetes_accepts_are_stored_as_it_prints_them(
    api: Api, sent: dict[str, str], stored: dict[str, str]
) -> None:
    code, created = await status_of(api, "POST", PODS, with_requests(sent))
    assert code == 201, created
    assert created["spec"]["containers"][0]["resources"] == {"requests": stored, "limits": stored}
    code, read = await status_of(api, "GET", f"{PODS}/web", b"")
    assert read["spec"]["containers"][0]["resources"]["requests"] == stored


async def test_a_pod_whose_requests_cannot_be_summed_exactly_is_answered(api: Api) -> None:
    # The QoS class sums the containers' requests: 1e2147483647 plus 1m used to be computed
    # digit by digit, and the request never got its answer (the server's loop was held).
    code, created = await status_of(
        api, "POST", PODS, with_requests({"cpu": "1e2147483647"}, {"cpu": "1m"})
    )
    assert code == 201, created
    assert created["status"]["qosClass"] == "Burstable"


async def test_a_pod_overhead_without_a_runtime_class_is_forbidden(api: Api) -> None:
    code, refused = await status_of(api, "POST", PODS, pod(overhead={"cpu": "1e999"}))
    assert code == 403
    assert refused["reason"] == "Forbidden"
    assert refused["message"] == (
        'pods "web" is forbidden: pod rejected: Pod Overhead set without corresponding '
        "RuntimeClass defined Overhead"
    )
    # Validation comes first (validateOverhead checks it as the limits of a container).
    code, refused = await status_of(api, "POST", PODS, pod(overhead={"cpu": "-1"}))
    assert code == 422
    assert refused["message"] == (
        'Pod "web" is invalid: spec.overhead.limits[cpu]: Invalid value: "-1": '
        "must be greater than or equal to 0"
    )


async def test_a_pod_naming_a_runtime_class_is_forbidden_before_validation(api: Api) -> None:
    body = pod(runtimeClassName="kata")
    body["spec"]["containers"][0]["image"] = ""
    code, refused = await status_of(api, "POST", PODS, body)
    assert code == 403
    assert (
        refused["message"] == 'pods "web" is forbidden: pod rejected: RuntimeClass "kata" not found'
    )


# --- labels, apiVersion, kind ---------------------------------------------------------------


async def test_a_null_label_value_is_stored_as_an_empty_one(api: Api) -> None:
    body = pod()
    body["metadata"]["labels"] = {"a": None, "b": "c"}
    body["metadata"]["annotations"] = {"note": None, "nul": "a\x00b"}
    code, created = await status_of(api, "POST", PODS, body)
    assert code == 201, created
    code, read = await status_of(api, "GET", f"{PODS}/web", b"")
    assert read["metadata"]["labels"] == {"a": "", "b": "c"}
    assert read["metadata"]["annotations"] == {"note": "", "nul": "a\x00b"}
    listed = await api.request("GET", PODS, params={"labelSelector": "a="})
    assert [p["metadata"]["name"] for p in (await listed.json())["items"]] == ["web"]


@pytest.mark.parametrize("field", ["apiVersion", "kind"])
async def test_an_empty_api_version_or_kind_is_the_endpoints_own(api: Api, field: str) -> None:
    body = pod()
    body[field] = ""
    code, created = await status_of(api, "POST", PODS, body)
    assert code == 201, created
    assert (created["apiVersion"], created["kind"]) == ("v1", "Pod")


# --- Event names ----------------------------------------------------------------------------

# Names a core/v1 Event may have in Kubernetes: anything a URL path segment can carry.
LOOSE_NAMES = ["UPPER", "a b", "a\x00b", "x" * 300, "\U0001f600", "tab\there", "a?b#c"]


def event(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
        "reason": "Tested",
        "message": "m",
    }


async def test_core_events_take_any_name_a_url_can_carry_and_read_them_back(
    api: Api, tmp_path: Path
) -> None:
    watch = await api.request("GET", EVENTS, params={"watch": "true", "resourceVersion": "0"})
    for name in LOOSE_NAMES:
        code, created = await status_of(api, "POST", EVENTS, event(name))
        assert code == 201, (name, created)
        assert created["metadata"]["name"] == name
        code, read = await get_by_name(api, EVENTS, name)
        assert (code, read["metadata"]["name"]) == (200, name)
        selected = await api.request(
            "GET", EVENTS, params={"fieldSelector": f"metadata.name={name}"}
        )
        assert [e["metadata"]["name"] for e in (await selected.json())["items"]] == [name]
    # A lone surrogate escape is read as U+FFFD, as Go reads it, and stored as such.
    raw = orjson.dumps(event("PLACE")).replace(b"PLACE", b"\\ud800")
    code, created = await status_of(api, "POST", EVENTS, raw)
    assert (code, created["metadata"]["name"]) == (201, "\ufffd")
    names = [*LOOSE_NAMES, "\ufffd"]
    added = await read_watch_lines(watch, len(names))
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in added] == [
        ("ADDED", n) for n in names
    ]
    listed = await api.request("GET", EVENTS)
    assert sorted(e["metadata"]["name"] for e in (await listed.json())["items"]) == sorted(names)
    # What another reader of the database file finds is the same.
    other = await SqliteStore.open(tmp_path / "db" / "state.db")
    try:
        events = build_stores(other).of("events")
        for name in names:
            assert (await events.get("default", name))["metadata"]["name"] == name
    finally:
        await other.close()


@pytest.mark.parametrize(
    ("name", "why"),
    [("a/b", "may not contain '/'"), ("..", "may not be '..'"), ("%", "may not contain '%'")],
)
async def test_core_events_refuse_names_a_url_cannot_carry(api: Api, name: str, why: str) -> None:
    code, refused = await status_of(api, "POST", EVENTS, event(name))
    assert code == 422
    assert refused["message"] == (
        f'Event "{name}" is invalid: metadata.name: Invalid value: "{name}": {why}'
    )


async def test_events_k8s_io_names_are_dns_subdomains(api: Api) -> None:
    body = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "UPPER"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "example.com/tester",
        "reportingInstance": "tester-1",
        "action": "Test",
        "reason": "Tested",
        "type": "Normal",
        "regarding": {"kind": "Pod", "name": "web", "namespace": "default"},
    }
    code, refused = await status_of(api, "POST", EVENTS_V1, body)
    assert code == 422
    assert refused["message"] == (
        'Event.events.k8s.io "UPPER" is invalid: metadata.name: Invalid value: "UPPER": '
        + SUBDOMAIN_RULE
    )


async def test_a_refused_name_with_a_nul_is_quoted_as_go_quotes_it(api: Api) -> None:
    code, refused = await status_of(api, "POST", PODS, pod("a\x00b"))
    assert code == 422
    assert refused["message"] == (
        'Pod "a\\x00b" is invalid: metadata.name: Invalid value: "a\\x00b": ' + SUBDOMAIN_RULE
    )
    code, missing = await get_by_name(api, EVENTS, 'a"b')
    assert (code, missing["message"]) == (404, 'events "a\\"b" not found')
