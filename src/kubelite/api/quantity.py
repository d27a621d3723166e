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

Only binary quantities are capped (at 2^63-1, quantity.go's maxAllowed): `cpu: 1e999` is a valid
quantity and is served back as written, and an exponent may be anything an int32 holds. Nothing
here may therefore write `10**exponent` out: rounding, sums, scaled values and Go's diff form all
work from the digits and the scale, and scaled values overflow as Go's int64 arithmetic does.
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

# Integers of fewer bits than this have fewer than 4,300 digits: str() takes them.
_STR_SAFE_BITS = 14000
_STR_CHUNK = 4000
# How far apart two scales may be for a sum to be kept exact (see Quantity.__add__).
_MAX_ALIGNMENT = 1000
_LOG10_2 = 0.30102999566398114
_MIN_INT64 = -(1 << 63)
# Scaling an int64Amount up by these powers of ten is one multiplication (math.go).
_SINGLE_STEP_SHIFTS = frozenset({1, 2, 3, 6, 9})
# The largest n with 10**n within int64.
_INT64_DIGITS = 18

# The most digits kubelite reads in a quantity. Kubernetes has no limit but the body's size;
# Python refuses to turn more than 4,300 digits into an integer (its guard against quadratic
# conversions), so a longer quantity is refused with this message rather than a 500.
MAX_DIGITS = 4300
ERR_TOO_MANY_DIGITS = f"quantities may have at most {MAX_DIGITS} digits"

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
        mag_a, mag_b = _magnitude(self), _magnitude(other)
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
        """Quantity.Add: adding to zero takes the other's format.

        Exact, except when the two scales are so far apart (`1e2147483647` plus `1m`) that the
        exact sum would need more than _MAX_ALIGNMENT digits: then the term that small is
        dropped, where Go would spend its memory writing the sum out digit by digit.
        """
        fmt = other.format if self.is_zero() else self.format
        exact = self.exact_int64 and other.exact_int64
        if self.is_zero() or other.is_zero():
            kept = other if self.is_zero() else self
            return Quantity(kept._unscaled, kept._scale, fmt, exact_int64=exact)
        low, high = sorted((self, other), key=lambda q: q._scale)
        if high._scale - low._scale > _MAX_ALIGNMENT:
            big = high if _magnitude(high) >= _magnitude(low) else low
            return Quantity(big._unscaled, big._scale, fmt, exact_int64=False)
        aligned = high._unscaled * 10 ** (high._scale - low._scale)
        total = aligned + low._unscaled
        # int64Amount.Add gives up (and the sum becomes an inf.Dec) when either step overflows.
        exact = exact and _MIN_INT64 <= aligned <= _MAX_ALLOWED
        exact = exact and _MIN_INT64 <= total <= _MAX_ALLOWED
        return Quantity(total, low._scale, fmt, exact_int64=exact)

    def round_up(self, scale: int) -> Quantity:
        """Quantity.RoundUp: round away from zero to `10**scale`; the parsed string is kept
        when nothing changes, as Kubernetes keeps its cached string."""
        if self.exact_int64 and self._scale >= scale:
            return self
        unscaled, own_scale = self._unscaled, self._scale
        if own_scale < scale:
            unscaled = _divide_away_from_zero(unscaled, scale - own_scale)
            own_scale = scale
        # An inf.Dec is re-expressed with exactly -scale decimal places.
        return Quantity(
            unscaled, own_scale, self.format, exact_int64=self.exact_int64, dec_places=-scale
        )

    def scaled_value(self, scale: int) -> int:
        """Quantity.ScaledValue: q / 10**scale rounded away from zero, as the int64 Go gets.

        Within int64 that is the exact value. Past it, Go's arithmetic overflows, and this
        gives what 1.33's apimachinery gives rather than a number no Go component could hold
        (or one that takes minutes to compute: `1e2147483647` is a valid quantity): 0 from the
        int64 form's overflow check, wrapped bits from the arbitrary-precision form. Validation
        depends on it (`example.com/dongle: 1e999` passes the integer check because its milli
        value is 0 in Go).
        """
        if self.exact_int64:
            return _int64_amount_scaled(self._unscaled, self._scale - scale)
        return _inf_dec_scaled(self._unscaled, scale - self._scale)

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
            # Past _MAX_ALIGNMENT the whole number is too long to write out; Go would.
            huge = self._scale > _MAX_ALIGNMENT
            if Quantity(-1024) < self < Quantity(1024) or not integral or huge:
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
            return f"{_decimal(amount)}{_BINARY_BY_EXPONENT.get(times * 10, '')}"
        amount, exponent = _strip_tens(self._unscaled, self._scale)
        # Lower the exponent to a multiple of three (1.1e5 is 110k), as AsCanonicalBytes does.
        shift = exponent % 3
        amount *= 10**shift
        exponent -= shift
        if fmt == DECIMAL_SI:
            # Kubernetes has no suffix past E (10^18) and then prints the bare mantissa.
            return f"{_decimal(amount)}{_DECIMAL_BY_EXPONENT.get(exponent, '')}"
        return f"{_decimal(amount)}e{exponent}" if exponent else _decimal(amount)

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

    def go_syntax(self) -> str:
        """How fmt's `%#v` prints this resource.Quantity once its String method has run.

        field.Error prints a Quantity bad value this way (its String method has a pointer
        receiver, so a Quantity value is no Stringer). Validators that pass a Quantity also
        format its String() in the detail, which fills the cached `s` first. An inf.Dec is a
        pointer, printed as the placeholder address kubelite uses for Go pointers.
        """
        if self.exact_int64:
            amount = f"value:{self._unscaled}, scale:{self._scale}"
            dec = "nil"
        else:
            amount, dec = "value:0, scale:0", "0xc000000000"
        return (
            f"resource.Quantity{{i:resource.int64Amount{{{amount}}}, "
            f"d:resource.infDecAmount{{Dec:(*inf.Dec)({dec})}}, "
            f"s:{json.dumps(str(self))}, Format:{json.dumps(self.format)}}}"
        )


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
    text_digits = value.lstrip("+-").replace(".", "", 1) or "0"
    if len(text_digits) > MAX_DIGITS:
        raise QuantityError(ERR_TOO_MANY_DIGITS)
    unscaled = int(text_digits)
    scale = -(len(value.split(".", 1)[1]) if "." in value else 0)
    if base == 10:
        scale += exponent
    else:
        unscaled <<= exponent
    if unscaled and scale < NANO:
        # Round non-zero values up to a nano: asking for a little should give some.
        unscaled = _divide_away_from_zero(unscaled, NANO - scale)
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


def _divide_away_from_zero(value: int, places: int) -> int:
    """value / 10**places, rounded away from zero. A divisor larger than the value leaves
    just the rounding unit, found without writing 10**places out (`1e-2147483647`)."""
    if value == 0:
        return 0
    if places > value.bit_length():
        return 1 if value > 0 else -1
    quotient, remainder = divmod(abs(value), 10**places)
    if remainder:
        quotient += 1
    return quotient if value >= 0 else -quotient


def _decimal(value: int) -> str:
    """str(value), also past the 4,300 digits Python's str() refuses (a canonical form can
    have a few more digits than the quantity it came from)."""
    if value.bit_length() < _STR_SAFE_BITS:
        return str(value)
    sign = "-" if value < 0 else ""
    high, low = divmod(abs(value), 10**_STR_CHUNK)
    return f"{sign}{_decimal(high)}{_decimal(low).rjust(_STR_CHUNK, '0')}"


def _digit_count(value: int) -> int:
    """The number of decimal digits of |value| (at least 1), without str(), which Python
    refuses past 4,300 digits."""
    magnitude = abs(value)
    if magnitude < 10:
        return 1
    count = int(magnitude.bit_length() * _LOG10_2)
    while 10**count <= magnitude:
        count += 1
    return count


def _magnitude(q: Quantity) -> int:
    """The decimal order of magnitude of a non-zero quantity: digits plus scale."""
    return _digit_count(q._unscaled) + q._scale


def _wrap_int64(value: int) -> int:
    """A Python integer as Go's int64 arithmetic leaves it: its low 64 bits, signed."""
    return (value + 2**63) % 2**64 - 2**63


def _go_int64_of_big(value: int) -> int:
    """big.Int.Int64: the low 64 bits of |value|, negated (wrapping) for a negative value."""
    low = abs(value) % 2**64
    return _wrap_int64(-low if value < 0 else low)


def _int64_amount_scaled(value: int, shift: int) -> int:
    """int64Amount.AsScaledInt64 of apimachinery 1.33: value * 10**shift, rounded away from
    zero when shift < 0. Scaling up by 1, 2, 3, 6 or 9 places multiplies once and keeps the
    wrapped product; other shifts multiply by ten at a time and give 0 at the first overflow."""
    if shift == 0 or value == 0:
        return value
    if shift < 0:
        return _divide_away_from_zero(value, -shift)
    if value == _MIN_INT64:
        return 0
    if shift in _SINGLE_STEP_SHIFTS:
        return _wrap_int64(value * 10**shift)
    for _ in range(shift):
        value *= 10
        if not _MIN_INT64 <= value <= _MAX_ALLOWED:
            return 0
    return value


def _inf_dec_scaled(unscaled: int, places: int) -> int:
    """The package's scaledValue of 1.33 over an inf.Dec's digits: `unscaled` divided by
    10**places (multiplied when places < 0), as an int64 with Go's overflow."""
    if places == 0:
        return _go_int64_of_big(unscaled)
    if places < 0:
        # int64(math.Pow10(n)) is exact up to 10**18; past it the float is out of int64's range
        # and amd64 converts it to the most negative int64.
        factor = 10**-places if -places <= _INT64_DIGITS else _MIN_INT64
        return _wrap_int64(_go_int64_of_big(unscaled) * factor)
    if unscaled < _MAX_ALLOWED and places <= _INT64_DIGITS:
        # Go's / and % truncate toward zero; a remainder always adds one, whatever the sign.
        low = _go_int64_of_big(unscaled)
        divisor = 10**places
        quotient = abs(low) // divisor * (1 if low >= 0 else -1)
        return _wrap_int64(quotient + (1 if low - quotient * divisor else 0))
    # big.Int.DivMod is Euclidean: the remainder is never negative.
    if places > unscaled.bit_length():
        quotient, remainder = (0, unscaled) if unscaled >= 0 else (-1, 1)
    else:
        quotient, remainder = divmod(unscaled, 10**places)
    return _wrap_int64(_go_int64_of_big(quotient) + (1 if remainder else 0))


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
    zeros = scale + places
    if zeros > _MAX_ALIGNMENT:
        # inf.Dec would write out every zero (2**31 of them for `...e2147483647`).
        return f"{sign}{_decimal(abs(unscaled))}e+{zeros - places}"
    digits = _decimal(abs(unscaled)) + "0" * max(zeros, 0)
    if places <= 0:
        return sign + digits
    digits = digits.rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}"
