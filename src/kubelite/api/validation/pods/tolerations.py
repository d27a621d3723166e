"""ValidateTolerations, shared by a pod's create and its update (which may only add)."""

from __future__ import annotations

from kubelite.api.errors import FieldError, child, invalid, not_supported
from kubelite.api.types import Obj
from kubelite.api.validation import names
from kubelite.api.validation.pods.fields import _name_at

_TOLERATION_OPERATORS = ("Equal", "Exists")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def validate_tolerations(tolerations: list[Obj], path: str) -> list[FieldError]:
    """ValidateTolerations."""
    errs: list[FieldError] = []
    for i, toleration in enumerate(tolerations):
        item_path = f"{path}[{i}]"
        key = toleration.get("key") or ""
        operator = toleration.get("operator") or ""
        value = toleration.get("value") or ""
        effect = toleration.get("effect") or ""
        if key:
            errs.extend(_name_at(item_path, "key", key, names.is_qualified_name))
        if not key and operator != "Exists":
            errs.append(
                invalid(
                    child(item_path, "operator"),
                    operator,
                    'operator must be Exists when `key` is empty, which means "match all values '
                    'and all keys"',
                )
            )
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(
                invalid(
                    child(item_path, "effect"),
                    effect,
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                )
            )
        if operator in ("Equal", ""):
            problems = names.is_valid_label_value(value)
            if problems:
                errs.append(invalid(child(item_path, "operator"), value, ";".join(problems)))
        elif operator == "Exists":
            if value:
                errs.append(
                    invalid(
                        child(item_path, "operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    )
                )
        else:
            errs.append(
                not_supported(child(item_path, "operator"), operator, _TOLERATION_OPERATORS)
            )
        if effect and effect not in _TAINT_EFFECTS:
            errs.append(not_supported(child(item_path, "effect"), effect, _TAINT_EFFECTS))
    return errs
