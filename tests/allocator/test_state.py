"""AllocatedState: built the way kube-scheduler builds it, with paired add/remove."""

from __future__ import annotations

from typing import Any

from dra_core.api import ResourceClaim
from dra_core.api.quantity import Quantity
from dra_core.state import AllocatedState, DeviceID, SharedDeviceID


def result(device: str, **extra: Any) -> dict[str, Any]:
    return {"request": "r", "driver": "drv", "pool": "p", "device": device, **extra}


def claim_with(*results: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": "c", "namespace": "default"},
        "status": {"allocation": {"devices": {"results": list(results)}}},
    }


DEV = DeviceID("drv", "p", "d0")


def test_dedicated_result_makes_the_device_busy() -> None:
    state = AllocatedState.from_claims([claim_with(result("d0"))])
    assert state.allocated_devices == {DEV}
    assert state.is_dedicated(DEV) and state.is_device_allocated(DEV)


def test_admin_access_results_do_not_count() -> None:
    state = AllocatedState.from_claims([claim_with(result("d0", adminAccess=True))])
    assert not state.is_device_allocated(DEV)
    assert state.version == 0


def test_share_id_and_consumed_capacity_count_as_shared_use() -> None:
    state = AllocatedState.from_claims(
        [
            claim_with(
                result("d0", shareID="s1", consumedCapacity={"mem": "1Gi"}),
                result("d0", shareID="s2", consumedCapacity={"mem": "2Gi"}),
            )
        ]
    )
    assert not state.is_dedicated(DEV)
    assert state.allocated_shared_device_ids == {
        SharedDeviceID("drv", "p", "d0", "s1"),
        SharedDeviceID("drv", "p", "d0", "s2"),
    }
    consumed = state.consumed_capacity(DEV)
    assert consumed is not None and consumed["mem"] == Quantity.parse("3Gi")
    assert state.is_device_allocated(DEV)


def test_with_consumable_capacity_off_shares_are_dedicated() -> None:
    state = AllocatedState.from_claims(
        [claim_with(result("d0", shareID="s1"))], consumable_capacity=False
    )
    assert state.is_dedicated(DEV)
    assert not state.allocated_shared_device_ids


def test_every_add_has_exactly_one_matching_remove() -> None:
    state = AllocatedState()
    a = result("d0")
    shared = result("d1", shareID="s", consumedCapacity={"mem": "1Gi"})
    state.add(a)
    state.add(a)  # the same device twice (two claims, a stale copy...)
    state.add(shared)
    state.remove(a)
    assert state.is_dedicated(DEV), "one add is still outstanding"
    state.remove(a)
    state.remove(shared)
    assert not state.devices_in_use()
    assert state.consumed_capacity(DeviceID("drv", "p", "d1")) is None


def test_models_and_dicts_give_the_same_state() -> None:
    raw = claim_with(result("d0"), result("d1", shareID="s"))
    from_dict = AllocatedState.from_claims([raw])
    from_model = AllocatedState.from_claims([ResourceClaim.model_validate(raw)])
    assert from_dict.allocated_devices == from_model.allocated_devices
    assert from_dict.allocated_shared_device_ids == from_model.allocated_shared_device_ids


def test_copy_is_independent_and_version_moves() -> None:
    state = AllocatedState()
    state.add(result("d0"))
    copy = state.copy()
    copy.remove(result("d0"))
    assert state.is_dedicated(DEV) and not copy.is_dedicated(DEV)
    assert copy.version != state.version


def test_device_ids_order_and_print_like_kubernetes() -> None:
    ids = [DeviceID("b", "p", "x"), DeviceID("a", "q", "y"), DeviceID("a", "p", "z")]
    assert [str(i) for i in sorted(ids)] == ["a/p/z", "a/q/y", "b/p/x"]
    assert str(SharedDeviceID.of(DEV, "u")) == "drv/p/d0/u"
    assert str(SharedDeviceID.of(DEV, None)) == "drv/p/d0"
