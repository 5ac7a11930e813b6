"""``CelDevice.from_device`` (the cached fast path) equals building the device directly."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dra_core.api import Device
from dra_core.cel import CelDevice
from dra_core.cel._device import _attribute_value

DRIVER = "gpu.example.com"

_NAMES = st.sampled_from(
    ["model", f"{DRIVER}/model", "index", "v", "other.example.com/v", "other.example.com/x"]
)
_VERSIONS = st.sampled_from(["1.2.3", "1.0.0-rc.1+b", "01.2.3", "1.0", "", "v1.2.3"])
_VALUES = st.one_of(
    st.builds(lambda v: {"int": v}, st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda v: {"bool": v}, st.booleans()),
    st.builds(lambda v: {"string": v}, st.text(max_size=5)),
    st.builds(lambda v: {"version": v}, _VERSIONS),
    st.builds(lambda v: {"ints": v}, st.lists(st.integers(0, 3), max_size=2)),
    st.builds(lambda v: {"strings": v}, st.lists(st.text(max_size=2), max_size=2)),
    st.builds(lambda v: {"versions": v}, st.lists(_VERSIONS, max_size=2)),
    st.just({}),
)
_CAPACITY = st.dictionaries(
    st.sampled_from(["memory", f"{DRIVER}/memory", "other.example.com/cores"]),
    st.builds(lambda v: {"value": v}, st.sampled_from(["1Gi", "1024Mi", "80Gi", "0", "1.5"])),
    max_size=3,
)


def _reference(model: Device) -> CelDevice:
    """The plain construction: convert every attribute, then ``CelDevice(...)``."""
    attributes: dict[str, Any] = {}
    error = None
    for qualified, attr in sorted(model.attributes.items()):
        try:
            attributes[qualified] = _attribute_value(qualified, attr)
        except TypeError as exc:
            error = error or str(exc)
    return CelDevice(
        driver=DRIVER,
        attributes=attributes,
        capacity={k: c.value for k, c in model.capacity.items()},
        allow_multiple_allocations=bool(model.allow_multiple_allocations),
        name=f"{DRIVER}/{model.name}",
        error=error,
    )


@settings(max_examples=300, deadline=None)
@given(
    attributes=st.dictionaries(_NAMES, _VALUES, max_size=5),
    capacity=_CAPACITY,
    allow=st.sampled_from([None, False, True]),
)
def test_from_device_equals_direct_construction(
    attributes: dict[str, Any], capacity: dict[str, Any], allow: bool | None
) -> None:
    raw: dict[str, Any] = {"name": "gpu-0", "attributes": attributes, "capacity": capacity}
    if allow is not None:
        raw["allowMultipleAllocations"] = allow
    model = Device.model_validate(raw)
    before = copy.deepcopy(model.model_dump())
    # Twice: the first call fills the name and version caches, the second reads them.
    for _ in range(2):
        fast = CelDevice.from_device(DRIVER, model)
        plain = _reference(model)
        assert fast.error == plain.error
        assert fast.attribute_domains == plain.attribute_domains
        assert list(fast.attribute_domains) == list(plain.attribute_domains)
        for domain, values in fast.attribute_domains.items():
            assert list(values) == list(plain.attribute_domains[domain])
            for ident, value in values.items():
                # Booleans stay booleans (True == 1 would hide a mix-up).
                assert type(value) is type(plain.attribute_domains[domain][ident])
        assert fast.capacity_domains == plain.capacity_domains
        assert fast.allow_multiple_allocations is plain.allow_multiple_allocations
        assert fast.name == plain.name
        assert dict(fast._keys) == dict(plain._keys)
        assert fast.view() == plain.view()
    assert model.model_dump() == before
