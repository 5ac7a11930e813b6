"""Typed models of resource.k8s.io/v1 and the core/v1 parts that allocation reads.

Import everything from here: ``from dra_core.api import ResourceSlice, Quantity``.
See :mod:`dra_core.api._base` for the conventions (Go zero values, no defaults on dump).

The models allocation does not read (Pod and its parts, ResourceClaimTemplate,
DeviceTaintRule) are defined on first use of one of their names (PEP 562
:func:`__getattr__` below): ``import dra_core`` does not pay for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from dra_core.api._base import K8sModel, dump
from dra_core.api._core import (
    Node,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    NodeSpec,
    NodeStatus,
    ObjectMeta,
    OwnerReference,
    Taint,
)
from dra_core.api._resource import (
    AllocatedDeviceStatus,
    AllocationResult,
    CapacityRequestPolicy,
    CapacityRequestPolicyRange,
    CapacityRequirements,
    CELDeviceSelector,
    Counter,
    CounterSet,
    Device,
    DeviceAllocationConfiguration,
    DeviceAllocationResult,
    DeviceAttribute,
    DeviceCapacity,
    DeviceClaim,
    DeviceClaimConfiguration,
    DeviceClass,
    DeviceClassConfiguration,
    DeviceClassSpec,
    DeviceConstraint,
    DeviceCounterConsumption,
    DeviceRequest,
    DeviceRequestAllocationResult,
    DeviceSelector,
    DeviceSubRequest,
    DeviceTaint,
    DeviceToleration,
    ExactDeviceRequest,
    NetworkDeviceData,
    NodeAllocatableResourceMapping,
    OpaqueDeviceConfiguration,
    ResourceClaim,
    ResourceClaimConsumerReference,
    ResourceClaimSpec,
    ResourceClaimStatus,
    ResourcePool,
    ResourceSlice,
    ResourceSliceSpec,
)
from dra_core.api.quantity import Quantity

if TYPE_CHECKING:
    from dra_core.api._pod import (
        Container,
        ContainerResourceClaim,
        Pod,
        PodResourceClaim,
        PodResourceClaimStatus,
        PodSpec,
        PodStatus,
        ResourceRequirements,
        Toleration,
    )
    from dra_core.api._templates_rules import (
        DeviceTaintRule,
        DeviceTaintRuleSpec,
        DeviceTaintRuleStatus,
        DeviceTaintSelector,
        ResourceClaimTemplate,
        ResourceClaimTemplateSpec,
    )

# Module -> the names it defines, imported on first access.
_LAZY_MODULES: dict[str, tuple[str, ...]] = {
    "dra_core.api._pod": (
        "Container",
        "ContainerResourceClaim",
        "Pod",
        "PodResourceClaim",
        "PodResourceClaimStatus",
        "PodSpec",
        "PodStatus",
        "ResourceRequirements",
        "Toleration",
    ),
    "dra_core.api._templates_rules": (
        "DeviceTaintRule",
        "DeviceTaintRuleSpec",
        "DeviceTaintRuleStatus",
        "DeviceTaintSelector",
        "ResourceClaimTemplate",
        "ResourceClaimTemplateSpec",
    ),
}
_LAZY: dict[str, str] = {name: module for module, names in _LAZY_MODULES.items() for name in names}


def _load_lazy(name: str) -> object:
    """Import the module that defines ``name``, remember the name here, return it."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value: object = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain module attribute
    return value


if not TYPE_CHECKING:
    # Only at run time (see dra_core/__init__.py: a type checker reads the imports above).
    def __getattr__(name: str) -> object:
        """Resolve a lazily defined model (PEP 562)."""
        return _load_lazy(name)


def __dir__() -> list[str]:
    """Return the module's attributes, the models not defined yet included."""
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AllocatedDeviceStatus",
    "AllocationResult",
    "CELDeviceSelector",
    "CapacityRequestPolicy",
    "CapacityRequestPolicyRange",
    "CapacityRequirements",
    "Container",
    "ContainerResourceClaim",
    "Counter",
    "CounterSet",
    "Device",
    "DeviceAllocationConfiguration",
    "DeviceAllocationResult",
    "DeviceAttribute",
    "DeviceCapacity",
    "DeviceClaim",
    "DeviceClaimConfiguration",
    "DeviceClass",
    "DeviceClassConfiguration",
    "DeviceClassSpec",
    "DeviceConstraint",
    "DeviceCounterConsumption",
    "DeviceRequest",
    "DeviceRequestAllocationResult",
    "DeviceSelector",
    "DeviceSubRequest",
    "DeviceTaint",
    "DeviceTaintRule",
    "DeviceTaintRuleSpec",
    "DeviceTaintRuleStatus",
    "DeviceTaintSelector",
    "DeviceToleration",
    "ExactDeviceRequest",
    "K8sModel",
    "NetworkDeviceData",
    "Node",
    "NodeAllocatableResourceMapping",
    "NodeSelector",
    "NodeSelectorRequirement",
    "NodeSelectorTerm",
    "NodeSpec",
    "NodeStatus",
    "ObjectMeta",
    "OpaqueDeviceConfiguration",
    "OwnerReference",
    "Pod",
    "PodResourceClaim",
    "PodResourceClaimStatus",
    "PodSpec",
    "PodStatus",
    "Quantity",
    "ResourceClaim",
    "ResourceClaimConsumerReference",
    "ResourceClaimSpec",
    "ResourceClaimStatus",
    "ResourceClaimTemplate",
    "ResourceClaimTemplateSpec",
    "ResourcePool",
    "ResourceRequirements",
    "ResourceSlice",
    "ResourceSliceSpec",
    "Taint",
    "Toleration",
    "dump",
]
