"""ObjectMeta validation, the rules every kind shares (apimachinery `pkg/api/validation`).

Kubernetes checks `metadata` twice over: each kind's own validation calls `ValidateObjectMeta`
with the kind's name rule (DNS-1123 subdomain for most kinds, a DNS label for Namespaces, a
DNS-1035 label for Services), and the generic registry adds the update rules (what may not
change) for every kind. `Strategy` runs both, so a kind only adds its own spec rules.

Kubernetes prints a bad value with Go's `%#v` when it is not a string or a number, so a few
errors read `map[string]string{"app":"web"}` or `[]string{"a", "b"}`. The helpers at the end of
this module (with `go_quote` from `kubelite.api.goformat` and `go_strings` from
`kubelite.api.errors`) render those Go spellings, so that kubectl users read the same sentences
they would from Kubernetes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from kubelite.api import meta
from kubelite.api.errors import (
    INVALID,
    TOO_LONG,
    FieldError,
    child,
    forbidden_field,
    go_strings,
    invalid,
    required,
)
from kubelite.api.goformat import go_quote
from kubelite.api.types import Obj
from kubelite.api.validation import names

# ValidateNameFunc: a name (or, with prefix=True, a generateName stem) to its problems.
NameRule = Callable[[str, bool], list[str]]

# apimachinery `pkg/api/validation/objectmeta.go`: FieldImmutableErrorMsg and
# TotalAnnotationSizeLimitB (256 KiB over all keys and values).
FIELD_IMMUTABLE = "field is immutable"
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
# apimachinery `pkg/api/validation/generic.go`: IsNegativeErrorMsg.
IS_NEGATIVE = "must be greater than or equal to 0"
# apimachinery `pkg/apis/meta/v1/validation`: FieldManagerMaxLength.
FIELD_MANAGER_MAX_LENGTH = 128
# metav1.FinalizerOrphanDependents / FinalizerDeleteDependents, and core's FinalizerKubernetes:
# the finalizer names that need no domain prefix (pkg/apis/core/helper IsStandardFinalizerName).
FINALIZER_ORPHAN = "orphan"
FINALIZER_FOREGROUND = "foregroundDeletion"
FINALIZER_KUBERNETES = "kubernetes"
STANDARD_FINALIZERS = frozenset({FINALIZER_KUBERNETES, FINALIZER_ORPHAN, FINALIZER_FOREGROUND})
# objectmeta.go BannedOwners: core/v1 Events may not own anything.
_BANNED_OWNERS = frozenset({("", "v1", "Event")})


def name_is_path_segment(name: str, prefix: bool) -> list[str]:
    """path.ValidatePathSegmentName: the rule for names that only have to fit in a URL."""
    if prefix:
        return [
            e for e in names.is_valid_path_segment_name(name) if e.startswith("may not contain")
        ]
    return names.is_valid_path_segment_name(name)


# --- create ---------------------------------------------------------------------------------


def validate_object_meta(
    obj: Obj,
    *,
    namespaced: bool,
    name_rule: NameRule,
    require_standard_finalizers: bool = True,
) -> list[FieldError]:
    """ValidateObjectMeta for a new object, whose generateName has already become its name.

    `require_standard_finalizers` adds core's rule that a finalizer without a domain prefix be a
    standard one (`kubernetes`, `orphan`, `foregroundDeletion`); every kind validated by
    Kubernetes' core validation has it, only the generic registry check lacks it.
    """
    md = _metadata(obj)
    path = "metadata"
    errs: list[FieldError] = []
    generate_name = _str(md.get("generateName"))
    if generate_name:
        problems = name_rule(generate_name, True)
        errs += [invalid(child(path, "generateName"), generate_name, msg) for msg in problems]
    name = _str(md.get("name"))
    if not name:
        errs.append(required(child(path, "name"), "name or generateName is required"))
    elif problems := name_rule(name, False):
        errs += [invalid(child(path, "name"), name, msg) for msg in problems]
    errs += _validate_common(md, namespaced=namespaced)
    if require_standard_finalizers and md.get("finalizers"):
        errs += _validate_kube_finalizers(md)
    return errs


def _validate_common(md: Obj, *, namespaced: bool) -> list[FieldError]:
    path = "metadata"
    errs: list[FieldError] = []
    namespace = _str(md.get("namespace"))
    if namespaced:
        if not namespace:
            errs.append(required(child(path, "namespace")))
        elif problems := names.name_is_dns_label(namespace, False):
            errs += [invalid(child(path, "namespace"), namespace, msg) for msg in problems]
    elif namespace:
        errs.append(forbidden_field(child(path, "namespace"), "not allowed on this type"))
    errs += validate_nonnegative(_int(md.get("generation")), "metadata.generation")
    # The rules of what the object leaves out would find nothing; every write runs these.
    if md.get("labels"):
        errs += validate_labels(md["labels"], "metadata.labels")
    if md.get("annotations"):
        errs += validate_annotations(md["annotations"], "metadata.annotations")
    if md.get("ownerReferences"):
        errs += validate_owner_references(md["ownerReferences"], "metadata.ownerReferences")
    if md.get("finalizers"):
        errs += validate_finalizers(md["finalizers"], "metadata.finalizers")
    if md.get("managedFields"):
        errs += validate_managed_fields(md["managedFields"], "metadata.managedFields")
    return errs


def validate_nonnegative(value: int, path: str) -> list[FieldError]:
    """ValidateNonnegativeField."""
    return [invalid(path, value, IS_NEGATIVE)] if value < 0 else []


def validate_label_name(key: str, path: str) -> list[FieldError]:
    """ValidateLabelName: a label key is a qualified name."""
    return [invalid(path, key, msg) for msg in names.is_qualified_name(key)]


def validate_labels(labels: Any, path: str) -> list[FieldError]:
    """ValidateLabels: qualified-name keys and label values, all reported at the map's path."""
    errs: list[FieldError] = []
    for key, value in _mapping(labels).items():
        if problems := names.is_qualified_name(key):
            errs += [invalid(path, key, msg) for msg in problems]
        if problems := names.is_valid_label_value(_str(value)):
            errs += [invalid(path, value, msg) for msg in problems]
    return errs


def validate_annotations(annotations: Any, path: str) -> list[FieldError]:
    """ValidateAnnotations: case-insensitive qualified-name keys, 256 KiB in all."""
    errs: list[FieldError] = []
    total = 0
    for key, value in _mapping(annotations).items():
        # Kubernetes lowercases the key first: annotation keys may use capitals.
        if problems := names.is_qualified_name(key.lower()):
            errs += [invalid(path, key, msg) for msg in problems]
        total += len(key.encode()) + len(_str(value).encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long_bytes(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def too_long_bytes(path: str, limit: int) -> FieldError:
    """field.TooLong as Kubernetes 1.33 words it."""
    return FieldError(TOO_LONG, path, detail=f"must have at most {limit} bytes")


def validate_owner_references(refs: Any, path: str) -> list[FieldError]:
    """ValidateOwnerReferences: required fields (reported without an index) and one controller."""
    errs: list[FieldError] = []
    first_controller = ""
    ref_list = refs if isinstance(refs, list) else []
    for ref in ref_list:
        ref = ref if isinstance(ref, dict) else {}
        api_version = _str(ref.get("apiVersion"))
        kind = _str(ref.get("kind"))
        group, version = _group_version(api_version)
        if not version:
            errs.append(
                invalid(child(path, "apiVersion"), api_version, "version must not be empty")
            )
        if not kind:
            errs.append(invalid(child(path, "kind"), kind, "must not be empty"))
        if not _str(ref.get("name")):
            errs.append(invalid(child(path, "name"), _str(ref.get("name")), "must not be empty"))
        if not _str(ref.get("uid")):
            errs.append(invalid(child(path, "uid"), _str(ref.get("uid")), "must not be empty"))
        if (group, version, kind) in _BANNED_OWNERS:
            errs.append(
                invalid_rendered(
                    path,
                    go_owner_reference(ref),
                    f"{group}/{version}, Kind={kind} is disallowed from being an owner",
                )
            )
        if ref.get("controller") is True:
            current = f"{kind}/{_str(ref.get('name'))}"
            if first_controller:
                errs.append(
                    invalid_rendered(
                        path,
                        "[]v1.OwnerReference{"
                        + ", ".join(go_owner_reference(r) for r in ref_list)
                        + "}",
                        'Only one reference can have Controller set to true. Found "true" in '
                        f"references for {first_controller} and {current}",
                    )
                )
            else:
                first_controller = current
    return errs


def _group_version(api_version: str) -> tuple[str, str]:
    """schema.ParseGroupVersion as FromAPIVersionAndKind uses it: unparseable means no version."""
    if not api_version:
        return "", ""
    parts = api_version.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    return "", ""


def validate_finalizers(finalizers: Any, path: str) -> list[FieldError]:
    """ValidateFinalizers: qualified names, and not both orphan and foregroundDeletion."""
    values = [_str(f) for f in finalizers] if isinstance(finalizers, list) else []
    errs: list[FieldError] = []
    for value in values:
        errs += [invalid(path, value, msg) for msg in names.is_qualified_name(value)]
    if FINALIZER_ORPHAN in values and FINALIZER_FOREGROUND in values:
        errs.append(
            invalid_rendered(
                path,
                go_strings(values),
                f"finalizer {FINALIZER_ORPHAN} and {FINALIZER_FOREGROUND} cannot be both set",
            )
        )
    return errs


def _validate_kube_finalizers(md: Obj) -> list[FieldError]:
    finalizers = md.get("finalizers")
    values = [_str(f) for f in finalizers] if isinstance(finalizers, list) else []
    return [
        err
        for i, value in enumerate(values)
        for err in validate_kube_finalizer_name(value, f"metadata.finalizers[{i}]")
    ]


def validate_kube_finalizer_name(value: str, path: str) -> list[FieldError]:
    """validateKubeFinalizerName: a finalizer without a domain must be a standard one."""
    if "/" not in value and value not in STANDARD_FINALIZERS:
        return [
            invalid(
                path, value, "name is neither a standard finalizer name nor is it fully qualified"
            )
        ]
    return []


def validate_managed_fields(entries: Any, path: str) -> list[FieldError]:
    """ValidateManagedFields: the parts of each entry a client could get wrong."""
    errs: list[FieldError] = []
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        entry = entry if isinstance(entry, dict) else {}
        entry_path = f"{path}[{i}]"
        operation = _str(entry.get("operation"))
        if operation not in ("Apply", "Update"):
            errs.append(
                invalid(child(entry_path, "operation"), operation, "must be `Apply` or `Update`")
            )
        fields_type = _str(entry.get("fieldsType"))
        if fields_type and fields_type != "FieldsV1":
            errs.append(invalid(child(entry_path, "fieldsType"), fields_type, "must be `FieldsV1`"))
        manager = _str(entry.get("manager"))
        if names.go_len(manager) > FIELD_MANAGER_MAX_LENGTH:
            errs.append(too_long_bytes(child(entry_path, "manager"), FIELD_MANAGER_MAX_LENGTH))
    return errs


# --- update ---------------------------------------------------------------------------------


def validate_object_meta_update(
    new: Obj, old: Obj, *, require_standard_finalizers: bool = True
) -> list[FieldError]:
    """ValidateObjectMetaUpdate: what metadata may not become (`require_standard_finalizers` as
    for `validate_object_meta`)."""
    new_md, old_md = _metadata(new), _metadata(old)
    path = "metadata"
    errs: list[FieldError] = []
    if old_md.get("deletionTimestamp"):
        extra = sorted(
            set(_strings(new_md.get("finalizers"))) - set(_strings(old_md.get("finalizers")))
        )
        if extra:
            errs.append(
                forbidden_field(
                    child(path, "finalizers"),
                    "no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {go_strings(extra)}",
                )
            )
    resource_version = _str(new_md.get("resourceVersion"))
    if not resource_version:
        errs.append(
            invalid(
                child(path, "resourceVersion"), resource_version, "must be specified for an update"
            )
        )
    new_generation = _int(new_md.get("generation"))
    if new_generation < _int(old_md.get("generation")):
        errs.append(invalid(child(path, "generation"), new_generation, "must not be decremented"))
    for field in ("name", "namespace", "uid"):
        new_value = _str(new_md.get(field))
        if new_value != _str(old_md.get(field)):
            errs.append(invalid(child(path, field), new_value, FIELD_IMMUTABLE))
    for field in ("creationTimestamp", "deletionTimestamp"):
        if _same_time(new_md.get(field), old_md.get(field)):
            continue
        # metav1.Time prints as Go's time.Time; a missing creationTimestamp is the zero time,
        # a missing deletionTimestamp a nil pointer.
        value = new_md.get(field)
        rendered = "null" if not value and field == "deletionTimestamp" else go_time(value)
        errs.append(invalid_rendered(child(path, field), rendered, FIELD_IMMUTABLE))
    grace = new_md.get("deletionGracePeriodSeconds")
    if grace != old_md.get("deletionGracePeriodSeconds"):
        errs.append(
            invalid_rendered(
                child(path, "deletionGracePeriodSeconds"),
                "null" if grace is None else str(grace),
                FIELD_IMMUTABLE,
            )
        )
    errs += validate_labels(new_md.get("labels"), child(path, "labels"))
    errs += validate_annotations(new_md.get("annotations"), child(path, "annotations"))
    errs += validate_owner_references(new_md.get("ownerReferences"), child(path, "ownerReferences"))
    errs += validate_managed_fields(new_md.get("managedFields"), child(path, "managedFields"))
    if require_standard_finalizers:
        errs += _validate_kube_finalizers(new_md)
    return errs


def _same_time(a: Any, b: Any) -> bool:
    if not a and not b:
        return True
    return bool(a) and bool(b) and meta.parse_time(a) == meta.parse_time(b)


def dedupe(errs: list[FieldError]) -> list[FieldError]:
    """Drop repeated errors, as ToAggregate does when it prints them."""
    seen: set[str] = set()
    out: list[FieldError] = []
    for err in errs:
        text = str(err)
        if text not in seen:
            seen.add(text)
            out.append(err)
    return out


# --- the namespace of a request ----------------------------------------------------------------


def expected_namespace(request_namespace: str, *, namespaced: bool) -> str:
    """rest.ExpectedNamespaceForScope: cluster-scoped objects live in no namespace."""
    return request_namespace if namespaced else ""


def reconcile_namespace(obj: Obj, request_namespace: str, *, namespaced: bool) -> str | None:
    """rest.EnsureObjectNamespaceMatchesRequestNamespace, without raising.

    Sets the object's namespace to the request's (or clears it for a cluster-scoped kind) and
    returns None, or returns the message of Kubernetes' 400 when the two disagree.
    """
    want = expected_namespace(request_namespace, namespaced=namespaced)
    md = meta.metadata(obj)
    have = _str(md.get("namespace"))
    if have == want:
        return None
    if not have or not want:
        if want:
            md["namespace"] = want
        else:
            md.pop("namespace", None)
        return None
    return "the namespace of the provided object does not match the namespace sent on the request"


# --- how Kubernetes prints composite bad values -------------------------------------------------


def invalid_rendered(path: str, rendered: str, detail: str) -> FieldError:
    """An Invalid error whose value is already spelled as Kubernetes prints it (Go's %#v)."""
    return FieldError(INVALID, path, detail=f"{rendered}: {detail}" if detail else rendered)


def go_string_map(mapping: Mapping[str, Any] | None) -> str:
    """A map[string]string as %#v prints it: sorted keys, `map[string]string{"a":"b"}`."""
    if mapping is None:
        return "map[string]string(nil)"
    items = ", ".join(f"{go_quote(k)}:{go_quote(_str(mapping[k]))}" for k in sorted(mapping))
    return "map[string]string{" + items + "}"


def go_time(text: Any) -> str:
    """metav1.Time and MicroTime print as Go's time.Time: `2024-05-01 10:00:00 +0000 UTC`."""
    when = meta.parse_time(_str(text)) or dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    when = when.astimezone(dt.UTC)
    # strftime's %Y does not pad year 1 (the zero time) to four digits on every platform.
    base = f"{when.year:04d}-{when:%m-%d %H:%M:%S}"
    # Go drops trailing zeros of the fraction, and the fraction itself when it is zero.
    fraction = f"{when.microsecond:06d}".rstrip("0")
    return f"{base}{'.' + fraction if fraction else ''} +0000 UTC"


def go_struct(type_name: str, fields: list[tuple[str, str]]) -> str:
    """A struct as %#v prints it, its fields already rendered: `T{A:1, B:"x"}`."""
    return type_name + "{" + ", ".join(f"{name}:{value}" for name, value in fields) + "}"


def go_bool_pointer(value: Any) -> str:
    """A *bool field inside a struct: Go prints the pointer, which is only stable when nil."""
    return "(*bool)(nil)" if value is None else "(*bool)(0xc000000000)"


def go_owner_reference(ref: Obj) -> str:
    return go_struct(
        "v1.OwnerReference",
        [
            ("APIVersion", go_quote(_str(ref.get("apiVersion")))),
            ("Kind", go_quote(_str(ref.get("kind")))),
            ("Name", go_quote(_str(ref.get("name")))),
            ("UID", go_quote(_str(ref.get("uid")))),
            ("Controller", go_bool_pointer(ref.get("controller"))),
            ("BlockOwnerDeletion", go_bool_pointer(ref.get("blockOwnerDeletion"))),
        ],
    )


# --- small readers ------------------------------------------------------------------------------


def _metadata(obj: Obj) -> Obj:
    md = obj.get("metadata")
    return md if isinstance(md, dict) else {}


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> list[str]:
    return [_str(v) for v in value] if isinstance(value, list) else []


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)
