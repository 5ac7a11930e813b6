from __future__ import annotations

from builders import claim, device, device_class, node, request, slice_with_devices
from dra_core import allocate, apply_taint_rules
from dra_core.api import DeviceTaintRule, ResourceSlice


def _rule(name: str, effect: str = "NoSchedule", **selector: str) -> DeviceTaintRule:
    return DeviceTaintRule.model_validate(
        {
            "metadata": {"name": name},
            "spec": {"deviceSelector": selector, "taint": {"key": name, "effect": effect}},
        }
    )


SLICE = ResourceSlice.model_validate(slice_with_devices("s", device("d0"), device("d1")))


def test_rules_add_taints_to_selected_devices_only_and_do_not_mutate() -> None:
    before = SLICE.model_dump()
    out = apply_taint_rules([SLICE], [_rule("b", device="d1"), _rule("a", driver="driver-a")])
    assert SLICE.model_dump() == before
    taints = {d.name: [t.key for t in d.taints] for d in out[0].spec.devices}
    # Rules apply in name order, whatever order they were given in.
    assert taints == {"d0": ["a"], "d1": ["a", "b"]}


def test_slices_without_selected_devices_stay_the_same_objects() -> None:
    out = apply_taint_rules([SLICE], [_rule("x", driver="other-driver")])
    assert out[0] is SLICE


def test_a_tainted_device_needs_a_toleration() -> None:
    tainted = apply_taint_rules([SLICE], [_rule("broken", device="d0")])
    classes = [device_class()]
    got = allocate(node=node(), claims=[claim("c")], slices=tainted, classes=classes)
    assert got is not None and got[0].devices.results[0].device == "d1"
    tolerant = claim("c", request(tolerations=[{"key": "broken", "operator": "Exists"}], count=2))
    got = allocate(node=node(), claims=[tolerant], slices=tainted, classes=classes)
    assert got is not None and [r.device for r in got[0].devices.results] == ["d0", "d1"]
