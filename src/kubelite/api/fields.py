"""Field selectors: the `fieldSelector` query string (apimachinery `pkg/fields/selector.go`).

`parse("metadata.name=web,status.phase!=Running")` gives a `FieldSelector` that matches a dict of
field name to string value (what a kind's `Strategy.selectable_fields` returns, plus
`metadata.name` and `metadata.namespace`). Terms are split on unescaped commas; a value may
escape `\\`, `,` and `=` with a backslash. Only `=`, `==` and `!=` exist.

Which field names a kind accepts is Kubernetes' per-kind field-label conversion (the
`AddFieldLabelConversionFunc` registrations); `check_labels` refuses the others with the 400 the
API server gives for a list, whose text depends on whether the kind registered a conversion at
all. A bad selector raises `SelectorError`, whose text is the 400's message as Kubernetes words it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from kubelite.api.errors import StatusError, bad_request
from kubelite.api.goformat import go_quote

EQUALS = "="
NOT_EQUALS = "!="
# splitTerm tries these in order at every position, so `==` wins over `=` and `!=` over both.
_TERM_OPERATORS = ("!=", "==", "=")
# The labels every kind without its own conversion accepts (DefaultMetaV1FieldSelectorConversion).
METADATA_LABELS = frozenset({"metadata.name", "metadata.namespace"})


class SelectorError(ValueError):
    """A field selector Kubernetes cannot read; str() is the message of its 400."""


@dataclass(frozen=True)
class Requirement:
    """`field=value` or `field!=value`; `==` is read as `=`."""

    field: str
    operator: str
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        # A field the object does not expose reads as the empty string (fields.Set.Get).
        have = fields.get(self.field, "")
        return have == self.value if self.operator == EQUALS else have != self.value

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    """All requirements must match; no requirements selects everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def field_names(self) -> list[str]:
        return [r.field for r in self.requirements]

    def requires_exact_match(self, field: str) -> str | None:
        """The value the selector pins `field` to with `=`, if any (RequiresExactMatch)."""
        for r in self.requirements:
            if r.field == field and r.operator == EQUALS:
                return r.value
        return None

    def transform(self, fn: Callable[[str, str], tuple[str, str]]) -> FieldSelector:
        """Rewrite each (field, value); a term rewritten to two empty strings is dropped."""
        out = []
        for r in self.requirements:
            field, value = fn(r.field, r.value)
            if field or value:
                out.append(Requirement(field, r.operator, value))
        return FieldSelector(tuple(out))

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def escape_value(value: str) -> str:
    """EscapeValue: a literal value made safe to put in a selector."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_value(value: str) -> str:
    """UnescapeValue: the literal value of a term's right-hand side."""
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for ch in value:
        if in_slash:
            if ch not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch in ",=":
            # Go prints the offending rune with %v, which is its code point.
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are not escaped; escapes stay in the terms."""
    if not selector:
        return []
    terms: list[str] = []
    start = 0
    in_slash = False
    for i, ch in enumerate(selector):
        if in_slash:
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch == ",":
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """The first operator anywhere in the term splits it; the left side has no escaping."""
    for i in range(len(term)):
        for op in _TERM_OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def parse(selector: str) -> FieldSelector:
    """fields.ParseSelector; terms come out sorted, as Kubernetes sorts them.

    >>> str(parse("spec.nodeName=n1,status.phase!=Running"))
    'spec.nodeName=n1,status.phase!=Running'
    """
    requirements: list[Requirement] = []
    for part in sorted(_split_terms(selector)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorError(f"invalid selector: '{selector}'; can't understand '{part}'")
        lhs, op, rhs = split
        value = unescape_value(rhs)
        requirements.append(Requirement(lhs, NOT_EQUALS if op == "!=" else EQUALS, value))
    return FieldSelector(tuple(requirements))


def unsupported_label(label: str, accepted: Collection[str] | None) -> StatusError:
    """The 400 for a field label the kind does not accept.

    `accepted` None means Kubernetes registers no field-label conversion for the kind, which
    then accepts only metadata.name and metadata.namespace and says so in its own words.
    """
    if accepted is None:
        return bad_request(
            f"{go_quote(label)} is not a known field selector: only "
            f'"metadata.name", "metadata.namespace"'
        )
    return bad_request(f"field label not supported: {label}")


def check_labels(selector: FieldSelector, accepted: Collection[str] | None) -> None:
    """Raise the API server's 400 for the first field the kind does not accept."""
    allowed = METADATA_LABELS if accepted is None else accepted
    for name in selector.field_names():
        if name not in allowed:
            raise unsupported_label(name, accepted)
