"""How Go prints a string with `%q` (strconv.Quote), where Kubernetes' messages and files show
one: field errors' bad values, managed-fields paths, the downward API's label and annotation
files. Kubernetes' clients and tests compare those texts byte for byte, so kubelite writes them
as Go does.

    >>> go_quote('say "hi"\\n')
    '"say \\\\"hi\\\\"\\\\n"'
"""

from __future__ import annotations

from typing import Any

# The escapes strconv.Quote writes by name.
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def go_quote(text: str) -> str:
    """strconv.Quote: in double quotes, with what is not printable escaped (\\x for ASCII,
    \\u or \\U beyond)."""
    out = ['"']
    for char in text:
        escaped = _ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def json_type(value: Any) -> str:
    """The JSON type of a decoded value, named as Go's decoder names it in its errors.

    Integers and floats are one type, `number`: kubectl decodes every number as a float64.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
