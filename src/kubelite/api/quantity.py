"""Kubernetes resource quantities: parse, compare, add, and print them as Kubernetes does.

A quantity (`500m`, `1Gi`, `1e3`) is a fixed-point number with a suffix; Kubernetes
(apimachinery `pkg/api/resource`) never represents it as a float. This module keeps the value
exactly as an integer mantissa and a power-of-ten scale, so that `0.1 + 0.2` CPUs is `300m`
and never `300.00000000000006m`.

What a client reads back must be byte-for-byte what Kubernetes serializes, because kubectl
diffs (`apply`), `describe` and controllers compare strings:

- the format is remembered from the suffix: binary (`Ki`..`Ei`), decimal SI (`n`..`E`) or a
  decimal exponent (`e3`);
- the canonical form has no fraction and the largest suffix that loses nothing:
  `0.5` -> `500m`, `1024Mi` -> `1Gi`, `1.5Gi` -> `1536Mi`; `1e3` stays `1e3`;
- an input that is already canonical is echoed as it was written (Kubernetes caches the string
  it parsed), which is why `+1` is served back as `+1`;
- values are rounded up (away from zero) to nanos when parsed, and resource lists of pods are
  rounded up to millis (`SetDefaults_ResourceList`): `0.0001` CPUs becomes `1m`.
"""

from __future__ import annotations

import functools
import json
from typing import Any

# Formats (resource.Format).
DECIMAL_EXPONENT = "DecimalExponent"
BINARY_SI = "BinarySI"
DECIMAL_SI = "DecimalSI"

# Scales, as powers of ten (resource.Nano, resource.Milli).
NANO = -9
MILLI = -3

# The largest magnitude a binary quantity keeps; larger ones are capped (quantity.go maxAllowed).
_MAX_ALLOWED = (1 << 63) - 1
# More digits than this leave the int64 fast path of ParseQuantity (amount.go maxInt64Factors).
_MAX_INT64_FACTORS = 18

# The messages of apimachinery's ErrFormatWrong and ErrSuffix.
_SPLIT_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = f"quantities must match the regular expression '{_SPLIT_RE}'"
ERR_SUFFIX = "unable to parse quantity's suffix"

_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15}
_DECIMAL_SUFFIXES["E"] = 18
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {exponent: suffix for suffix, exponent in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {exponent: suffix for suffix, exponent in _BINARY_SUFFIXES.items()}


class QuantityError(ValueError):
    """A string that is not a quantity; the message is the one Kubernetes gives."""


@functools.total_ordering
class Quantity:
    """One quantity: `unscaled * 10**scale`, its format, and the string it was parsed from.

    `exact_int64` records whether Kubernetes would hold the value in its int64 fast path
    (`int64Amount`) or as an arbitrary-precision decimal (`inf.Dec`, with `dec_places` digits
    after the point); both only matter for how the value is printed inside Go diffs (`go_repr`).
    """

    __slots__ = ("_cached", "_scale", "_unscaled", "dec_places", "exact_int64", "format")

    def __init__(
        self,
        unscaled: int = 0,
        scale: int = 0,
        format: str = DECIMAL_SI,
        *,
        cached: str = "",
        exact_int64: bool = True,
        dec_places: int = -NANO,
    ) -> None:
        self._unscaled = unscaled
        self._scale = scale
        self.format = format
        self._cached = cached
        self.exact_int64 = exact_int64
        self.dec_places = dec_places

    # --- reading -----------------------------------------------------------------------------

    @classmethod
    def from_json(cls, value: Any) -> Quantity:
        """Quantity.UnmarshalJSON: a string (spaces trimmed), a JSON number, or null (zero)."""
        if value is None:
            return cls()
        if isinstance(value, bool):
            return parse_quantity(str(value).lower())
        if isinstance(value, int | float):
            return parse_quantity(repr(value) if isinstance(value, float) else str(value))
        if isinstance(value, str):
            return parse_quantity(value.strip())
        raise QuantityError(ERR_FORMAT_WRONG)

    # --- arithmetic and comparison -------------------------------------------------------------

    def sign(self) -> int:
        return (self._unscaled > 0) - (self._unscaled < 0)

    def is_zero(self) -> bool:
        return self._unscaled == 0

    def _compare(self, other: Quantity) -> int:
        a, b = self.sign(), other.sign()
        if a != b or a == 0:
            return (a > b) - (a < b)
        # Decide by order of magnitude first, so that 1e999999 never becomes a huge integer.
        mag_a = len(str(abs(self._unscaled))) + self._scale
        mag_b = len(str(abs(other._unscaled))) + other._scale
        if mag_a != mag_b:
            return a if mag_a > mag_b else -a
        low = min(self._scale, other._scale)
        x = self._unscaled * 10 ** (self._scale - low)
        y = other._unscaled * 10 ** (other._scale - low)
        return (x > y) - (x < y)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self._compare(other) == 0

    def __lt__(self, other: Quantity) -> bool:
        return self._compare(other) < 0

    def __hash__(self) -> int:
        if self._unscaled == 0:
            return 0
        return hash(_strip_tens(self._unscaled, self._scale))

    def __add__(self, other: Quantity) -> Quantity:
        """Quantity.Add: adding to zero takes the other's format."""
        low = min(self._scale, other._scale)
        total = self._unscaled * 10 ** (self._scale - low) + other._unscaled * 10 ** (
            other._scale - low
        )
        fmt = other.format if self.is_zero() else self.format
        return Quantity(total, low, fmt, exact_int64=self.exact_int64 and other.exact_int64)

    def round_up(self, scale: int) -> Quantity:
        """Quantity.RoundUp: round away from zero to `10**scale`; the parsed string is kept
        when nothing changes, as Kubernetes keeps its cached string."""
        if self.exact_int64 and self._scale >= scale:
            return self
        unscaled, own_scale = self._unscaled, self._scale
        if own_scale < scale:
            unscaled = _divide_away_from_zero(unscaled, 10 ** (scale - own_scale))
            own_scale = scale
        # An inf.Dec is re-expressed with exactly -scale decimal places.
        return Quantity(
            unscaled, own_scale, self.format, exact_int64=self.exact_int64, dec_places=-scale
        )

    def scaled_value(self, scale: int) -> int:
        """ceil(|q| / 10**scale) with the sign of q: Quantity.ScaledValue."""
        if self._scale >= scale:
            return self._unscaled * 10 ** (self._scale - scale)
        return _divide_away_from_zero(self._unscaled, 10 ** (scale - self._scale))

    def value(self) -> int:
        return self.scaled_value(0)

    def milli_value(self) -> int:
        return self.scaled_value(MILLI)

    # --- printing ------------------------------------------------------------------------------

    def __str__(self) -> str:
        return self._cached or self.canonical()

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    def canonical(self) -> str:
        """Quantity.CanonicalizeBytes: the form Kubernetes computes when it has no cached string."""
        if self._unscaled == 0:
            return "0"
        fmt = self.format
        if fmt == BINARY_SI:
            integral = self._scale >= 0 or self._unscaled % 10 ** (-self._scale) == 0
            if Quantity(-1024) < self < Quantity(1024) or not integral:
                # Small values, and fractions a binary suffix would lose, print decimally.
                fmt = DECIMAL_SI
        elif fmt not in (DECIMAL_SI, DECIMAL_EXPONENT):
            fmt = DECIMAL_EXPONENT
        if fmt == BINARY_SI:
            whole = (
                self._unscaled * 10**self._scale
                if self._scale >= 0
                else self._unscaled // 10 ** (-self._scale)
            )
            amount, times = _remove_factors(whole, 1024)
            return f"{amount}{_BINARY_BY_EXPONENT.get(times * 10, '')}"
        amount, exponent = _strip_tens(self._unscaled, self._scale)
        # Lower the exponent to a multiple of three (1.1e5 is 110k), as AsCanonicalBytes does.
        shift = exponent % 3
        amount *= 10**shift
        exponent -= shift
        if fmt == DECIMAL_SI:
            # Kubernetes has no suffix past E (10^18) and then prints the bare mantissa.
            return f"{amount}{_DECIMAL_BY_EXPONENT.get(exponent, '')}"
        return f"{amount}e{exponent}" if exponent else str(amount)

    def go_repr(self, *, typed: bool, nested_typed: bool) -> str:
        """How go-cmp prints this resource.Quantity inside a Kubernetes update diff.

        Quantity's String method has a pointer receiver, so go-cmp shows its unexported fields:
        the int64 amount (or the inf.Dec), the cached string and the format. go-cmp names
        struct types only on the lines that differ; `typed` asks for the Quantity's own type,
        `nested_typed` for the types of its fields.
        """

        def named(name: str, body: str, show: bool) -> str:
            return f"resource.{name}{body}" if show else body

        parts: list[str] = []
        if self.exact_int64:
            amount = [f"value: {self._unscaled}"] if self._unscaled else []
            if self._scale:
                amount.append(f"scale: {self._scale}")
            if amount:
                body = "{" + ", ".join(amount) + "}"
                parts.append("i: " + named("int64Amount", body, nested_typed))
        elif self._unscaled:
            digits = _inf_dec_string(self._unscaled, self._scale, self.dec_places)
            parts.append("d: " + named("infDecAmount", f'{{Dec: s"{digits}"}}', nested_typed))
        if self._cached:
            parts.append(f"s: {json.dumps(self._cached)}")
        parts.append(f"Format: {json.dumps(self.format)}")
        return named("Quantity", "{" + ", ".join(parts) + "}", typed)


def parse_quantity(text: str) -> Quantity:
    """resource.ParseQuantity: a quantity from its string, or QuantityError."""
    if not text:
        raise QuantityError(ERR_FORMAT_WRONG)
    if text == "0":
        return Quantity(0, 0, DECIMAL_SI, cached=text)
    positive, value, num, denom, suffix = _split(text)
    base, exponent, fmt = _interpret_suffix(suffix)

    if fmt == BINARY_SI:
        # Only whole binary numbers take the int64 path; 1Mi (2^20) carries about six digits.
        precision = -1 if denom else 15 - len(num) - exponent * 3 // 10 - 1
        scale = 0
        mantissa = 1 << exponent
    else:
        precision = _MAX_INT64_FACTORS - (len(num) + len(denom))
        scale = exponent
        mantissa = 1

    if precision >= 0:
        scale -= len(denom)
        if scale >= NANO:
            shifted = num + denom
            digits = int(shifted)
            result = digits * mantissa
            if result <= _MAX_ALLOWED:
                signed = result if positive else -result
                canonical = (
                    exponent % 10 == 0 and digits & 0x07 != 0
                    if fmt == BINARY_SI
                    else scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
                )
                return Quantity(signed, scale, fmt, cached=text if canonical else "")

    # The arbitrary-precision path (inf.Dec).
    unscaled = int(value.lstrip("+-").replace(".", "", 1) or "0")
    scale = -(len(value.split(".", 1)[1]) if "." in value else 0)
    if base == 10:
        scale += exponent
    else:
        unscaled <<= exponent
    if unscaled and scale < NANO:
        # Round non-zero values up to a nano: asking for a little should give some.
        unscaled = _divide_away_from_zero(unscaled, 10 ** (NANO - scale))
        scale = NANO
    if fmt == BINARY_SI and Quantity(unscaled, scale) > Quantity(_MAX_ALLOWED):
        unscaled, scale = _MAX_ALLOWED, 0
    if fmt == BINARY_SI and unscaled and Quantity(unscaled, scale) < Quantity(1):
        fmt = DECIMAL_SI
    if not positive:
        unscaled = -unscaled
    return Quantity(unscaled, scale, fmt, exact_int64=False)


def canonical_json(value: Any) -> str:
    """The string Kubernetes serves for a quantity field as it was received."""
    return str(Quantity.from_json(value))


def canonical_resource_list(values: dict[str, Any]) -> None:
    """SetDefaults_ResourceList, in place: every quantity rounded up to millis and canonical."""
    for name, raw in list(values.items()):
        values[name] = str(Quantity.from_json(raw).round_up(MILLI))


# --- helpers --------------------------------------------------------------------------------


def _split(text: str) -> tuple[bool, str, str, str, str]:
    """parseQuantityString: sign, the numeric text, its integer and fraction digits, suffix."""
    positive = True
    pos = 0
    end = len(text)
    if text[0] in "+-":
        positive = text[0] == "+"
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "0", "", ""
    start = pos
    while pos < end and text[pos].isdigit() and text[pos].isascii():
        pos += 1
    num = text[start:pos] or "0"
    if pos >= end:
        return positive, text, num, "", ""
    denom = ""
    if text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos].isdigit() and text[pos].isascii():
            pos += 1
        denom = text[start:pos]
        if pos >= end:
            return positive, text, num, denom, ""
    value = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos].isdigit() and text[pos].isascii():
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT_WRONG)
    return positive, value, num, denom, text[suffix_start:]


def _interpret_suffix(suffix: str) -> tuple[int, int, str]:
    """suffixer.interpret: (base, exponent, format) of a suffix."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        try:
            parsed = int(suffix[1:], 10)
        except ValueError:
            raise QuantityError(ERR_SUFFIX) from None
        if not -(2**63) <= parsed < 2**63:
            raise QuantityError(ERR_SUFFIX)
        # Kubernetes parses an int64 and keeps its low 32 bits (int32(parsed)).
        wrapped = (parsed + 2**31) % 2**32 - 2**31
        return 10, wrapped, DECIMAL_EXPONENT
    raise QuantityError(ERR_SUFFIX)


def _divide_away_from_zero(value: int, divisor: int) -> int:
    quotient, remainder = divmod(abs(value), divisor)
    if remainder:
        quotient += 1
    return quotient if value >= 0 else -quotient


def _strip_tens(unscaled: int, scale: int) -> tuple[int, int]:
    """Move every factor of ten of the mantissa into the exponent (removeInt64Factors)."""
    amount, times = _remove_factors(unscaled, 10)
    return amount, scale + times


def _remove_factors(value: int, base: int) -> tuple[int, int]:
    times = 0
    magnitude = abs(value)
    while magnitude >= base and magnitude % base == 0:
        magnitude //= base
        times += 1
    return (magnitude if value >= 0 else -magnitude), times


def _inf_dec_string(unscaled: int, scale: int, places: int) -> str:
    """inf.Dec.String of `unscaled * 10**scale` held with `places` digits after the point."""
    sign = "-" if unscaled < 0 else ""
    digits = str(abs(unscaled)) + "0" * max(scale + places, 0)
    if places <= 0:
        return sign + digits
    digits = digits.rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}"
