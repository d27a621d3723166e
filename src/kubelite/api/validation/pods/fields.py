"""What every section of the pod rules shares: `Obj`, the field-path helpers, and the small
checks of apimachinery's `validation` package (names, IPs, labels, relative paths, config keys)
written with Kubernetes' messages, so each section reports the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any, TypeGuard

from kubelite.api import errors
from kubelite.api.errors import FieldError, child, invalid, not_supported, required
from kubelite.api.quantity import Quantity, QuantityError
from kubelite.api.validation import legacy_ip, names

# Messages and limits of apimachinery and pkg/apis/core/validation.
IS_NEGATIVE_ERROR_MSG = "must be greater than or equal to 0"  # IsNegativeErrorMsg

MAX_INT32 = 2**31 - 1

_CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"


def _index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


def _stringer(
    path: str, text: str, detail: str = "", kind: tuple[str, str] = errors.INVALID
) -> FieldError:
    """An error whose value Go prints bare (through a Stringer or `%#v`), not quoted."""
    return FieldError(kind, path, detail=f"{text}: {detail}" if detail else text)


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    """validation.RegexError."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def _inclusive_range_error(low: int, high: int) -> str:
    return f"must be between {low} and {high}, inclusive"


def _enum(parent: str, name: str, value: Any, allowed: tuple[str, ...]) -> list[FieldError]:
    """The usual switch of Kubernetes: "" is Required, anything unknown is NotSupported.

    The field is `parent`.`name`, a path only written out for an error.
    """
    if value in allowed:
        return []
    if value in (None, ""):
        return [required(child(parent, name))]
    return [not_supported(child(parent, name), value, allowed)]


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _nonnegative(path: str, value: Any) -> list[FieldError]:
    """ValidateNonnegativeField."""
    if _is_int(value) and value < 0:
        return [invalid(path, value, IS_NEGATIVE_ERROR_MSG)]
    return []


def _names_errors(path: str, value: str, problems: list[str]) -> list[FieldError]:
    return [invalid(path, value, p) for p in problems]


def _name_at(
    parent: str, name: str, value: str, check: Callable[[str], list[str]]
) -> list[FieldError]:
    """`check`'s problems with the name `value` at `parent`.`name`, a path only written out for
    an error."""
    problems = check(value)
    return _names_errors(child(parent, name), value, problems) if problems else []


def _dns1123_subdomain(path: str, value: str) -> list[FieldError]:
    return _names_errors(path, value, names.is_dns1123_subdomain(value))


def _qualified_name(path: str, value: str) -> list[FieldError]:
    return _names_errors(path, value, names.is_qualified_name(value))


def _valid_ip(path: str, value: Any, valid_old: Collection[str] = ()) -> list[FieldError]:
    """IsValidIPForLegacyField: ParseIPSloppy, then (StrictIPCIDRValidation, on in 1.37) no
    leading zeros and no IPv4-mapped IPv6, except for the values in `valid_old`."""
    return legacy_ip.validate_ip(value if isinstance(value, str) else "", path, valid_old)


def _labels(path: str, labels: Any) -> list[FieldError]:
    """ValidateLabels: keys are qualified names, values label values; both at `path`."""
    errs: list[FieldError] = []
    for key, value in (labels or {}).items():
        errs.extend(_qualified_name(path, key))
        errs.extend(_names_errors(path, value, names.is_valid_label_value(str(value))))
    return errs


def _local_descending_path(parent: str, name: str, target: str) -> list[FieldError]:
    """validateLocalDescendingPath: relative, and no `..` element (at `parent`.`name`)."""
    if _plainly_relative(target):
        return []
    errs: list[FieldError] = []
    if target.startswith("/"):
        errs.append(invalid(child(parent, name), target, "must be a relative path"))
    errs.extend(_no_backsteps(parent, name, target))
    return errs


def _plainly_relative(target: Any) -> bool:
    """A relative path without `..` anywhere: the usual one, with nothing to report."""
    return type(target) is str and ".." not in target and not target.startswith("/")


def _no_backsteps(parent: str, name: str, target: str) -> list[FieldError]:
    if type(target) is str and ".." not in target:
        return []
    if ".." in target.replace("\\", "/").split("/"):
        return [invalid(child(parent, name), target, "must not contain '..'")]
    return []


def _config_map_key(value: str) -> list[str]:
    """validation.IsConfigMapKey."""
    problems: list[str] = []
    if len(value) > names.DNS1123_SUBDOMAIN_MAX:
        problems.append(names.max_len_error(names.DNS1123_SUBDOMAIN_MAX))
    if not re.fullmatch(_CONFIG_MAP_KEY_FMT, value):
        problems.append(
            _regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                _CONFIG_MAP_KEY_FMT,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    if value == ".":
        problems.append("must not be '.'")
    elif value == "..":
        problems.append("must not be '..'")
    elif value.startswith(".."):
        problems.append("must not start with '..'")
    return problems


def _quantity(value: Any) -> Quantity | None:
    try:
        return Quantity.from_json(value)
    except QuantityError:
        return None
