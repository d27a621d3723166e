"""Quantities parse, compare and print as apimachinery's resource.Quantity does."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kubelite.api.quantity import (
    ERR_FORMAT_WRONG,
    ERR_SUFFIX,
    MAX_DIGITS,
    MILLI,
    Quantity,
    QuantityError,
    canonical_json,
    parse_quantity,
)


@pytest.mark.parametrize(
    ("text", "served"),
    [
        ("0.5", "500m"),
        ("1024Mi", "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("2048Ki", "2Mi"),
        ("1000M", "1G"),
        ("1500", "1500"),
        ("100m", "100m"),
        ("1.0", "1"),
        (".001Ki", "1024m"),
        ("0.5Mi", "512Ki"),
        ("100.035Ki", "102435840m"),
        ("0.0001", "100u"),
        ("1.1E-9", "2e-9"),
        ("0.0000000001", "1n"),
        ("3.001n", "4n"),
        ("9Ei", "9223372036854775807"),
        ("12E", "12E"),
        ("0", "0"),
        ("-0.5", "-500m"),
    ],
)
def test_quantities_are_served_in_canonical_form(text: str, served: str) -> None:
    assert str(parse_quantity(text)) == served


@pytest.mark.parametrize("text", ["1e3", "129e6", "+1", "01", "1.", "1Gi", "1025Ki", "128974848"])
def test_a_canonical_input_is_echoed_as_written(text: str) -> None:
    # Kubernetes keeps the string it parsed when it is already canonical, quirks and all.
    assert str(parse_quantity(text)) == text


def test_past_exa_kubernetes_prints_the_bare_mantissa() -> None:
    # There is no decimal suffix for 10^21: Kubernetes' suffixer returns none.
    assert str(parse_quantity("1000E")) == "1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", ERR_FORMAT_WRONG),
        ("1.1.M", ERR_FORMAT_WRONG),
        ("1+1.0M", ERR_FORMAT_WRONG),
        ("aoeu", ERR_FORMAT_WRONG),
        (" 1", ERR_FORMAT_WRONG),
        ("1 ", ERR_FORMAT_WRONG),
        ("0.1mi", ERR_SUFFIX),
        ("1K", ERR_SUFFIX),
        ("1ki", ERR_SUFFIX),
        ("1i", ERR_SUFFIX),
        ("1e", ERR_SUFFIX),
        ("-3.01e-", ERR_SUFFIX),
    ],
)
def test_invalid_quantities_are_refused_with_kubernetes_message(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as exc:
        parse_quantity(text)
    assert str(exc.value) == message


def test_the_format_error_quotes_the_regular_expression() -> None:
    assert ERR_FORMAT_WRONG == (
        "quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )
    assert ERR_SUFFIX == "unable to parse quantity's suffix"


@pytest.mark.parametrize(
    ("text", "rounded"),
    [("0.0001", "1m"), ("1n", "1m"), ("-0.0001", "-1m"), ("1.5", "1500m"), ("+1", "+1")],
)
def test_resource_lists_round_up_to_millis(text: str, rounded: str) -> None:
    assert str(parse_quantity(text).round_up(MILLI)) == rounded


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [("500m", "1"), ("1G", "1Gi"), ("999Mi", "1Gi"), ("-1", "0"), ("1e3", "1001"), ("1n", "1u")],
)
def test_quantities_compare_by_value(smaller: str, larger: str) -> None:
    assert parse_quantity(smaller) < parse_quantity(larger)
    assert parse_quantity(larger) > parse_quantity(smaller)


@pytest.mark.parametrize(("a", "b"), [("1", "1000m"), ("1Ki", "1024"), ("1e3", "1k"), ("0", "0m")])
def test_equal_values_are_equal_whatever_their_spelling(a: str, b: str) -> None:
    assert parse_quantity(a) == parse_quantity(b)
    assert hash(parse_quantity(a)) == hash(parse_quantity(b))


def test_sums_are_exact() -> None:
    assert str(parse_quantity("100m") + parse_quantity("200m")) == "300m"
    # Adding to zero takes the other's format, as Quantity.Add does.
    assert str(parse_quantity("0") + parse_quantity("1Gi")) == "1Gi"


def test_values_round_away_from_zero() -> None:
    assert parse_quantity("1.5").milli_value() == 1500
    assert parse_quantity("1.5").value() == 2
    assert parse_quantity("1m").value() == 1


@pytest.mark.parametrize(
    ("raw", "served"),
    [(1, "1"), (0.5, "500m"), (None, "0"), (" 2 ", "2"), ("1Gi", "1Gi"), (1024.0, "1024")],
)
def test_json_values_decode_like_quantity_unmarshal_json(raw: object, served: str) -> None:
    assert canonical_json(raw) == served


def test_go_diffs_show_the_unexported_fields() -> None:
    cached = parse_quantity("500m")
    assert cached.go_repr(typed=False, nested_typed=False) == (
        '{i: {value: 500, scale: -3}, s: "500m", Format: "DecimalSI"}'
    )
    assert parse_quantity("128Mi").go_repr(typed=True, nested_typed=True) == (
        'resource.Quantity{i: resource.int64Amount{value: 134217728}, Format: "BinarySI"}'
    )
    assert Quantity.from_json("1.5Gi").go_repr(typed=False, nested_typed=False) == (
        '{d: {Dec: s"1610612736.000000000"}, Format: "BinarySI"}'
    )
    # Kubernetes rounds a resource list to millis, which leaves three decimal places.
    rounded = Quantity.from_json("1.5Gi").round_up(MILLI)
    assert rounded.go_repr(typed=False, nested_typed=False) == (
        '{d: {Dec: s"1610612736.000"}, Format: "BinarySI"}'
    )


# --- quantities at the edges of what Kubernetes reads ----------------------------------------


def _within(code: str, seconds: float = 120.0) -> list[str]:
    """Run `code` (which prints its answers) in a child interpreter; fail if it takes longer
    than `seconds`. A child, because a runaway big-integer power holds the GIL and cannot be
    interrupted from a thread."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", "from kubelite.api.quantity import *\n" + code],
            capture_output=True,
            text=True,
            timeout=seconds,
            check=True,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"still computing after {seconds}s: {code}")
    return done.stdout.splitlines()


@pytest.mark.parametrize(
    ("text", "served", "rounded"),
    [
        # Accepted by ParseQuantity: only binary quantities are capped (at 2^63-1, maxAllowed).
        ("1e999", "1e999", "1e999"),
        ("99999999999999999999999999Ei", "9223372036854775807", "9223372036854775807"),
        # The exponent is parsed as an int64 and kept as an int32 (suffix.go interpret).
        ("1e2147483647", "10e2147483646", "10e2147483646"),
        ("1e-2147483649", "10e2147483646", "10e2147483646"),
        # Tiny values round up to a nano (then a milli) without writing the divisor out.
        ("1e-999", "1e-9", "1e-3"),
        ("1e-2147483647", "1e-9", "1e-3"),
    ],
)
def test_extreme_exponents_are_read_at_once(text: str, served: str, rounded: str) -> None:
    # Each of these used to be read (or summed, or scaled) through 10**exponent: minutes of
    # CPU and gigabytes for one request; a pod's QoS class sums its containers' requests.
    lines = _within(
        f"q = parse_quantity({text!r})\n"
        "print(q)\n"
        "print(q.round_up(MILLI))\n"
        "print((q + parse_quantity('1m')).milli_value(), q.milli_value(), q.value())\n"
        "print(q > parse_quantity('0'), len(q.go_repr(typed=True, nested_typed=True)) < 200)\n"
    )
    assert lines[:2] == [served, rounded]
    assert lines[3] == "True True"


@pytest.mark.parametrize(
    ("text", "milli", "value"),
    [
        # An int64Amount that overflows when scaled gives 0 (positiveScaleInt64's loop).
        ("1e999", 0, 0),
        ("1e18", 0, 10**18),
        # An inf.Dec's scaled value keeps the low 64 bits: 2^63-1 milli is -1000 in Go.
        ("99999999999999999999999999Ei", -1000, 2**63 - 1),
        ("1.5", 1500, 2),
    ],
)
def test_scaled_values_overflow_as_go_int64s_do(text: str, milli: int, value: int) -> None:
    quantity = parse_quantity(text).round_up(MILLI)
    assert (quantity.milli_value(), quantity.value()) == (milli, value)


def test_a_quantity_of_more_digits_than_python_converts_is_refused() -> None:
    assert str(parse_quantity("9" * MAX_DIGITS)) == "9" * MAX_DIGITS
    with pytest.raises(QuantityError) as exc:
        parse_quantity("9" * (MAX_DIGITS + 1))
    assert str(exc.value) == "quantities may have at most 4300 digits"
    # Its canonical form may be longer than what it was read from.
    assert str(parse_quantity("1" * MAX_DIGITS + "e1")) == "1" * MAX_DIGITS + "0"
