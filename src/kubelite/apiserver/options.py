"""Query-string options of the REST verbs, read and checked as Kubernetes checks them.

`metav1.ListOptions`, `CreateOptions`, `UpdateOptions`, `PatchOptions` and `DeleteOptions` come
in the query string (and, for delete, also in the body). Invalid combinations are the client's
mistake and get a 400 that says which parameter is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kubelite.api import errors, fields, labels
from kubelite.api.decoding import FIELD_VALIDATION_MODES, WARN
from kubelite.apiserver import delete_options_body
from kubelite.apiserver.registry.generic import DeleteOptions, ListOptions, decode_continue

_Selector = TypeVar("_Selector")

# Kubernetes caps field manager names (fieldmanager.go).
MAX_FIELD_MANAGER_LENGTH = 128
_PROPAGATION_POLICIES = ("Orphan", "Background", "Foreground")


# The options object each verb's query string is (metav1.*Options), named in 422 messages.
_OPTIONS_KINDS = {
    "list": "ListOptions",
    "watch": "ListOptions",
    "create": "CreateOptions",
    "update": "UpdateOptions",
    "patch": "PatchOptions",
    "delete": "DeleteOptions",
    "deletecollection": "DeleteOptions",
}


def options_kind(verb: str) -> str:
    return _OPTIONS_KINDS.get(verb, "CreateOptions")


def invalid_options(kind: str, *problems: errors.FieldError) -> errors.StatusError:
    """422 for options that fail validation: `CreateOptions.meta.k8s.io "" is invalid: ...`."""
    return errors.invalid_object(kind, "", list(problems), "meta.k8s.io")


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _int(query: Mapping[str, str], name: str, default: int = 0) -> int:
    raw = query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    # Every integer query parameter is an int64 in Kubernetes (ListOptions, DeleteOptions,
    # PodLogOptions): strconv.ParseInt refuses what is beyond it, and SQLite cannot hold it.
    if value is None or not INT64_MIN <= value <= INT64_MAX:
        raise errors.bad_request(f'invalid value for {name}: "{raw}": must be an integer')
    return value


def _parsed(parse: Callable[[str], _Selector], text: str) -> _Selector:
    """A label or field selector from the query; one that does not parse is a 400."""
    try:
        return parse(text)
    except ValueError as exc:
        raise errors.bad_request(str(exc)) from None


def list_options(query: Mapping[str, str], *, watch: bool = False) -> ListOptions:
    """ListOptions from a query; a watch is checked by the rules of watches, not of lists."""
    opts = ListOptions()
    selector = query.get("labelSelector", "")
    if selector:
        opts.label_selector = _parsed(labels.parse, selector)
    field_selector = query.get("fieldSelector", "")
    if field_selector:
        opts.field_selector = _parsed(fields.parse, field_selector)
    opts.limit = max(_int(query, "limit"), 0)
    rv = query.get("resourceVersion", "")
    match = query.get("resourceVersionMatch", "")
    token = query.get("continue", "")
    if token:
        if rv not in ("", "0"):
            raise errors.bad_request(
                "specifying resource version is not allowed when using continue"
            )
        opts.continue_key, opts.continue_revision = decode_continue(token)
    if rv:
        try:
            if int(rv) < 0:
                raise ValueError
        except ValueError:
            raise errors.bad_request(f"invalid resource version: {rv}") from None
    if match:
        if match not in ("Exact", "NotOlderThan"):
            raise invalid_options(
                "ListOptions",
                errors.not_supported("resourceVersionMatch", match, ["Exact", "NotOlderThan", ""]),
            )
        if not rv and not watch:
            raise invalid_options(
                "ListOptions",
                errors.forbidden_field(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                ),
            )
        if match == "Exact" and rv == "0":
            raise invalid_options(
                "ListOptions",
                errors.forbidden_field(
                    "resourceVersionMatch",
                    'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
                ),
            )
    opts.resource_version = rv
    opts.resource_version_match = match
    return opts


def _dry_run_values(values: list[str], kind: str) -> bool:
    values = [v for v in values if v]
    if any(v != "All" for v in values):
        rendered = "[]string{" + ", ".join(f'"{v}"' for v in values) + "}"
        raise invalid_options(
            kind,
            errors.FieldError(
                errors.NOT_SUPPORTED, "dryRun", detail=f'{rendered}: supported values: "All"'
            ),
        )
    return bool(values)


def dry_run(query: Mapping[str, Any], kind: str = "CreateOptions") -> bool:
    getall = getattr(query, "getall", None)
    values: list[Any] = list(getall("dryRun", [])) if getall else [query.get("dryRun")]
    return _dry_run_values(values, kind)


def field_validation(query: Mapping[str, str], kind: str = "CreateOptions") -> str:
    mode = query.get("fieldValidation", "") or WARN
    if mode not in FIELD_VALIDATION_MODES:
        raise invalid_options(
            kind,
            errors.not_supported("fieldValidation", mode, ["", "Ignore", "Strict", "Warn"]),
        )
    return mode


def field_manager(
    query: Mapping[str, str],
    user_agent: str,
    *,
    required: bool = False,
    kind: str = "CreateOptions",
) -> str:
    """The manager named in the query, or one derived from the User-Agent as Kubernetes does."""
    manager = query.get("fieldManager", "")
    if len(manager) > MAX_FIELD_MANAGER_LENGTH:
        raise invalid_options(kind, errors.too_long("fieldManager", MAX_FIELD_MANAGER_LENGTH))
    if any(not ch.isprintable() for ch in manager):
        raise invalid_options(
            kind,
            errors.invalid("fieldManager", manager, "must only contain printable characters"),
        )
    if manager:
        return manager
    if required:
        raise invalid_options(
            "PatchOptions", errors.required("fieldManager", "is required for apply patch")
        )
    # prefixFromUserAgent: the part before the first '/', capped.
    return user_agent.split("/", 1)[0][:MAX_FIELD_MANAGER_LENGTH] or "unknown"


def _query_bool(raw: str) -> bool:
    """A boolean query parameter as apimachinery converts one (Convert_Slice_string_To_bool):
    only "0" and "false" in any case are false; anything else, "" and "f" included, is true."""
    return raw != "0" and raw.casefold() != "false"


_DECIMAL = re.compile(r"[+-]?[0-9]+")


def _query_int64(raw: str) -> int:
    """An int64 query parameter as Convert_Slice_string_To_Pointer_int64 reads it: Go's
    strconv.ParseInt(raw, 10, 64), whose error is the 400's message."""
    if not _DECIMAL.fullmatch(raw):
        raise errors.bad_request(f'strconv.ParseInt: parsing "{raw}": invalid syntax')
    value = int(raw)
    if not INT64_MIN <= value <= INT64_MAX:
        raise errors.bad_request(f'strconv.ParseInt: parsing "{raw}": value out of range')
    return value


def delete_options(query: Mapping[str, str], body: Any) -> DeleteOptions:
    """DeleteOptions from the query and a parsed body (None: no body), which
    `delete_options_body.check` decodes first: a body that is not a DeleteOptions, or whose
    values have the wrong types, is a 400 (1.35, #133358), before anything is read."""
    opts = DeleteOptions()
    source: dict[str, Any] = dict(delete_options_body.check(body))
    if "gracePeriodSeconds" in query:
        source["gracePeriodSeconds"] = _query_int64(query["gracePeriodSeconds"])
    if "propagationPolicy" in query:
        source["propagationPolicy"] = query["propagationPolicy"]
    if "orphanDependents" in query:
        source["orphanDependents"] = _query_bool(query["orphanDependents"])
    grace = source.get("gracePeriodSeconds")
    if grace is not None:
        # A negative grace period means "as soon as possible" in Kubernetes: 1 second.
        opts.grace_period = grace if grace >= 0 else 1
    policy = source.get("propagationPolicy") or ""
    if policy and policy not in _PROPAGATION_POLICIES:
        raise errors.StatusError(
            422,
            errors.REASON_INVALID,
            f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
            f'"{policy}": supported values: "Foreground", "Background", "Orphan", "nil"',
        )
    if policy and source.get("orphanDependents") is not None:
        raise errors.StatusError(
            422,
            errors.REASON_INVALID,
            'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: '
            f'"{policy}": orphanDependents and deletionPropagation cannot be both set',
        )
    opts.propagation_policy = policy
    opts.orphan_dependents = source.get("orphanDependents")
    preconditions = source.get("preconditions") or {}
    opts.precondition_uid = preconditions.get("uid") or ""
    opts.precondition_rv = preconditions.get("resourceVersion") or ""
    run = source.get("dryRun") or []
    opts.dry_run = dry_run(query, "DeleteOptions") | _dry_run_values(
        ["" if v is None else str(v) for v in run], "DeleteOptions"
    )
    return opts
