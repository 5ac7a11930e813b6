"""Device identities and the state of devices that are already in use.

This module is the contract between dra-core and the programs that embed it
(schedulers, simulators, capacity planners). It mirrors the scheduler/autoscaler
contract of Kubernetes' structured allocator (``schedulerapi``):

- :class:`DeviceID` names one device: ``driver/pool/device``.
- :class:`SharedDeviceID` names one share of a device that allows multiple
  allocations: ``driver/pool/device/shareID``.
- :class:`ConsumedCapacity` is an amount per capacity name (``memory: 4Gi``).
- :class:`AllocatedState` is what is in use: dedicated devices, shares and the
  capacity that the shares consume.

How kube-scheduler builds :class:`AllocatedState` from allocated claims, and so how
:meth:`AllocatedState.add` treats one ``DeviceRequestAllocationResult``:

- a result with ``adminAccess: true`` is ignored: admin access never makes a device
  busy;
- with the consumable-capacity feature on, a result with a ``shareID`` or a
  ``consumedCapacity`` is *shared* use: its share id is recorded and its consumed
  capacity is added to the device's aggregated capacity;
- every other result makes the device *dedicated* (busy for everybody else).

The counters (``sharedCounters``) of every device that is in use in any of those
ways count as used up; the allocator computes that from this state.

Worked example::

    state = AllocatedState.from_claims(allocated_claims)
    state.add(result)      # a new allocation was committed
    state.remove(result)   # ... and released again: every successful add has
                           # exactly one matching remove with the same result

``add``/``remove`` are reference counted, so that removing one of two identical
results leaves the device in use. ``version`` changes on every change, so that
callers (and the allocator's caches) can tell whether the state moved.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from dra_core._records import Ordered, Value, _set
from dra_core.api.quantity import Quantity

if TYPE_CHECKING:
    from dra_core.api import AllocationResult, DeviceRequestAllocationResult, ResourceClaim

__all__ = [
    "AllocatedState",
    "ConsumedCapacity",
    "DeviceConsumedCapacity",
    "DeviceID",
    "SharedDeviceID",
]


class DeviceID(Ordered):
    """The identity of one device: driver, pool and device name.

    Ordered (driver, then pool, then device) and hashable. ``str()`` gives
    ``driver/pool/device``, the form Kubernetes uses in messages.
    """

    __slots__ = ("_hash", "device", "driver", "pool")

    driver: str
    pool: str
    device: str
    _hash: int

    def __init__(self, driver: str, pool: str, device: str) -> None:
        _set(self, "driver", driver)
        _set(self, "pool", pool)
        _set(self, "device", device)
        _set(self, "_hash", hash((driver, pool, device)))

    def _key(self) -> tuple[Any, ...]:
        return (self.driver, self.pool, self.device)

    # Looked up for every device the allocator looks at: written out, the hash kept.
    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not DeviceID:
            return NotImplemented
        return (
            self._hash == other._hash
            and self.device == other.device
            and self.pool == other.pool
            and self.driver == other.driver
        )

    def __str__(self) -> str:
        return f"{self.driver}/{self.pool}/{self.device}"


class SharedDeviceID(Ordered):
    """One share of a device that allows multiple allocations.

    ``share_id`` is the ``shareID`` of the allocation result (empty when it had
    none). ``str()`` gives ``driver/pool/device/shareID``.
    """

    __slots__ = ("device", "driver", "pool", "share_id")

    driver: str
    pool: str
    device: str
    share_id: str

    def __init__(self, driver: str, pool: str, device: str, share_id: str = "") -> None:
        _set(self, "driver", driver)
        _set(self, "pool", pool)
        _set(self, "device", device)
        _set(self, "share_id", share_id)

    def _key(self) -> tuple[Any, ...]:
        return (self.driver, self.pool, self.device, self.share_id)

    @classmethod
    def of(cls, device_id: DeviceID, share_id: str | None) -> SharedDeviceID:
        """Return the share ``share_id`` of ``device_id``."""
        return cls(device_id.driver, device_id.pool, device_id.device, share_id or "")

    @property
    def device_id(self) -> DeviceID:
        """The device this share belongs to."""
        return DeviceID(self.driver, self.pool, self.device)

    def __str__(self) -> str:
        base = f"{self.driver}/{self.pool}/{self.device}"
        return f"{base}/{self.share_id}" if self.share_id else base


class ConsumedCapacity(dict[str, Quantity]):
    """Amounts of consumable capacity, keyed by capacity name.

    A plain ``dict`` with arithmetic: :meth:`add` and :meth:`sub` change it in
    place, :meth:`empty` says whether every amount is zero.
    """

    def clone(self) -> ConsumedCapacity:
        """Return a copy (quantities are immutable, so a shallow copy is enough)."""
        return ConsumedCapacity(self)

    def add(self, other: Mapping[str, Quantity]) -> None:
        """Add every amount of ``other``, creating missing entries."""
        for name, amount in other.items():
            current = self.get(name)
            self[name] = amount if current is None else current.add(amount)

    def sub(self, other: Mapping[str, Quantity]) -> None:
        """Subtract every amount of ``other``; names not present are ignored."""
        for name, amount in other.items():
            current = self.get(name)
            if current is not None:
                self[name] = current.sub(amount)

    def empty(self) -> bool:
        """Return true when every amount is zero (or there is none)."""
        return all(q.is_zero() for q in self.values())


class DeviceConsumedCapacity(Value):
    """The capacity that one allocation consumes on one device."""

    __slots__ = ("consumed", "device_id")

    device_id: DeviceID
    consumed: Mapping[str, Quantity]

    def __init__(self, device_id: DeviceID, consumed: Mapping[str, Quantity]) -> None:
        _set(self, "device_id", device_id)
        _set(self, "consumed", consumed)

    def _key(self) -> tuple[Any, ...]:
        return (self.device_id, self.consumed)


def _get(obj: Any, snake: str, camel: str) -> Any:
    """Read a field from a model or a Kubernetes-shaped dict."""
    if isinstance(obj, Mapping):
        return obj.get(camel)
    return getattr(obj, snake, None)


def _quantity(value: Any) -> Quantity:
    return value if isinstance(value, Quantity) else Quantity.parse(str(value))


class AllocatedState:
    """The devices, shares and capacity that are already in use.

    Build it with :meth:`from_claims` (the way kube-scheduler does) and keep it up
    to date with :meth:`add`/:meth:`remove` (or :meth:`add_allocation`/
    :meth:`remove_allocation` for a whole claim). Read it through
    :attr:`allocated_devices`, :attr:`allocated_shared_device_ids`,
    :attr:`aggregated_capacity` and :meth:`is_device_allocated`.

    Args:
        consumable_capacity: the ``DRAConsumableCapacity`` switch. With it off,
            results with a share id count as dedicated use, as in a cluster with
            the gate off.

    """

    __slots__ = (
        "__weakref__",
        "_capacity",
        "_consumable_capacity",
        "_dedicated",
        "_shared",
        "_shared_devices",
        "_version",
    )

    def __init__(self, *, consumable_capacity: bool = True) -> None:
        self._consumable_capacity = consumable_capacity
        # Reference counts, so that every add has exactly one matching remove even
        # when two results name the same device.
        self._dedicated: dict[DeviceID, int] = {}
        self._shared: dict[SharedDeviceID, int] = {}
        # Devices with at least one share in use, with the number of share ids in
        # ``_shared`` that name them, so that "is any share in use" is one lookup.
        self._shared_devices: dict[DeviceID, int] = {}
        self._capacity: dict[DeviceID, ConsumedCapacity] = {}
        self._version = 0

    # --- construction -------------------------------------------------------

    @classmethod
    def from_claims(
        cls, claims: Iterable[Any], *, consumable_capacity: bool = True
    ) -> AllocatedState:
        """Return the state of the devices allocated to ``claims``.

        ``claims`` are ResourceClaim models or dicts; claims without
        ``status.allocation`` are skipped.
        """
        state = cls(consumable_capacity=consumable_capacity)
        for claim in claims:
            status = _get(claim, "status", "status")
            allocation = _get(status, "allocation", "allocation") if status is not None else None
            if allocation is not None:
                state.add_allocation(allocation)
        return state

    @classmethod
    def from_devices(cls, devices: Iterable[DeviceID]) -> AllocatedState:
        """Return a state where exactly ``devices`` are in dedicated use."""
        state = cls()
        for device_id in devices:
            state._dedicated[device_id] = state._dedicated.get(device_id, 0) + 1
        return state

    def copy(self) -> AllocatedState:
        """Return an independent copy."""
        other = AllocatedState(consumable_capacity=self._consumable_capacity)
        other._dedicated = dict(self._dedicated)
        other._shared = dict(self._shared)
        other._shared_devices = dict(self._shared_devices)
        other._capacity = {k: v.clone() for k, v in self._capacity.items()}
        other._version = self._version
        return other

    # --- incremental updates --------------------------------------------------

    def _classify(
        self, result: DeviceRequestAllocationResult | Mapping[str, Any]
    ) -> tuple[DeviceID, str | None, dict[str, Quantity] | None, bool] | None:
        if _get(result, "admin_access", "adminAccess"):
            return None  # admin access never makes a device busy
        device_id = DeviceID(
            str(_get(result, "driver", "driver")),
            str(_get(result, "pool", "pool")),
            str(_get(result, "device", "device")),
        )
        share_id = _get(result, "share_id", "shareID")
        consumed_raw = _get(result, "consumed_capacity", "consumedCapacity")
        consumed = {str(k): _quantity(v) for k, v in consumed_raw.items()} if consumed_raw else None
        shared = self._consumable_capacity and (share_id is not None or consumed is not None)
        return device_id, (str(share_id) if share_id is not None else None), consumed, shared

    def add(self, result: DeviceRequestAllocationResult | Mapping[str, Any]) -> None:
        """Record one device result of an allocation as in use.

        Every successful ``add`` has exactly one matching :meth:`remove` with the
        same result.
        """
        info = self._classify(result)
        if info is None:
            return
        device_id, share_id, consumed, shared = info
        self._version += 1
        if not shared:
            self._dedicated[device_id] = self._dedicated.get(device_id, 0) + 1
            return
        if share_id is not None:
            key = SharedDeviceID.of(device_id, share_id)
            count = self._shared.get(key, 0)
            self._shared[key] = count + 1
            if count == 0:
                self._shared_devices[device_id] = self._shared_devices.get(device_id, 0) + 1
        if consumed is not None:
            self._capacity.setdefault(device_id, ConsumedCapacity()).add(consumed)

    def remove(self, result: DeviceRequestAllocationResult | Mapping[str, Any]) -> None:
        """Undo one :meth:`add` of the same result."""
        info = self._classify(result)
        if info is None:
            return
        device_id, share_id, consumed, shared = info
        self._version += 1
        if not shared:
            _decrement(self._dedicated, device_id)
            return
        if share_id is not None:
            key = SharedDeviceID.of(device_id, share_id)
            if key in self._shared:
                _decrement(self._shared, key)
                if key not in self._shared:
                    _decrement(self._shared_devices, device_id)
        if consumed is not None and device_id in self._capacity:
            capacity = self._capacity[device_id]
            capacity.sub(consumed)
            if capacity.empty():
                del self._capacity[device_id]

    def add_allocation(self, allocation: AllocationResult | Mapping[str, Any]) -> None:
        """:meth:`add` every device result of one claim's allocation."""
        for result in _results(allocation):
            self.add(result)

    def remove_allocation(self, allocation: AllocationResult | Mapping[str, Any]) -> None:
        """:meth:`remove` every device result of one claim's allocation."""
        for result in _results(allocation):
            self.remove(result)

    def add_claim(self, claim: ResourceClaim | Mapping[str, Any]) -> None:
        """:meth:`add_allocation` for a claim's ``status.allocation``, if any."""
        status = _get(claim, "status", "status")
        allocation = _get(status, "allocation", "allocation") if status is not None else None
        if allocation is not None:
            self.add_allocation(allocation)

    def remove_claim(self, claim: ResourceClaim | Mapping[str, Any]) -> None:
        """:meth:`remove_allocation` for a claim's ``status.allocation``, if any."""
        status = _get(claim, "status", "status")
        allocation = _get(status, "allocation", "allocation") if status is not None else None
        if allocation is not None:
            self.remove_allocation(allocation)

    # --- reading ---------------------------------------------------------------

    @property
    def version(self) -> int:
        """A number that changes whenever the state changes."""
        return self._version

    @property
    def consumable_capacity(self) -> bool:
        """Whether shared use is tracked (the ``DRAConsumableCapacity`` switch)."""
        return self._consumable_capacity

    @property
    def allocated_devices(self) -> frozenset[DeviceID]:
        """Devices in dedicated use."""
        return frozenset(self._dedicated)

    @property
    def allocated_shared_device_ids(self) -> frozenset[SharedDeviceID]:
        """Shares in use of devices that allow multiple allocations."""
        return frozenset(self._shared)

    @property
    def aggregated_capacity(self) -> Mapping[DeviceID, Mapping[str, Quantity]]:
        """Consumed capacity per device, summed over its shares (read-only view)."""
        return {k: dict(v) for k, v in self._capacity.items()}

    def is_dedicated(self, device_id: DeviceID) -> bool:
        """Return true when the device is in dedicated use."""
        return device_id in self._dedicated

    def consumed_capacity(self, device_id: DeviceID) -> Mapping[str, Quantity] | None:
        """Return the capacity consumed by shares of the device, None when it has none."""
        return self._capacity.get(device_id)

    def devices_with_consumed_capacity(self) -> Collection[DeviceID]:
        """Return the devices whose shares consume capacity (a read-only view)."""
        return self._capacity.keys()

    def has_shares(self, device_id: DeviceID) -> bool:
        """Return true when some share of the device is in use."""
        return device_id in self._shared_devices

    def is_device_allocated(self, device_id: DeviceID) -> bool:
        """Return true when the device is in use in any way (dedicated, shared, capacity).

        Devices in use in any way have their counters used up.
        """
        return (
            device_id in self._dedicated
            or device_id in self._capacity
            or self.has_shares(device_id)
        )

    def devices_in_use(self) -> frozenset[DeviceID]:
        """Every device that :meth:`is_device_allocated` says is in use."""
        out = set(self._dedicated)
        out.update(self._capacity)
        out.update(s.device_id for s in self._shared)
        return frozenset(out)

    def __iter__(self) -> Iterator[DeviceID]:
        return iter(sorted(self.devices_in_use()))

    def __repr__(self) -> str:
        return (
            f"AllocatedState(dedicated={len(self._dedicated)}, shares={len(self._shared)}, "
            f"capacity={len(self._capacity)})"
        )


def _decrement(counts: dict[Any, int], key: Any) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)


def _results(allocation: Any) -> list[Any]:
    devices = _get(allocation, "devices", "devices")
    if devices is None:
        return []
    results = _get(devices, "results", "results")
    return list(results or [])
