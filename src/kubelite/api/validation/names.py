"""The name formats Kubernetes checks everywhere (apimachinery `pkg/util/validation`).

Each check returns a list of problems in Kubernetes' own words (empty when the value is good), so
that callers can wrap them into `FieldError`s under the field they were checking, and kubectl
users read the same sentences they would from Kubernetes.
"""

from __future__ import annotations

import functools
import re

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
DNS1035_LABEL_MAX = 63
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63
IANA_SVC_NAME_MAX = 15

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"
_C_IDENTIFIER_FMT = "[A-Za-z_][A-Za-z0-9_]*"
_ENV_VAR_NAME_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"

_DNS1123_LABEL = re.compile(f"^{_DNS1123_LABEL_FMT}$")
_DNS1123_SUBDOMAIN = re.compile(f"^{_DNS1123_SUBDOMAIN_FMT}$")
_DNS1035_LABEL = re.compile(f"^{_DNS1035_LABEL_FMT}$")
_QUALIFIED_NAME = re.compile(f"^{_QUALIFIED_NAME_FMT}$")
_LABEL_VALUE = re.compile(f"^{_LABEL_VALUE_FMT}$")
_C_IDENTIFIER = re.compile(f"^{_C_IDENTIFIER_FMT}$")
_ENV_VAR_NAME = re.compile(f"^{_ENV_VAR_NAME_FMT}$")
_IANA_SVC_NAME_CHARS = re.compile("^[-a-z0-9]+$")
_IANA_SVC_NAME_LETTER = re.compile("[a-z]")


# Names repeat from object to object (namespaces, label keys and values, container and volume
# names): whether one fits its format is remembered, as looking it up costs less than matching
# it again. One cache per format, keyed by the name alone.
_remembered = functools.lru_cache(maxsize=4096)


@_remembered
def _fits_dns1123_label(value: str) -> bool:
    return _DNS1123_LABEL.match(value) is not None


@_remembered
def _fits_dns1123_subdomain(value: str) -> bool:
    return _DNS1123_SUBDOMAIN.match(value) is not None


@_remembered
def _fits_label_value(value: str) -> bool:
    return _LABEL_VALUE.match(value) is not None


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """Kubernetes' RegexError: the rule, some examples, and the regex itself."""
    text = message
    if examples:
        text += " (e.g. " + ",  or ".join(f"'{e}'" for e in examples)
        text += f", regex used for validation is '{fmt}')"
    else:
        text += f" (regex used for validation is '{fmt}')"
    return text


def go_len(value: str) -> int:
    """len() of a Go string: its UTF-8 bytes, which is what Kubernetes' length limits count
    (a name of 100 emoji is 400 long)."""
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def _length_and_pattern(
    value: str, max_len: int, pattern: re.Pattern[str], message: str, fmt: str, *examples: str
) -> list[str]:
    """What a name rule made of a length limit and a regex reports: either, both or neither,
    in Go's order (the length first)."""
    errs = []
    if go_len(value) > max_len:
        errs.append(max_len_error(max_len))
    if not pattern.match(value):
        errs.append(regex_error(message, fmt, *examples))
    return errs


def is_dns1123_label(value: str) -> list[str]:
    """Container names, namespace names, port names of services..."""
    if type(value) is str and len(value) <= DNS1123_LABEL_MAX and _fits_dns1123_label(value):
        return []
    return _length_and_pattern(
        value,
        DNS1123_LABEL_MAX,
        _DNS1123_LABEL,
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
        "or '-', and must start and end with an alphanumeric character",
        _DNS1123_LABEL_FMT,
        "my-name",
        "123-abc",
    )


def is_dns1123_subdomain(value: str) -> list[str]:
    """The default rule for object names."""
    if (
        type(value) is str
        and len(value) <= DNS1123_SUBDOMAIN_MAX
        and _fits_dns1123_subdomain(value)
    ):
        return []
    return _length_and_pattern(
        value,
        DNS1123_SUBDOMAIN_MAX,
        _DNS1123_SUBDOMAIN,
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
        "characters, '-' or '.', and must start and end with an alphanumeric character",
        _DNS1123_SUBDOMAIN_FMT,
        "example.com",
    )


def is_dns1035_label(value: str) -> list[str]:
    """Service names: a DNS label that starts with a letter."""
    return _length_and_pattern(
        value,
        DNS1035_LABEL_MAX,
        _DNS1035_LABEL,
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
        "start with an alphabetic character, and end with an alphanumeric character",
        _DNS1035_LABEL_FMT,
        "my-name",
        "abc-123",
    )


def is_qualified_name(value: str) -> list[str]:
    """Label and annotation keys, finalizers: an optional DNS prefix and a name."""
    if isinstance(value, str) and _is_good_qualified_name(value):
        return []
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + e for e in is_dns1123_subdomain(prefix))
    else:
        return [
            regex_error(
                "a qualified name must consist of alphanumeric characters, '-', '_' or '.', "
                "and must start and end with an alphanumeric character",
                _QUALIFIED_NAME_FMT,
                "MyName",
                "my.name",
                "123-abc",
            )
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif go_len(name) > QUALIFIED_NAME_MAX:
        errs.append("name part " + max_len_error(QUALIFIED_NAME_MAX))
    # Go checks the pattern even for an empty name, so "" gets both messages.
    if not _QUALIFIED_NAME.match(name):
        errs.append(
            "name part "
            + regex_error(
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                "end with an alphanumeric character",
                _QUALIFIED_NAME_FMT,
                "MyName",
                "my.name",
                "123-abc",
            )
        )
    return errs


# The longest qualified name: a DNS subdomain prefix, a slash and a name.
_QUALIFIED_NAME_LONGEST = DNS1123_SUBDOMAIN_MAX + 1 + QUALIFIED_NAME_MAX


def _is_good_qualified_name(value: str) -> bool:
    """Whether is_qualified_name finds nothing wrong: the usual answer, found with less work."""
    return len(value) <= _QUALIFIED_NAME_LONGEST and _fits_qualified_name(value)


@_remembered
def _fits_qualified_name(value: str) -> bool:
    prefix, slash, name = value.rpartition("/")
    if slash and not (
        prefix and len(prefix) <= DNS1123_SUBDOMAIN_MAX and _DNS1123_SUBDOMAIN.match(prefix)
    ):
        return False
    return len(name) <= QUALIFIED_NAME_MAX and _QUALIFIED_NAME.match(name) is not None


def is_valid_label_value(value: str) -> list[str]:
    if type(value) is str and len(value) <= LABEL_VALUE_MAX and _fits_label_value(value):
        return []
    return _length_and_pattern(
        value,
        LABEL_VALUE_MAX,
        _LABEL_VALUE,
        "a valid label must be an empty string or consist of alphanumeric characters, "
        "'-', '_' or '.', and must start and end with an alphanumeric character",
        _LABEL_VALUE_FMT,
        "MyValue",
        "my_value",
        "12345",
    )


def is_valid_port_name(value: str) -> list[str]:
    """IANA_SVC_NAME (RFC 6335): named container and service ports."""
    errs = []
    if go_len(value) > IANA_SVC_NAME_MAX:
        errs.append(max_len_error(IANA_SVC_NAME_MAX))
    if not _IANA_SVC_NAME_CHARS.match(value):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in value:
        errs.append("must not contain consecutive hyphens")
    if not _IANA_SVC_NAME_LETTER.search(value):
        errs.append("must contain at least one letter (a-z)")
    if value.startswith("-") or value.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_valid_port_num(port: int) -> list[str]:
    if 1 <= port <= 65535:
        return []
    return ["must be between 1 and 65535, inclusive"]


def is_c_identifier(value: str) -> list[str]:
    if _C_IDENTIFIER.match(value):
        return []
    return [
        regex_error(
            "a valid C identifier must start with alphabetic character or '_', followed by a "
            "string of alphanumeric characters or '_'",
            _C_IDENTIFIER_FMT,
            "my_name",
            "MY_NAME",
            "MyName",
        )
    ]


def is_env_var_name(value: str) -> list[str]:
    """Environment variable names, as relaxed in Kubernetes 1.30 (any printable but '=')."""
    errs = []
    if not value or any(not (32 <= ord(c) <= 126) or c == "=" for c in value):
        errs.append(
            "a valid environment variable name must consist only of printable ASCII "
            "characters other than '='"
        )
    return errs


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    """ValidateNameFunc for most kinds; `prefix` checks a generateName stem (may end in '-')."""
    if prefix:
        name = mask_trailing_dash(name)
    return is_dns1123_subdomain(name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    if prefix:
        name = mask_trailing_dash(name)
    return is_dns1123_label(name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    if prefix:
        name = mask_trailing_dash(name)
    return is_dns1035_label(name)


def mask_trailing_dash(name: str) -> str:
    """A generateName may end in '-': check it as if that dash were a letter."""
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def is_valid_path_segment_name(name: str) -> list[str]:
    """Names that become URL path segments may not be `.`/`..` or contain `/` or `%`."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    errs = []
    for bad in ("/", "%"):
        if bad in name:
            errs.append(f"may not contain '{bad}'")
    return errs
