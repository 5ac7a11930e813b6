"""Hostile quantities: huge exponents, thousands of digits.

Go parses ``"1e999999999"`` into a small mantissa and a huge exponent and then expands the
power of ten in Cmp/Add/rounding. dra-core keeps every value it accepts cheap (exact, below
10**1000) and rejects larger magnitudes with "quantity too large" (a documented difference),
while long texts whose value is in range parse exactly, as Go parses them.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from dra_core.api import ResourceSlice
from dra_core.api.quantity import MAX_MAGNITUDE_DIGITS, Quantity
from dra_core.errors import ManifestError, QuantityError
from dra_core.io import load

MAX_INT64 = 2**63 - 1
NANO = Fraction(1, 10**9)


def repunit(n: int) -> int:
    """The integer written as n ones (int() refuses texts of more than 4300 digits)."""
    return (10**n - 1) // 9


@pytest.mark.parametrize(
    "text",
    [
        "1e999999999",
        "-1e999999999",
        "1E2147483647",
        "1e1000",
        "10e999",
        "0.1e1001",
        "1" + "0" * 1000,  # a 1001-digit integer
        "9" * 5000 + ".5",
        "1" + "0" * 990 + "P",  # 10**1005 through a suffix
        "1.5e-2147483648",  # Go's int32 scale wraps around: a huge value there too
    ],
)
def test_too_large_is_rejected_at_parse(text: str) -> None:
    with pytest.raises(QuantityError, match=r"^quantity too large: ") as info:
        Quantity.parse(text)
    assert info.value.text == text


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e999", Fraction(10**999)),
        ("9.99e999", Fraction(999 * 10**997)),
        ("-9.99e999", Fraction(-999 * 10**997)),
        ("0.1e1000", Fraction(10**999)),
        ("9" * 1000, Fraction(10**1000 - 1)),
        # Go's int32 exponent wraps: 2**32 reads as 0.
        ("1e4294967296", Fraction(1)),
    ],
)
def test_largest_accepted_values_are_exact(text: str, value: Fraction) -> None:
    q = Quantity.parse(text)
    assert q.value == value
    assert q.add(Quantity.parse("1n")).value == value + NANO
    assert q.cmp(Quantity.parse(str(q))) == 0


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # Tiny values round up to 1n, whatever the exponent (no power of ten is built).
        ("1e-999999999", NANO),
        ("-1e-2147483647", -NANO),
        ("0." + "0" * 5000 + "1", NANO),
        ("0." + "9" * 20000 + "n", NANO),
        # Thousands of digits below 1n: only whether they are all zero matters.
        ("1." + "9" * 5000, Fraction(2)),
        ("1." + "0" * 5000, Fraction(1)),
        ("2." + "0" * 5000 + "1", 2 + NANO),
        ("0." + "1" * 5000 + "Ki", Fraction(math.ceil(Fraction(repunit(5000) * 1024 * 10**9,
                                                               10**5000)), 10**9)),
        ("0.5" + "0" * 5000 + "1Ki", Fraction(512) + NANO),
        # Leading zeros do not count, in the number or in the exponent.
        ("0" * 5000 + "7", Fraction(7)),
        ("1e" + "0" * 5000 + "5", Fraction(10**5)),
        # BinarySI is capped at the largest int64 before any limit applies.
        ("1" * 5000 + "Ki", Fraction(MAX_INT64)),
        ("1" * 19 + ".5Ki", Fraction(MAX_INT64)),
    ],
)
def test_long_texts_parse_exactly(text: str, value: Fraction) -> None:
    assert Quantity.parse(text).value == value


def test_long_exponent_that_overflows_int64_is_a_suffix_error() -> None:
    with pytest.raises(QuantityError, match="unable to parse quantity's suffix"):
        Quantity.parse("1e" + "9" * 5000)


def test_constructors_share_the_limit() -> None:
    assert Quantity.from_int(10**MAX_MAGNITUDE_DIGITS - 1).value == 10**MAX_MAGNITUDE_DIGITS - 1
    for value in (10**MAX_MAGNITUDE_DIGITS, -(10**MAX_MAGNITUDE_DIGITS), 10**5000):
        with pytest.raises(QuantityError, match="quantity too large"):
            Quantity.from_int(value)
        with pytest.raises(QuantityError, match="quantity too large"):
            Quantity.coerce(value)  # a bare JSON number (not a ValueError from str())
        with pytest.raises(QuantityError, match="quantity too large"):
            Quantity.from_fraction(Fraction(value, 3) * 3)
    with pytest.raises(QuantityError, match="quantity too large"):
        Quantity.coerce("1e999999999")
    # The largest float is in range (read through its shortest text, as before).
    assert Quantity.coerce(1.7976931348623157e308).value == 17976931348623157 * 10**292


def test_manifest_with_a_huge_capacity_is_a_located_error() -> None:
    spec = {
        "driver": "dra.example.com",
        "pool": {"name": "pool", "generation": 1, "resourceSliceCount": 1},
        "nodeName": "node-1",
        "devices": [{"name": "dev", "capacity": {"memory": {"value": "1e999999999"}}}],
    }
    with pytest.raises(ValidationError, match="quantity too large"):
        ResourceSlice.model_validate({"metadata": {"name": "s"}, "spec": spec})
    document = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
                "metadata": {"name": "s"}, "spec": spec}
    with pytest.raises(ManifestError, match="quantity too large") as info:
        load(document)
    assert "ResourceSlice s" in str(info.value)


# ------------------------------------------------------------------ property: exact reference

SUFFIXES = ["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}


def reference(sign: str, whole: str, frac: str | None, suffix: str) -> Fraction | None:
    """Go's value by plain exact arithmetic (None: too large for dra-core)."""
    digits = whole + (frac or "")
    exact = Fraction(int(digits or "0"), 10 ** len(frac or ""))
    if suffix in BINARY:
        exact *= 2 ** BINARY[suffix]
    elif suffix in DECIMAL:
        exact *= Fraction(10) ** DECIMAL[suffix]
    else:
        exact *= Fraction(10) ** int(suffix[1:])
    rounded = Fraction(math.ceil(exact / NANO)) * NANO
    if suffix in BINARY:
        rounded = min(rounded, Fraction(MAX_INT64))
    elif rounded >= 10**MAX_MAGNITUDE_DIGITS:
        return None
    return -rounded if sign == "-" else rounded


def digit_texts(longest: int) -> st.SearchStrategy[str]:
    """Digit strings of every length up to ``longest`` (not just short ones)."""
    return st.integers(0, longest).flatmap(
        lambda n: st.text("0123456789", min_size=n, max_size=n)
    )


@given(
    st.sampled_from(["", "+", "-"]),
    digit_texts(40),
    st.one_of(st.none(), digit_texts(400)),
    st.one_of(
        st.sampled_from(SUFFIXES),
        st.builds(lambda e: f"e{e}", st.integers(-1200, 1100)),
    ),
)
def test_values_match_exact_arithmetic(
    sign: str, whole: str, frac: str | None, suffix: str
) -> None:
    if not whole and not frac:
        whole = "0"
    text = f"{sign}{whole}{'' if frac is None else '.' + frac}{suffix}"
    expected = reference(sign, whole, frac, suffix)
    if expected is None:
        with pytest.raises(QuantityError, match="quantity too large"):
            Quantity.parse(text)
        return
    q = Quantity.parse(text)
    assert q.value == expected
    assert abs(q.value) < 10**MAX_MAGNITUDE_DIGITS or suffix in BINARY
    assert Quantity.parse(q.canonical()) == q
