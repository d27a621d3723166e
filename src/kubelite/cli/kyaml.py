"""KYAML, the YAML dialect of `kubectl -o kyaml` (KEP-5295), written byte for byte as kubectl
1.37 writes it.

KYAML is YAML that reads like JSON: flow style (`{`, `[`), every string value double-quoted,
keys bare unless YAML would read them as something else (`"on"`, `"n"`, `"1"`), a comma after
every entry, and lists of objects "cuddled" (`[{` ... `}, {` ... `}]`). Text with newlines is
written as one quoted scalar whose lines end in a backslash (YAML's escaped line break), so it
keeps its indentation and stays readable. kubectl's printer (sigs.k8s.io/yaml/kyaml) works from
the object's JSON: keys come sorted (Go sorts a map's keys by bytes, which is code-point order),
and numbers are Go's encoding/json text of an int64 or float64.

kubectl decodes that JSON with a YAML parser first, which refuses characters YAML does not allow
in a stream (DEL, the C1 controls but NEL, U+FFFE/U+FFFF); `encode` refuses them with kubectl's
own message, so `kubelite get -o kyaml` fails where kubectl does.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Any

INDENT = "  "
# The escaped line break a multi-line value's lines end with.
FOLD = "\\\n"

# Go's int64 range: unstructured JSON numbers outside it become float64 in kubectl.
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


class KYAMLError(ValueError):
    """What kubectl prints after `error: ` when it cannot write the object as KYAML."""


# --- characters -------------------------------------------------------------------------------

# unicode.IsSpace: Unicode's White_Space property.
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)

# The escapes kyaml writes for non-printable runes that have a short form.
_SHORT_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\x00": "\\0",
    "\x1b": "\\e",
    "\x85": "\\N",
    "\xa0": "\\_",
    "\u2028": "\\L",
    "\u2029": "\\P",
}


def _is_print(char: str) -> bool:
    """unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space."""
    return char == " " or unicodedata.category(char)[0] in "LMNPS"


def _yaml_allows(char: str) -> bool:
    """Whether go-yaml's reader accepts the character in kubectl's JSON text: those below
    U+0020 reach it escaped, the rest as they are (yaml_parser_update_buffer's check)."""
    code = ord(char)
    return (
        code <= 0x7E
        or code == 0x85
        or 0xA0 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _valid_text(text: str) -> str:
    """The string as Go's JSON encoder would pass it on: lone surrogates become U+FFFD."""
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text


# --- when a bare key would be misread ---------------------------------------------------------

_DEC_INT = re.compile(r"[+-]?[0-9]+")
_PREFIXED_INT = re.compile(r"[+-]?0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+|[0-7]*)")
_DEC_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX_FLOAT = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+")
_SEXAGESIMAL = re.compile(r"[+-]?[1-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
# strconv.ParseBool's words.
_GO_BOOLS = frozenset(
    ("1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False")
)
# YAML's null and boolean words (the empty text is a null too), compared lower-cased.
_YAML_WORDS = frozenset(("", "null", "~", "true", "y", "yes", "on", "false", "n", "no", "off"))
_INF_NAN = frozenset((".inf", "-.inf", "+.inf", ".nan"))


def _go_parse_int(text: str) -> bool:
    """strconv.ParseInt(text, 0, 64) succeeds: Go's integer literal syntax, in int64's range."""
    if _DEC_INT.fullmatch(text) and not text.lstrip("+-").startswith("0"):
        return _INT64_MIN <= int(text) <= _INT64_MAX
    if _PREFIXED_INT.fullmatch(text):
        sign = -1 if text.startswith("-") else 1
        body = text.lstrip("+-")
        value = int(body, 8) if body[1:2].isdigit() or body == "0" else int(body, 0)
        return _INT64_MIN <= sign * value <= _INT64_MAX
    return False


def _go_parse_float(text: str) -> bool:
    """strconv.ParseFloat(text, 64) succeeds: decimal or hex (with a `p` exponent) notation,
    `inf`/`infinity` with a sign or none, `nan`; an overflow is an error, an underflow is not."""
    lowered = text.lower()
    if (
        lowered.lstrip("+-") in ("inf", "infinity")
        and len(lowered) - len(lowered.lstrip("+-")) <= 1
    ):
        return True
    if lowered == "nan":
        return True
    try:
        if _DEC_FLOAT.fullmatch(text):
            value = float(text)
        elif _HEX_FLOAT.fullmatch(text):
            value = float.fromhex(text)
        else:
            return False
    except OverflowError:
        return False
    return value not in (float("inf"), float("-inf"))


def _days_in(month: int, year: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _is_timestamp(text: str) -> bool:
    """Go's time.Parse takes the text as one of go-yaml's timestamp layouts. Only the date-only
    one (`2006-1-2`) matters here: the others contain a colon or a space, which are quoted
    anyway."""
    date = _DATE.fullmatch(text)
    if not date:
        return False
    year, month, day = (int(part) for part in date.groups())
    return 1 <= month <= 12 and 1 <= day <= _days_in(month, year)


def yaml_guesses_wrong(text: str) -> bool:
    """Whether a YAML parser would read the bare text as something other than a string: a null,
    a boolean (YAML 1.1's yes/no/on/off too), a number, a sexagesimal, infinity or NaN, or a
    timestamp."""
    if len(text) <= 5 and text.lower() in _YAML_WORDS:
        return True
    if text in _GO_BOOLS:
        return True
    plain = text.replace("_", "")
    if _go_parse_int(plain) or _go_parse_float(plain):
        return True
    if _SEXAGESIMAL.fullmatch(text):
        return True
    if len(text) <= 5 and text.lower() in _INF_NAN:
        return True
    return _is_timestamp(text)


def needs_quotes(text: str) -> bool:
    """Whether a key must be quoted: it is empty, YAML would misread it, or it has a character
    other than a letter, a number or `_` (or `-`, `.`, `/` at either end)."""
    if not text or yaml_guesses_wrong(text):
        return True
    last = len(text) - 1
    for i, char in enumerate(text):
        category = unicodedata.category(char)[0]
        if category in "LN" or char == "_":
            continue
        if 0 < i < last and char in "-./":
            continue
        return True
    return False


# --- strings ----------------------------------------------------------------------------------


def _escaped(char: str, newline: str, key: bool) -> str:
    """One character inside double quotes, escaped as kyaml escapes it."""
    if char in '"\\':
        return "\\" + char
    if char == "\n":
        return newline
    # kubectl 1.37 writes a tab as it is in a value, and as `\t` in a key (kyaml_cases.json).
    if (char == "\t" and not key) or _is_print(char):
        return char
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def render_string(text: str, indent: int, *, key: bool = False) -> str:
    """A string at nesting level `indent` (the level its continuation lines are indented to).

    A key is written bare when it can be, and its newlines stay `\\n`; a value is always quoted,
    and a value with newlines is spread over lines that each end with an escaped line break,
    each line indented one level deeper and led by a space (or, where the line starts with
    white space, by a backslash that keeps it).
    """
    text = _valid_text(text)
    multi = "\n" in text
    if key and not multi and not needs_quotes(text):
        return text
    newline = "\\n" if key else "\\n" + FOLD
    out = ['"']
    folded = multi and not key
    if folded:
        out.append(FOLD)
    after_newline = folded
    for char in text:
        if after_newline:
            out.append(INDENT * indent)
            out.append("\\" if char in _WHITE_SPACE and char != "\n" else " ")
        piece = _escaped(char, newline, key)
        out.append(piece)
        after_newline = piece.endswith("\n")
    if folded:
        if not after_newline:
            out.append(FOLD)
        out.append(INDENT * indent)
    out.append('"')
    return "".join(out)


# --- numbers ----------------------------------------------------------------------------------


def go_json_float(value: float) -> str:
    """A float64 as Go's encoding/json writes it: the shortest digits, in fixed notation from
    1e-6 up to 1e21 and in exponent notation (`1e+21`, `1e-7`) outside."""
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    mantissa = "".join(str(d) for d in digits)
    prefix = "-" if sign else ""
    if 1e-6 <= abs(value) < 1e21:
        point = len(mantissa) + exponent
        if point <= 0:
            return f"{prefix}0.{'0' * -point}{mantissa}"
        if point >= len(mantissa):
            return prefix + mantissa + "0" * (point - len(mantissa))
        return f"{prefix}{mantissa[:point]}.{mantissa[point:]}"
    power = len(mantissa) - 1 + exponent
    fraction = f".{mantissa[1:]}" if len(mantissa) > 1 else ""
    sign_char = "-" if power < 0 else "+"
    return f"{prefix}{mantissa[0]}{fraction}e{sign_char}{abs(power):02d}".replace("e-0", "e-", 1)


def _number(value: int | float) -> str:
    if isinstance(value, int) and _INT64_MIN <= value <= _INT64_MAX:
        return str(value)
    return go_json_float(float(value))


# --- nodes ------------------------------------------------------------------------------------


def _check(text: str) -> None:
    for char in _valid_text(text):
        if not _yaml_allows(char):
            raise KYAMLError("error decoding: yaml: control characters are not allowed")


# A run of the blanks and line breaks that Go's JSON text carries unescaped: spaces and NEL.
_RAW_BLANKS = re.compile("[ \x85]+")


def _fold(run: re.Match[str]) -> str:
    """YAML's line folding of a double-quoted scalar, applied to one run of spaces and NELs:
    the spaces around the breaks go, a lone break becomes a space, and each further break a
    newline."""
    blanks = run.group()
    breaks = blanks.count("\x85")
    if not breaks:
        return blanks
    return "\n" * (breaks - 1) if breaks > 1 else " "


def as_parsed(text: str) -> str:
    """The string as kubectl's YAML parser reads it back from Go's JSON: a NEL (U+0085), which
    Go leaves unescaped, is a line break to YAML and is folded."""
    return _RAW_BLANKS.sub(_fold, text) if "\x85" in text else text


class _Writer:
    def __init__(self, sort_keys: bool) -> None:
        self.sort_keys = sort_keys
        self.out: list[str] = []

    def node(self, value: Any, indent: int) -> None:
        if isinstance(value, dict):
            self.mapping(value, indent)
        elif isinstance(value, list | tuple):
            self.sequence(value, indent)
        elif value is None:
            self.out.append("null")
        elif isinstance(value, bool):
            self.out.append("true" if value else "false")
        elif isinstance(value, int | float):
            self.out.append(_number(value))
        elif isinstance(value, str):
            _check(value)
            self.out.append(render_string(as_parsed(value), indent + 1))
        else:
            raise TypeError(f"cannot write {type(value).__name__} as KYAML")

    def mapping(self, value: dict[str, Any], indent: int) -> None:
        if not value:
            self.out.append("{}")
            return
        self.out.append("{\n")
        keys = sorted(value, key=_valid_text) if self.sort_keys else list(value)
        for key in keys:
            _check(key)
            if "\x85" in key:
                # A key must be one line: the parser stops at the break.
                raise KYAMLError("error decoding: yaml: line 1: did not find expected ',' or '}'")
            self.out.append(INDENT * (indent + 1))
            self.out.append(render_string(key, indent + 1, key=True))
            self.out.append(": ")
            self.node(value[key], indent + 1)
            self.out.append(",\n")
        self.out.append(INDENT * indent + "}")

    def sequence(self, value: list[Any] | tuple[Any, ...], indent: int) -> None:
        if not value:
            self.out.append("[]")
            return
        if all(isinstance(item, dict | list | tuple) for item in value):
            # Objects and lists are cuddled: `[{`, `}, {`, `}]`, at the list's own level.
            self.out.append("[")
            for i, item in enumerate(value):
                if i:
                    self.out.append(", ")
                self.node(item, indent)
            self.out.append("]")
            return
        self.out.append("[\n")
        for item in value:
            self.out.append(INDENT * (indent + 1))
            self.node(item, indent + 1)
            self.out.append(",\n")
        self.out.append(INDENT * indent + "]")


def encode(obj: Any, *, sort_keys: bool = True) -> str:
    """One KYAML document: the `---` header, the object, a final newline.

    `sort_keys` orders every mapping's keys as Go orders a map's (kubectl prints the objects
    it reads from a server that way); without it a dict's own order is kept, as kubectl keeps a
    typed object's field order.
    """
    writer = _Writer(sort_keys)
    writer.out.append("---\n")
    writer.node(obj, 0)
    writer.out.append("\n")
    return "".join(writer.out)
