"""ResourceSlices turned into resource pools, per node, with cached selector results.

An :class:`Inventory` is built once from the ResourceSlices of a cluster (and the
feature switches). For one node, :meth:`Inventory.pools_for_node` gathers the pools
whose devices that node can use, the way Kubernetes' ``GatherPools`` does:

- slices are grouped by pool ``(driver, pool name)``; within a pool only the slices
  of the newest generation count;
- a slice is relevant for the node through ``nodeName``, ``allNodes``,
  ``nodeSelector`` or, with ``perDeviceNodeSelection``, through any of its devices;
  slices with ``sharedCounters`` are always relevant (they carry the counters);
- a pool is *incomplete* when fewer slices of its generation exist than its
  ``resourceSliceCount``; a newer generation elsewhere makes the pool obsolete
  (ignored);
- a pool is *invalid* when device names repeat, a counter set name repeats, or a
  device consumes a counter (set) that the pool does not define;
- pools are sorted by ``(driver, pool)``, pools whose devices carry binding
  conditions go last, and slices within a pool are sorted by name.

Selector results are cached per device and expression (:meth:`DeviceEntry.matches`).
The cache lives as long as the inventory: build a new inventory (or call
:meth:`Inventory.with_slices`, which keeps the entries of unchanged slices) when
slices change. That is safe because a selector's result depends only on the device
(its driver, attributes, capacity and ``allowMultipleAllocations``) and the
expression.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dra_core._records import Ordered, _set
from dra_core.cel import CelDevice, compile_selector
from dra_core.errors import AllocationInputError, CELError, CELRuntimeError
from dra_core.features import Features
from dra_core.state import DeviceID

if TYPE_CHECKING:
    from dra_core.api import CounterSet, Device, Node, NodeSelector, ResourceSlice

__all__ = [
    "DeviceEntry",
    "Inventory",
    "Pool",
    "PoolID",
    "SliceEntry",
    "node_key",
    "node_matches",
    "node_selector_matches",
]


class PoolID(Ordered):
    """The identity of a resource pool: driver and pool name."""

    __slots__ = ("_hash", "driver", "pool")

    driver: str
    pool: str
    _hash: int

    def __init__(self, driver: str, pool: str) -> None:
        _set(self, "driver", driver)
        _set(self, "pool", pool)
        _set(self, "_hash", hash((driver, pool)))

    def _key(self) -> tuple[Any, ...]:
        return (self.driver, self.pool)

    # Looked up for every device the allocator looks at: written out, the hash kept.
    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not PoolID:
            return NotImplemented
        return self._hash == other._hash and self.pool == other.pool and self.driver == other.driver

    def __str__(self) -> str:
        return f"{self.driver}/{self.pool}"


class DeviceEntry:
    """One device of one slice, with its identity and cached selector results.

    Attributes:
        id: ``driver/pool/device``.
        device: the Device model.
        slice: the :class:`SliceEntry` that publishes it.
        index: its position in the slice's device list.

    """

    __slots__ = (
        "_cel_device",
        "_error",
        "_list_types",
        "_results",
        "device",
        "id",
        "index",
        "slice",
    )

    def __init__(
        self, device: Device, slice_entry: SliceEntry, index: int, list_types: bool = True
    ) -> None:
        self.device = device
        self.slice = slice_entry
        self.index = index
        self.id = DeviceID(slice_entry.driver, slice_entry.pool, device.name)
        self._list_types = list_types
        self._cel_device: CelDevice | None = None
        # Why no selector can be evaluated on this device ("" when it can be).
        self._error: str | None = None
        # expression -> True/False, or the CEL error evaluating it raised.
        self._results: dict[str, bool | CELError] = {}

    def cel_device(self) -> CelDevice:
        """Return the device as CEL sees it, built once."""
        cached = self._cel_device
        if cached is None:
            cached = CelDevice.from_device(self.slice.driver, self.device, name=str(self.id))
            error = cached.error
            if error is None and not self._list_types:
                # Without DRAListTypeAttributes Kubernetes cannot convert list-typed
                # attributes for CEL: every selector fails on such a device.
                for name, attr in sorted(self.device.attributes.items()):
                    if any(
                        v is not None for v in (attr.ints, attr.bools, attr.strings, attr.versions)
                    ):
                        error = f"attribute {name}: unsupported attribute value"
                        break
            self._error = error or ""
            self._cel_device = cached
        return cached

    def matches(self, expression: str) -> bool:
        """Whether the CEL selector ``expression`` selects this device.

        The result (or the CEL error) is cached: it depends only on the device and
        the expression.

        Raises:
            CELCompileError: the expression does not compile.
            CELRuntimeError: evaluating it fails on this device.

        """
        cached = self._results.get(expression)
        if cached is None:
            try:
                program = compile_selector(expression)
                device = self._cel_device or self.cel_device()
                if self._error:
                    raise CELRuntimeError(
                        f"CEL runtime error: {self._error}",
                        expression=expression,
                        device=str(self.id),
                    )
                cached = bool(program.matches(device))
            except CELError as err:
                cached = err
            self._results[expression] = cached
        if isinstance(cached, CELError):
            raise cached
        return cached


class SliceEntry:
    """One ResourceSlice with the fields the allocator reads, unpacked once."""

    __slots__ = (
        "all_nodes",
        "counter_sets",
        "devices",
        "driver",
        "generation",
        "name",
        "node_name",
        "node_selector",
        "per_device_node_selection",
        "pool",
        "resource_slice_count",
        "slice",
    )

    def __init__(self, slice_model: ResourceSlice, list_types: bool = True) -> None:
        spec = slice_model.spec
        self.slice = slice_model
        self.name: str = slice_model.metadata.name or ""
        self.driver: str = spec.driver
        self.pool: str = spec.pool.name
        self.generation: int = spec.pool.generation or 0
        self.resource_slice_count: int = spec.pool.resource_slice_count or 0
        self.node_name: str = spec.node_name or ""
        self.all_nodes: bool = bool(spec.all_nodes)
        self.node_selector: NodeSelector | None = spec.node_selector
        # None when not set, as the feature gate check distinguishes "set to false".
        self.per_device_node_selection: bool | None = spec.per_device_node_selection
        self.counter_sets: list[CounterSet] = list(spec.shared_counters or [])
        self.devices = [
            DeviceEntry(d, self, i, list_types) for i, d in enumerate(spec.devices or [])
        ]

    @property
    def pool_id(self) -> PoolID:
        """The pool this slice belongs to."""
        return PoolID(self.driver, self.pool)


# Slice entries (and so their CEL devices and selector results) are shared by every
# inventory built from the same slice *object*: schedulers rebuild their allocator
# every cycle from the same informer objects. Safe because slices are treated as
# immutable: a changed slice is a new object (as with Kubernetes informers). The
# entry goes away with its slice.
_ENTRY_CACHE: dict[tuple[int, bool], tuple[weakref.ref[ResourceSlice], SliceEntry]] = {}


def _slice_entry(slice_model: ResourceSlice, list_types: bool) -> SliceEntry:
    key = (id(slice_model), list_types)
    cached = _ENTRY_CACHE.get(key)
    if cached is not None and cached[0]() is slice_model:
        return cached[1]
    entry = SliceEntry(slice_model, list_types)

    def _forget(
        ref: weakref.ref[ResourceSlice],
        key: tuple[int, bool] = key,
        cache: dict[tuple[int, bool], Any] = _ENTRY_CACHE,
    ) -> None:
        current = cache.get(key)
        if current is not None and current[0] is ref:
            del cache[key]

    # Objects without weak references are simply not cached.
    with contextlib.suppress(TypeError):
        _ENTRY_CACHE[key] = (weakref.ref(slice_model, _forget), entry)
    return entry


@dataclass(slots=True)
class Pool:
    """A resource pool as seen from one node.

    Attributes:
        id: driver and pool name.
        incomplete: not all slices of the current generation are known.
        invalid: the pool's content is inconsistent (see ``invalid_reason``).
        slices: the device slices that target the node, sorted by name.
        slices_not_targeting_node: the other device slices of the pool (their
            devices may still use up shared counters).
        counter_sets: the pool's counter sets by name.
        has_binding_conditions: some device in ``slices`` has binding conditions.

    """

    id: PoolID
    incomplete: bool = False
    invalid: bool = False
    invalid_reason: str = ""
    slices: list[SliceEntry] = field(default_factory=list)
    slices_not_targeting_node: list[SliceEntry] = field(default_factory=list)
    counter_sets: dict[str, CounterSet] = field(default_factory=dict)
    has_binding_conditions: bool = False


# --- node matching -----------------------------------------------------------------


def _node_name(node: Node | None) -> str:
    if node is None:
        return ""
    return node.metadata.name or ""


def _node_labels(node: Node | None) -> Mapping[str, str]:
    if node is None:
        return {}
    return node.metadata.labels or {}


def _requirement_matches(
    key: str, operator: str, values: Sequence[str], labels: Mapping[str, str], what: str
) -> bool:
    present = key in labels
    if operator == "In":
        if not values:
            raise ValueError(f"{what}: values: Required value: must be specified for In")
        return present and labels[key] in values
    if operator == "NotIn":
        if not values:
            raise ValueError(f"{what}: values: Required value: must be specified for NotIn")
        return not present or labels[key] not in values
    if operator == "Exists":
        if values:
            raise ValueError(f"{what}: values: Forbidden: may not be specified for Exists")
        return present
    if operator == "DoesNotExist":
        if values:
            raise ValueError(f"{what}: values: Forbidden: may not be specified for DoesNotExist")
        return not present
    if operator in ("Gt", "Lt"):
        if len(values) != 1:
            raise ValueError(f"{what}: values: Required value: must be specified single value")
        try:
            limit = int(values[0])
        except ValueError:
            raise ValueError(
                f"{what}: values[0]: Invalid value: {values[0]!r}: must be an integer"
            ) from None
        if not present:
            return False
        try:
            actual = int(labels[key])
        except ValueError:
            return False
        return actual > limit if operator == "Gt" else actual < limit
    raise ValueError(
        f"{what}: operator: Invalid value: {operator!r}: not a valid selector operator"
    )


def node_selector_matches(selector: NodeSelector, node: Node | None) -> bool:
    """Whether ``node`` matches a core/v1 NodeSelector (terms ORed, requirements ANDed).

    Terms without any requirement match nothing. ``matchFields`` supports
    ``metadata.name`` only, as in Kubernetes.

    Raises:
        ValueError: the selector is malformed (unknown operator, wrong values).

    """
    labels = _node_labels(node)
    fields_ = {"metadata.name": _node_name(node)}
    matched = False
    for t, term in enumerate(selector.node_selector_terms or []):
        exprs = term.match_expressions or []
        fields_reqs = term.match_fields or []
        if not exprs and not fields_reqs:
            continue
        ok = True
        for i, req in enumerate(exprs):
            what = f"nodeSelectorTerms[{t}].matchExpressions[{i}]"
            if not _requirement_matches(req.key, req.operator, req.values or [], labels, what):
                ok = False
        for i, req in enumerate(fields_reqs):
            what = f"nodeSelectorTerms[{t}].matchFields[{i}]"
            if req.key != "metadata.name":
                raise ValueError(
                    f"{what}.key: Invalid value: {req.key!r}: not a valid field selector key"
                )
            if req.operator in ("In", "NotIn") and len(req.values or []) != 1:
                raise ValueError(f"{what}.values: Required value: must have one element")
            if not _requirement_matches(req.key, req.operator, req.values or [], fields_, what):
                ok = False
        if ok:
            matched = True
    return matched


def node_matches(
    node: Node | None, node_name: str, all_nodes: bool, node_selector: NodeSelector | None
) -> bool:
    """Kubernetes' ``NodeMatches``: ``nodeName`` first, then ``allNodes``, then the selector.

    Nothing set means "no node".
    """
    if node_name:
        return node is not None and _node_name(node) == node_name
    if all_nodes:
        return True
    if node_selector is not None:
        return node_selector_matches(node_selector, node)
    return False


# --- the inventory -----------------------------------------------------------------


def node_key(node: Node | None) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Return what node matching reads from a node: its name and labels."""
    if node is None:
        return ("", ())
    meta = node.metadata
    labels = meta.labels
    return (meta.name or "", tuple(sorted(labels.items())) if labels else ())


# Recently built inventories, by the identity of their slices and the features. A
# scheduler builds its allocator anew every cycle from the same slice objects; this
# lets it keep the pools and caches. Entries are checked against weak references,
# so a recycled id() never matches a different slice.
_INVENTORIES: dict[tuple[Features, tuple[int, ...]], tuple[list[weakref.ref[Any]], Inventory]] = {}
_MAX_INVENTORIES = 8


# pools built from a given set of slices, kept per inventory (see Inventory._gather)
_MAX_POOL_MEMO = 65536


class Inventory:
    """The slices of a cluster, indexed by node and pool.

    Args:
        slices: ResourceSlice models.
        features: the feature switches (partitionable devices changes which slices
            count).

    Attributes:
        scratch: a cache for the allocator's per-node work (device tables, candidate
            lists). It lives and dies with the inventory, so its entries may depend
            on the slices and features; every key must name whatever else the value
            depends on (node, allocated state and its version, request).

    """

    def __init__(self, slices: Iterable[ResourceSlice], features: Features | None = None) -> None:
        self.features = features if features is not None else Features()
        lt = self.features.list_type_attributes
        self.slices: list[SliceEntry] = [_slice_entry(s, lt) for s in slices]
        self._index()

    @classmethod
    def cached(cls, slices: Sequence[ResourceSlice], features: Features) -> Inventory:
        """Return an inventory for these slice objects, reusing a recent one if any.

        Slices are treated as immutable: pass a new object for a changed slice.
        """
        key = (features, tuple(map(id, slices)))
        hit = _INVENTORIES.get(key)
        if hit is not None:
            refs, inventory = hit
            for ref, slice_model in zip(refs, slices, strict=True):
                if ref() is not slice_model:
                    break
            else:
                return inventory
        inventory = cls(slices, features)
        try:
            refs = [weakref.ref(s) for s in slices]
        except TypeError:  # pragma: no cover - objects without weak references
            return inventory
        if len(_INVENTORIES) >= _MAX_INVENTORIES:
            _INVENTORIES.pop(next(iter(_INVENTORIES)))
        _INVENTORIES[key] = (refs, inventory)
        return inventory

    def _index(self) -> None:
        self._on_node: dict[str, list[SliceEntry]] = {}
        self._shared: list[SliceEntry] = []
        self._by_pool: dict[PoolID, list[SliceEntry]] = {}
        for entry in self.slices:
            if not entry.node_name or entry.counter_sets:
                self._shared.append(entry)
            else:
                self._on_node.setdefault(entry.node_name, []).append(entry)
            self._by_pool.setdefault(entry.pool_id, []).append(entry)
        self._pool_cache: dict[tuple[str, tuple[tuple[str, str], ...]], list[Pool]] = {}
        self._pool_memo: dict[Any, tuple[Any, Any, Pool]] = {}
        self.scratch: dict[Any, Any] = {}

    def remember(self, key: Any, value: Any) -> None:
        """Store ``value`` in :attr:`scratch`, keeping the cache bounded."""
        if len(self.scratch) > 4096:
            self.scratch.clear()
        self.scratch[key] = value

    def with_slices(self, slices: Iterable[ResourceSlice]) -> Inventory:
        """Return a new inventory for ``slices`` that keeps the caches of unchanged slices.

        A slice counts as unchanged when it is the same object as before.
        """
        old = {id(e.slice): e for e in self.slices}
        new = Inventory.__new__(Inventory)
        new.features = self.features
        lt = self.features.list_type_attributes
        new.slices = [old.get(id(s)) or _slice_entry(s, lt) for s in slices]
        new._index()
        return new

    def device_entries(self) -> Iterable[DeviceEntry]:
        """Every device of every slice, in slice order."""
        for entry in self.slices:
            yield from entry.devices

    def pools_for_node(self, node: Node | None) -> list[Pool]:
        """Return the pools whose devices ``node`` can use, in allocation order.

        Cached per node name and labels.

        Raises:
            AllocationInputError: a node selector of a slice or device is malformed.

        """
        key = node_key(node)
        cached = self._pool_cache.get(key)
        if cached is None:
            cached = self._gather(node)
            if len(self._pool_cache) > 4096:
                self._pool_cache.clear()
            self._pool_cache[key] = cached
        return cached

    def _relevant(self, entry: SliceEntry, node: Node | None) -> bool | None:
        """Whether a slice matters for the node; None for a slice of unknown shape."""
        if entry.counter_sets:
            return True
        if entry.node_name or entry.all_nodes or entry.node_selector is not None:
            try:
                return node_matches(node, entry.node_name, entry.all_nodes, entry.node_selector)
            except ValueError as err:
                raise AllocationInputError(
                    f"gather pool information: failed to perform node selection for slice "
                    f"{entry.name}: {err}"
                ) from None
        if entry.per_device_node_selection:
            for dev in entry.devices:
                d = dev.device
                try:
                    if node_matches(node, d.node_name or "", bool(d.all_nodes), d.node_selector):
                        return True
                except ValueError as err:
                    raise AllocationInputError(
                        f"gather pool information: failed to perform node selection for device "
                        f"{d.name} in slice {entry.name}: {err}",
                        device=str(dev.id),
                    ) from None
            return False
        return None  # some future way of selecting nodes: skip the slice

    def _gather(self, node: Node | None) -> list[Pool]:
        partitionable = self.features.partitionable_devices
        candidates = self._on_node.get(_node_name(node), []) + self._shared
        pools: dict[PoolID, list[SliceEntry]] = {}
        for entry in candidates:
            if not partitionable and (
                entry.per_device_node_selection is not None or entry.counter_sets
            ):
                continue
            if not self._relevant(entry, node):
                continue
            current = pools.get(entry.pool_id)
            if current is None or entry.generation > current[0].generation:
                pools[entry.pool_id] = [entry]
            elif entry.generation == current[0].generation:
                current.append(entry)
            # An older generation is out-dated and ignored.

        normal: list[Pool] = []
        with_binding: list[Pool] = []
        memo = self._pool_memo
        for pool_id, entries in pools.items():
            generation = entries[0].generation
            wanted = entries[0].resource_slice_count
            all_for_pool: list[SliceEntry] | None = None
            if len(entries) != wanted:
                # Some slices of the pool were not relevant for this node (or are
                # missing): look at all slices of the pool before judging.
                all_for_pool = []
                obsolete = False
                for other in self._by_pool.get(pool_id, []):
                    if other.generation == generation:
                        all_for_pool.append(other)
                    elif other.generation > generation:
                        obsolete = True
                        break
                if obsolete:
                    continue  # the driver is replacing this generation
            # The pool is a function of these entries: nodes that see the same get the
            # same Pool object (the memo holds the entries, so their ids stay theirs).
            key = (
                pool_id,
                tuple(map(id, entries)),
                None if all_for_pool is None else tuple(map(id, all_for_pool)),
            )
            hit = memo.get(key)
            if hit is not None:
                pool = hit[2]
            else:
                if all_for_pool is not None and len(all_for_pool) != wanted:
                    pool = Pool(pool_id, incomplete=True)
                else:
                    pool = self._build_pool(pool_id, entries, all_for_pool)
                if len(memo) > _MAX_POOL_MEMO:
                    memo.clear()
                memo[key] = (entries, all_for_pool, pool)
            if pool.incomplete:
                normal.append(pool)
                continue
            (with_binding if pool.has_binding_conditions else normal).append(pool)
        normal.sort(key=lambda p: (p.id.driver, p.id.pool))
        with_binding.sort(key=lambda p: (p.id.driver, p.id.pool))
        return normal + with_binding

    def _build_pool(
        self, pool_id: PoolID, entries: list[SliceEntry], all_for_pool: list[SliceEntry] | None
    ) -> Pool:
        entries = sorted(entries, key=lambda e: e.name)
        partitionable = self.features.partitionable_devices
        if partitionable:
            device_slices = [e for e in entries if not e.counter_sets]
            counter_slices = [e for e in entries if e.counter_sets]
        else:
            device_slices = entries
            counter_slices = []

        def invalid(reason: str) -> Pool:
            return Pool(pool_id, invalid=True, invalid_reason=reason)

        seen: set[str] = set()
        for entry in device_slices:
            for dev in entry.devices:
                if dev.device.name in seen:
                    return invalid(f"duplicate device name {dev.device.name}")
                seen.add(dev.device.name)
        has_binding = any(
            dev.device.binding_conditions for entry in device_slices for dev in entry.devices
        )
        if not partitionable:
            return Pool(pool_id, slices=device_slices, has_binding_conditions=has_binding)

        counter_sets: dict[str, CounterSet] = {}
        for entry in counter_slices:
            for counter_set in entry.counter_sets:
                if counter_set.name in counter_sets:
                    return invalid(f"duplicate counter set name {counter_set.name}")
                counter_sets[counter_set.name] = counter_set
        reason = _check_counter_consumption(counter_sets, entries)
        if reason:
            return invalid(reason)
        not_targeting: list[SliceEntry] = []
        if all_for_pool is not None and len(all_for_pool) != len(entries):
            names = {e.name for e in entries}
            not_targeting = [e for e in all_for_pool if e.name not in names]
            reason = _check_counter_consumption(counter_sets, not_targeting)
            if reason:
                return invalid(reason)
        return Pool(
            pool_id,
            slices=device_slices,
            slices_not_targeting_node=not_targeting,
            counter_sets=counter_sets,
            has_binding_conditions=has_binding,
        )


def _check_counter_consumption(
    counter_sets: Mapping[str, CounterSet], entries: Iterable[SliceEntry]
) -> str:
    for entry in entries:
        for dev in entry.devices:
            for consumption in dev.device.consumes_counters or []:
                counter_set = counter_sets.get(consumption.counter_set)
                if counter_set is None:
                    return f"counter set {consumption.counter_set} not found"
                known = counter_set.counters or {}
                for name in consumption.counters or {}:
                    if name not in known:
                        return f"counter {name} not found in counter set {counter_set.name}"
    return ""
