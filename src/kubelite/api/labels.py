"""Label selectors: the `labelSelector` query string and the `LabelSelector` object.

Two spellings, one meaning (apimachinery `pkg/labels/selector.go` and
`pkg/apis/meta/v1/helpers.go`):

* `parse("app=web,tier!=db,env in (a,b),!legacy")` reads the query-string form a client sends
  with a list or watch. A bad selector raises `SelectorError`, whose text is exactly the message
  the API server returns in its 400, e.g. `unable to parse requirement: <nil>: Invalid value:
  "a@b": name part must consist of ...` (the `<nil>` is Kubernetes' own: the parser has no
  field path).
* `from_label_selector({"matchLabels": ..., "matchExpressions": ...})` turns the object form that
  workloads and services carry into the same `Selector`; `validate_label_selector` gives the
  field errors Kubernetes reports for that object.

A `Selector` matches a dict of labels. The empty selector matches everything; `nothing()` (what
a nil `LabelSelector` becomes) matches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubelite.api.errors import (
    FieldError,
    aggregate,
    child,
    forbidden_field,
    invalid,
    not_supported,
)
from kubelite.api.errors import required as required_error
from kubelite.api.goformat import go_quote
from kubelite.api.validation import names
from kubelite.api.validation.objectmeta import (
    go_strings,
    invalid_rendered,
    validate_label_name,
    validate_labels,
)

# selection.Operator values, as Requirement.String() and error messages spell them.
IN = "in"
NOT_IN = "notin"
EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
GREATER_THAN = "gt"
LESS_THAN = "lt"
EXISTS = "exists"
DOES_NOT_EXIST = "!"

_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_UNARY_OPERATORS = (EXISTS, DOES_NOT_EXIST)
_ALL_OPERATORS = _BINARY_OPERATORS + _UNARY_OPERATORS

# metav1.LabelSelectorOperator values of the object form, and what each becomes.
# What FormatLabelSelector prints for a selector without requirements, and for one that is not
# a selector.
FORMAT_NONE = "<none>"
FORMAT_ERROR = "<error>"

_OBJECT_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}

# strconv.ParseInt(s, 10, 64): an optional sign and decimal digits, within int64.
_INT64 = re.compile(r"^[+-]?[0-9]+$")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class SelectorError(ValueError):
    """A selector Kubernetes refuses; str() is the message of its 400."""


def _parse_int64(text: str) -> int | None:
    if not _INT64.match(text):
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


@dataclass(frozen=True)
class Requirement:
    """One `key op values` term; build it with `new_requirement` to have it checked."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Requirement.Matches: `!=` and `notin` also match when the key is missing."""
        if self.operator in (IN, EQUALS, DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if self.operator in (NOT_IN, NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == EXISTS:
            return self.key in labels
        if self.operator == DOES_NOT_EXIST:
            return self.key not in labels
        if self.operator in (GREATER_THAN, LESS_THAN):
            if self.key not in labels or len(self.values) != 1:
                return False
            have = _parse_int64(labels[self.key])
            want = _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if self.operator == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        """Requirement.String(): `!key`, `key`, `key=v`, `key in (a,b)` (values sorted)."""
        if self.operator == DOES_NOT_EXIST:
            return "!" + self.key
        if self.operator == EXISTS:
            return self.key
        symbol = {
            EQUALS: "=",
            DOUBLE_EQUALS: "==",
            NOT_EQUALS: "!=",
            IN: " in ",
            NOT_IN: " notin ",
            GREATER_THAN: ">",
            LESS_THAN: "<",
        }[self.operator]
        values = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if self.operator in (IN, NOT_IN):
            values = f"({values})"
        return f"{self.key}{symbol}{values}"


@dataclass(frozen=True)
class Selector:
    """All requirements must match (an AND); `matches_nothing` is labels.Nothing()."""

    requirements: tuple[Requirement, ...] = ()
    matches_nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.matches_nothing:
            return False
        have = labels or {}
        return all(r.matches(have) for r in self.requirements)

    def empty(self) -> bool:
        """True when the selector does not restrict anything (labels.Everything())."""
        return not self.matches_nothing and not self.requirements

    def requires_exact_match(self, key: str) -> str | None:
        """The value the selector pins `key` to, if it does (RequiresExactMatch)."""
        for r in self.requirements:
            if r.key == key:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def everything() -> Selector:
    return Selector()


def nothing() -> Selector:
    return Selector(matches_nothing=True)


def selector_from_set(labels: Mapping[str, str] | None) -> Selector:
    """SelectorFromSet: `key=value` for every pair, unchecked; an empty set selects everything."""
    reqs = tuple(Requirement(k, EQUALS, (v,)) for k, v in sorted((labels or {}).items()))
    return Selector(reqs)


# --- building checked requirements -------------------------------------------------------------


def new_requirement(
    key: str, operator: str, values: list[str] | None, path: str | None = None
) -> Requirement:
    """NewRequirement: check a requirement as Kubernetes does, or raise SelectorError.

    `values` None is a Go nil slice, which prints as `[]string(nil)` in the errors; `path` is the
    field path of the requirement (none, for selectors read from a query string).
    """
    errs = requirement_errors(key, operator, values, path)
    if errs:
        raise SelectorError(aggregate(errs))
    return Requirement(key, operator, tuple(values or ()))


def requirement_errors(
    key: str, operator: str, values: list[str] | None, path: str | None = None
) -> list[FieldError]:
    base = path or ""
    errs: list[FieldError] = []
    key_error = _label_key_error(key, child(base, "key"))
    if key_error is not None:
        errs.append(key_error)
    vals = values or []
    values_path = child(base, "values")
    if operator in (IN, NOT_IN):
        if not vals:
            errs.append(invalid_rendered(values_path, go_strings(values), _IN_EMPTY))
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(vals) != 1:
            errs.append(
                invalid_rendered(
                    values_path,
                    go_strings(values),
                    "exact-match compatibility requires one single value",
                )
            )
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if vals:
            errs.append(
                invalid_rendered(
                    values_path,
                    go_strings(values),
                    "values set must be empty for exists and does not exist",
                )
            )
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(vals) != 1:
            errs.append(
                invalid_rendered(
                    values_path,
                    go_strings(values),
                    "for 'Gt', 'Lt' operators, exactly one value is required",
                )
            )
        for i, value in enumerate(vals):
            if _parse_int64(value) is None:
                errs.append(
                    invalid(
                        f"{values_path}[{i}]",
                        value,
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    )
                )
    else:
        errs.append(not_supported(child(base, "operator"), operator, _ALL_OPERATORS))
    for i, value in enumerate(vals):
        problems = names.is_valid_label_value(value)
        if problems:
            errs.append(invalid(f"{values_path}[{i}][{key}]", value, "; ".join(problems)))
    return errs


_IN_EMPTY = "for 'in', 'notin' operators, values set can't be empty"


def _label_key_error(key: str, path: str) -> FieldError | None:
    problems = names.is_qualified_name(key)
    return invalid(path, key, "; ".join(problems)) if problems else None


# --- the query-string form ---------------------------------------------------------------------

# Lexer tokens (selector.go Token).
_ERROR = "error"
_END = "end"
_CLOSED_PAR = ")"
_COMMA = ","
_DOES_NOT_EXIST = "!"
_DOUBLE_EQUALS = "=="
_EQUALS = "="
_GREATER_THAN = ">"
_IDENTIFIER = "identifier"
_IN = "in"
_LESS_THAN = "<"
_NOT_EQUALS = "!="
_NOT_IN = "notin"
_OPEN_PAR = "("

_LITERAL_TOKENS = {
    ")": _CLOSED_PAR,
    ",": _COMMA,
    "!": _DOES_NOT_EXIST,
    "==": _DOUBLE_EQUALS,
    "=": _EQUALS,
    ">": _GREATER_THAN,
    "in": _IN,
    "<": _LESS_THAN,
    "!=": _NOT_EQUALS,
    "notin": _NOT_IN,
    "(": _OPEN_PAR,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokens and their literals, ending with the end-of-string token (selector.go Lexer)."""
    items: list[tuple[str, str]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= len(text):
            items.append((_END, ""))
            return items
        if text[pos] in _SPECIAL:
            # The longest run of special characters that still spells a token.
            buffer = ""
            last: tuple[str, str] | None = None
            while pos < len(text) and text[pos] in _SPECIAL:
                buffer += text[pos]
                if buffer in _LITERAL_TOKENS:
                    last = (_LITERAL_TOKENS[buffer], buffer)
                elif last is not None:
                    break
                pos += 1
            items.append(last or (_ERROR, f"error expected: keyword found '{buffer}'"))
        else:
            start = pos
            while pos < len(text) and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
                pos += 1
            word = text[start:pos]
            items.append((_LITERAL_TOKENS.get(word, _IDENTIFIER), word))


class _Parser:
    """The recursive-descent parser of selector.go, one requirement at a time."""

    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.position = 0

    def lookahead(self, values: bool) -> tuple[str, str]:
        return self._token(self.items[self.position], values)

    def consume(self, values: bool) -> tuple[str, str]:
        item = self.items[self.position]
        self.position += 1
        return self._token(item, values)

    @staticmethod
    def _token(item: tuple[str, str], values: bool) -> tuple[str, str]:
        # Where a value is expected, `in` and `notin` are just words.
        tok, lit = item
        if values and tok in (_IN, _NOT_IN):
            tok = _IDENTIFIER
        return tok, lit

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            tok, lit = self.lookahead(True)
            if tok in (_IDENTIFIER, _DOES_NOT_EXIST):
                try:
                    requirements.append(self.parse_requirement())
                except SelectorError as exc:
                    raise SelectorError(f"unable to parse requirement: {exc}") from None
                tok, lit = self.consume(True)
                if tok == _END:
                    return requirements
                if tok == _COMMA:
                    tok2, lit2 = self.lookahead(True)
                    if tok2 not in (_IDENTIFIER, _DOES_NOT_EXIST):
                        raise SelectorError(f"found '{lit2}', expected: identifier after ','")
                else:
                    raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            elif tok == _END:
                return requirements
            else:
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def parse_requirement(self) -> Requirement:
        key, operator = self.parse_key_and_infer_operator()
        if operator in (EXISTS, DOES_NOT_EXIST):
            return new_requirement(key, operator, [])
        operator = self.parse_operator()
        values = self.parse_values() if operator in (IN, NOT_IN) else self.parse_exact_value()
        return new_requirement(key, operator, sorted(values))

    def parse_key_and_infer_operator(self) -> tuple[str, str]:
        operator = ""
        tok, lit = self.consume(True)
        if tok == _DOES_NOT_EXIST:
            operator = DOES_NOT_EXIST
            tok, lit = self.consume(True)
        if tok != _IDENTIFIER:
            raise SelectorError(f"found '{lit}', expected: identifier")
        # The key is checked with the parser's field path, which is nil: Go prints "<nil>".
        key_error = _label_key_error(lit, "<nil>")
        if key_error is not None:
            raise SelectorError(str(key_error))
        if self.lookahead(True)[0] in (_END, _COMMA) and operator != DOES_NOT_EXIST:
            operator = EXISTS
        return lit, operator

    def parse_operator(self) -> str:
        tok, lit = self.consume(False)
        operator = {
            _IN: IN,
            _EQUALS: EQUALS,
            _DOUBLE_EQUALS: DOUBLE_EQUALS,
            _GREATER_THAN: GREATER_THAN,
            _LESS_THAN: LESS_THAN,
            _NOT_IN: NOT_IN,
            _NOT_EQUALS: NOT_EQUALS,
        }.get(tok)
        if operator is None:
            raise SelectorError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        return operator

    def parse_values(self) -> set[str]:
        tok, lit = self.consume(True)
        if tok != _OPEN_PAR:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead(True)
        if tok in (_IDENTIFIER, _COMMA):
            values = self.parse_identifiers_list()
            if self.consume(True)[0] != _CLOSED_PAR:
                raise SelectorError(f"found '{lit}', expected: ')'")
            return values
        if tok == _CLOSED_PAR:
            self.consume(True)
            return {""}
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def parse_identifiers_list(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self.consume(True)
            if tok == _IDENTIFIER:
                values.add(lit)
                tok2, lit2 = self.lookahead(True)
                if tok2 == _COMMA:
                    continue
                if tok2 == _CLOSED_PAR:
                    return values
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if tok == _COMMA:
                # An empty entry, as in "(,a)", "(a,,b)" or "(a,)", is the empty value.
                if not values:
                    values.add("")
                tok2 = self.lookahead(True)[0]
                if tok2 == _CLOSED_PAR:
                    values.add("")
                    return values
                if tok2 == _COMMA:
                    values.add("")
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def parse_exact_value(self) -> set[str]:
        tok = self.lookahead(True)[0]
        if tok in (_END, _COMMA):
            return {""}
        tok, lit = self.consume(True)
        if tok == _IDENTIFIER:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse(text: str) -> Selector:
    """labels.Parse: the query-string form, requirements sorted by key.

    >>> str(parse("tier in (web, api),app"))
    'app,tier in (api,web)'
    """
    requirements = _Parser(text).parse()
    return Selector(tuple(sorted(requirements, key=lambda r: r.key)))


# --- the object form ---------------------------------------------------------------------------


def from_label_selector(selector: Mapping[str, Any] | None) -> Selector:
    """metav1.LabelSelectorAsSelector: None matches nothing, an empty selector everything."""
    if selector is None:
        return nothing()
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return everything()
    requirements = [new_requirement(k, EQUALS, [v]) for k, v in match_labels.items()]
    for expr in expressions:
        operator = _OBJECT_OPERATORS.get(expr.get("operator"))
        if operator is None:
            spelled = go_quote(str(expr.get("operator") or ""))
            raise SelectorError(f"{spelled} is not a valid label selector operator")
        values = expr.get("values")
        requirements.append(
            new_requirement(expr.get("key") or "", operator, list(values) if values else None)
        )
    return Selector(tuple(sorted(requirements, key=lambda r: r.key)))


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """metav1.FormatLabelSelector, as kubectl prints a selector: `app=web,tier in (a,b)`,
    `<none>` when it selects everything or nothing, `<error>` when it is not a selector."""
    try:
        text = str(from_label_selector(selector))
    except SelectorError:
        return FORMAT_ERROR
    return text or FORMAT_NONE


def validate_label_selector(
    selector: Mapping[str, Any] | None, path: str, *, allow_invalid_label_value: bool = False
) -> list[FieldError]:
    """ValidateLabelSelector: matchLabels as labels, each expression's operator, key and values."""
    if selector is None:
        return []
    errs = validate_labels(selector.get("matchLabels"), child(path, "matchLabels"))
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        expr_path = f"{child(path, 'matchExpressions')}[{i}]"
        operator = expr.get("operator") or ""
        values = expr.get("values") or []
        if operator in ("In", "NotIn"):
            if not values:
                errs.append(
                    required_error(
                        child(expr_path, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    )
                )
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                errs.append(
                    forbidden_field(
                        child(expr_path, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            errs.append(
                invalid(child(expr_path, "operator"), operator, "not a valid selector operator")
            )
        errs += validate_label_name(expr.get("key") or "", child(expr_path, "key"))
        if not allow_invalid_label_value:
            for j, value in enumerate(values):
                errs += [
                    invalid(f"{child(expr_path, 'values')}[{j}]", value, msg)
                    for msg in names.is_valid_label_value(value)
                ]
    return errs
