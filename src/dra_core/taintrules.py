"""DeviceTaintRules applied to ResourceSlices, as kube-scheduler sees devices.

An administrator taints devices without touching the driver's ResourceSlices by creating
a DeviceTaintRule: a selector (driver, pool, device; unset parts match everything) and a
taint. kube-scheduler's view of the slices adds each matching rule's taint to the device's
own taints before allocating, so a request must tolerate both.

`apply_taint_rules` does the same: it returns new slices with the rules' taints added and
never changes the slices or rules it is given. Rules are applied in name order, so the
result does not depend on the order they were listed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dra_core.api import Device, DeviceTaintRule, ResourceSlice

__all__ = ["apply_taint_rules"]


def _selects(rule: DeviceTaintRule, driver: str, pool: str, device: Device) -> bool:
    selector = rule.spec.device_selector
    if selector is None:
        return True
    return (
        (not selector.driver or selector.driver == driver)
        and (not selector.pool or selector.pool == pool)
        and (not selector.device or selector.device == device.name)
    )


def apply_taint_rules(
    slices: Sequence[ResourceSlice], rules: Iterable[DeviceTaintRule]
) -> list[ResourceSlice]:
    """Return the slices with the taints of the matching DeviceTaintRules added.

    Slices without a matching device are returned as they are (the same objects), so
    caches keyed on slice identity stay warm.
    """
    ordered = sorted(rules, key=lambda r: r.metadata.name)
    if not ordered:
        return list(slices)
    out: list[ResourceSlice] = []
    for s in slices:
        driver, pool = s.spec.driver, s.spec.pool.name
        devices: list[Device] = []
        changed = False
        for device in s.spec.devices:
            extra = [r.spec.taint for r in ordered if _selects(r, driver, pool, device)]
            if extra:
                changed = True
                device = device.model_copy(update={"taints": [*device.taints, *extra]})
            devices.append(device)
        if changed:
            spec = s.spec.model_copy(update={"devices": devices})
            out.append(s.model_copy(update={"spec": spec}))
        else:
            out.append(s)
    return out
