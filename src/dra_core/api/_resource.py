"""Models of resource.k8s.io/v1: ResourceSlice, DeviceClass, ResourceClaim(Template), results.

Class names are the Kubernetes type names; attribute names are the snake_case of the JSON
names (``shareID`` is ``share_id``; the attribute value fields ``int`` and ``bool`` are ``int_``
and ``bool_``). Enumerations (allocation modes, taint effects, operators) are plain strings, so
that values from a newer Kubernetes reach the allocator, which reports them.
"""

# No ``from __future__ import annotations`` in the model modules: pydantic would have to
# compile and evaluate every annotation string of every class (and of K8sModel again for
# each subclass) at import; real annotations cost nothing extra (about 8 ms of import).

from typing import ClassVar

from pydantic import Field

from dra_core.api._base import Bool, Int, K8sModel, RawJSON, Str, new_dict, new_list
from dra_core.api._core import NodeSelector, ObjectMeta
from dra_core.api.quantity import Quantity

__all__ = [
    "AllocatedDeviceStatus",
    "AllocationResult",
    "CELDeviceSelector",
    "CapacityRequestPolicy",
    "CapacityRequestPolicyRange",
    "CapacityRequirements",
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
    "DeviceToleration",
    "ExactDeviceRequest",
    "NetworkDeviceData",
    "NodeAllocatableResourceMapping",
    "OpaqueDeviceConfiguration",
    "ResourceClaim",
    "ResourceClaimConsumerReference",
    "ResourceClaimSpec",
    "ResourceClaimStatus",
    "ResourcePool",
    "ResourceSlice",
    "ResourceSliceSpec",
]

GROUP = "resource.k8s.io"

# --------------------------------------------------------------------------- ResourceSlice


class ResourcePool(K8sModel):
    """A slice's pool; ``generation`` and ``resource_slice_count`` decide completeness."""

    name: Str = ""
    generation: Int = 0
    resource_slice_count: Int = 0


class Counter(K8sModel):
    """An amount of a shared counter."""

    value: Quantity = Field(default_factory=lambda: Quantity.from_int(0))


class CounterSet(K8sModel):
    """A named set of counters that partitionable devices draw from."""

    name: Str = ""
    counters: dict[str, Counter] = Field(default_factory=new_dict)


class DeviceCounterConsumption(K8sModel):
    """What a device takes from one counter set of the same slice/pool."""

    counter_set: Str = ""
    counters: dict[str, Counter] = Field(default_factory=new_dict)


class CapacityRequestPolicyRange(K8sModel):
    """A range of valid requests: ``min`` (required), ``max``, ``step``."""

    min: Quantity | None = None
    max: Quantity | None = None
    step: Quantity | None = None


class CapacityRequestPolicy(K8sModel):
    """How requests for a consumable capacity are defaulted and rounded."""

    default: Quantity | None = None
    valid_values: list[Quantity] = Field(default_factory=new_list)
    valid_range: CapacityRequestPolicyRange | None = None


class DeviceCapacity(K8sModel):
    """One capacity of a device: its total ``value`` and an optional request policy."""

    value: Quantity = Field(default_factory=lambda: Quantity.from_int(0))
    request_policy: CapacityRequestPolicy | None = None


class DeviceAttribute(K8sModel):
    """One attribute value; exactly one field is set (the list forms are 1.36 list types)."""

    int_: Int | None = Field(default=None, alias="int")
    bool_: Bool | None = Field(default=None, alias="bool")
    string: Str | None = None
    version: Str | None = None
    ints: list[Int] | None = None
    bools: list[Bool] | None = None
    strings: list[Str] | None = None
    versions: list[Str] | None = None


class DeviceTaint(K8sModel):
    """A taint on a device: effect ``NoSchedule``, ``NoExecute`` or ``None``."""

    key: Str = ""
    value: Str = ""
    effect: Str = ""
    time_added: Str | None = None


class NodeAllocatableResourceMapping(K8sModel):
    """How a device maps to a node-allocatable resource (1.36)."""

    capacity_key: Str | None = None
    allocation_multiplier: Quantity | None = None


class Device(K8sModel):
    """One device of a ResourceSlice."""

    name: Str = ""
    attributes: dict[str, DeviceAttribute] = Field(default_factory=new_dict)
    capacity: dict[str, DeviceCapacity] = Field(default_factory=new_dict)
    consumes_counters: list[DeviceCounterConsumption] = Field(default_factory=new_list)
    node_name: Str | None = None
    node_selector: NodeSelector | None = None
    all_nodes: Bool | None = None
    taints: list[DeviceTaint] = Field(default_factory=new_list)
    binds_to_node: Bool | None = None
    binding_conditions: list[Str] = Field(default_factory=new_list)
    binding_failure_conditions: list[Str] = Field(default_factory=new_list)
    allow_multiple_allocations: Bool | None = None
    node_allocatable_resource_mappings: dict[str, NodeAllocatableResourceMapping] = Field(
        default_factory=new_dict
    )


class ResourceSliceSpec(K8sModel):
    """The devices of one driver in one pool, and where they can be used."""

    driver: Str = ""
    pool: ResourcePool = Field(default_factory=ResourcePool.model_construct)
    node_name: Str | None = None
    node_selector: NodeSelector | None = None
    all_nodes: Bool | None = None
    per_device_node_selection: Bool | None = None
    devices: list[Device] = Field(default_factory=new_list)
    shared_counters: list[CounterSet] = Field(default_factory=new_list)


class ResourceSlice(K8sModel):
    """resource.k8s.io/v1 ResourceSlice."""

    KIND: ClassVar[str | None] = "ResourceSlice"
    API_GROUP: ClassVar[str] = GROUP
    api_version: Str = ""
    kind: Str = ""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta.model_construct)
    spec: ResourceSliceSpec = Field(default_factory=ResourceSliceSpec.model_construct)


# --------------------------------------------------------------------------- DeviceClass


class CELDeviceSelector(K8sModel):
    """A CEL expression over ``device``."""

    expression: Str = ""


class DeviceSelector(K8sModel):
    """A device selector (only CEL exists)."""

    cel: CELDeviceSelector | None = None


class OpaqueDeviceConfiguration(K8sModel):
    """Configuration for a driver; ``parameters`` is kept as raw JSON."""

    driver: Str = ""
    parameters: RawJSON = None


class DeviceClassConfiguration(K8sModel):
    """Configuration that a class adds to every allocation it selects."""

    opaque: OpaqueDeviceConfiguration | None = None


class DeviceClassSpec(K8sModel):
    """Selectors and configuration of a DeviceClass."""

    selectors: list[DeviceSelector] = Field(default_factory=new_list)
    config: list[DeviceClassConfiguration] = Field(default_factory=new_list)
    extended_resource_name: Str | None = None


class DeviceClass(K8sModel):
    """resource.k8s.io/v1 DeviceClass."""

    KIND: ClassVar[str | None] = "DeviceClass"
    API_GROUP: ClassVar[str] = GROUP
    api_version: Str = ""
    kind: Str = ""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta.model_construct)
    spec: DeviceClassSpec = Field(default_factory=DeviceClassSpec.model_construct)


# --------------------------------------------------------------------------- ResourceClaim


class DeviceToleration(K8sModel):
    """A toleration of device taints (operator ``Equal`` or ``Exists``)."""

    key: Str = ""
    operator: Str = ""
    value: Str = ""
    effect: Str = ""
    toleration_seconds: Int | None = None


class CapacityRequirements(K8sModel):
    """Amounts of consumable capacity that a request needs from each device."""

    requests: dict[str, Quantity] = Field(default_factory=new_dict)


class ExactDeviceRequest(K8sModel):
    """A request for devices of one class (``exactly``)."""

    device_class_name: Str = ""
    selectors: list[DeviceSelector] = Field(default_factory=new_list)
    allocation_mode: Str = ""
    count: Int = 0
    admin_access: Bool | None = None
    tolerations: list[DeviceToleration] = Field(default_factory=new_list)
    capacity: CapacityRequirements | None = None


class DeviceSubRequest(K8sModel):
    """One alternative of a ``firstAvailable`` request."""

    name: Str = ""
    device_class_name: Str = ""
    selectors: list[DeviceSelector] = Field(default_factory=new_list)
    allocation_mode: Str = ""
    count: Int = 0
    tolerations: list[DeviceToleration] = Field(default_factory=new_list)
    capacity: CapacityRequirements | None = None


class DeviceRequest(K8sModel):
    """A named request: ``exactly`` or ``first_available`` (exactly one of them)."""

    name: Str = ""
    exactly: ExactDeviceRequest | None = None
    first_available: list[DeviceSubRequest] = Field(default_factory=new_list)


class DeviceConstraint(K8sModel):
    """``matchAttribute`` or ``distinctAttribute`` across some (or all) requests."""

    requests: list[Str] = Field(default_factory=new_list)
    match_attribute: Str | None = None
    distinct_attribute: Str | None = None


class DeviceClaimConfiguration(K8sModel):
    """Configuration in a claim, for some (or all) of its requests."""

    requests: list[Str] = Field(default_factory=new_list)
    opaque: OpaqueDeviceConfiguration | None = None


class DeviceClaim(K8sModel):
    """What a claim asks for."""

    requests: list[DeviceRequest] = Field(default_factory=new_list)
    constraints: list[DeviceConstraint] = Field(default_factory=new_list)
    config: list[DeviceClaimConfiguration] = Field(default_factory=new_list)


class ResourceClaimSpec(K8sModel):
    """The spec of a ResourceClaim."""

    devices: DeviceClaim = Field(default_factory=DeviceClaim.model_construct)


class DeviceRequestAllocationResult(K8sModel):
    """One allocated device (``request`` is ``req`` or ``req/subreq``)."""

    request: Str = ""
    driver: Str = ""
    pool: Str = ""
    device: Str = ""
    admin_access: Bool | None = None
    tolerations: list[DeviceToleration] = Field(default_factory=new_list)
    binding_conditions: list[Str] = Field(default_factory=new_list)
    binding_failure_conditions: list[Str] = Field(default_factory=new_list)
    share_id: Str | None = Field(default=None, alias="shareID")
    consumed_capacity: dict[str, Quantity] = Field(default_factory=new_dict)


class DeviceAllocationConfiguration(K8sModel):
    """Configuration copied into a result; ``source`` is ``FromClass`` or ``FromClaim``."""

    source: Str = ""
    requests: list[Str] = Field(default_factory=new_list)
    opaque: OpaqueDeviceConfiguration | None = None


class DeviceAllocationResult(K8sModel):
    """The allocated devices and their configuration."""

    results: list[DeviceRequestAllocationResult] = Field(default_factory=new_list)
    config: list[DeviceAllocationConfiguration] = Field(default_factory=new_list)


class AllocationResult(K8sModel):
    """The result of allocating a claim (``status.allocation``)."""

    devices: DeviceAllocationResult | None = None
    node_selector: NodeSelector | None = None
    allocation_timestamp: Str | None = None


class ResourceClaimConsumerReference(K8sModel):
    """Who uses a claim (``status.reservedFor``)."""

    api_group: Str = ""
    resource: Str = ""
    name: Str = ""
    uid: Str = ""


class NetworkDeviceData(K8sModel):
    """Network data a driver reports for an allocated device."""

    interface_name: Str = ""
    ips: list[Str] = Field(default_factory=new_list)
    hardware_address: Str = ""


class AllocatedDeviceStatus(K8sModel):
    """The status a driver reports for an allocated device."""

    driver: Str = ""
    pool: Str = ""
    device: Str = ""
    share_id: Str | None = Field(default=None, alias="shareID")
    conditions: list[RawJSON] = Field(default_factory=new_list)
    data: RawJSON = None
    network_data: NetworkDeviceData | None = None


class ResourceClaimStatus(K8sModel):
    """The status of a ResourceClaim."""

    allocation: AllocationResult | None = None
    reserved_for: list[ResourceClaimConsumerReference] = Field(default_factory=new_list)
    devices: list[AllocatedDeviceStatus] = Field(default_factory=new_list)


class ResourceClaim(K8sModel):
    """resource.k8s.io/v1 ResourceClaim."""

    KIND: ClassVar[str | None] = "ResourceClaim"
    API_GROUP: ClassVar[str] = GROUP
    api_version: Str = ""
    kind: Str = ""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta.model_construct)
    spec: ResourceClaimSpec = Field(default_factory=ResourceClaimSpec.model_construct)
    status: ResourceClaimStatus | None = None
