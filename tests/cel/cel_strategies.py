"""Hypothesis strategies for CEL selectors and the devices they run on.

Kept beside the CEL tests (not in tests/strategies.py) so that the CEL work does not
touch a file other engineers are editing; move them there when convenient.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from dra_core.api.quantity import Quantity
from dra_core.cel import CelDevice, Semver

DRIVERS = ("a.example.com", "b.example.com")
DOMAINS = (*DRIVERS, "other.example.com")
NAMES = ("model", "index", "healthy", "tags", "version", "count")
CAPACITIES = ("memory", "cores")
STRINGS = ("x", "y", "A100")
QUANTITIES = ("1Gi", "1073741824", "2Gi", "500m", "0")

scalar_values = st.one_of(
    st.integers(-3, 3),
    st.sampled_from(STRINGS),
    st.booleans(),
    st.sampled_from(("1.0.0", "2.0.0", "1.0.0-rc.1")).map(Semver.parse),
)
attribute_values = st.one_of(
    scalar_values,
    st.lists(st.integers(-3, 3), max_size=3),
    st.lists(st.sampled_from(STRINGS), max_size=3),
)


@st.composite
def cel_devices(draw: st.DrawFn) -> CelDevice:
    """A device with a few attributes and capacities, some in other domains."""
    driver = draw(st.sampled_from(DRIVERS))
    attributes: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(NAMES), max_size=4, unique=True)):
        domain = draw(st.sampled_from(("", "other.example.com/", f"{driver}/")))
        attributes[f"{domain}{name}"] = draw(attribute_values)
    capacity = {
        name: Quantity.parse(draw(st.sampled_from(QUANTITIES)))
        for name in draw(st.lists(st.sampled_from(CAPACITIES), max_size=2, unique=True))
    }
    return CelDevice(
        driver=driver,
        attributes=attributes,
        capacity=capacity,
        allow_multiple_allocations=draw(st.booleans()),
        name=f"{driver}/pool/dev",
    )


literals = st.one_of(
    st.integers(-3, 3).map(str),
    st.sampled_from(STRINGS).map(lambda s: f'"{s}"'),
    st.sampled_from(("true", "false")),
)


@st.composite
def atoms(draw: st.DrawFn, *, celpy_subset: bool = False) -> str:
    """One comparison or test on the device."""
    dom = draw(st.sampled_from(DOMAINS))
    name = draw(st.sampled_from(NAMES))
    lit = draw(literals)
    attr = f'device.attributes["{dom}"].{name}'
    op = draw(st.sampled_from(("==", "!=", "<", ">=")))
    simple = [
        f'device.driver == "{draw(st.sampled_from(DRIVERS))}"',
        f"{attr} {op} {lit}",
        f'device.attributes["{dom}"]["{name}"] == {lit}',
        f"has({attr})",
        f'"{name}" in device.attributes["{dom}"]',
        f'"{dom}" in device.attributes',
        f'device.attributes["{dom}"].size() > 1',
        f"device.attributes.exists(d, d == \"{dom}\")",
        f"cel.bind(a, device.attributes[\"{dom}\"], a.{name} == {lit})",
    ]
    if celpy_subset:
        return draw(st.sampled_from(simple))
    cap = draw(st.sampled_from(CAPACITIES))
    quantity = draw(st.sampled_from(QUANTITIES))
    richer = [
        f"{attr}.?{name}.orValue({lit}) == {lit}".replace(f".?{name}.?", ".?"),
        f'device.attributes["{dom}"].?{name}.orValue({lit}) == {lit}',
        f"{attr}.includes({lit})",
        f"{attr}.exists(v, v == {lit})",
        f'{attr}.isGreaterThan(semver("1.0.0"))',
        f'device.capacity["{dom}"].{cap}.isGreaterThan(quantity("{quantity}"))',
        f'device.capacity["{dom}"].?{cap}.orValue(quantity("1")) == quantity("{quantity}")',
        f'device.capacity["{dom}"].size() == 1',
        "device.allowMultipleAllocations",
        f"device.attributes[device.driver].{name} == {lit}",
        f'{attr}.size() == 2',
        f"string({attr}).startsWith(\"x\")",
        "device.attributes.all(d, device.attributes[d].size() > 0)",
    ]
    return draw(st.sampled_from(simple + richer))


def selectors(*, celpy_subset: bool = False) -> st.SearchStrategy[str]:
    """Boolean combinations of atoms."""
    base = atoms(celpy_subset=celpy_subset)
    return st.recursive(
        base,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda p: f"({p[0]}) && ({p[1]})"),
            st.tuples(inner, inner).map(lambda p: f"({p[0]}) || ({p[1]})"),
            inner.map(lambda e: f"!({e})"),
        ),
        max_leaves=4,
    )
