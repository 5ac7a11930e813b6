"""Hypothesis strategies shared by all dra-core tests (append new ones at the end)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from dra_core.api import Device, DeviceAttribute, ResourceSlice
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


# --------------------------------------------------------------------------- resource models
# JSON-shaped strategies (what a manifest holds) and model strategies built from them. The
# generated objects pass the API server's validation.

dns_labels = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?", fullmatch=True)
c_identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
domains = st.lists(dns_labels, min_size=1, max_size=3).map(".".join)
qualified_names = st.one_of(
    c_identifiers, st.builds(lambda d, n: f"{d}/{n}", domains, c_identifiers)
)
semvers = st.builds(
    lambda a, b, c, pre: f"{a}.{b}.{c}{pre}",
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 99),
    st.sampled_from(["", "-alpha", "-rc.1", "+build.5"]),
)
# strings that YAML 1.1 would read as something else: they must come back as strings
tricky_strings = st.sampled_from(["0x10de", "010", "no", "yes", "on", "off", "1.10", "~", ""])
attribute_strings = st.one_of(st.text(max_size=20), tricky_strings).filter(
    lambda s: len(s.encode()) <= 64
)


def attribute_values() -> st.SearchStrategy[dict[str, Any]]:
    """One device attribute in JSON form: exactly one of int/bool/string/version or a list."""
    ints = st.integers(-(2**63), 2**63 - 1)
    return st.one_of(
        ints.map(lambda v: {"int": v}),
        st.booleans().map(lambda v: {"bool": v}),
        attribute_strings.map(lambda v: {"string": v}),
        semvers.map(lambda v: {"version": v}),
        st.lists(ints, min_size=1, max_size=3).map(lambda v: {"ints": v}),
        st.lists(st.booleans(), min_size=1, max_size=3).map(lambda v: {"bools": v}),
        st.lists(attribute_strings, min_size=1, max_size=3).map(lambda v: {"strings": v}),
        st.lists(semvers, min_size=1, max_size=3).map(lambda v: {"versions": v}),
    )


def device_attributes() -> st.SearchStrategy[DeviceAttribute]:
    """Device attributes as models."""
    return attribute_values().map(DeviceAttribute.model_validate)


@st.composite
def device_docs(draw: st.DrawFn, *, name: str | None = None) -> dict[str, Any]:
    """A device in JSON form, with attributes and capacities (at most 32 together)."""
    attributes = draw(st.dictionaries(qualified_names, attribute_values(), max_size=6))
    capacity = draw(
        st.dictionaries(
            qualified_names,
            quantity_texts(allow_negative=False).map(lambda q: {"value": q}),
            max_size=4,
        )
    )
    doc: dict[str, Any] = {"name": name if name is not None else draw(dns_labels)}
    if attributes:
        doc["attributes"] = attributes
    if capacity:
        doc["capacity"] = capacity
    return doc


def devices() -> st.SearchStrategy[Device]:
    """Devices as models."""
    return device_docs().map(Device.model_validate)


@st.composite
def slice_docs(draw: st.DrawFn, *, max_devices: int = 6) -> dict[str, Any]:
    """A node-local ResourceSlice in JSON form (apiVersion and kind included)."""
    names = draw(st.lists(dns_labels, min_size=1, max_size=max_devices, unique=True))
    node = draw(dns_labels)
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": f"{node}-{draw(dns_labels)}"},
        "spec": {
            "driver": draw(domains),
            "pool": {
                "name": node,
                "generation": draw(st.integers(0, 10)),
                "resourceSliceCount": draw(st.integers(1, 3)),
            },
            "nodeName": node,
            "devices": [draw(device_docs(name=n)) for n in names],
        },
    }


def resource_slices() -> st.SearchStrategy[ResourceSlice]:
    """ResourceSlices as models."""
    return slice_docs().map(ResourceSlice.model_validate)
