"""Capacity and accounting: what is free, what a pod needs, and how many more fit.

Three questions about a :class:`~dra_core.cluster.Cluster`, answered under every rule
the allocator applies (see docs/capacity.md for worked examples):

- :func:`capacity`: per node and key (a DeviceClass, a device attribute's value or an
  extended resource name), how many devices there are, how many are allocated, free,
  tainted (free for a request that tolerates the taint) and unavailable (not in use, yet
  no request can get them: counters used up by other partitions, incomplete or invalid
  pools, capacity policies that refuse a default request).
- :func:`demand`: what a pod asks for: its claims (from ResourceClaimTemplates, named
  ResourceClaims, and extended resources backed by DRA), request by request.
- :func:`how_many`: how many more copies of a pod fit, one after another as a scheduler
  places them, or at most in any placement (``policy="max"``, CP-SAT).

The status of one device
========================
A device that a node can see is in exactly one of these states (checked in this order,
the allocator's order for a one-device request of a class that selects it, without
tolerations and without capacity requests):

1. **allocated**: in use, and no request gets it (tolerations or not): in dedicated use;
   or shareable (``allowMultipleAllocations``), in use by shares, with no room left for a
   default share (or in a pool that is unusable now);
2. **unavailable**: its pool is incomplete or invalid; it has binding conditions while
   that feature is off; it consumes counters while partitionable devices are off; its
   counters do not fit any more (other devices of the pool, allocated, used them up); its
   capacity policy refuses a request that asks for nothing;
3. **tainted**: free, but a ``NoSchedule``/``NoExecute`` taint keeps away requests
   that do not tolerate it;
4. **free**: a one-device claim of the class would get it now.

``total = allocated + free + tainted + unavailable``. A class whose selector fails on a
device (a CEL runtime error) does not count the device: it is counted as ``unknown``.

Exact, and fast: per-pool answers are memoised by the pool's content (without node and
pool names) and the use of its devices, so identical nodes cost one dictionary lookup
each.
"""

from __future__ import annotations

import heapq
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from dra_core.allocator.capacity import request_fits_capacity
from dra_core.allocator.problem import _taint_blocks
from dra_core.api.quantity import Quantity
from dra_core.cluster._cluster import _NUMBERS, _freeze, _Sig, _slice_number
from dra_core.cluster._view import CANNOT_ALLOCATE
from dra_core.errors import CELError, InputError, ObjectNotFoundError, ReservationError
from dra_core.inventory import DeviceEntry, Pool, PoolID, SliceEntry, node_matches
from dra_core.state import DeviceID

if TYPE_CHECKING:
    from dra_core.api import (
        Device,
        DeviceClass,
        Node,
        Pod,
        ResourceClaim,
        ResourceClaimTemplate,
    )
    from dra_core.cluster._cluster import Cluster
    from dra_core.state import AllocatedState

__all__ = [
    "EXTENDED_RESOURCE_PREFIX",
    "CapacityAmount",
    "CapacityReport",
    "CapacityRow",
    "Demand",
    "DemandAlternative",
    "DemandClaim",
    "DemandRequest",
    "HowMany",
    "capacity",
    "demand",
    "how_many",
]

#: KEP-5004: every DeviceClass can be requested as this prefix plus its name.
EXTENDED_RESOURCE_PREFIX = "deviceclass.resource.kubernetes.io/"

#: Kubernetes' ``ResourceClaimReservedForMaxSize``: pods that may share one claim.
RESERVED_FOR_MAX = 256

_STATUSES = ("allocated", "unavailable", "tainted", "free")
_ALLOCATED, _UNAVAILABLE, _TAINTED, _FREE = range(4)
_UNKNOWN = 4  # the index of the "unknown" count in a count list

# A qualified attribute name: a DNS subdomain, a slash, a C identifier.
_QUALIFIED = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z_][A-Za-z0-9_]*$"
)


# --- result records ---------------------------------------------------------------------

_NO_CAPACITY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class CapacityAmount:
    """Consumable capacity of shareable devices: the sum of their values, consumed, left."""

    total: Quantity
    consumed: Quantity
    left: Quantity


class CapacityRow(NamedTuple):
    """The devices of one key that one node can use (or, with ``node == ""``, the cluster).

    An immutable record (a named tuple: made for each node and key, thousands per call,
    at a fraction of a frozen dataclass's cost).

    Attributes:
        node: the node's name; ``""`` in :attr:`CapacityReport.totals` (each device
            counted once, wherever it can be used).
        key: a DeviceClass name, an attribute value (as text) or an extended resource
            name, as asked; None for devices that do not have the attribute
            (``by=<attribute>``) and for a node that cannot be looked at (see ``note``).
        total: devices the node can use that have the key (``allocated + free +
            tainted + unavailable``).
        allocated: in use (dedicated, or shared with no room left for another share).
        free: a one-device claim of the class would get them now.
        tainted: free for a request that tolerates their taints only.
        unavailable: not in use, yet no request can get them now (see the module
            docstring).
        unknown: devices where a selector of the class fails (not in ``total``).
        source: ``"dra"``, or ``"device-plugin"`` for an extended resource that the
            node advertises in ``status.allocatable``.
        capacity: consumable capacity of the shareable devices, by capacity name.
        note: why a node could not be looked at, or a remark on a device-plugin row.

    """

    node: str
    key: str | None
    total: int
    allocated: int
    free: int
    tainted: int = 0
    unavailable: int = 0
    unknown: int = 0
    source: str = "dra"
    capacity: Mapping[str, CapacityAmount] = _NO_CAPACITY
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Return the row as plain JSON-ready data (quantities as text)."""
        out: dict[str, Any] = {
            "node": self.node,
            "key": self.key,
            "total": self.total,
            "allocated": self.allocated,
            "free": self.free,
            "tainted": self.tainted,
            "unavailable": self.unavailable,
            "unknown": self.unknown,
            "source": self.source,
        }
        if self.capacity:
            out["capacity"] = {
                name: {"total": str(a.total), "consumed": str(a.consumed), "left": str(a.left)}
                for name, a in self.capacity.items()
            }
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True, slots=True)
class CapacityReport:
    """The answer of :func:`capacity`: rows per node and key, and the cluster's totals.

    Iterating (and ``len``, indexing) goes over :attr:`rows`.

    Attributes:
        by: what the keys are: ``"class"``, ``"extendedResource"`` or an attribute name.
        rows: one row per node and key, for the keys the node has devices of (nodes in
            the cluster's order, keys sorted; None last).
        totals: one row per key for the whole cluster (``node == ""``): each device
            counted once, even when several nodes can use it; device-plugin rows add up
            the nodes' allocatable amounts.

    """

    by: str
    rows: tuple[CapacityRow, ...]
    totals: tuple[CapacityRow, ...]

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> CapacityRow:
        return self.rows[index]

    def row(self, node: str, key: str | None, source: str = "dra") -> CapacityRow | None:
        """Return the row of ``node`` and ``key`` (``node=""`` for a total), or None."""
        rows = self.totals if node == "" else self.rows
        for row in rows:
            if row.node == node and row.key == key and row.source == source:
                return row
        return None

    def as_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready data."""
        return {
            "by": self.by,
            "rows": [r.as_dict() for r in self.rows],
            "totals": [r.as_dict() for r in self.totals],
        }


@dataclass(frozen=True, slots=True)
class DemandAlternative:
    """One way to satisfy a request: ``exactly``, or one ``firstAvailable`` subrequest.

    Attributes:
        name: ``"request"`` or ``"request/subrequest"``, as in allocation results.
        device_class: the DeviceClass name.
        mode: ``"ExactCount"`` or ``"All"``.
        count: the number of devices; None for ``All`` ("all matching devices on the
            node the pod lands on").
        selectors: the request's own CEL selectors (the class adds its own).
        capacity: consumable capacity asked for per device (``capacity.requests``).
        admin_access: admin access (does not take the devices from others).
        tolerations: how many device taint tolerations the request has.

    """

    name: str
    device_class: str
    mode: str
    count: int | None
    selectors: tuple[str, ...] = ()
    capacity: Mapping[str, Quantity] = field(default_factory=dict)
    admin_access: bool = False
    tolerations: int = 0

    def describe(self) -> str:
        """Return ``2 × gpu.nvidia.com`` or ``all gpu.nvidia.com on the node``, plus extras."""
        head = (
            f"all {self.device_class} on the node"
            if self.count is None
            else f"{self.count} × {self.device_class}"
        )
        extras: list[str] = []
        if self.selectors:
            extras.append(f"{len(self.selectors)} selector(s)")
        if self.capacity:
            extras.append(
                "capacity " + ", ".join(f"{k}={v}" for k, v in sorted(self.capacity.items()))
            )
        if self.admin_access:
            extras.append("admin access")
        if self.tolerations:
            extras.append(f"{self.tolerations} toleration(s)")
        return head + (f" ({'; '.join(extras)})" if extras else "")


@dataclass(frozen=True, slots=True)
class DemandRequest:
    """One request of a claim, with its alternatives (several for ``firstAvailable``)."""

    claim: str
    name: str
    alternatives: tuple[DemandAlternative, ...]
    first_available: bool = False

    def describe(self) -> str:
        """Return the request in words: one alternative, or the alternatives in order."""
        if not self.first_available:
            return self.alternatives[0].describe()
        return "first available of: " + "; ".join(a.describe() for a in self.alternatives)


@dataclass(frozen=True, slots=True)
class DemandClaim:
    """One claim of a pod.

    Attributes:
        name: the pod's name for the claim (``spec.resourceClaims[].name``), or
            ``"extended-resources"`` for the claim kube-scheduler makes for extended
            resources backed by DRA.
        source: ``"template"`` (a fresh claim per pod), ``"claim"`` (a named
            ResourceClaim, shared by every pod that names it), ``"extended-resource"``
            or ``"spec"`` (a claim given directly: a fresh claim per copy).
        reference: the template's or the claim's name (empty for the others).
        claim: the ResourceClaim as it would be made (templates, extended resources,
            specs) or as it is in the cluster (named claims).
        requests: the claim's requests.
        shared: a named claim: every copy of the pod uses the same devices.
        allocated: a named claim that is allocated already.

    """

    name: str
    source: str
    reference: str
    claim: ResourceClaim
    requests: tuple[DemandRequest, ...]
    shared: bool = False
    allocated: bool = False


@dataclass(frozen=True, slots=True)
class Demand:
    """What a pod asks for (:func:`demand`).

    Attributes:
        pod: ``namespace/name`` of the pod.
        claims: its claims, in the pod's order (the extended-resource claim last).
        extended_resources: extended resources backed by DRA (a class answers to the
            name), with the amount the pod asks for.
        other_resources: the other extended resources the containers ask for
            (device plugins; no class answers to them).

    """

    pod: str
    claims: tuple[DemandClaim, ...]
    extended_resources: Mapping[str, int] = field(default_factory=dict)
    other_resources: Mapping[str, Quantity] = field(default_factory=dict)

    @property
    def requests(self) -> tuple[DemandRequest, ...]:
        """Every request of every claim, in order."""
        return tuple(r for c in self.claims for r in c.requests)

    def devices(self) -> dict[str, int]:
        """Return the devices per class that the fixed requests ask for.

        Only ``ExactCount`` requests without alternatives, of claims that are not
        allocated already, count; ``firstAvailable`` and ``All`` requests are in
        :attr:`requests` (their number depends on the node).
        """
        out: dict[str, int] = {}
        for claim in self.claims:
            if claim.allocated:
                continue
            for request in claim.requests:
                if request.first_available:
                    continue
                alt = request.alternatives[0]
                if alt.count is not None and not alt.admin_access:
                    out[alt.device_class] = out.get(alt.device_class, 0) + alt.count
        return out

    def as_dict(self) -> dict[str, Any]:
        """Return the demand as plain JSON-ready data."""
        return {
            "pod": self.pod,
            "devices": self.devices(),
            "claims": [
                {
                    "name": c.name,
                    "source": c.source,
                    "reference": c.reference,
                    "shared": c.shared,
                    "allocated": c.allocated,
                    "requests": [
                        {
                            "name": r.name,
                            "firstAvailable": r.first_available,
                            "alternatives": [
                                {
                                    "name": a.name,
                                    "deviceClassName": a.device_class,
                                    "allocationMode": a.mode,
                                    "count": a.count,
                                    **({"selectors": list(a.selectors)} if a.selectors else {}),
                                    **(
                                        {"capacity": {k: str(v) for k, v in a.capacity.items()}}
                                        if a.capacity
                                        else {}
                                    ),
                                    **({"adminAccess": True} if a.admin_access else {}),
                                }
                                for a in r.alternatives
                            ],
                        }
                        for r in c.requests
                    ],
                }
                for c in self.claims
            ],
            "extendedResources": dict(self.extended_resources),
            "otherResources": {k: str(v) for k, v in self.other_resources.items()},
        }


@dataclass(frozen=True, slots=True)
class HowMany:
    """The answer of :func:`how_many`.

    Attributes:
        count: how many more copies fit; None when there is no bound (each copy takes
            nothing: admin access only, or only a shared claim) and no ``limit`` was
            given.
        nodes: copies per node, in the order the nodes were first used.
        reason: why one more copy does not fit, as kube-scheduler would say it
            (``0/N nodes are available: ...``); empty when ``limit`` stopped the count.
        policy: the node choice used.
        limit: the limit that was given.
        one_by_one: for ``policy="max"``, the count one after another (policy
            ``"default"``); equal to ``count`` otherwise.
        exact: False only for ``policy="max"`` on nodes that share pools with other
            nodes: there the copies are counted one after another, a lower bound.

    """

    count: int | None
    nodes: Mapping[str, int]
    reason: str
    policy: str
    limit: int | None = None
    one_by_one: int | None = None
    exact: bool = True

    @property
    def beats_one_by_one(self) -> bool:
        """Whether ``policy="max"`` found more than placing one after another."""
        return (
            self.count is not None and self.one_by_one is not None and self.count > self.one_by_one
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the answer as plain JSON-ready data."""
        out: dict[str, Any] = {
            "count": self.count,
            "policy": self.policy,
            "limit": self.limit,
            "nodes": dict(self.nodes),
            "reason": self.reason,
        }
        if self.policy == "max":
            out["oneByOne"] = self.one_by_one
            out["beatsOneByOne"] = self.beats_one_by_one
            out["exact"] = self.exact
        return out


# --- capacity --------------------------------------------------------------------------


class _Keys:
    """What a row's key is, and which keys a device has."""

    def __init__(self, by: str | None, classes: Mapping[str, DeviceClass]) -> None:
        if by is None or by == "class":
            self.kind = "class"
        elif by in ("extendedResource", "extended-resource"):
            self.kind = "extendedResource"
        else:
            if not _QUALIFIED.match(by):
                raise InputError(
                    f"capacity by {by!r}: not a key; use 'class', 'extendedResource' or a "
                    "qualified device attribute name (domain/name, e.g. "
                    "gpu.nvidia.com/productName)"
                )
            self.kind = "attribute"
        self.by = by if self.kind == "attribute" else self.kind
        # key -> class names that answer to it (class and extended resource keys)
        self.classes: dict[str, list[DeviceClass]] = {}
        if self.kind == "class":
            for name in sorted(classes):
                self.classes[name] = [classes[name]]
        elif self.kind == "extendedResource":
            for name in sorted(classes):
                self.classes.setdefault(extended_resource_name(classes[name]), []).append(
                    classes[name]
                )
        self.signature: tuple[Any, ...] = (
            self.kind,
            self.by,
            tuple((k, tuple(id(c) for c in v)) for k, v in self.classes.items()),
        )

    def of(self, entry: DeviceEntry, list_types: bool) -> tuple[list[str | None], list[str]]:
        """Return the keys the device has, and the keys it may have (selector errors)."""
        if self.kind == "attribute":
            return [_attribute_text(entry, str(self.by), list_types)], []
        have: list[str | None] = []
        unknown: list[str] = []
        for key, device_classes in self.classes.items():
            found = False
            error = False
            for device_class in device_classes:
                try:
                    if _class_matches(device_class, entry):
                        found = True
                        break
                except CELError:
                    error = True
            if found:
                have.append(key)
            elif error:
                unknown.append(key)
        return have, unknown


def extended_resource_name(device_class: DeviceClass) -> str:
    """Return the extended resource name a class answers to (its own, or KEP-5004's)."""
    spec = device_class.spec
    if spec is not None and spec.extended_resource_name:
        return spec.extended_resource_name
    return EXTENDED_RESOURCE_PREFIX + (device_class.metadata.name or "")


def _class_matches(device_class: DeviceClass, entry: DeviceEntry) -> bool:
    spec = device_class.spec
    for selector in spec.selectors if spec is not None else []:
        if selector.cel is None:
            raise CELError("CEL expression empty", expression="")
        if not entry.matches(selector.cel.expression):
            return False
    return True


def _attribute_text(entry: DeviceEntry, name: str, list_types: bool) -> str | None:
    # Looked up as constraints look attributes up: the qualified name, or the bare
    # name when the domain is the driver's.
    attrs = entry.device.attributes or {}
    attr = attrs.get(name)
    if attr is None:
        domain, _, ident = name.partition("/")
        if domain != entry.id.driver:
            return None
        attr = attrs.get(ident)
        if attr is None:
            return None
    for value in (attr.string, attr.int_, attr.bool_, attr.version):
        if value is not None:
            return str(value).lower() if isinstance(value, bool) else str(value)
    if list_types:
        for values in (attr.strings, attr.ints, attr.bools, attr.versions):
            if values:
                return ",".join(str(v) for v in values)
    return None


# The content of a slice without its node and pool names, by slice entry, as a number:
# equal numbers mean equal content, so per-pool answers can be shared between nodes.
# The entry is kept with its number, so a recycled id() never matches; numbers are never
# reused, so a number that outlives the table can only miss a match, never make a false one.
_SIGNATURES: dict[int, tuple[SliceEntry, int]] = {}
_INTERNED: dict[Any, int] = {}


def _slice_signature(entry: SliceEntry) -> int:
    return _slice_number(entry, _SIGNATURES, _INTERNED, 100_000)


# The content of a pool as one node sees it (see _Accountant.pool), by Pool object: the
# inventory keeps a node's Pool objects until a slice it sees changes, so this is worked
# out once per node and change. The Pool is kept with its number (no recycled id()).
_POOL_SIGNATURES: dict[int, tuple[Pool, int, bool, str | None]] = {}


def _pool_signature(pool: Pool, inventory: Any) -> tuple[int, bool, str | None]:
    """Return (content number, whether the node matters, the node the pool is local to).

    The content number stands for the pool without node and pool names; the owner is
    None when several nodes can use the pool's devices. The inventory makes new Pool
    objects for every node that sees a pool when a slice of the pool changes, so what is
    cached per Pool object stays true for it.
    """
    hit = _POOL_SIGNATURES.get(id(pool))
    if hit is not None and hit[0] is pool:
        return hit[1], hit[2], hit[3]
    per_device = any(e.per_device_node_selection for e in pool.slices)
    content = _Sig(
        (
            "pool",
            pool.incomplete,
            pool.invalid,
            tuple(_slice_signature(e) for e in pool.slices),
            tuple(_slice_signature(e) for e in pool.slices_not_targeting_node),
            tuple((n, _freeze(cs)) for n, cs in sorted(pool.counter_sets.items())),
        )
    )
    number = _INTERNED.get(content)
    if number is None:
        number = next(_NUMBERS)
        _INTERNED[content] = number
    if len(_POOL_SIGNATURES) > 400_000:
        _POOL_SIGNATURES.clear()
    node_matters = per_device or pool.incomplete or pool.invalid
    owner: str | None = inventory.pool_is_node_local(pool.id)
    _POOL_SIGNATURES[id(pool)] = (pool, number, node_matters, owner)
    return number, node_matters, owner


@dataclass(slots=True)
class _DeviceStatus:
    name: str  # device name within the pool
    status: int
    keys: list[str | None]
    unknown: list[str]
    capacity: dict[str, tuple[Quantity, Quantity]]  # name -> (value, consumed)


class _PoolAnswer:
    """The devices of one pool as one node sees them: per-key counts, and per device."""

    __slots__ = ("counts", "devices", "rows")

    def __init__(self, devices: list[_DeviceStatus]) -> None:
        self.devices = devices
        self.counts: dict[str | None, list[Any]] = {}
        for dev in devices:
            for key in dev.keys:
                _add_device(self.counts, key, dev.status, dev.capacity)
            for key in dev.unknown:
                _count(self.counts, key)[_UNKNOWN] += 1
        # The node's rows when this is its only pool with devices (the common case).
        self.rows = [_row("", key, self.counts[key]) for key in _sorted_keys(self.counts)]


def _count(counts: dict[str | None, list[Any]], key: str | None) -> list[Any]:
    row = counts.get(key)
    if row is None:
        row = counts[key] = [0, 0, 0, 0, 0, {}]
    return row


def _add_device(
    counts: dict[str | None, list[Any]],
    key: str | None,
    status: int,
    cap: Mapping[str, tuple[Quantity, Quantity]],
) -> None:
    row = _count(counts, key)
    row[status] += 1
    if cap:
        amounts = row[5]
        for name, (value, consumed) in cap.items():
            have = amounts.get(name)
            amounts[name] = (
                (value, consumed) if have is None else (have[0].add(value), have[1].add(consumed))
            )


def _merge(
    into: dict[str | None, list[Any]], counts: Mapping[str | None, list[Any]], times: int = 1
) -> None:
    for key, row in counts.items():
        target = _count(into, key)
        for i in range(5):
            target[i] += row[i] * times
        for name, (value, consumed) in row[5].items():
            if times != 1:
                value, consumed = _times(value, times), _times(consumed, times)
            have = target[5].get(name)
            target[5][name] = (
                (value, consumed) if have is None else (have[0].add(value), have[1].add(consumed))
            )


def _times(q: Quantity, n: int) -> Quantity:
    return Quantity.from_fraction(q.value * n, q.format)


def _renamed(row: CapacityRow, node: str) -> CapacityRow:
    return CapacityRow(node, *row[1:])


class _Accountant:
    """Works out device statuses against one cluster state (one call of :func:`capacity`)."""

    def __init__(self, cluster: Cluster, keys: _Keys) -> None:
        data = cluster._data
        self.features = cluster.features
        self.inventory = data.inventory
        self.state: AllocatedState = data.state
        self.keys = keys
        # (driver, pool) -> the use of its devices: names in dedicated use, then
        # (name, shares, consumed capacity) of devices in shared use. Read through the
        # state's public copies, which cost a C-level copy each.
        names: dict[tuple[str, str], list[str]] = {}
        state = self.state
        for did in state.allocated_devices:
            key = (did.driver, did.pool)
            bucket = names.get(key)
            if bucket is None:
                names[key] = [did.device]
            else:
                bucket.append(did.device)
        shares: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        shared = {s.device_id for s in state.allocated_shared_device_ids}
        consumed = state.aggregated_capacity
        for did in shared | set(consumed):
            if state.is_dedicated(did):
                continue
            used = consumed.get(did)
            shares.setdefault((did.driver, did.pool), []).append(
                (
                    did.device,
                    did in shared,
                    tuple(sorted((k, str(v)) for k, v in used.items())) if used else (),
                )
            )
        # One tuple per pool (names in dedicated use, then shares), built once per call.
        usage: dict[tuple[str, str], tuple[Any, ...]] = {
            key: tuple(sorted(bucket)) for key, bucket in names.items()
        }
        for key, items in shares.items():
            usage[key] = usage.get(key, ()) + tuple(sorted(items))
        self.usage = usage
        self.memo: dict[tuple[int, tuple[Any, ...], str], _PoolAnswer] = {}

    def pool(self, pool: Pool, node: Node) -> _PoolAnswer:
        """Return the answer for ``pool`` as ``node`` sees it (memoised by content and use).

        The memo key holds everything the answer depends on: the pool's slices by content
        (without node and pool names), its state, its counter sets, the use of its
        devices, and the node itself where the node decides which devices count
        (per-device node selection; incomplete and invalid pools).
        """
        pid = pool.id
        usage = self.usage.get((pid.driver, pid.pool), ())
        content, node_matters, _ = _pool_signature(pool, self.inventory)
        sig = (content, usage, node.metadata.name if node_matters else "")
        answer = self.memo.get(sig)
        if answer is None:
            answer = _PoolAnswer(self._devices(pool, node))
            self.memo[sig] = answer
        return answer

    def _devices(self, pool: Pool, node: Node) -> list[_DeviceStatus]:
        state = self.state
        features = self.features
        list_types = features.list_type_attributes
        keys = self.keys
        out: list[_DeviceStatus] = []
        if pool.incomplete or pool.invalid:
            # The allocator gets no device from such a pool. Its devices are the ones
            # of the newest generation that this node can use.
            for entry in self._unusable_entries(pool, node):
                did = entry.id
                status = _ALLOCATED if state.is_device_allocated(did) else _UNAVAILABLE
                have, unknown = keys.of(entry, list_types)
                out.append(_DeviceStatus(did.device, status, have, unknown, {}))
            return out
        counters = self._counters_left(pool) if features.partitionable_devices else None
        for slice_entry in pool.slices:
            for entry in slice_entry.devices:
                if slice_entry.per_device_node_selection and not _device_for_node(entry, node):
                    continue
                status, cap = self._status(entry, counters)
                have, unknown = keys.of(entry, list_types)
                out.append(_DeviceStatus(entry.id.device, status, have, unknown, cap))
        return out

    def _unusable_entries(self, pool: Pool, node: Node) -> list[DeviceEntry]:
        inventory = self.inventory
        entries = [
            e for e in _pool_entries(inventory, pool.id) if not (e.counter_sets and not e.devices)
        ]
        if not entries:
            return []
        generation = max(e.generation for e in entries)
        out: list[DeviceEntry] = []
        seen: set[str] = set()  # a device published twice (an invalid pool) counts once
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.generation != generation:
                continue
            if entry.per_device_node_selection:
                devices = [d for d in entry.devices if _device_for_node(d, node)]
            else:
                try:
                    relevant = node_matches(
                        node, entry.node_name, entry.all_nodes, entry.node_selector
                    )
                except ValueError:
                    relevant = False
                devices = entry.devices if relevant else []
            for d in devices:
                if d.device.name not in seen:
                    seen.add(d.device.name)
                    out.append(d)
        return out

    def _counters_left(self, pool: Pool) -> dict[tuple[str, str], Quantity] | None:
        # The allocator's counters: what the pool's counter sets hold, less what every
        # device in use (in any way) consumes; None for a pool without counter sets.
        if not pool.counter_sets:
            return None
        available: dict[tuple[str, str], Quantity] = {}
        for set_name, counter_set in pool.counter_sets.items():
            for cname, counter in (counter_set.counters or {}).items():
                available[(set_name, cname)] = counter.value
        state = self.state
        for slice_entry in [*pool.slices, *pool.slices_not_targeting_node]:
            for entry in slice_entry.devices:
                if not entry.device.consumes_counters or not state.is_device_allocated(entry.id):
                    continue
                for consumption in entry.device.consumes_counters:
                    for cname, counter in (consumption.counters or {}).items():
                        key = (consumption.counter_set, cname)
                        if key in available:
                            available[key] = available[key].sub(counter.value)
        return available

    def _status(
        self, entry: DeviceEntry, counters: Mapping[tuple[str, str], Quantity] | None
    ) -> tuple[int, dict[str, tuple[Quantity, Quantity]]]:
        """Return the status of a device of a usable pool (the allocator's order of checks)."""
        state = self.state
        features = self.features
        device = entry.device
        did = entry.id
        shareable = bool(features.consumable_capacity and device.allow_multiple_allocations)
        cap: dict[str, tuple[Quantity, Quantity]] = {}
        if shareable and device.capacity:
            used = state.consumed_capacity(did) or {}
            zero = Quantity.from_int(0)
            for name, dc in device.capacity.items():
                cap[name] = (dc.value, used.get(name, zero))
        if state.is_dedicated(did):
            return _ALLOCATED, cap
        in_use = state.is_device_allocated(did)
        if not features.device_binding_and_status and device.binding_conditions:
            return (_ALLOCATED if in_use else _UNAVAILABLE), cap
        if features.consumable_capacity and device.capacity:
            fits = request_fits_capacity(None, device.capacity, state.consumed_capacity(did))
            if not fits:
                return (_ALLOCATED if in_use else _UNAVAILABLE), cap
        if device.consumes_counters:
            if not features.partitionable_devices:
                return (_ALLOCATED if in_use else _UNAVAILABLE), cap
            prepaid = shareable and in_use
            if not prepaid and not _counters_fit(device, counters):
                return (_ALLOCATED if in_use else _UNAVAILABLE), cap
        if features.device_taints and _taint_blocks(entry, ()):
            return _TAINTED, cap
        return _FREE, cap


def _pool_entries(inventory: Any, pool_id: PoolID) -> list[SliceEntry]:
    getter = getattr(inventory, "pool_entries", None)
    if getter is not None:
        entries: list[SliceEntry] = getter(pool_id)
        return entries
    by_pool: Mapping[PoolID, list[SliceEntry]] = inventory._by_pool
    return list(by_pool.get(pool_id, ()))


def _device_for_node(entry: DeviceEntry, node: Node) -> bool:
    d = entry.device
    try:
        return node_matches(node, d.node_name or "", bool(d.all_nodes), d.node_selector)
    except ValueError:
        return False


def _counters_fit(device: Device, counters: Mapping[tuple[str, str], Quantity] | None) -> bool:
    # The allocator's "counters fit alone" test (problem._Builder._counters_fit_alone):
    # an overdrawn pool gives nothing; otherwise every counter the device consumes must
    # still be available.
    need: dict[tuple[str, str], Any] = {}
    for consumption in device.consumes_counters:
        for cname, counter in (consumption.counters or {}).items():
            key = (consumption.counter_set, cname)
            need[key] = need.get(key, 0) + counter.value.value
    if not need:
        return True  # consumes nothing (the allocator's empty ``consumes``)
    if counters is None or any(q.sign() < 0 for q in counters.values()):
        return False
    for key, amount in need.items():
        have = counters.get(key)
        if have is None or amount > have.value:
            return False
    return True


def _row(node: str, key: str | None, counts: list[Any], source: str = "dra") -> CapacityRow:
    amounts = {
        name: CapacityAmount(value, consumed, value.sub(consumed))
        for name, (value, consumed) in sorted(counts[5].items())
    }
    return CapacityRow(
        node=node,
        key=key,
        total=counts[0] + counts[1] + counts[2] + counts[3],
        allocated=counts[_ALLOCATED],
        free=counts[_FREE],
        tainted=counts[_TAINTED],
        unavailable=counts[_UNAVAILABLE],
        unknown=counts[_UNKNOWN],
        source=source,
        capacity=amounts,
    )


def _sorted_keys(keys: Iterable[str | None]) -> list[str | None]:
    return sorted(keys, key=lambda k: (k is None, k or ""))


def capacity(
    cluster: Cluster, by: str | None = None, *, pods: Iterable[Any] = ()
) -> CapacityReport:
    """Return what every node has, per key: total, allocated, free, tainted, unavailable.

    Args:
        cluster: the cluster (read, never changed).
        by: ``None``/``"class"``: one key per DeviceClass (a device counts for every
            class whose selectors it matches); ``"extendedResource"``: the extended
            resource name of each class (``spec.extendedResourceName``, or
            ``deviceclass.resource.kubernetes.io/<class>``), with the nodes that
            advertise that name in ``status.allocatable`` (device plugins) as rows of
            their own; any other text is a qualified device attribute name
            (``gpu.nvidia.com/productName``), the key being the attribute's value.
        pods: pods (models or dicts) bound to nodes (``spec.nodeName``): their requests
            of extended resources count as allocated on device-plugin rows (a Cluster
            holds no pods).

    Raises:
        InputError: ``by`` is neither a key kind nor a qualified attribute name.

    """
    with cluster._lock:
        data = cluster._data
        keys = _Keys(by, data.classes)
        accountant = _Accountant(cluster, keys)
        inventory = data.inventory
        rows: list[CapacityRow] = []
        totals: dict[str | None, list[Any]] = {}
        shared_seen: dict[DeviceID, tuple[int, list[str | None], list[str], Any]] = {}
        plugin_keys = _plugin_keys(keys, data.classes)
        used_by_pods = _pod_usage(pods) if plugin_keys else {}
        plugin_totals: dict[str, list[Any]] = {}
        # Answers of node-local pools, with how many nodes use them: added to the
        # totals once each, times that number, at the end.
        local_uses: dict[int, list[Any]] = {}
        for name, node in data.nodes.items():
            try:
                pools = inventory.pools_for_node(node)
            except InputError as err:
                rows.append(CapacityRow(name, None, 0, 0, 0, note=str(err)))
                continue
            answers: list[_PoolAnswer] = []
            for pool in pools:
                answer = accountant.pool(pool, node)
                if not answer.devices:
                    continue
                answers.append(answer)
                if _pool_signature(pool, inventory)[2] == name:
                    use = local_uses.get(id(answer))
                    if use is None:
                        local_uses[id(answer)] = [answer, 1]
                    else:
                        use[1] += 1
                    continue
                # Pools that several nodes can use: each device once in the totals.
                for dev in answer.devices:
                    did = DeviceID(pool.id.driver, pool.id.pool, dev.name)
                    seen = shared_seen.get(did)
                    if seen is None or dev.status > seen[0]:
                        shared_seen[did] = (dev.status, dev.keys, dev.unknown, dev.capacity)
            if len(answers) == 1:
                rows.extend(_renamed(row, name) for row in answers[0].rows)
            elif answers:
                counts: dict[str | None, list[Any]] = {}
                for answer in answers:
                    _merge(counts, answer.counts)
                for key in _sorted_keys(counts):
                    rows.append(_row(name, key, counts[key]))
            for key in _node_plugin_keys(node, plugin_keys):
                total = _allocatable(node, key)
                used = used_by_pods.get((name, key), 0)
                note = "" if pods else "allocatable (pods using it are not known to a Cluster)"
                rows.append(
                    CapacityRow(
                        name,
                        plugin_keys[key],
                        total,
                        min(used, total),
                        max(total - used, 0),
                        source="device-plugin",
                        note=note,
                    )
                )
                acc = plugin_totals.setdefault(plugin_keys[key], [0, 0])
                acc[0] += total
                acc[1] += min(used, total)
        for answer, times in local_uses.values():
            _merge(totals, answer.counts, times)
        for status, have, unknown, cap in shared_seen.values():
            for key in have:
                _add_device(totals, key, status, cap)
            for key in unknown:
                _count(totals, key)[_UNKNOWN] += 1
        total_rows = [_row("", key, totals[key]) for key in _sorted_keys(totals)]
        for key in sorted(plugin_totals):
            total, used = plugin_totals[key]
            total_rows.append(
                CapacityRow("", key, total, used, total - used, source="device-plugin")
            )
        return CapacityReport(str(keys.by), tuple(rows), tuple(total_rows))


def _plugin_keys(keys: _Keys, classes: Mapping[str, DeviceClass]) -> dict[str, str]:
    # Extended resource name -> row key, for the keys that a device plugin may advertise.
    if keys.kind == "attribute":
        return {}
    out: dict[str, str] = {}
    for key, device_classes in keys.classes.items():
        for device_class in device_classes:
            out[extended_resource_name(device_class)] = key
    return out


def _node_plugin_keys(node: Node, plugin_keys: Mapping[str, str]) -> list[str]:
    status = node.status
    if status is None or not status.allocatable or not plugin_keys:
        return []
    return sorted(k for k in status.allocatable if k in plugin_keys)


def _allocatable(node: Node, name: str) -> int:
    assert node.status is not None
    return int(node.status.allocatable[name].value)


def _pod_usage(pods: Iterable[Any]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for pod in _pods(pods):
        node = pod.spec.node_name
        if not node:
            continue
        phase = pod.status.phase if pod.status is not None else ""
        if phase in ("Succeeded", "Failed"):
            continue
        for name, amount in _container_requests(pod).items():
            out[(node, name)] = out.get((node, name), 0) + int(amount.value)
    return out


def _pods(pods: Iterable[Any]) -> list[Pod]:
    from dra_core.api import Pod
    from dra_core.io import load

    out: list[Pod] = []
    for obj in pods:
        for model in [obj] if isinstance(obj, Pod) else load(obj):
            if isinstance(model, Pod):
                out.append(model)
    return out


def _container_requests(pod: Pod) -> dict[str, Quantity]:
    """Return the extended resources a pod asks for (Kubernetes' effective request).

    The larger of the containers' sum and any init container's; a limit stands for a
    missing request.
    """
    total: dict[str, Quantity] = {}
    for container in pod.spec.containers:
        for name, amount in _requests_of(container).items():
            total[name] = total[name].add(amount) if name in total else amount
    for container in pod.spec.init_containers:
        for name, amount in _requests_of(container).items():
            if name not in total or amount.cmp(total[name]) > 0:
                total[name] = amount
    return total


def _requests_of(container: Any) -> dict[str, Quantity]:
    resources = container.resources
    if resources is None:
        return {}
    out = {k: v for k, v in resources.limits.items() if _is_extended(k)}
    out.update({k: v for k, v in resources.requests.items() if _is_extended(k)})
    return out


def _is_extended(name: str) -> bool:
    # Kubernetes' IsExtendedResourceName: qualified, outside kubernetes.io, not requests.*
    if "/" not in name or name.startswith("requests."):
        return False
    domain = name.split("/", 1)[0]
    return not (domain == "kubernetes.io" or domain.endswith(".kubernetes.io")) or (
        name.startswith(EXTENDED_RESOURCE_PREFIX)
    )


# --- demand ----------------------------------------------------------------------------


def _named(objects: Iterable[Any], kind: str) -> dict[tuple[str, str], Any]:
    from dra_core.api import K8sModel
    from dra_core.io import load

    out: dict[tuple[str, str], Any] = {}
    for obj in objects:
        for model in [obj] if isinstance(obj, K8sModel) else load(obj):
            if kind != type(model).KIND:
                continue
            meta = model.metadata  # type: ignore[attr-defined]
            namespace = (meta.namespace or "default") if kind != "DeviceClass" else ""
            out[(namespace, meta.name or "")] = model
    return out


def _pod_model(pod: Any) -> Pod:
    from dra_core.api import Pod
    from dra_core.io import load

    if isinstance(pod, Pod):
        return pod
    models = load(pod)
    pods = [m for m in models if isinstance(m, Pod)]
    if len(pods) != 1:
        raise InputError(f"expected one Pod, got {len(pods)} pod(s) among {len(models)} object(s)")
    return pods[0]


def _requests(claim: ResourceClaim, pod_claim: str) -> tuple[DemandRequest, ...]:
    out: list[DemandRequest] = []
    devices = claim.spec.devices if claim.spec is not None else None
    for request in devices.requests if devices is not None else []:
        specs: list[tuple[str, Any]] = []
        if request.exactly is not None:
            specs.append((request.name, request.exactly))
        for sub in request.first_available or []:
            specs.append((f"{request.name}/{sub.name}", sub))
        alternatives = tuple(
            DemandAlternative(
                name=name,
                device_class=spec.device_class_name or "",
                mode=spec.allocation_mode or "ExactCount",
                count=None if spec.allocation_mode == "All" else int(spec.count or 0),
                selectors=tuple(s.cel.expression for s in spec.selectors or [] if s.cel),
                capacity=dict(spec.capacity.requests)
                if spec.capacity is not None and spec.capacity.requests
                else {},
                admin_access=bool(getattr(spec, "admin_access", None)),
                tolerations=len(spec.tolerations or []),
            )
            for name, spec in specs
        )
        out.append(
            DemandRequest(pod_claim, request.name, alternatives, bool(request.first_available))
        )
    return tuple(out)


def _fresh_claim(name: str, namespace: str, spec: Any) -> ResourceClaim:
    from dra_core.api import ObjectMeta, ResourceClaim

    return ResourceClaim(
        api_version="resource.k8s.io/v1",
        kind="ResourceClaim",
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec=spec,
    )


def demand(
    pod: Any,
    *,
    claims: Iterable[Any] = (),
    templates: Iterable[Any] = (),
    classes: Iterable[Any] = (),
    cluster: Cluster | None = None,
) -> Demand:
    """Return what a pod asks for: its claims, request by request.

    A ``resourceClaimTemplateName`` gives a fresh claim from the template (as the
    resource claim controller makes it), a ``resourceClaimName`` the named claim
    (shared by every pod that names it), and container requests of an extended
    resource that a DeviceClass answers to (KEP-5004: its ``extendedResourceName`` or
    ``deviceclass.resource.kubernetes.io/<class>``) one more claim, with one request
    per container and resource (``container-<i>-request-<j>``, as kube-scheduler names
    them), init containers first.

    Args:
        pod: a Pod model, dict, YAML/JSON text or file.
        claims: ResourceClaims to look names up in (models, dicts, text, files),
            before ``cluster``.
        templates: ResourceClaimTemplates, likewise.
        classes: DeviceClasses (for extended resources), likewise.
        cluster: a Cluster to look up whatever the lists above do not hold.

    Raises:
        ObjectNotFoundError: a claim or template the pod names is in neither place.
        InputError: ``pod`` is not one Pod, or an object does not load.

    """
    model = _pod_model(pod)
    namespace = model.metadata.namespace or "default"
    pod_name = model.metadata.name or ""
    known_claims = _named(claims, "ResourceClaim")
    known_templates = _named(templates, "ResourceClaimTemplate")
    known_classes = {name: c for (_, name), c in _named(classes, "DeviceClass").items()}
    if cluster is not None:
        with cluster._lock:
            for name, c in cluster._data.classes.items():
                known_classes.setdefault(name, c)
    out: list[DemandClaim] = []
    for pod_claim in model.spec.resource_claims:
        if pod_claim.resource_claim_name:
            ref = pod_claim.resource_claim_name
            found = known_claims.get((namespace, ref))
            if found is None and cluster is not None:
                found = cluster.get("ResourceClaim", ref, namespace)
            if found is None:
                raise ObjectNotFoundError(
                    f"pod {namespace}/{pod_name}, claim {pod_claim.name}: resourceclaim "
                    f'"{namespace}/{ref}" not found',
                    kind="ResourceClaim",
                    name=f"{namespace}/{ref}",
                )
            allocated = found.status is not None and found.status.allocation is not None
            out.append(
                DemandClaim(
                    pod_claim.name,
                    "claim",
                    ref,
                    found,
                    _requests(found, pod_claim.name),
                    shared=True,
                    allocated=allocated,
                )
            )
        elif pod_claim.resource_claim_template_name:
            ref = pod_claim.resource_claim_template_name
            template: ResourceClaimTemplate | None = known_templates.get((namespace, ref))
            if template is None and cluster is not None:
                template = cluster.get("ResourceClaimTemplate", ref, namespace)
            if template is None:
                raise ObjectNotFoundError(
                    f"pod {namespace}/{pod_name}, claim {pod_claim.name}: "
                    f'resourceclaimtemplate "{namespace}/{ref}" not found',
                    kind="ResourceClaimTemplate",
                    name=f"{namespace}/{ref}",
                )
            fresh = _fresh_claim(
                f"{pod_name}-{pod_claim.name}", namespace, template.spec.spec.model_copy()
            )
            out.append(
                DemandClaim(
                    pod_claim.name, "template", ref, fresh, _requests(fresh, pod_claim.name)
                )
            )
        else:
            raise InputError(
                f"pod {namespace}/{pod_name}, claim {pod_claim.name}: names neither a "
                "resourceClaimName nor a resourceClaimTemplateName"
            )
    extended, other, claim = _extended_claim(model, known_classes, namespace)
    if claim is not None:
        out.append(
            DemandClaim(
                "extended-resources",
                "extended-resource",
                "",
                claim,
                _requests(claim, "extended-resources"),
            )
        )
    return Demand(f"{namespace}/{pod_name}", tuple(out), extended, other)


def _extended_claim(
    pod: Pod, classes: Mapping[str, DeviceClass], namespace: str
) -> tuple[dict[str, int], dict[str, Quantity], ResourceClaim | None]:
    # The requests are kube-scheduler's (dra_core.cluster._extended, shared with the
    # simulator and the extender); the resources no class answers to are the others.
    from dra_core.api import ResourceClaimSpec
    from dra_core.cluster._extended import extended_resource_requests

    by_name: dict[str, str] = {}
    for name in sorted(classes):
        by_name[EXTENDED_RESOURCE_PREFIX + name] = name
    for name in sorted(classes):
        class_spec = classes[name].spec
        if class_spec is not None and class_spec.extended_resource_name:
            by_name.setdefault(class_spec.extended_resource_name, name)
    other: dict[str, Quantity] = {}
    for container in [*pod.spec.init_containers, *pod.spec.containers]:
        for resource, amount in sorted(_requests_of(container).items()):
            if resource not in by_name:
                other[resource] = other[resource].add(amount) if resource in other else amount
    requests, extended = extended_resource_requests(pod, by_name)
    if not requests:
        return extended, other, None
    name = f"{pod.metadata.name or ''}-extended-resources"
    claim_spec = ResourceClaimSpec.model_validate({"devices": {"requests": requests}})
    return extended, other, _fresh_claim(name, namespace, claim_spec)


# --- how many more fit -------------------------------------------------------------------

#: The node choices of :func:`how_many`: the simulator's scoring policies, and ``max``.
POLICIES: tuple[str, ...] = ("default", "best-fit", "pack", "spread", "max")


@dataclass(slots=True)
class _Copies:
    """The claims of one copy of the pod: fresh ones per copy, shared ones for all."""

    namespace: str
    fresh: list[ResourceClaim]  # specs to copy
    shared: list[ResourceClaim]  # named claims (the cluster's objects)
    prefix: str  # the name of a claim without one
    # DRA-backed extended resources the pod asks for (KEP-5004): name -> amount; their
    # claim is the last of ``fresh``.
    extended: dict[str, int] = field(default_factory=dict)

    def make(self, k: int) -> list[ResourceClaim]:
        """Return copy ``k``'s fresh claims, named ``<claim>-how-many-<k>``.

        Messages name the claims (``claim ns/gpu-how-many-3, request gpu: ...``), so
        the copies keep their claims' names, made unique.
        """
        names = [c.metadata.name or self.prefix for c in self.fresh]
        unique = len(set(names)) == len(names)
        out: list[ResourceClaim] = []
        for i, claim in enumerate(self.fresh):
            base = names[i] if unique else f"{names[i]}-{i}"
            meta = claim.metadata.model_copy(
                update={"name": f"{base}-how-many-{k}", "namespace": self.namespace}
            )
            out.append(claim.model_copy(update={"metadata": meta, "status": None}))
        return out


def _copies(cluster: Cluster, what: Any) -> _Copies:
    from dra_core.api import K8sModel, Pod, ResourceClaim

    items: list[Any]
    if isinstance(what, (Pod, ResourceClaim, Mapping, str)) or not isinstance(what, Iterable):
        items = [what]
    else:
        items = list(what)
    models: list[Any] = []
    from dra_core.io import load

    for item in items:
        models.extend([item] if isinstance(item, K8sModel) else load(item))
    pods = [m for m in models if isinstance(m, Pod)]
    claims = [m for m in models if isinstance(m, ResourceClaim)]
    if len(pods) > 1 or (pods and claims) or len(pods) + len(claims) != len(models):
        raise InputError(
            "how_many needs one Pod, or ResourceClaims (each copy gets fresh claims with "
            f"their specs); got {', '.join(sorted({type(m).KIND or '?' for m in models}))}"
        )
    if pods:
        d = demand(pods[0], cluster=cluster)
        namespace = pods[0].metadata.namespace or "default"
        fresh = [c.claim for c in d.claims if not c.shared]
        shared = [c.claim for c in d.claims if c.shared]
        prefix = pods[0].metadata.name or "pod"
        return _Copies(namespace, fresh, shared, prefix, dict(d.extended_resources))
    if not claims:
        raise InputError("how_many needs one Pod or at least one ResourceClaim")
    namespace = claims[0].metadata.namespace or "default"
    return _Copies(namespace, claims, [], "claim")


def _stored(cluster: Cluster, name: str, namespace: str) -> ResourceClaim:
    claim: ResourceClaim | None = cluster.get("ResourceClaim", name, namespace)
    assert claim is not None
    return claim


def _plugin_nodes(
    cluster: Cluster, copies: _Copies, pods: Sequence[Any]
) -> tuple[dict[str, int], dict[str, str]]:
    """Nodes that advertise the pod's extended resources through a device plugin.

    On such a node kube-scheduler counts the extended resources against the node's
    ``status.allocatable`` (NodeResourcesFit), not through DRA. Returns (copies that fit
    there, for a pod whose only claim is its extended-resource claim; the reason the next
    one does not, or why the node is not counted).
    """
    if not copies.extended:
        return {}, {}
    with cluster._lock:
        nodes = dict(cluster._data.nodes)
    used = _pod_usage(pods)
    counts: dict[str, int] = {}
    reasons: dict[str, str] = {}
    only_extended = len(copies.fresh) == 1 and not copies.shared
    for name, node in nodes.items():
        allocatable = node.status.allocatable if node.status is not None else {}
        if not all(r in allocatable for r in copies.extended):
            continue
        if not only_extended:
            reasons[name] = (
                "advertises " + ", ".join(sorted(copies.extended)) + " through a device plugin "
                "(a pod with other claims too is not counted on such a node)"
            )
            counts[name] = 0
            continue
        fit = (
            min(
                max(int(allocatable[r].value) - used.get((name, r), 0), 0) // amount
                for r, amount in copies.extended.items()
                if amount > 0
            )
            if any(a > 0 for a in copies.extended.values())
            else 0
        )
        counts[name] = fit
        short = sorted(
            r
            for r, amount in copies.extended.items()
            if int(allocatable[r].value) - used.get((name, r), 0) < amount * (fit + 1)
        )
        reasons[name] = ", ".join(f"Insufficient {r}" for r in short)
    return counts, reasons


def _takes_something(claims: Sequence[ResourceClaim]) -> bool:
    # Whether allocating these claims changes the allocated state: every device result
    # except admin access does (AllocatedState.add ignores only those).
    for claim in claims:
        allocation = claim.status.allocation if claim.status is not None else None
        devices = allocation.devices if allocation is not None else None
        for result in devices.results if devices is not None else []:
            if not result.admin_access:
                return True
    return False


def _independent(cluster: Cluster, name: str) -> bool:
    """Whether nothing placed elsewhere changes what ``name`` offers, and the reverse.

    True when every pool the node sees is its own (all slices name it) or is another
    node's pool that shows this node no device (counter sets only). Such a node's
    answers depend on its own pools and their use only.
    """
    data = cluster._data
    inventory = data.inventory
    try:
        pools = inventory.pools_for_node(data.nodes[name])
    except InputError:
        return False
    for pool in pools:
        owner = inventory.pool_is_node_local(pool.id)
        if owner == name:
            continue
        if (
            owner is not None
            and not pool.incomplete
            and not pool.invalid
            and not any(s.devices for s in pool.slices)
        ):
            continue
        return False
    return True


def _node_score(cluster: Cluster, name: str, policy: str) -> int:
    """Return the node's score under ``policy``; lower wins (ties: node order).

    As the simulator scores nodes: by the devices of the node's own pools and how many
    of them are in use. ``pack`` prefers the most in use, ``spread`` the fewest,
    ``best-fit`` the fewest left; ``default`` scores every node alike.
    """
    if policy not in ("pack", "spread", "best-fit"):
        return 0
    with cluster._lock:
        data = cluster._data
        inventory = data.inventory
        state = data.state
        try:
            pools = inventory.pools_for_node(data.nodes[name])
        except InputError:
            return 0
        devices = in_use = 0
        for pool in pools:
            if inventory.pool_is_node_local(pool.id) != name:
                continue
            # Every device the pool's newest generation publishes, usable or not.
            entries = _pool_entries(inventory, pool.id)
            generation = max(e.generation for e in entries)
            for slice_entry in entries:
                if slice_entry.generation != generation:
                    continue
                for entry in slice_entry.devices:
                    devices += 1
                    if state.is_device_allocated(entry.id):
                        in_use += 1
    if policy == "pack":
        return -in_use
    if policy == "spread":
        return in_use
    return devices - in_use


def _message(total: int, reasons: Mapping[str, str]) -> str:
    # kube-scheduler's FitError summary, as FilterView.message() writes it.
    head = f"0/{total} nodes are available"
    if not reasons:
        return head + "."
    counts: dict[str, int] = {}
    for reason in reasons.values():
        counts[reason] = counts.get(reason, 0) + 1
    parts = sorted(f"{count} {reason}" for reason, count in counts.items())
    return f"{head}: {', '.join(parts)}."


def _priority(index: int, score: int) -> tuple[int, int]:
    return (score, index)


@dataclass(slots=True)
class _Track:
    """One node's copies, one after another, as worked out on a representative node."""

    members: list[str]
    # free devices before copy 0, 1, ... (only for pack/spread); len == copies + 1
    scores: list[int]
    copies: int  # how many fit (ignored when unbounded)
    unbounded: bool
    reason: str  # why one more does not fit, on every member


def how_many(
    cluster: Cluster,
    claims_or_pod: Any,
    *,
    policy: str = "default",
    limit: int | None = None,
    engine: str = "auto",
    pods: Iterable[Any] = (),
) -> HowMany:
    """Return how many more copies of a pod (or of a set of claims) fit in the cluster.

    Each copy gets fresh claims with the same specs (templates and extended resources
    of a pod, or the given claims); a pod's named ResourceClaims are shared by every
    copy (allocated once, at most 256 pods each). Copies are placed one after another,
    each on the node that ``policy`` picks among the nodes where it fits now, until one
    does not fit or ``limit`` copies were placed. The cluster is never changed (the
    work happens on forks).

    Policies, the simulator's (:class:`dra_core.Simulator`), ties going to the first
    node in the cluster's order: ``"default"`` (the first feasible node: kube-scheduler's
    choice when nodes score alike; cpu and memory scores and node sampling are not
    modelled), ``"pack"`` (the most devices in use), ``"spread"`` (the fewest in use),
    ``"best-fit"`` (the fewest devices left); and ``"max"``: the largest number that
    fits in any placement (CP-SAT, node by node; never below ``"default"``; see
    :attr:`HowMany.exact`). ``pods``: pods bound to nodes, for what they use of extended
    resources that nodes advertise through device plugins (see :func:`capacity`).

    It is exact and much cheaper than one filter per copy: a node whose pools are its
    own (no other node sees their devices) answers independently of the others, and
    nodes with the same equivalence key answer alike, so one node of each kind is
    worked out copy by copy; nodes that share pools are worked out one copy at a time.

    Raises:
        ValueError: an unknown policy, or a negative limit.
        InputError: ``claims_or_pod`` is not one Pod or a list of ResourceClaims;
            ObjectNotFoundError for a claim or template the pod names that is not in the
            cluster; AllocationInputError and CEL errors as :meth:`Cluster.filter`.

    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; known: {', '.join(POLICIES)}")
    if limit is not None and limit < 0:
        raise ValueError("limit must not be negative")
    copies = _copies(cluster, claims_or_pod)
    bound = _pods(pods)
    if policy == "max":
        return _how_many_max(cluster, copies, limit, engine, bound)
    return _how_many(cluster, copies, policy, limit, engine, bound)


def _how_many(
    cluster: Cluster,
    copies: _Copies,
    policy: str,
    limit: int | None,
    engine: str,
    pods: Sequence[Any] = (),
) -> HowMany:
    work = cluster.fork()
    node_names = work.node_names()
    plugin_counts, plugin_reasons = _plugin_nodes(work, copies, pods)
    dra_nodes = [n for n in node_names if n not in plugin_counts]
    index = {name: i for i, name in enumerate(node_names)}
    placed: dict[str, int] = {}
    count = 0
    shared = list(copies.shared)
    cap: int | None = None
    if shared:
        cap = min(
            RESERVED_FOR_MAX - len(c.status.reserved_for if c.status is not None else [])
            for c in shared
        )
    unallocated = [c for c in shared if c.status is None or c.status.allocation is None]

    def stop(n: int) -> bool:
        return (limit is not None and n >= limit) or (cap is not None and n >= cap)

    if stop(0):
        return HowMany(0, {}, "", policy, limit, 0)
    if unallocated:
        # The first copy allocates the shared claims too: placed the plain way.
        claims = copies.make(0)
        view = work.filter([*claims, *shared], engine=engine)
        if not view.feasible:
            return HowMany(0, {}, view.message(), policy, limit, 0)
        node = _choose(work, view.feasible, policy, index)
        work.reserve([*claims, *unallocated], node, engine=engine)
        placed[node] = 1
        count = 1
        shared = [_stored(work, c.metadata.name or "", c.metadata.namespace or "") for c in shared]
        if stop(count):
            return HowMany(count, placed, "", policy, limit, count)
    if not copies.fresh:
        # Every copy uses the shared claims only: nothing bounds them but the claims'
        # consumer limit.
        if cap is None:  # pragma: no cover - a pod without claims has no copies to count
            return HowMany(None, placed, "", policy, limit, None)
        bound = cap if limit is None else min(cap, limit)
        view = work.filter(shared, engine=engine)
        if not view.feasible:
            return HowMany(count, placed, view.message(), policy, limit, count)
        node = _choose(work, view.feasible, policy, index)
        placed[node] = placed.get(node, 0) + bound - count
        reason = (
            ""
            if limit is not None and bound == limit
            else (f"the shared claims are reserved for {RESERVED_FOR_MAX} pods (the limit)")
        )
        return HowMany(bound, placed, reason, policy, limit, bound)

    probe = copies.make(count)
    view0 = work.filter([*probe, *shared], dra_nodes, engine=engine)
    reasons: dict[str, str] = dict(view0.reasons)
    feasible = list(view0.feasible)
    # Group the feasible nodes: same equivalence key and independent -> one track.
    with work._lock:
        keys = dict(work._data.keys)
    scratch = work.fork()
    coupled_fork = work.fork()
    scored = policy in ("pack", "spread", "best-fit")
    tracks: dict[Any, _Track] = {}
    coupled: list[str] = []
    serial = itertools.count(count + 1)
    for name in feasible:
        key = keys.get(name)
        if key is not None and key in tracks:
            tracks[key].members.append(name)
            continue
        with work._lock:
            independent = key is not None and _independent(work, name)
        if not independent:
            coupled.append(name)
            continue
        tracks[key] = _work_out(scratch, name, copies, shared, policy, serial, limit, cap, engine)
    # Nodes that serve the pod's extended resources through a device plugin: their
    # copies are counted against status.allocatable (they see no DRA change).
    for name, fit in plugin_counts.items():
        tracks[("device-plugin", name)] = _Track(
            [name],
            [_node_score(work, name, policy)] * (fit + 1) if scored else [],
            fit,
            False,
            plugin_reasons[name],
        )
    # Merge: repeatedly place the next copy on the node the policy picks.
    heap: list[tuple[tuple[int, int], str, int]] = []
    track_of: dict[str, _Track] = {}
    for track in tracks.values():
        for name in track.members:
            track_of[name] = track
            if track.unbounded or track.copies > 0:
                heapq.heappush(
                    heap,
                    (_priority(index[name], track.scores[0] if scored else 0), name, 0),
                )
    coupled_score: dict[str, int] = {}
    coupled_alive = set(coupled)
    for name in coupled:
        coupled_score[name] = _node_score(coupled_fork, name, policy)
        heapq.heappush(heap, (_priority(index[name], coupled_score[name]), name, -1))
    unbounded = any(t.unbounded for t in tracks.values())
    if unbounded and limit is None and cap is None:
        return HowMany(None, {}, "", policy, limit, None)
    while heap and not stop(count):
        _, name, j = heapq.heappop(heap)
        if j >= 0:
            track = track_of[name]
            placed[name] = placed.get(name, 0) + 1
            count += 1
            j += 1
            if track.unbounded or j < track.copies:
                score = track.scores[j] if scored and not track.unbounded else 0
                heapq.heappush(heap, (_priority(index[name], score), name, j))
            continue
        # A node that shares pools: check it now, place, and rescore the others.
        if name not in coupled_alive:
            continue
        claims = copies.make(next(serial))
        view = coupled_fork.filter([*claims, *shared], [name], engine=engine)
        if name not in view.feasible:
            coupled_alive.discard(name)
            reasons[name] = view.reasons[name]
            continue
        coupled_fork.reserve(claims, name, engine=engine)
        placed[name] = placed.get(name, 0) + 1
        count += 1
        # Only this node's own pools changed: only its score can have moved.
        coupled_score[name] = _node_score(coupled_fork, name, policy)
        heapq.heappush(heap, (_priority(index[name], coupled_score[name]), name, -1))
    if stop(count) and (limit is not None and count >= limit):
        return HowMany(count, placed, "", policy, limit, count)
    if cap is not None and count >= cap:
        return HowMany(
            count,
            placed,
            f"the shared claims are reserved for {RESERVED_FOR_MAX} pods (the limit)",
            policy,
            limit,
            count,
        )
    # Nothing fits any more: why, node by node. Nodes of a track say what their
    # representative said; every other node is asked again (nodes that share pools may
    # have changed; the others have not, and give the same answer).
    in_tracks: set[str] = set()
    for track in tracks.values():
        for name in track.members:
            reasons[name] = track.reason
            in_tracks.add(name)
    rest = [n for n in node_names if n not in in_tracks]
    if rest:
        claims = copies.make(next(serial))
        view = coupled_fork.filter([*claims, *shared], rest, engine=engine)
        reasons.update(view.reasons)
    return HowMany(count, placed, _message(len(node_names), reasons), policy, limit, count)


def _work_out(
    scratch: Cluster,
    name: str,
    copies: _Copies,
    shared: Sequence[ResourceClaim],
    policy: str,
    serial: Iterable[int],
    limit: int | None,
    cap: int | None,
    engine: str,
) -> _Track:
    """Place copies on one node of a track until one does not fit (or enough are known).

    Exact for every member: independent nodes with the same equivalence key get the same
    devices (by position) for the same claims, so their keys stay equal copy after copy.
    """
    scored = policy in ("pack", "spread", "best-fit")
    scores = [_node_score(scratch, name, policy)] if scored else []
    bound = min(x for x in (limit, cap) if x is not None) if (limit or cap) else None
    n = 0
    numbers = iter(serial)
    while True:
        if bound is not None and n >= bound:
            # Enough for any outcome: the count stops before this node would be full.
            return _Track([name], scores, n, False, "")
        claims = copies.make(next(numbers))
        try:
            allocated = scratch.reserve(claims, name, engine=engine)
        except (ReservationError, InputError):
            view = scratch.filter([*claims, *shared], [name], engine=engine)
            reason = view.reasons.get(name, CANNOT_ALLOCATE)
            return _Track([name], scores, n, False, reason)
        n += 1
        if n == 1 and not _takes_something(allocated):
            return _Track([name], scores, 1, True, "")
        if scored:
            scores.append(_node_score(scratch, name, policy))


def _choose(
    cluster: Cluster, feasible: Sequence[str], policy: str, index: Mapping[str, int]
) -> str:
    if policy in ("pack", "spread", "best-fit"):
        return min(feasible, key=lambda n: _priority(index[n], _node_score(cluster, n, policy)))
    return feasible[0]


def _how_many_max(
    cluster: Cluster, copies: _Copies, limit: int | None, engine: str, pods: Sequence[Any]
) -> HowMany:
    """``policy="max"``: per independent node, the most copies that fit together (CP-SAT)."""
    first = _how_many(cluster, copies, "default", limit, engine, pods)
    if first.count is None or copies.shared or (limit is not None and first.count >= limit):
        # Shared claims pin every copy to the same devices: one after another is the
        # most; and a count that reached the limit cannot be beaten.
        return HowMany(first.count, first.nodes, first.reason, "max", limit, first.count)
    work = cluster.fork()
    plugin_counts, _ = _plugin_nodes(work, copies, pods)
    probe = copies.make(0)
    dra_nodes = [n for n in work.node_names() if n not in plugin_counts]
    view = work.filter(probe, dra_nodes, engine=engine)
    feasible = set(view.feasible)
    with work._lock:
        keys = dict(work._data.keys)
    best: dict[Any, int] = {}
    exact = True
    nodes: dict[str, int] = {}
    total = 0
    for name in work.node_names():
        if name in plugin_counts:
            # Counted against allocatable: no placement does better than one by one.
            got = plugin_counts[name]
            if got:
                nodes[name] = got
                total += got
            continue
        if name not in feasible:
            continue
        key = keys.get(name)
        with work._lock:
            independent = key is not None and _independent(work, name)
        if not independent:
            exact = False
            got = first.nodes.get(name, 0)
        elif key in best:
            got = best[key]
        else:
            got = _joint_max(work, name, copies, first.nodes.get(name, 0))
            best[key] = got
        if got:
            nodes[name] = got
            total += got
    if limit is not None and total > limit:
        # The first nodes in the cluster's order take the limit.
        left = limit
        for name in list(nodes):
            nodes[name] = min(nodes[name], left)
            left -= nodes[name]
            if not nodes[name]:
                del nodes[name]
        total = limit
    if total <= (first.count or 0):
        return HowMany(first.count, first.nodes, first.reason, "max", limit, first.count, exact)
    reason = (
        ""
        if limit is not None and total >= limit
        else ("the most copies that fit together on every node are placed")
    )
    return HowMany(total, nodes, reason, "max", limit, first.count, exact)


def _joint_max(work: Cluster, name: str, copies: _Copies, at_least: int) -> int:
    """Return the most copies that fit together on one node (CP-SAT on k copies at once)."""

    def fits(k: int) -> bool:
        claims = [c for i in range(k) for c in copies.make(10_000_000 + i)]
        return name in work.filter(claims, [name], engine="cpsat").feasible

    low = at_least  # known to fit (one after another is one placement)
    high = None
    step = 1
    while high is None:
        probe = low + step
        if fits(probe):
            low = probe
            step *= 2
            if low > 4096:
                return low  # pragma: no cover - far past any real node
        else:
            high = probe
    while high - low > 1:
        mid = (low + high) // 2
        if fits(mid):
            low = mid
        else:
            high = mid
    return low
