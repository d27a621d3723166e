"""Query options of the REST verbs: what is read from them, and the errors for bad ones."""

from __future__ import annotations

from typing import Any

import pytest
from apiserver_fixtures import Api
from multidict import MultiDict

from kubelite.api import errors
from kubelite.apiserver import options
from kubelite.apiserver.registry import encode_continue

CMS = "/api/v1/namespaces/default/configmaps"
TOKEN = encode_continue("a", 5)


# Kubernetes validates ListOptions, CreateOptions, UpdateOptions, PatchOptions and
# DeleteOptions in the handlers and answers 422 Invalid naming the options kind
# (metav1 validation + errors.NewInvalid(metav1.GroupName, "<Kind>Options", "", errs)).

# method, query, body -> code, message (the whole message, or a prefix ending in "...")
CASES: list[Any] = [
    # --- list ---
    pytest.param(
        "GET",
        "?resourceVersionMatch=Exact",
        None,
        422,
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
        "resourceVersionMatch is forbidden unless resourceVersion is provided",
        id="match-without-rv",
    ),
    pytest.param(
        "GET",
        "?resourceVersionMatch=Bogus&resourceVersion=1",
        None,
        422,
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: '
        '"Bogus": supported values: "Exact", "NotOlderThan", ""',
        id="unknown-match",
    ),
    pytest.param(
        "GET",
        "?resourceVersionMatch=Exact&resourceVersion=0",
        None,
        422,
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
        'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
        id="exact-at-zero",
    ),
    pytest.param(
        "GET",
        f"?continue={TOKEN}&resourceVersion=5",
        None,
        400,
        "specifying resource version is not allowed when using continue",
        id="continue-with-rv",
    ),
    pytest.param(
        "GET", "?continue=%25%25%25", None, 400, "continue key is not valid...", id="bad-continue"
    ),
    pytest.param(
        "GET", "?resourceVersion=abc", None, 400, "invalid resource version...", id="bad-rv"
    ),
    pytest.param("GET", "?limit=ten", None, 400, "...", id="bad-limit"),
    pytest.param("GET", "?labelSelector=a%20in", None, 400, "...", id="bad-label-selector"),
    pytest.param(
        "GET", "?fieldSelector=spec.bogus%3Dx", None, 400, "...", id="unknown-field-label"
    ),
    # --- create ---
    pytest.param(
        "POST",
        "?dryRun=Bogus",
        {"metadata": {"name": "b"}},
        422,
        'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Bogus"}: '
        'supported values: "All"',
        id="bad-dry-run",
    ),
    pytest.param(
        "POST",
        "?fieldValidation=Bogus",
        {"metadata": {"name": "b"}},
        422,
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Bogus": '
        'supported values: "", "Ignore", "Strict", "Warn"',
        id="bad-field-validation",
    ),
    pytest.param(
        "POST",
        "?fieldManager=" + "m" * 129,
        {"metadata": {"name": "b"}},
        422,
        'CreateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: ...',
        id="long-field-manager",
    ),
    pytest.param(
        "POST",
        "?fieldManager=a%07b",
        {"metadata": {"name": "b"}},
        422,
        'CreateOptions.meta.k8s.io "" is invalid: fieldManager: Invalid value: ...',
        id="unprintable-field-manager",
    ),
    # --- delete ---
    pytest.param(
        "DELETE",
        "",
        {"propagationPolicy": "Sideways"},
        422,
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
        '"Sideways": supported values: "Foreground", "Background", "Orphan", "nil"',
        id="bad-propagation-policy",
    ),
    pytest.param(
        "DELETE",
        "?propagationPolicy=Sideways",
        None,
        422,
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: ...',
        id="bad-propagation-policy-in-query",
    ),
    pytest.param(
        "DELETE",
        "",
        {"propagationPolicy": "Orphan", "orphanDependents": True},
        422,
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: "Orphan": '
        "orphanDependents and deletionPropagation cannot be both set",
        id="orphan-dependents-and-policy",
    ),
    # A query value that does not convert is a 400 with strconv's error
    # (Convert_Slice_string_To_Pointer_int64).
    pytest.param(
        "DELETE",
        "?gracePeriodSeconds=soon",
        None,
        400,
        'strconv.ParseInt: parsing "soon": invalid syntax',
        id="bad-grace-period",
    ),
    pytest.param(
        "DELETE",
        "?gracePeriodSeconds=99999999999999999999",
        None,
        400,
        'strconv.ParseInt: parsing "99999999999999999999": value out of range',
        id="grace-period-beyond-int64",
    ),
    # A body that does not decode as DeleteOptions is a 400 since 1.35 (#133358), with the
    # decoder's message (the first one measured on a 1.36.1 cluster).
    pytest.param(
        "DELETE",
        "",
        {"gracePeriodSeconds": "soon"},
        400,
        "json: cannot unmarshal string into Go struct field DeleteOptions.gracePeriodSeconds "
        "of type int64",
        id="grace-period-of-the-wrong-type",
    ),
    pytest.param(
        "DELETE",
        "",
        {"gracePeriodSeconds": 1.5},
        400,
        "json: cannot unmarshal number 1.5 into Go struct field "
        "DeleteOptions.gracePeriodSeconds of type int64",
        id="fractional-grace-period",
    ),
    pytest.param(
        "DELETE",
        "",
        {"dryRun": "All"},
        400,
        "json: cannot unmarshal string into Go struct field DeleteOptions.dryRun of type []string",
        id="dry-run-not-a-list",
    ),
    pytest.param(
        "DELETE",
        "",
        {"dryRun": [1]},
        400,
        "json: cannot unmarshal number into Go struct field DeleteOptions.dryRun of type string",
        id="dry-run-item-not-a-string",
    ),
    pytest.param(
        "DELETE",
        "",
        {"orphanDependents": "yes"},
        400,
        "json: cannot unmarshal string into Go struct field DeleteOptions.orphanDependents "
        "of type bool",
        id="orphan-dependents-not-a-bool",
    ),
    pytest.param(
        "DELETE",
        "",
        {"propagationPolicy": 1},
        400,
        "json: cannot unmarshal number into Go struct field DeleteOptions.propagationPolicy "
        "of type v1.DeletionPropagation",
        id="propagation-policy-not-a-string",
    ),
    pytest.param(
        "DELETE",
        "",
        {"preconditions": "x"},
        400,
        "json: cannot unmarshal string into Go struct field DeleteOptions.preconditions "
        "of type v1.Preconditions",
        id="preconditions-not-an-object",
    ),
    pytest.param(
        "DELETE",
        "",
        {"preconditions": {"uid": 5}},
        400,
        "json: cannot unmarshal number into Go struct field Preconditions.preconditions.uid "
        "of type types.UID",
        id="precondition-uid-not-a-string",
    ),
    pytest.param(
        "DELETE",
        "",
        {"apiVersion": True},
        400,
        "couldn't get version/kind; json parse error: json: cannot unmarshal bool into Go "
        "struct field .apiVersion of type string",
        id="api-version-not-a-string",
    ),
    pytest.param(
        "DELETE",
        "",
        [],
        400,
        "couldn't get version/kind; json parse error: json: cannot unmarshal array into Go "
        'value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
        'Kind string "json:\\"kind,omitempty\\"" }',
        id="body-not-an-object",
    ),
    pytest.param(
        "DELETE",
        "?dryRun=Bogus",
        None,
        422,
        'DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ...',
        id="bad-dry-run-in-query",
    ),
    pytest.param(
        "DELETE",
        "",
        {"dryRun": ["Bogus"]},
        422,
        'DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ...',
        id="bad-dry-run-in-body",
    ),
    # --- patch ---
    pytest.param(
        "PATCH",
        "?force=true",
        {"data": {"k": "v"}},
        422,
        'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for '
        "non-apply patch",
        id="force-on-merge-patch",
    ),
]


@pytest.mark.parametrize(("method", "query", "body", "code", "message"), CASES)
async def test_bad_options(
    api: Api, method: str, query: str, body: Any, code: int, message: str
) -> None:
    status, cm = await api.json("POST", CMS, body={"metadata": {"name": "a"}})
    assert status == 201, cm
    path = CMS if method in ("GET", "POST") else f"{CMS}/a"
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
    status, answer = await api.json(method, path + query, body=body, content_type=content_type)
    assert (status, answer["kind"], answer.get("code")) == (code, "Status", code)
    assert answer["reason"] == {400: "BadRequest", 422: "Invalid"}[code]
    if message.endswith("..."):
        assert answer["message"].startswith(message[:-3])
    else:
        assert answer["message"] == message
    # Nothing happened: the configmap is there, unchanged, and no second one was made.
    status, listing = await api.json("GET", CMS)
    assert [i["metadata"]["name"] for i in listing["items"]] == ["a"]


def test_continue_with_resource_version_zero_is_allowed() -> None:
    opts = options.list_options({"continue": TOKEN, "resourceVersion": "0"})
    assert opts.continue_key == "a\x00"


def test_list_options_are_read() -> None:
    opts = options.list_options(
        {
            "labelSelector": "app=web,tier!=db",
            "fieldSelector": "metadata.name=x",
            "limit": "50",
            "resourceVersion": "12",
            "resourceVersionMatch": "NotOlderThan",
        }
    )
    assert opts.label_selector is not None and opts.label_selector.matches({"app": "web"})
    assert opts.field_selector is not None
    assert opts.field_selector.matches({"metadata.name": "x"})
    assert (opts.limit, opts.resource_version, opts.resource_version_match) == (
        50,
        "12",
        "NotOlderThan",
    )
    paged = options.list_options({"continue": TOKEN})
    assert (paged.continue_key, paged.continue_revision) == ("a\x00", 5)
    assert options.list_options({"limit": "-3"}).limit == 0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, False),
        ({"dryRun": "All"}, True),
        (MultiDict([("dryRun", "All"), ("dryRun", "All")]), True),
    ],
)
def test_dry_run(query: Any, expected: bool) -> None:
    assert options.dry_run(query) is expected


@pytest.mark.parametrize(
    ("query", "body", "grace", "policy", "dry_run"),
    [
        ({}, None, None, "", False),
        ({"gracePeriodSeconds": "0"}, None, 0, "", False),
        # A negative grace period means "as soon as possible": one second.
        ({"gracePeriodSeconds": "-5"}, None, 1, "", False),
        # The query wins over the body, as Kubernetes decodes the query last.
        ({"gracePeriodSeconds": "3"}, {"gracePeriodSeconds": 10}, 3, "", False),
        ({}, {"propagationPolicy": "Foreground", "dryRun": ["All"]}, None, "Foreground", True),
        ({"propagationPolicy": "Orphan"}, {}, None, "Orphan", False),
    ],
)
def test_delete_options(
    query: dict[str, str], body: Any, grace: int | None, policy: str, dry_run: bool
) -> None:
    opts = options.delete_options(query, body)
    assert (opts.grace_period, opts.propagation_policy, opts.dry_run) == (grace, policy, dry_run)


@pytest.mark.parametrize(
    ("query", "body", "expected"),
    [
        ({}, None, None),
        ({}, {"orphanDependents": True}, True),
        ({}, {"orphanDependents": False}, False),
        ({}, {"orphanDependents": None}, None),
        # In the query only 0, f and false (any case) are false, as apimachinery converts it.
        ({"orphanDependents": "true"}, None, True),
        ({"orphanDependents": "False"}, None, False),
        ({"orphanDependents": "0"}, {"orphanDependents": True}, False),
    ],
)
def test_the_legacy_orphan_dependents_option_is_read(
    query: dict[str, str], body: Any, expected: bool | None
) -> None:
    assert options.delete_options(query, body).orphan_dependents is expected


def test_orphan_dependents_must_be_a_boolean() -> None:
    with pytest.raises(errors.StatusError) as err:
        options.delete_options({}, {"orphanDependents": "yes"})
    assert (err.value.code, err.value.message) == (
        400,
        "json: cannot unmarshal string into Go struct field DeleteOptions.orphanDependents "
        "of type bool",
    )


@pytest.mark.parametrize(
    ("raw", "expected"), [("false", False), ("FALSE", False), ("0", False), ("f", True), ("", True)]
)
def test_orphan_dependents_in_the_query_is_false_only_for_0_and_false(
    raw: str, expected: bool
) -> None:
    """Convert_Slice_string_To_Pointer_bool: "0" or "false" (any case); "f" and "" are true."""
    assert options.delete_options({"orphanDependents": raw}, None).orphan_dependents is expected


def test_an_empty_grace_period_in_the_query_is_a_bad_request() -> None:
    with pytest.raises(errors.StatusError) as err:
        options.delete_options({"gracePeriodSeconds": ""}, None)
    assert (err.value.code, err.value.message) == (
        400,
        'strconv.ParseInt: parsing "": invalid syntax',
    )


def test_unknown_and_null_fields_of_a_delete_body_are_ignored() -> None:
    """The second pass decodes case-sensitively and ignores what DeleteOptions lacks; a null
    leaves a field unset (a null list item is "")."""
    opts = options.delete_options(
        {},
        {"GracePeriodSeconds": "x", "bogus": [1], "gracePeriodSeconds": None, "dryRun": None},
    )
    assert (opts.grace_period, opts.dry_run) == (None, False)


async def test_a_null_delete_body_is_no_options(api: Api) -> None:
    status, _ = await api.json("POST", CMS, body={"metadata": {"name": "a"}})
    assert status == 201
    status, answer = await api.json("DELETE", f"{CMS}/a", raw=b"null")
    assert (status, answer["status"]) == (200, "Success"), answer


async def test_a_delete_collection_with_a_bad_body_is_a_bad_request(api: Api) -> None:
    status, _ = await api.json("POST", CMS, body={"metadata": {"name": "a"}})
    assert status == 201
    status, answer = await api.json("DELETE", CMS, body={"gracePeriodSeconds": "soon"})
    assert (status, answer["reason"], answer["message"]) == (
        400,
        "BadRequest",
        "json: cannot unmarshal string into Go struct field DeleteOptions.gracePeriodSeconds "
        "of type int64",
    )
    status, listing = await api.json("GET", CMS)
    assert [i["metadata"]["name"] for i in listing["items"]] == ["a"]


def test_delete_preconditions_come_from_the_body() -> None:
    opts = options.delete_options({}, {"preconditions": {"uid": "u", "resourceVersion": "7"}})
    assert (opts.precondition_uid, opts.precondition_rv) == ("u", "7")


@pytest.mark.parametrize(
    ("query", "user_agent", "expected"),
    [
        ({"fieldManager": "me"}, "kubectl/v1.33.0 (linux/amd64)", "me"),
        ({}, "kubectl/v1.33.0 (linux/amd64) kubernetes/abc", "kubectl"),
        ({}, "", "unknown"),
    ],
)
def test_field_manager_defaults_to_the_user_agent_prefix(
    query: dict[str, str], user_agent: str, expected: str
) -> None:
    assert options.field_manager(query, user_agent) == expected


def test_apply_requires_a_field_manager() -> None:
    with pytest.raises(errors.StatusError) as err:
        options.field_manager({}, "kubectl/v1.33", required=True)
    assert "fieldManager: Required value: is required for apply patch" in err.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", "Warn"), ("Strict", "Strict"), ("Ignore", "Ignore"), ("Warn", "Warn")],
)
def test_field_validation_defaults_to_warn(value: str, expected: str) -> None:
    assert options.field_validation({"fieldValidation": value}) == expected
