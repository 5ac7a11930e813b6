"""Consumable capacity: how much a request consumes of a device, and whether it fits.

These are Kubernetes' rules for ``capacity.requests`` against a device's
``capacity`` with its ``requestPolicy``:

- a capacity that the request does not mention consumes the policy's ``default``,
  or, without one, the whole capacity value;
- a request below ``validRange.min`` is raised to the minimum, and with a ``step``
  it is rounded up to ``min + n*step``;
- with ``validValues`` it is rounded up to the first valid value that is not
  smaller (a request above every valid value stays as it is, and is then refused);
- the (rounded) amount must then satisfy the policy (``<= max``, on a step, one of
  the valid values, or equal to the default), and, added to what is already
  consumed, stay within the capacity value.

Worked example: capacity ``memory: 10Gi`` with ``validRange {min: 1Gi, step: 1Gi}``;
a request for ``1.5Gi`` consumes ``2Gi``; two such shares already allocated leave
``6Gi``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from dra_core.api.quantity import BINARY_SI, Quantity

if TYPE_CHECKING:
    from dra_core.api import CapacityRequestPolicy, CapacityRequestPolicyRange, DeviceCapacity

__all__ = ["consumed_capacity", "request_fits_capacity"]


def _round_up_range(requested: Quantity, valid_range: CapacityRequestPolicyRange) -> Quantity:
    minimum = valid_range.min
    assert minimum is not None  # callers check
    if requested.cmp(minimum) < 0:
        return minimum
    if valid_range.step is None:
        return requested
    req = math.ceil(requested.value)
    step = math.ceil(valid_range.step.value)
    low = math.ceil(minimum.value)
    n, rem = divmod(req - low, step)
    if rem:
        n += 1
    return Quantity.from_int(low + step * n, BINARY_SI)


def _round_up_valid_values(requested: Quantity, valid_values: list[Quantity]) -> Quantity:
    for valid in valid_values:
        if requested.cmp(valid) <= 0:
            return valid
    return requested


def _consumed_one(requested: Quantity | None, capacity: DeviceCapacity) -> Quantity:
    policy = capacity.request_policy
    if requested is None:
        if policy is not None and policy.default is not None:
            return policy.default
        return capacity.value
    if policy is None:
        return requested
    if policy.valid_range is not None and policy.valid_range.min is not None:
        return _round_up_range(requested, policy.valid_range)
    if policy.valid_values is not None:
        return _round_up_valid_values(requested, list(policy.valid_values))
    return requested


def _violates_policy(amount: Quantity, policy: CapacityRequestPolicy | None) -> bool:
    if policy is None:
        return False
    if policy.default is not None and amount.cmp(policy.default) == 0:
        return False
    valid_range = policy.valid_range
    if valid_range is not None:
        if valid_range.max is not None and amount.cmp(valid_range.max) > 0:
            return True
        if valid_range.step is not None:
            step = math.ceil(valid_range.step.value)
            low = math.ceil(valid_range.min.value) if valid_range.min is not None else 0
            if step and (math.ceil(amount.value) - low) % step != 0:
                return True
        return False
    if policy.valid_values:
        return all(amount.cmp(v) != 0 for v in policy.valid_values)
    return False


def consumed_capacity(
    requests: Mapping[str, Quantity] | None, capacity: Mapping[str, DeviceCapacity]
) -> dict[str, Quantity]:
    """Return what a request consumes of each capacity of a device, after policy rounding.

    ``requests`` is the request's ``capacity.requests`` (None when it has none).
    Every capacity of the device gets an entry (Kubernetes'
    ``GetConsumedCapacityFromRequest``).
    """
    out: dict[str, Quantity] = {}
    for name, cap in capacity.items():
        requested = requests.get(name) if requests is not None else None
        out[name] = _consumed_one(requested, cap)
    return out


def request_fits_capacity(
    requests: Mapping[str, Quantity] | None,
    capacity: Mapping[str, DeviceCapacity],
    already_consumed: Mapping[str, Quantity] | None,
) -> bool | None:
    """Whether a request fits the device's capacity (Kubernetes' ``CmpRequestOverCapacity``).

    Returns None when the request names a capacity that the device does not have
    (Kubernetes skips such a device), False when a policy is violated or the
    capacity would be exceeded, True otherwise. ``already_consumed`` is what other
    allocations consume of the device.
    """
    if not requests and not already_consumed:
        if all(cap.request_policy is None for cap in capacity.values()):
            return True  # each capacity consumes its whole value, which fits
    elif requests:
        for name in requests:
            if name not in capacity:
                return None
    for name, cap in capacity.items():
        requested = requests.get(name) if requests is not None else None
        amount = _consumed_one(requested, cap)
        if _violates_policy(amount, cap.request_policy):
            return False
        total = amount.value
        if already_consumed is not None:
            used = already_consumed.get(name)
            if used is not None:
                total += used.value
        if total > cap.value.value:
            return False
    return True
