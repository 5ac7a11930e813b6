"""The Kubernetes feature switches that change what the allocator does.

Each switch mirrors a Kubernetes feature gate. With a switch off, dra-core behaves like
a cluster with that gate off, including the errors such a cluster gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

__all__ = ["Features"]

# The camelCase names used in case files and manifests, and the Kubernetes gate names.
_CAMEL = {
    "admin_access": ("adminAccess", "DRAAdminAccess"),
    "consumable_capacity": ("consumableCapacity", "DRAConsumableCapacity"),
    "device_binding_and_status": ("deviceBindingAndStatus", "DRADeviceBindingConditions"),
    "device_taints": ("deviceTaints", "DRADeviceTaints"),
    "list_type_attributes": ("listTypeAttributes", "DRAListTypeAttributes"),
    "partitionable_devices": ("partitionableDevices", "DRAPartitionableDevices"),
    "prioritized_list": ("prioritizedList", "DRAPrioritizedList"),
}


@dataclass(frozen=True, slots=True)
class Features:
    """The seven allocator feature switches, all on by default.

    Attributes:
        admin_access: ``DRAAdminAccess``: requests with ``adminAccess: true``.
        consumable_capacity: ``DRAConsumableCapacity``: ``allowMultipleAllocations``,
            capacity requests and share ids.
        device_binding_and_status: ``DRADeviceBindingConditions``: binding conditions.
        device_taints: ``DRADeviceTaints``: taints and tolerations.
        list_type_attributes: ``DRAListTypeAttributes``: list-typed attributes in
            constraints and ``includes()``.
        partitionable_devices: ``DRAPartitionableDevices``: shared counters and
            per-device node selection.
        prioritized_list: ``DRAPrioritizedList``: ``firstAvailable`` subrequests.

    """

    admin_access: bool = True
    consumable_capacity: bool = True
    device_binding_and_status: bool = True
    device_taints: bool = True
    list_type_attributes: bool = True
    partitionable_devices: bool = True
    prioritized_list: bool = True

    @classmethod
    def all(cls) -> Features:
        """Every switch on (the default)."""
        return cls()

    @classmethod
    def none(cls) -> Features:
        """Every switch off: the GA feature set only."""
        return cls(**{f.name: False for f in fields(cls)})

    @classmethod
    def from_mapping(cls, values: Mapping[str, bool]) -> Features:
        """Build from a mapping keyed by camelCase, snake_case or gate names.

        Switches that are not named keep their default (on).

        Raises:
            ValueError: for a name that is not a known switch.

        """
        lookup: dict[str, str] = {}
        for attr, (camel, gate) in _CAMEL.items():
            lookup[attr] = attr
            lookup[camel] = attr
            lookup[gate] = attr
        kwargs: dict[str, bool] = {}
        for key, value in values.items():
            if key not in lookup:
                known = ", ".join(camel for camel, _ in _CAMEL.values())
                raise ValueError(f"unknown feature {key!r}; known features: {known}")
            kwargs[lookup[key]] = bool(value)
        return cls(**kwargs)

    def to_mapping(self) -> dict[str, bool]:
        """Return the switches keyed by their camelCase names, as in case files."""
        return {camel: getattr(self, attr) for attr, (camel, _) in _CAMEL.items()}

    def gates(self) -> frozenset[str]:
        """Return the Kubernetes feature-gate names of the switches that are on."""
        return frozenset(gate for attr, (_, gate) in _CAMEL.items() if getattr(self, attr))
