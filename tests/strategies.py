"""Hypothesis strategies shared by all dra-core tests (append new ones at the end)."""

from __future__ import annotations

from hypothesis import strategies as st

from dra_core.api.quantity import Quantity

DECIMAL_SUFFIXES = ("n", "u", "m", "", "k", "M", "G", "T", "P", "E")
BINARY_SUFFIXES = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


@st.composite
def quantity_texts(draw: st.DrawFn, *, allow_negative: bool = True) -> str:
    """Texts that Go's ParseQuantity accepts: sign, digits, fraction and a suffix."""
    sign = draw(st.sampled_from(["", "+", "-"] if allow_negative else ["", "+"]))
    whole = draw(st.from_regex(r"[0-9]{0,20}", fullmatch=True))
    frac = draw(st.one_of(st.just(None), st.from_regex(r"[0-9]{0,12}", fullmatch=True)))
    if not whole and not frac:
        whole = "0"  # Go needs a digit on its general path ("e-20" does not parse)
    number = whole if frac is None else f"{whole}.{frac}"
    suffix = draw(
        st.one_of(
            st.sampled_from(DECIMAL_SUFFIXES),
            st.sampled_from(BINARY_SUFFIXES),
            st.builds(
                lambda e, s: f"{e}{s}",
                st.sampled_from(["e", "E"]),
                st.integers(-30, 30).map(str),
            ),
        )
    )
    return f"{sign}{number}{suffix}"


def quantities(*, allow_negative: bool = True) -> st.SearchStrategy[Quantity]:
    """Parsed quantities, and integer quantities in every format."""
    formats = st.sampled_from(["DecimalSI", "BinarySI", "DecimalExponent"])
    ints = st.integers(-(2**70), 2**70) if allow_negative else st.integers(0, 2**70)
    return st.one_of(
        quantity_texts(allow_negative=allow_negative).map(Quantity.parse),
        st.builds(Quantity.from_int, ints, formats),
    )
