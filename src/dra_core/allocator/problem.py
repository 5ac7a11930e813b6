"""The allocation problem for one node, free of any engine detail.

:func:`build_problem` turns (node, claims, inventory, classes, allocated state,
features) into a :class:`Problem`. Every engine (the backtracking search, the CP-SAT
model) reads only this; :mod:`dra_core.allocator.results` turns an engine's
:class:`Solution` into ``AllocationResult`` objects. Building the problem does all
the input checking Kubernetes does before its search, with Kubernetes' error texts,
so engines never raise for bad input except through *poisoned* candidates (below).

The shape
=========

``Problem``
    ``claims``: one :class:`ClaimInfo` per claim, in claim order.
    ``devices``: one :class:`DeviceInfo` per device of the usable pools (complete
    and valid), in Kubernetes order: pools sorted by (driver, pool) with the pools
    that have binding conditions last, slices by name, devices in slice order.
    ``Problem.devices[i].index == i``.
    ``counters``: the counters still available per pool, ``{PoolID: {(counter set,
    counter): Quantity}}``, after subtracting what devices in use already consume
    (may be negative: then the pool is *overdrawn*).
    ``max_devices_per_claim``: 32 (``AllocationResultsMaxSize``).
    ``has_invalid_pools``: when no solution exists and this is true, Kubernetes
    reports "invalid resource pools were encountered" instead of "does not fit".
    ``has_poison``: some candidate carries an error (see below).

``ClaimInfo``
    ``requests``: one :class:`RequestSlot` per request of the claim, in order.
    ``constraints``: the claim's :class:`ConstraintInfo` list, in order.
    ``min_devices``: the fewest devices the claim can get (the 32-limit was checked
    against it).

``RequestSlot``
    One entry of ``spec.devices.requests``. ``alternatives`` is a tuple of
    :class:`RequestInfo`: exactly one for a plain request (``exactly``), or one
    per ``firstAvailable`` subrequest, to be tried in order (the first that can be
    satisfied wins; a later one is only used when the earlier ones cannot be).

``RequestInfo``
    ``key``: :class:`RequestKey` (claim, request, subrequest or None).
    ``name``: ``"req"`` or ``"req/sub"``, as in results.
    ``all_devices``: allocation mode ``All``; then ``count == len(candidates)``
    and *every* candidate must be taken (a candidate with ``usable=False`` means
    the request cannot be satisfied; one that fails a constraint is an error,
    see :attr:`RequestInfo.all_devices`). Otherwise ``count`` devices must be
    chosen among ``candidates`` (ExactCount; ``count`` may be 0).
    ``admin_access``: devices in use elsewhere may be chosen, but not twice
    within one claim; admin results do not make devices busy for other claims
    *in the same call*, except that they are "allocating" like any other choice
    (Kubernetes marks them, so a later claim cannot take them without admin access).
    ``candidates``: :class:`Candidate` tuple in Kubernetes order. Everything that
    does not depend on the other choices is already filtered out: class and
    request selectors, per-device node selection, binding conditions with the
    feature off, devices in dedicated use (unless admin access), devices that
    consume counters with partitionable devices off, untolerated taints, capacity
    requests the device cannot satisfy even alone, counters the device cannot
    get even alone.
    ``constraints``: indices into ``ClaimInfo.constraints`` that apply to this
    request (or subrequest). ``has_poison``: some candidate carries an error.
    Also ``request_name``/``subrequest_name``, ``class_name``/``device_class`` and
    ``tolerations`` (copied into results).

``Candidate``
    ``device``: index into ``Problem.devices``. ``demand``: what this request
    consumes of each capacity of the device, after request-policy rounding (only
    binding for shareable devices, where it also becomes ``consumedCapacity``).
    ``error``: a *poisoned* candidate. Kubernetes evaluates selectors lazily, so a
    CEL error only surfaces when the search reaches that device while it is not
    in use by an earlier choice. The search engine raises ``error`` at that point;
    other engines may raise it as soon as they see it.

``DeviceInfo``
    ``id`` (:class:`~dra_core.state.DeviceID`), ``entry`` (the inventory entry:
    model, slice, cached CEL results), ``pool`` (:class:`PoolID`), ``location``
    (:class:`DeviceLocation`), ``shareable`` (``allowMultipleAllocations`` with
    consumable capacity on: never busy, each choice is a new share with a share id
    and ``consumedCapacity``), ``capacity_left`` (capacity value minus what
    allocated shares consume; shares chosen together must fit in it),
    ``consumes`` (counter consumption ``((set, counter), amount)``),
    ``counters_prepaid`` (a shareable device already in shared use: its counters
    are already used up and are not consumed again), ``binding_conditions``,
    ``binding_failure_conditions``.

Read-only
=========
Treat everything in a ``Problem`` as read-only: ``DeviceInfo`` objects, the pools, the
counters and the candidate tuples are cached per (inventory, node, allocated state and
its version) and shared by later calls; what does not depend on the state (the devices
as they are when nothing is in use, which of them a selector set selects, attribute
indexes) is cached per set of pools and shared by every state and every node that sees
those pools. ``DeviceInfo.attribute(name, list_types)``
returns (and caches) an attribute as constraints compare it. What a claim's requests
and constraints ask for (checked, with Kubernetes' errors) is cached per claim object
while the features and the classes it names are the same objects (``_ClaimPlan``): a
scheduler checks the same claims on every node.

The rules an engine enforces (the search engine's order)
=========================================================
1. A non-shareable device is chosen at most once per call, over all claims
   (admin-access requests only check their own claim).
2. Shares of a shareable device chosen together fit its ``capacity_left``.
3. Counters: for each pool, the sum of ``consumes`` of the chosen devices (a
   shareable device counts once, and not at all when ``counters_prepaid``) stays
   within ``Problem.counters[pool]``.
4. Constraints (per claim, over the requests they apply to): see
   :meth:`ConstraintInfo.admits`.
5. At most ``max_devices_per_claim`` devices per claim.
6. Kubernetes order decides between solutions: claims in order, requests in
   order, subrequests in order, and for each request the lexicographically
   first combination of candidates.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

from dra_core._records import HashedTuple, Ordered, Record, Value, _set
from dra_core.allocator.capacity import consumed_capacity, request_fits_capacity
from dra_core.errors import AllocationInputError, CELError, InputError
from dra_core.features import Features
from dra_core.inventory import (
    DeviceEntry,
    Inventory,
    Pool,
    PoolID,
    SliceEntry,
    node_key,
    node_matches,
)
from dra_core.state import AllocatedState, DeviceID

if TYPE_CHECKING:
    from dra_core.api import (
        DeviceClass,
        DeviceSelector,
        DeviceTaint,
        DeviceToleration,
        Node,
        ResourceClaim,
    )
    from dra_core.api.quantity import Quantity

__all__ = [
    "MAX_DEVICES_PER_CLAIM",
    "AttributeValue",
    "Candidate",
    "Choice",
    "ClaimInfo",
    "ConstraintInfo",
    "DeviceInfo",
    "DeviceLocation",
    "Problem",
    "RequestInfo",
    "RequestKey",
    "RequestSlot",
    "Solution",
    "build_problem",
    "claim_ref",
]

#: Kubernetes' ``AllocationResultsMaxSize``: devices per claim.
MAX_DEVICES_PER_CLAIM = 32

CounterKey = tuple[str, str]


# --- small index types ---------------------------------------------------------------


class RequestKey(Ordered):
    """A request (``subrequest is None``) or one subrequest of it, by position."""

    __slots__ = ("claim", "request", "subrequest")

    claim: int
    request: int
    subrequest: int | None

    def __init__(
        self,
        claim: int,
        request: int,
        subrequest: int | None = None,
    ) -> None:
        _set(self, "claim", claim)
        _set(self, "request", request)
        _set(self, "subrequest", subrequest)

    def _key(self) -> tuple[Any, ...]:
        return (self.claim, self.request, self.subrequest)


class DeviceLocation(Ordered):
    """Where a device sits in Kubernetes order: pool, slice within pool, device within slice."""

    __slots__ = ("device", "pool", "slice")

    pool: int
    slice: int
    device: int

    def __init__(
        self,
        pool: int,
        slice: int,
        device: int,
    ) -> None:
        _set(self, "pool", pool)
        _set(self, "slice", slice)
        _set(self, "device", device)

    def _key(self) -> tuple[Any, ...]:
        return (self.pool, self.slice, self.device)


class AttributeValue(Value):
    """An attribute as constraints compare it.

    ``kind`` is ``"int"``, ``"bool"``, ``"string"`` or ``"version"``, or ``""`` for a
    value that constraints cannot compare (no value, an empty list, or a list while
    list-type attributes are off). ``values`` holds one element for a scalar and
    the elements of a list.
    """

    __slots__ = ("is_list", "kind", "values")

    kind: str
    values: frozenset[Any]
    is_list: bool

    def __init__(
        self,
        kind: str,
        values: frozenset[Any],
        is_list: bool = False,
    ) -> None:
        _set(self, "kind", kind)
        _set(self, "values", values)
        _set(self, "is_list", is_list)

    def _key(self) -> tuple[Any, ...]:
        return (self.kind, self.values, self.is_list)


# --- devices and candidates ------------------------------------------------------------


class DeviceInfo(Record):
    """One device of a usable pool, with what engines need to decide about it."""

    __slots__ = (
        "attribute_cache",
        "binding_conditions",
        "binding_failure_conditions",
        "capacity_left",
        "consumes",
        "counters_prepaid",
        "entry",
        "id",
        "index",
        "location",
        "need",
        "pool",
        "shareable",
    )

    index: int
    id: DeviceID
    entry: DeviceEntry
    pool: PoolID
    location: DeviceLocation
    shareable: bool
    capacity_left: Mapping[str, Quantity]
    consumes: tuple[tuple[CounterKey, Quantity], ...]
    counters_prepaid: bool
    binding_conditions: tuple[str, ...]
    binding_failure_conditions: tuple[str, ...]
    attribute_cache: dict[str, AttributeValue | None]
    need: tuple[tuple[CounterKey, Fraction], ...]

    def __init__(
        self,
        index: int,
        id: DeviceID,
        entry: DeviceEntry,
        pool: PoolID,
        location: DeviceLocation,
        shareable: bool,
        capacity_left: Mapping[str, Quantity],
        consumes: tuple[tuple[CounterKey, Quantity], ...],
        counters_prepaid: bool,
        binding_conditions: tuple[str, ...],
        binding_failure_conditions: tuple[str, ...],
        attribute_cache: dict[str, AttributeValue | None] | None = None,
        need: tuple[tuple[CounterKey, Fraction], ...] = (),
    ) -> None:
        self.index = index
        self.id = id
        self.entry = entry
        self.pool = pool
        self.location = location
        self.shareable = shareable
        self.capacity_left = capacity_left
        self.consumes = consumes
        self.counters_prepaid = counters_prepaid
        self.binding_conditions = binding_conditions
        self.binding_failure_conditions = binding_failure_conditions
        self.attribute_cache = {} if attribute_cache is None else attribute_cache
        self.need = need

    def attribute(self, name: str, list_type_attributes: bool) -> AttributeValue | None:
        """Return the attribute ``name`` as constraints compare it (None when missing)."""
        key = name if list_type_attributes else "\0" + name
        try:
            return self.attribute_cache[key]
        except KeyError:
            value = _attribute_value(self, name, list_type_attributes)
            self.attribute_cache[key] = value
            return value

    @property
    def slice(self) -> SliceEntry:
        """The slice that publishes the device."""
        return self.entry.slice

    def copy_with(
        self,
        *,
        index: int | None = None,
        location: DeviceLocation | None = None,
        capacity_left: Mapping[str, Quantity] | None = None,
        counters_prepaid: bool | None = None,
    ) -> DeviceInfo:
        """Return the same device with some fields changed (its attribute cache shared)."""
        return DeviceInfo(
            self.index if index is None else index,
            self.id,
            self.entry,
            self.pool,
            self.location if location is None else location,
            self.shareable,
            self.capacity_left if capacity_left is None else capacity_left,
            self.consumes,
            self.counters_prepaid if counters_prepaid is None else counters_prepaid,
            self.binding_conditions,
            self.binding_failure_conditions,
            self.attribute_cache,
            self.need,
        )


class Candidate(Value):
    """A device that a request may take.

    Attributes:
        device: index into ``Problem.devices``.
        demand: what the request consumes of each capacity of the device.
        error: set on a poisoned candidate: reaching it raises this error.
        usable: for ``All`` requests only: False when the device cannot be taken
            whatever else is chosen (then the request cannot be satisfied).

    """

    __slots__ = ("demand", "device", "error", "usable")

    device: int
    demand: Mapping[str, Quantity]
    error: InputError | None
    usable: bool

    def __init__(
        self,
        device: int,
        demand: Mapping[str, Quantity] | None = None,
        error: InputError | None = None,
        usable: bool = True,
    ) -> None:
        _set(self, "device", device)
        _set(self, "demand", {} if demand is None else demand)
        _set(self, "error", error)
        _set(self, "usable", usable)

    def _key(self) -> tuple[Any, ...]:
        return (self.device, self.demand, self.error, self.usable)


class RequestInfo:
    """A request without subrequests, or one subrequest, ready for an engine.

    ``candidates`` and ``has_poison`` read like plain attributes. For an
    ``ExactCount`` request they may be computed on first read: the builder leaves
    the selectors of devices unevaluated until an engine needs them (see
    :meth:`reach`), as Kubernetes evaluates them only when its search reaches a
    device. Reading ``candidates`` evaluates every device, once.
    """

    __slots__ = (
        "_builder",
        "_candidates",
        "_check",
        "_has_poison",
        "_lazy",
        "admin_access",
        "all_devices",
        "class_name",
        "constraints",
        "count",
        "device_class",
        "key",
        "name",
        "request_name",
        "subrequest_name",
        "tolerations",
    )

    def __init__(
        self,
        *,
        key: RequestKey,
        name: str,
        request_name: str,
        subrequest_name: str | None,
        class_name: str,
        device_class: DeviceClass,
        all_devices: bool,
        count: int,
        admin_access: bool,
        tolerations: tuple[DeviceToleration, ...],
        candidates: tuple[Candidate, ...] | _LazyCandidates,
        constraints: tuple[int, ...] = (),
        has_poison: bool = False,
        builder: _Builder | None = None,
    ) -> None:
        self.key = key
        self.name = name
        self.request_name = request_name
        self.subrequest_name = subrequest_name
        self.class_name = class_name
        self.device_class = device_class
        self.all_devices = all_devices
        self.count = count
        self.admin_access = admin_access
        self.tolerations = tolerations
        self.constraints = constraints
        self._builder = builder
        self._check = builder.check_abort if builder is not None else None
        if isinstance(candidates, _LazyCandidates):
            assert builder is not None
            self._lazy: _LazyCandidates = candidates
            self._candidates: tuple[Candidate, ...] | None = candidates.known()
            self._has_poison = candidates.poisoned
        else:
            self._lazy = _LazyCandidates.of(candidates, has_poison)
            self._candidates = candidates
            self._has_poison = has_poison

    @property
    def candidates(self) -> tuple[Candidate, ...]:
        """:class:`Candidate` tuple in Kubernetes order (every device evaluated)."""
        found = self._candidates
        if found is None:
            assert self._builder is not None
            found = self._lazy.evaluate_all(self._builder, self._check)
            self._candidates = found
            self._has_poison = self._lazy.poisoned
        return found

    @property
    def has_poison(self) -> bool:
        """Some candidate carries an error."""
        if self._candidates is None:
            self.candidates  # noqa: B018 - evaluates every device
        return self._has_poison

    def reach(self, n: int) -> bool:
        """Whether the request has at least ``n`` candidates.

        Evaluates devices only until the ``n``-th candidate is found (all of them
        when there are fewer): the search engine's lazy walk. Candidate ``i`` is
        then :meth:`candidate` ``(i)`` for every ``i < n``.
        """
        lazy = self._lazy
        if len(lazy.found) >= n:
            return True
        if lazy.done:
            return False
        assert self._builder is not None
        return lazy.reach(n, self._builder, self._check)

    def candidate(self, i: int) -> Candidate:
        """Candidate ``i``, once :meth:`reach` ``(i + 1)`` said it exists."""
        return self._lazy.found[i]

    def admissible(
        self, con: ConstraintInfo, chosen: Sequence[AttributeValue]
    ) -> Sequence[int] | None:
        """Return the devices (ascending indices) ``con`` lets join ``chosen``, or None.

        For a ``matchAttribute`` constraint whose value the devices chosen so far
        fix: only devices with that value can pass it, so an engine may look at
        those alone. That skips the others without evaluating them, which is only
        the same as evaluating them when none could have raised a selector error:
        None (look at every device) unless no selector of this request fails on
        any device of the table.
        """
        builder = self._builder
        req = self._lazy.req
        if builder is None or req is None or con.kind != "match" or not chosen:
            return None
        if not builder.poison_free(req):
            return None
        first = chosen[0]
        if not first.kind:
            return ()  # nothing joins a device without a comparable value
        index = builder.table.static.index_of(con.attribute, con.list_type_attributes)
        if not con.list_type_attributes:
            (element,) = first.values
            return index.get((first.kind, element), ())
        common: frozenset[Any] = first.values
        for value in chosen:
            if value.kind != first.kind:
                return ()
            common = common & value.values
        lists = [index.get((first.kind, e), ()) for e in common]
        if len(lists) == 1:
            return lists[0]
        return sorted({d for found in lists for d in found})

    def candidate_at(self, d: int) -> Candidate | None:
        """Device ``d`` (an index into ``Problem.devices``) as a candidate, or None."""
        assert self._builder is not None
        return self._lazy.at_device(d, self._builder)

    def same_candidates(self, other: RequestInfo) -> bool:
        """Whether ``other`` has the very same candidate list (same device table, same ask)."""
        return self._lazy is other._lazy

    def last_poison(self) -> int:
        """Return the last position of a poisoned candidate, -1 when none (evaluates all)."""
        if self._candidates is None:
            self.candidates  # noqa: B018 - evaluates every device
        return self._lazy.last_poison

    def __repr__(self) -> str:
        return f"RequestInfo(key={self.key!r}, name={self.name!r}, count={self.count})"


class _LazyCandidates:
    """The candidates of one ``ExactCount`` request, found device by device.

    Shared by every call that builds the same device table and asks the same of it
    (cached with the table, see ``_Builder.candidates_exact``): whatever one call
    evaluated, the next one reuses. Safe because evaluating a device depends only on
    the device table's key and the request's signature, never on the search.
    ``found`` only grows (positions never change); a lock keeps two threads from
    evaluating the same device twice.
    """

    __slots__ = (
        "_lock",
        "_tuple",
        "by_device",
        "done",
        "found",
        "last_poison",
        "memo",
        "next",
        "poisoned",
        "req",
    )

    def __init__(self, req: _Req | None) -> None:
        self.req = req
        self.found: list[Candidate] = []
        self.next = 0  # the next device index to evaluate
        self.done = False
        self.poisoned = False
        self.last_poison = -1
        self._tuple: tuple[Candidate, ...] | None = None
        self._lock = threading.Lock()
        # device index -> its candidate (None: not one), for devices evaluated out of
        # order (see at_device)
        self.by_device: dict[int, Candidate | None] = {}
        # the request's selectable memo (see _Builder.selectable_memo), when it has one
        self.memo: dict[int, Any] | None = None

    @classmethod
    def of(cls, candidates: tuple[Candidate, ...], poisoned: bool) -> _LazyCandidates:
        """Return an already complete list."""
        lazy = cls(None)
        lazy.found = list(candidates)
        lazy.done = True
        lazy.poisoned = poisoned
        lazy._tuple = candidates
        for i, cand in enumerate(candidates):
            if cand.error is not None:
                lazy.last_poison = i
        return lazy

    def known(self) -> tuple[Candidate, ...] | None:
        """Return the whole tuple when every device has been evaluated, else None."""
        if self.done and self._tuple is None:
            self._tuple = tuple(self.found)
        return self._tuple

    def reach(self, n: int, builder: _Builder, check: Callable[[], None] | None) -> bool:
        """Evaluate devices until ``n`` candidates are known or none are left."""
        with self._lock:
            found = self.found
            devices = builder.devices
            req = self.req
            assert req is not None
            while len(found) < n and not self.done:
                i = self.next
                if i >= len(devices):
                    self.done = True
                    break
                if check is not None and i % 64 == 63:
                    check()
                by_device = self.by_device
                cand = (
                    by_device[i]
                    if by_device and i in by_device
                    else builder.candidate_exact(req, devices[i], self.memo)
                )
                self.next = i + 1
                if cand is not None:
                    if cand.error is not None:
                        self.poisoned = True
                        self.last_poison = len(found)
                    found.append(cand)
            return len(found) >= n

    def at_device(self, d: int, builder: _Builder) -> Candidate | None:
        """Device ``d`` as a candidate (None: not one), evaluated on its own if need be.

        Evaluating a device does not depend on the others, so the answer is the one
        the walk in order gives when it reaches the device.
        """
        by_device = self.by_device
        if d in by_device:
            return by_device[d]
        req = self.req
        assert req is not None
        with self._lock:
            cand = builder.candidate_exact(req, builder.devices[d], self.memo)
            by_device[d] = cand
        return cand

    def evaluate_all(
        self, builder: _Builder, check: Callable[[], None] | None
    ) -> tuple[Candidate, ...]:
        """Evaluate every device and return the candidates."""
        if not self.done:
            self.reach(len(builder.devices) + 1, builder, check)
        known = self.known()
        assert known is not None
        return known


class RequestSlot(Record):
    """One request of a claim: one alternative, or its ``firstAvailable`` subrequests."""

    __slots__ = ("alternatives", "claim", "first_available", "name", "request")

    claim: int
    request: int
    name: str
    alternatives: tuple[RequestInfo, ...]
    first_available: bool

    def __init__(
        self,
        claim: int,
        request: int,
        name: str,
        alternatives: tuple[RequestInfo, ...],
        first_available: bool,
    ) -> None:
        self.claim = claim
        self.request = request
        self.name = name
        self.alternatives = alternatives
        self.first_available = first_available


class ConstraintInfo:
    """A ``matchAttribute`` or ``distinctAttribute`` constraint of a claim.

    Attributes:
        kind: ``"match"`` or ``"distinct"``.
        attribute: the fully qualified attribute name.
        requests: the request or ``request/subrequest`` names it applies to; empty
            means every request of the claim.
        list_type_attributes: the ``DRAListTypeAttributes`` switch.
        values: per device index, the device's attribute (None when missing), for
            every candidate of the requests it applies to (reading it evaluates
            those requests' devices; :meth:`value` gets one device's).

    """

    __slots__ = (
        "_pending",
        "_values",
        "attribute",
        "index",
        "kind",
        "list_type_attributes",
        "requests",
    )

    def __init__(
        self,
        index: int,
        kind: Literal["match", "distinct"],
        attribute: str,
        requests: frozenset[str],
        list_type_attributes: bool,
    ) -> None:
        self.index = index
        self.kind = kind
        self.attribute = attribute
        self.requests = requests
        self.list_type_attributes = list_type_attributes
        self._values: dict[int, AttributeValue | None] = {}
        # Requests it applies to whose candidates are not all known yet.
        self._pending: list[tuple[RequestInfo, Sequence[DeviceInfo]]] = []

    @property
    def values(self) -> dict[int, AttributeValue | None]:
        """Per device index, the device's attribute (None when missing)."""
        while self._pending:
            req, devices = self._pending.pop()
            for cand in req.candidates:
                self.value(devices[cand.device])
        return self._values

    def value(self, device: DeviceInfo) -> AttributeValue | None:
        """Return the attribute of ``device`` as this constraint compares it (or None)."""
        values = self._values
        d = device.index
        if d in values:
            return values[d]
        found = values[d] = device.attribute(self.attribute, self.list_type_attributes)
        return found

    def __repr__(self) -> str:
        return f"ConstraintInfo({self.index}, {self.kind!r}, {self.attribute!r})"

    def applies_to(self, request_name: str, subrequest_name: str | None) -> bool:
        """Whether the constraint covers this request (or subrequest)."""
        if not self.requests:
            return True
        if request_name in self.requests:
            return True
        return subrequest_name is not None and f"{request_name}/{subrequest_name}" in self.requests

    def admits(self, chosen: Sequence[AttributeValue], new: AttributeValue | None) -> bool:
        """Whether a device with attribute ``new`` may join devices with ``chosen``.

        ``chosen`` are the attributes of the devices already in the constraint's
        scope, in choice order. A missing attribute never passes. The first device
        always passes for ``distinct``; for ``match`` it must have a comparable value
        when list-type attributes are on.

        - match, list-type on: every value set shares an element with all earlier
          ones (their running intersection stays non-empty), same kind;
        - match, list-type off: same kind and value as the first device;
        - distinct, list-type on: the new set is disjoint from every earlier one;
        - distinct, list-type off: no earlier device of that kind has the value.
        """
        if new is None:
            return False
        if self.kind == "match":
            if not chosen:
                return bool(new.kind) or not self.list_type_attributes
            if not new.kind:
                return False
            if self.list_type_attributes:
                common: frozenset[Any] | None = None
                for value in chosen:
                    if value.kind != new.kind:
                        return False
                    common = value.values if common is None else common & value.values
                assert common is not None
                return bool(common & new.values)
            first = chosen[0]
            return first.kind == new.kind and first.values == new.values
        # distinct
        if not chosen:
            return True
        if not new.kind:
            return False
        return not any(v.kind == new.kind and v.values & new.values for v in chosen)


class ClaimInfo(Record):
    """One claim to allocate."""

    __slots__ = ("claim", "constraints", "index", "min_devices", "ref", "requests")

    index: int
    claim: ResourceClaim
    ref: str
    requests: tuple[RequestSlot, ...]
    constraints: tuple[ConstraintInfo, ...]
    min_devices: int

    def __init__(
        self,
        index: int,
        claim: ResourceClaim,
        ref: str,
        requests: tuple[RequestSlot, ...],
        constraints: tuple[ConstraintInfo, ...],
        min_devices: int,
    ) -> None:
        self.index = index
        self.claim = claim
        self.ref = ref
        self.requests = requests
        self.constraints = constraints
        self.min_devices = min_devices


class Problem(Record):
    """Everything an engine needs to allocate ``claims`` on ``node``."""

    __slots__ = (
        "claims",
        "counters",
        "devices",
        "features",
        "has_invalid_pools",
        "max_devices_per_claim",
        "node",
        "pools",
    )

    node: Node | None
    features: Features
    claims: tuple[ClaimInfo, ...]
    devices: tuple[DeviceInfo, ...]
    pools: tuple[Pool, ...]
    counters: Mapping[PoolID, dict[CounterKey, Quantity]]
    has_invalid_pools: bool
    max_devices_per_claim: int

    def __init__(
        self,
        node: Node | None,
        features: Features,
        claims: tuple[ClaimInfo, ...],
        devices: tuple[DeviceInfo, ...],
        pools: tuple[Pool, ...],
        counters: Mapping[PoolID, dict[CounterKey, Quantity]],
        has_invalid_pools: bool,
        max_devices_per_claim: int = MAX_DEVICES_PER_CLAIM,
    ) -> None:
        self.node = node
        self.features = features
        self.claims = claims
        self.devices = devices
        self.pools = pools
        self.counters = counters
        self.has_invalid_pools = has_invalid_pools
        self.max_devices_per_claim = max_devices_per_claim

    @property
    def has_poison(self) -> bool:
        """Some candidate of some request carries an error (evaluates every device)."""
        return any(
            alt.has_poison
            for claim in self.claims
            for slot in claim.requests
            for alt in slot.alternatives
        )

    def request(self, key: RequestKey) -> RequestInfo:
        """Return the request (or subrequest) with this key."""
        slot = self.claims[key.claim].requests[key.request]
        return slot.alternatives[key.subrequest or 0]


# --- the neutral solution ---------------------------------------------------------------


class Choice(Value):
    """One chosen device for one request (or subrequest).

    ``candidate`` is the request's :class:`Candidate` for the device (its ``demand``
    becomes the consumed capacity of a share).
    """

    __slots__ = ("candidate", "request")

    request: RequestKey
    candidate: Candidate

    def __init__(
        self,
        request: RequestKey,
        candidate: Candidate,
    ) -> None:
        _set(self, "request", request)
        _set(self, "candidate", candidate)

    def _key(self) -> tuple[Any, ...]:
        return (self.request, self.candidate)

    @property
    def device(self) -> int:
        """Index into ``Problem.devices``."""
        return self.candidate.device


class Solution(Value):
    """What an engine returns: the chosen devices per claim, in result order.

    ``choices[c]`` lists claim ``c``'s devices in the order they appear in its
    result (Kubernetes: request order, then candidate order). The subrequest that
    was used for a ``firstAvailable`` request is the one named in its choices'
    keys; ``selected`` gives it for every such request, even one with count 0.
    """

    __slots__ = ("choices", "selected")

    choices: tuple[tuple[Choice, ...], ...]
    selected: Mapping[tuple[int, int], int]

    def __init__(
        self,
        choices: tuple[tuple[Choice, ...], ...],
        selected: Mapping[tuple[int, int], int] | None = None,
    ) -> None:
        _set(self, "choices", choices)
        _set(self, "selected", {} if selected is None else selected)

    def _key(self) -> tuple[Any, ...]:
        return (self.choices, self.selected)


# --- building --------------------------------------------------------------------------


def claim_ref(claim: ResourceClaim) -> str:
    """``namespace/name`` of a claim, or ``name`` when it has no namespace (klog.KObj)."""
    meta = claim.metadata
    name = meta.name or ""
    return f"{meta.namespace}/{name}" if meta.namespace else name


def _attribute_value(
    device: DeviceInfo, attribute: str, list_type_attributes: bool
) -> AttributeValue | None:
    attrs = device.entry.device.attributes or {}
    attr = attrs.get(attribute)
    if attr is None:
        domain, sep, ident = attribute.partition("/")
        if not sep or domain != device.id.driver:
            return None
        attr = attrs.get(ident)
        if attr is None:
            return None
    ints, bools, strings, versions = attr.ints, attr.bools, attr.strings, attr.versions
    if list_type_attributes:
        if ints:
            return AttributeValue("int", frozenset(ints), True)
        if bools:
            return AttributeValue("bool", frozenset(bools), True)
        if strings:
            return AttributeValue("string", frozenset(strings), True)
        if versions:
            return AttributeValue("version", frozenset(versions), True)
    elif ints or bools or strings or versions:
        return AttributeValue("", frozenset())  # a list while list types are off
    if attr.int_ is not None:
        return AttributeValue("int", frozenset((attr.int_,)))
    if attr.bool_ is not None:
        return AttributeValue("bool", frozenset((attr.bool_,)))
    if attr.string is not None:
        return AttributeValue("string", frozenset((attr.string,)))
    if attr.version is not None:
        return AttributeValue("version", frozenset((attr.version,)))
    return AttributeValue("", frozenset())


def _tolerates(toleration: DeviceToleration, taint: DeviceTaint) -> bool:
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    operator = toleration.operator or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.value or "") == (taint.value or "")
    return False


def _taint_blocks(device: DeviceEntry, tolerations: Sequence[DeviceToleration]) -> bool:
    for taint in device.device.taints or []:
        if taint.effect not in ("NoSchedule", "NoExecute"):
            continue  # only known effects prevent allocation; None and others do not
        if not any(_tolerates(t, taint) for t in tolerations):
            return True
    return False


# a selectable memo's mark for a device whose selector fails
_FAILS = "fails"
# selector sets remembered per state-free table
_MAX_SELECTOR_SETS = 1024


class _Selection:
    """Which devices of a state-free table a selector set selects (see _Builder._selection).

    ``memo``: per device index, True, False or _FAILS (the selector fails), filled as
    devices are evaluated; ``poison_free``: whether no device fails, once known.
    """

    __slots__ = ("device_class", "memo", "poison_free")

    def __init__(self, device_class: DeviceClass) -> None:
        self.device_class = device_class
        self.memo: dict[int, Any] = {}
        self.poison_free: bool | None = None


class _Static:
    """What a device table holds that does not depend on the allocated state.

    Built once per set of pools (the same slices, in the same order, as one or more
    nodes see them) and shared by the tables of every state version and of every
    node that sees those pools: the devices as they are when nothing is in use,
    which of them can differ in some state, the pools with counters, and indexes
    computed on demand. It lives in ``Inventory.scratch``, which is cleared whenever
    a slice changes.
    """

    __slots__ = (
        "attr_index",
        "by_id",
        "counter_pools",
        "devices",
        "has_invalid_pools",
        "node_dependent",
        "pools",
        "selectable",
        "sensitive",
        "shareable",
    )

    def __init__(self, pools: Sequence[Pool], features: Features) -> None:
        self.pools = tuple(pools)
        self.has_invalid_pools = any(p.invalid for p in pools)
        partitionable = features.partitionable_devices
        # pools whose counters are computed (on demand, per state)
        self.counter_pools: dict[PoolID, Pool] = {
            p.id: p
            for p in pools
            if partitionable and p.counter_sets and not (p.incomplete or p.invalid)
        }
        devices: list[DeviceInfo] = []
        # devices whose DeviceInfo depends on the state: shareable ones (counters
        # prepaid once shared) and ones with capacity (less left once consumed)
        shareable: list[int] = []
        sensitive = False
        consumable = features.consumable_capacity
        for p, pool in enumerate(pools):
            if pool.incomplete or pool.invalid:
                continue
            pool_id = pool.id
            for s, slice_entry in enumerate(pool.slices):
                for entry in slice_entry.devices:
                    device = entry.device
                    is_shareable = bool(consumable and device.allow_multiple_allocations)
                    capacity = device.capacity
                    consumes: tuple[tuple[CounterKey, Quantity], ...] = ()
                    if partitionable and device.consumes_counters:
                        consumes = tuple(
                            ((consumption.counter_set, cname), counter.value)
                            for consumption in device.consumes_counters
                            for cname, counter in (consumption.counters or {}).items()
                        )
                    index = len(devices)
                    if is_shareable:
                        shareable.append(index)
                    if capacity:
                        sensitive = True
                    devices.append(
                        DeviceInfo(
                            index=index,
                            id=entry.id,
                            entry=entry,
                            pool=pool_id,
                            location=DeviceLocation(p, s, entry.index),
                            shareable=is_shareable,
                            capacity_left=(
                                {name: cap.value for name, cap in capacity.items()}
                                if capacity
                                else {}
                            ),
                            consumes=consumes,
                            counters_prepaid=False,
                            binding_conditions=(
                                tuple(device.binding_conditions)
                                if device.binding_conditions
                                else ()
                            ),
                            binding_failure_conditions=(
                                tuple(device.binding_failure_conditions)
                                if device.binding_failure_conditions
                                else ()
                            ),
                            need=_total_need(consumes),
                        )
                    )
        self.devices = tuple(devices)
        # devices that select nodes themselves: whether they are selectable depends
        # on the node, not only on the pools
        self.node_dependent = any(
            slice_entry.per_device_node_selection for pool in pools for slice_entry in pool.slices
        )
        self.shareable = tuple(shareable)
        self.sensitive = sensitive or bool(shareable)
        self.by_id: dict[DeviceID, int] | None = None
        # per node key (when devices select nodes) and selector set: which devices
        # are selectable (see _Builder.candidate_exact, RequestInfo.admissible)
        self.selectable: dict[tuple[Any, ...], _Selection] = {}
        # per (attribute, list types): (kind, element) -> device indices, ascending
        self.attr_index: dict[tuple[str, bool], dict[tuple[str, Any], list[int]]] = {}

    def devices_for(self, state: AllocatedState) -> tuple[DeviceInfo, ...]:
        """Return the devices as ``state`` sees them: the neutral ones, a few replaced."""
        if not self.sensitive:
            return self.devices
        devices = self.devices
        changed: dict[int, DeviceInfo] = {}
        for i in self.shareable:
            if state.is_device_allocated(devices[i].id):
                changed[i] = devices[i]
        used_ids = state.devices_with_consumed_capacity()
        if used_ids:
            by_id = self.by_id
            if by_id is None:
                by_id = self.by_id = {d.id: d.index for d in devices}
            for device_id in used_ids:
                at = by_id.get(device_id)
                if at is not None:
                    changed[at] = devices[at]
        if not changed:
            return devices
        out = list(devices)
        for i, info in changed.items():
            capacity = info.entry.device.capacity
            used = state.consumed_capacity(info.id)
            left: Mapping[str, Quantity] = info.capacity_left
            if capacity and used:
                left = {
                    name: cap.value.sub(used[name]) if name in used else cap.value
                    for name, cap in capacity.items()
                }
            # A shareable device in use already had its counters used up (see
            # _PoolCounters): new shares do not consume them again. (Kubernetes 1.36
            # only knows this when the shares recorded consumed capacity.)
            out[i] = info.copy_with(
                capacity_left=left,
                counters_prepaid=info.shareable and state.is_device_allocated(info.id),
            )
        return tuple(out)

    def index_of(self, attribute: str, list_types: bool) -> dict[tuple[str, Any], list[int]]:
        """Device indices (ascending) per (kind, element) of ``attribute``."""
        key = (attribute, list_types)
        found = self.attr_index.get(key)
        if found is None:
            found = {}
            for info in self.devices:
                value = info.attribute(attribute, list_types)
                if value is None or not value.kind:
                    continue
                for element in value.values:
                    found.setdefault((value.kind, element), []).append(info.index)
            self.attr_index[key] = found
        return found


def _total_need(
    consumes: tuple[tuple[CounterKey, Quantity], ...],
) -> tuple[tuple[CounterKey, Fraction], ...]:
    """Sum what a device consumes per counter (a counter may be named twice)."""
    if not consumes:
        return ()
    need: dict[CounterKey, Fraction] = {}
    for key, amount in consumes:
        need[key] = need.get(key, Fraction(0)) + amount.value
    return tuple(need.items())


class _PoolCounters(Mapping[PoolID, dict[CounterKey, "Quantity"]]):
    """The counters still available per pool, worked out for a pool when first asked.

    Counters of every device that is in use in any way are used up; that never
    changes during one call (the state is fixed), so each pool is done once.
    """

    __slots__ = ("_done", "_pools", "_state")

    def __init__(self, pools: Mapping[PoolID, Pool], state: AllocatedState) -> None:
        self._pools = pools
        self._state = state
        # pool -> (available quantities, their values, overdrawn)
        self._done: dict[
            PoolID, tuple[dict[CounterKey, Quantity], dict[CounterKey, Fraction], bool]
        ] = {}

    def _pool(
        self, pool_id: PoolID
    ) -> tuple[dict[CounterKey, Quantity], dict[CounterKey, Fraction], bool] | None:
        hit = self._done.get(pool_id)
        if hit is not None:
            return hit
        pool = self._pools.get(pool_id)
        if pool is None:
            return None
        state = self._state
        available: dict[CounterKey, Quantity] = {}
        for set_name, counter_set in pool.counter_sets.items():
            for cname, counter in (counter_set.counters or {}).items():
                available[(set_name, cname)] = counter.value
        for slice_entry in [*pool.slices, *pool.slices_not_targeting_node]:
            for entry in slice_entry.devices:
                if not entry.device.consumes_counters:
                    continue
                if not state.is_device_allocated(entry.id):
                    continue
                for consumption in entry.device.consumes_counters:
                    for cname, counter in (consumption.counters or {}).items():
                        key = (consumption.counter_set, cname)
                        if key in available:
                            available[key] = available[key].sub(counter.value)
        values = {key: q.value for key, q in available.items()}
        hit = (available, values, any(v < 0 for v in values.values()))
        self._done[pool_id] = hit
        return hit

    def __getitem__(self, pool_id: PoolID) -> dict[CounterKey, Quantity]:
        hit = self._pool(pool_id)
        if hit is None:
            raise KeyError(pool_id)
        return hit[0]

    def __iter__(self) -> Iterator[PoolID]:
        return iter(self._pools)

    def __len__(self) -> int:
        return len(self._pools)

    def values_of(self, pool_id: PoolID) -> dict[CounterKey, Fraction]:
        """Return the pool's available counters as numbers ({} for a pool without any)."""
        hit = self._pool(pool_id)
        return hit[1] if hit is not None else {}

    def overdrawn(self, pool_id: PoolID) -> bool:
        """Whether devices in use already consume more than the pool's counters."""
        hit = self._pool(pool_id)
        return hit is not None and hit[2]


class _Table:
    """One node's device table in one allocated state, and what is computed from it.

    It depends on the node (name and labels), the allocated state (and its version)
    and the inventory's slices and features, and lives in ``Inventory.scratch`` under
    that key, so that the next call for the same node and state finds it. What does
    not depend on the state is in its :class:`_Static`, shared across states.
    """

    __slots__ = (
        "by_entry",
        "candidate_cache",
        "counters",
        "devices",
        "has_invalid_pools",
        "node_key",
        "pools",
        "state_ref",
        "static",
    )

    def __init__(self, state: AllocatedState, static: _Static, node: Any) -> None:
        self.state_ref = weakref.ref(state)
        self.static = static
        self.node_key = node
        self.pools = static.pools
        self.has_invalid_pools = static.has_invalid_pools
        self.devices = static.devices_for(state)
        self.counters = _PoolCounters(static.counter_pools, state)
        # request signature -> (device class, its lazily evaluated candidates)
        self.candidate_cache: dict[tuple[Any, ...], tuple[DeviceClass, _LazyCandidates]] = {}
        # id(inventory entry) -> device, built when an All request first needs it
        self.by_entry: dict[int, DeviceInfo] | None = None


def _static_for(inventory: Inventory, node: Node | None, nkey: Any) -> _Static:
    """Return the state-free table of the pools ``node`` sees (shared by such nodes)."""
    pools = inventory.pools_for_node(node)
    scratch = inventory.scratch
    hit = scratch.get(("static-of", nkey))
    if hit is not None and hit[0] is pools:
        return hit[1]  # type: ignore[no-any-return]
    # Nodes that see the same slices get the same Pool objects (Inventory._gather),
    # which the table holds: their ids name the content while it is cached.
    content = HashedTuple(map(id, pools))
    static: _Static | None = scratch.get(("static", content))
    if static is None:
        static = _Static(pools, inventory.features)
        inventory.remember(("static", content), static)
    inventory.remember(("static-of", nkey), (pools, static))
    return static


class _Builder:
    def __init__(
        self,
        inventory: Inventory,
        node: Node | None,
        claims: Sequence[ResourceClaim],
        classes: Mapping[str, DeviceClass],
        state: AllocatedState,
        features: Features,
    ) -> None:
        self.inventory = inventory
        self.node = node
        self.claims = claims
        self.classes = classes
        self.state = state
        self.features = features
        self.check_abort: Callable[[], None] | None = None
        # Selectors seen by this builder: the first use of one may compile it (tens of
        # milliseconds for a 10 KiB expression), so the deadline and the cancel flag
        # are checked before each new one, not only every few devices.
        self._seen_selectors: set[str] = set()
        # The table and the candidate lists computed from it are cached under what
        # they depend on (see _Table); the pools come with it.
        nkey = node_key(node)
        key = ("devices", nkey, id(state), state.version)
        table: _Table | None = inventory.scratch.get(key)
        if table is None or table.state_ref() is not state:
            table = _Table(state, _static_for(inventory, node, nkey), nkey)
            inventory.remember(key, table)
        self.table = table
        self.pools = table.pools
        self.devices = table.devices
        self.counters = table.counters

    @property
    def by_entry(self) -> dict[int, DeviceInfo]:
        """The table's devices by ``id`` of their inventory entry."""
        found = self.table.by_entry
        if found is None:
            found = self.table.by_entry = {id(d.entry): d for d in self.devices}
        return found

    def _selection(self, req: _Req) -> _Selection:
        """Return what is known of which devices ``req``'s selectors select (any state).

        Kept with the state-free table: selectors depend on neither the state nor the
        claim that names them (its name is only in error texts), nor on the node, except
        through per-device node selection.
        """
        table = self.table
        static = table.static
        key = (table.node_key if static.node_dependent else None, req.signature[:2])
        known = static.selectable
        hit = known.get(key)
        if hit is None or hit.device_class is not req.device_class:
            if len(known) >= _MAX_SELECTOR_SETS:
                known.clear()  # a long-lived table asked by ever new selectors: start over
            hit = known[key] = _Selection(req.device_class)
        return hit

    def selectable_memo(self, req: _Req) -> dict[int, Any]:
        """Per device index, whether ``req`` selects it (see :meth:`candidate_exact`)."""
        return self._selection(req).memo

    def poison_free(self, req: _Req) -> bool:
        """Whether no selector of ``req`` fails on any device of the table (any state)."""
        selection = self._selection(req)
        if selection.poison_free is None:
            memo = selection.memo
            check = self.check_abort
            free = True
            for i, info in enumerate(self.table.static.devices):
                if check is not None and i % 64 == 63:
                    check()
                ok = memo.get(i)
                if ok is None:
                    try:
                        ok = self._selectable(req, info.entry)
                    except InputError:
                        ok = _FAILS
                    memo[i] = ok
                if ok is _FAILS:
                    free = False
                    break
            selection.poison_free = free
        return selection.poison_free

    # devices and counters ---------------------------------------------------------

    def _counters_fit_alone(self, info: DeviceInfo) -> bool:
        if not info.need or info.counters_prepaid:
            return True
        counters = self.counters
        if counters.overdrawn(info.pool):
            return False
        available = counters.values_of(info.pool)
        for key, total in info.need:
            have = available.get(key)
            if have is None or total > have:
                return False
        return True

    # selection ----------------------------------------------------------------------

    def _selectors_match(
        self,
        entry: DeviceEntry,
        selectors: Sequence[DeviceSelector],
        owner: tuple[str, str],
        claim: str | None,
        request: str | None,
    ) -> bool:
        # owner: ("class", class name) or ("claim", claim ref); the message prefix
        # is only built when a selector fails.
        for i, selector in enumerate(selectors):
            if selector.cel is None:
                raise AllocationInputError(
                    f"{owner[0]} {owner[1]}, selector #{i}: CEL expression empty (unsupported "
                    "selector type?)",
                    claim=claim,
                    request=request,
                )
            expression = selector.cel.expression
            if self.check_abort is not None and expression not in self._seen_selectors:
                self._seen_selectors.add(expression)
                self.check_abort()
            try:
                if not entry.matches(expression):
                    return False
            except CELError as err:
                raise type(err)(
                    f"{owner[0]} {owner[1]}: selector #{i}: {err}",
                    expression=err.expression,
                    device=str(entry.id),
                ) from err
        return True

    def _selectable(self, req: _Req, entry: DeviceEntry) -> bool:
        device = entry.device
        if not self.features.device_binding_and_status and device.binding_conditions:
            return False
        cls = req.device_class
        if (
            cls.spec is not None
            and cls.spec.selectors
            and not self._selectors_match(
                entry, cls.spec.selectors, ("class", str(cls.metadata.name)), None, None
            )
        ):
            return False
        if req.selectors and not self._selectors_match(
            entry, req.selectors, ("claim", req.claim_ref), req.claim_ref, req.name
        ):
            return False
        if entry.slice.per_device_node_selection:
            try:
                return node_matches(
                    self.node, device.node_name or "", bool(device.all_nodes), device.node_selector
                )
            except ValueError as err:
                raise AllocationInputError(
                    f"failed to perform node selection for device {device.name}: {err}",
                    device=str(entry.id),
                ) from None
        return True

    def _capacity_ok(self, req: _Req, info: DeviceInfo) -> bool:
        if not self.features.consumable_capacity:
            return True
        capacity = info.entry.device.capacity or {}
        fits = request_fits_capacity(
            req.capacity_requests, capacity, self.state.consumed_capacity(info.id)
        )
        return bool(fits)

    def _statically_usable(
        self, req: _Req, info: DeviceInfo, *, dedicated_checked: bool = False
    ) -> bool:
        device = info.entry.device
        if not dedicated_checked and not req.admin_access and self.state.is_dedicated(info.id):
            return False
        if not self.features.partitionable_devices and device.consumes_counters:
            return False
        if not self._counters_fit_alone(info):
            return False
        return not (self.features.device_taints and _taint_blocks(info.entry, req.tolerations))

    def _demand(self, req: _Req, info: DeviceInfo) -> dict[str, Quantity]:
        capacity = info.entry.device.capacity
        if not capacity or not self.features.consumable_capacity:
            return {}
        return consumed_capacity(req.capacity_requests, capacity)

    def candidates_exact(self, req: _Req) -> _LazyCandidates:
        """Return the candidates of an ExactCount request, to be evaluated on demand."""
        cache = self.table.candidate_cache
        hit = cache.get(req.signature)
        if hit is not None and hit[0] is req.device_class:
            return hit[1]
        found = _LazyCandidates(req)
        found.memo = self.selectable_memo(req)
        cache[req.signature] = (req.device_class, found)
        return found

    def candidate_exact(
        self, req: _Req, info: DeviceInfo, memo: dict[int, Any] | None = None
    ) -> Candidate | None:
        """Device ``info`` as a candidate of ExactCount ``req``; None when it is not one.

        A selector error (or a malformed per-device node selector) gives a poisoned
        candidate instead of raising.
        """
        # Checking "in use" comes first, as in Kubernetes: a device in use is never
        # evaluated, so its selector errors never surface.
        if not req.admin_access and self.state.is_dedicated(info.id):
            return None
        if memo is not None:
            # Whether a device is selectable does not depend on the state: kept per
            # table content and request (True, False, or _FAILS for an error, which is
            # worked out again so that each call raises its own error object).
            ok = memo.get(info.index)
            if ok is None:
                try:
                    ok = self._selectable(req, info.entry)
                except InputError:
                    ok = _FAILS
                memo[info.index] = ok
            if ok is False:
                return None
        if memo is None or ok is _FAILS:
            try:
                if not self._selectable(req, info.entry):
                    return None
            except InputError as err:
                return Candidate(info.index, error=err)
        if not self._capacity_ok(req, info):
            return None
        if not self._statically_usable(req, info, dedicated_checked=True):
            return None
        return Candidate(info.index, self._demand(req, info))

    def candidates_all(self, req: _Req) -> list[Candidate]:
        out: list[Candidate] = []
        for pool in self.pools:
            if pool.incomplete:
                raise AllocationInputError(
                    f"claim {req.claim_ref}, request {req.name}: asks for all devices, but "
                    f"resource pool {pool.id} is currently being updated",
                    claim=req.claim_ref,
                    request=req.full_name,
                )
            if pool.invalid:
                raise AllocationInputError(
                    f"claim {req.claim_ref}, request {req.name}: asks for all devices, but "
                    f"resource pool {pool.id} is currently invalid",
                    claim=req.claim_ref,
                    request=req.full_name,
                )
            for slice_entry in pool.slices:
                if self.check_abort is not None:
                    self.check_abort()
                for entry in slice_entry.devices:
                    if not self._selectable(req, entry):
                        continue
                    info = self.by_entry[id(entry)]
                    if not self._capacity_ok(req, info):
                        continue
                    out.append(
                        Candidate(
                            info.index,
                            self._demand(req, info),
                            usable=self._statically_usable(req, info),
                        )
                    )
        return out


class _Req(Record):
    """A request or subrequest, checked (Kubernetes' requestAccessor).

    Everything here depends on the claim, the class and the features only, never on
    the node, so it is worked out once per claim (see :class:`_ClaimPlan`).
    """

    __slots__ = (
        "admin_access",
        "capacity_requests",
        "claim_ref",
        "class_name",
        "constraints",
        "count",
        "device_class",
        "full_name",
        "keys",
        "mode",
        "name",
        "request",
        "request_name",
        "selectors",
        "signature",
        "subrequest",
        "tolerations",
    )

    claim_ref: str
    name: str
    full_name: str
    class_name: str
    device_class: DeviceClass
    mode: str
    count: int
    admin_access: bool
    selectors: Sequence[DeviceSelector]
    tolerations: tuple[DeviceToleration, ...]
    capacity_requests: Mapping[str, Quantity] | None
    request: int
    subrequest: int | None
    request_name: str
    signature: tuple[Any, ...]
    constraints: tuple[int, ...]
    keys: dict[int, RequestKey]

    def __init__(
        self,
        claim_ref: str,
        name: str,
        full_name: str,
        class_name: str,
        device_class: DeviceClass,
        mode: str,
        count: int,
        admin_access: bool,
        selectors: Sequence[DeviceSelector],
        tolerations: tuple[DeviceToleration, ...],
        capacity_requests: Mapping[str, Quantity] | None,
        request: int = 0,
        subrequest: int | None = None,
        request_name: str = "",
        signature: tuple[Any, ...] = (),
        constraints: tuple[int, ...] = (),
        keys: dict[int, RequestKey] | None = None,
    ) -> None:
        self.claim_ref = claim_ref
        self.name = name
        self.full_name = full_name
        self.class_name = class_name
        self.device_class = device_class
        self.mode = mode
        self.count = count
        self.admin_access = admin_access
        self.selectors = selectors
        self.tolerations = tolerations
        self.capacity_requests = capacity_requests
        self.request = request
        self.subrequest = subrequest
        self.request_name = request_name
        self.signature = signature
        self.constraints = constraints
        self.keys = {} if keys is None else keys


class _SlotPlan:
    """One request of a claim, checked: one alternative, or its subrequests."""

    # A plain class, not a dataclass: generating a dataclass's methods costs about half
    # a millisecond of every process's import.
    __slots__ = ("alternatives", "first_available", "name", "request")

    def __init__(
        self, request: int, name: str, alternatives: tuple[_Req, ...], first_available: bool
    ) -> None:
        self.request = request
        self.name = name
        self.alternatives = alternatives
        self.first_available = first_available


class _ClaimPlan:
    """What building a problem works out from a claim alone, kept for the next call.

    Checking a claim's requests (classes, modes, feature switches, selectors present)
    and parsing its constraints does not depend on the node, the slices or the
    allocated state: a scheduler checks the same claims on every node. So it is done
    once per claim object and reused while the claim, the features and every class the
    claim names are the same objects (``uses``). Only claims that pass every check get
    a plan; a claim with an input error is checked again on every call, so that its
    error comes out in Kubernetes' order (after the errors of ``All`` requests before
    it, which depend on the node).

    Safe because models are treated as immutable, as the slices are: a changed claim
    or class is a new object (as with Kubernetes informers).
    """

    __slots__ = ("constraints", "features", "ref", "slots", "uses")

    def __init__(
        self,
        ref: str,
        slots: tuple[_SlotPlan, ...],
        constraints: tuple[tuple[int, Literal["match", "distinct"], str, frozenset[str]], ...],
        uses: tuple[tuple[str, DeviceClass], ...],
        features: Features,
    ) -> None:
        self.ref = ref
        self.slots = slots
        self.constraints = constraints
        self.uses = uses
        self.features = features


# Plans by claim object: id -> (weak reference to the claim, plan). Checked against the
# weak reference (a recycled id never matches) and cleared when it grows too big.
_PLANS: dict[int, tuple[weakref.ref[Any], _ClaimPlan]] = {}
_MAX_PLANS = 4096


def _cached_plan(
    claim: ResourceClaim, classes: Mapping[str, DeviceClass], features: Features
) -> _ClaimPlan | None:
    hit = _PLANS.get(id(claim))
    if hit is None or hit[0]() is not claim:
        return None
    plan = hit[1]
    if plan.features is not features and plan.features != features:
        return None
    for name, device_class in plan.uses:
        if classes.get(name) is not device_class:
            return None
    return plan


def _remember_plan(claim: ResourceClaim, plan: _ClaimPlan) -> None:
    key = id(claim)

    def _forget(ref: weakref.ref[Any], key: int = key) -> None:
        # The claim is gone: drop its plan (unless the id already holds another's).
        current = _PLANS.get(key)
        if current is not None and current[0] is ref:
            _PLANS.pop(key, None)

    try:
        ref = weakref.ref(claim, _forget)
    except TypeError:  # pragma: no cover - objects without weak references
        return
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[key] = (ref, plan)


def build_problem(
    *,
    inventory: Inventory,
    node: Node | None,
    claims: Sequence[ResourceClaim],
    classes: Mapping[str, DeviceClass],
    allocated_state: AllocatedState,
    features: Features,
    check_abort: Callable[[], None] | None = None,
) -> Problem:
    """Check the claims the way Kubernetes does and build the problem for ``node``.

    ``check_abort`` (optional) is called every few devices while selectors are
    evaluated; it raises to stop (a deadline or a cancellation).

    Raises:
        AllocationInputError: input that no node can satisfy, with Kubernetes' text
            ("claim default/c, request r: could not retrieve device class x: ...").
        CELCompileError, CELRuntimeError: a selector error found while checking an
            ``All`` request (ExactCount requests get poisoned candidates instead).

    """
    builder = _Builder(inventory, node, claims, classes, allocated_state, features)
    builder.check_abort = check_abort
    table = builder.table
    return Problem(
        node=node,
        features=features,
        claims=tuple([_claim_info(builder, c, claim) for c, claim in enumerate(claims)]),
        devices=table.devices,
        pools=table.pools,
        counters=table.counters,
        has_invalid_pools=table.has_invalid_pools,
    )


def _claim_info(builder: _Builder, c: int, claim: ResourceClaim) -> ClaimInfo:
    """Build claim ``c`` of the problem, from its plan when it has one."""
    features = builder.features
    plan = _cached_plan(claim, builder.classes, features)
    slots: list[RequestSlot] = []
    min_devices = 0
    if plan is not None:
        ref = plan.ref
        for sp in plan.slots:
            alternatives = tuple([_request_info(builder, c, req) for req in sp.alternatives])
            if sp.first_available:
                min_devices += min(a.count for a in alternatives)
            else:
                min_devices += alternatives[0].count
            slots.append(RequestSlot(c, sp.request, sp.name, alternatives, sp.first_available))
    else:
        ref = claim_ref(claim)
        # Checked one (sub)request at a time, each followed by its candidates: an error
        # comes out where Kubernetes finds it (an All request's pool errors depend on
        # the node and come before the errors of later requests).
        infos: list[tuple[RequestInfo, _Req]] = []

        def materialize(req: _Req) -> None:
            infos.append((_request_info(builder, c, req), req))

        planned: list[_SlotPlan] = []
        for sp in _plan_slots(ref, claim, builder.classes, features, materialize):
            planned.append(sp)
            alternatives = tuple(info for info, _ in infos[-len(sp.alternatives) :])
            if sp.first_available:
                min_devices += min(a.count for a in alternatives)
            else:
                min_devices += alternatives[0].count
            slots.append(RequestSlot(c, sp.request, sp.name, alternatives, sp.first_available))
    if min_devices > MAX_DEVICES_PER_CLAIM:
        raise AllocationInputError(
            f"claim {ref}: number of requested devices {min_devices} exceeds the claim "
            f"limit of {MAX_DEVICES_PER_CLAIM}",
            claim=ref,
        )
    if plan is not None:
        specs = plan.constraints
    else:
        specs = _plan_constraints(ref, claim)
        uses: dict[str, DeviceClass] = {}
        for info, req in infos:
            uses.setdefault(req.class_name, req.device_class)
            if specs:
                sub = req.name if req.subrequest is not None else None
                req.constraints = tuple(
                    k
                    for k, (_, _, _, names) in enumerate(specs)
                    if _applies_to(names, req.request_name, sub)
                )
                info.constraints = req.constraints
        _remember_plan(claim, _ClaimPlan(ref, tuple(planned), specs, tuple(uses.items()), features))
    constraints: tuple[ConstraintInfo, ...] = ()
    if specs:
        lta = features.list_type_attributes
        constraints = tuple(
            ConstraintInfo(i, kind, attribute, names, lta) for i, kind, attribute, names in specs
        )
        table = builder.devices
        for slot in slots:
            for alt in slot.alternatives:
                for k in alt.constraints:
                    con = constraints[k]
                    known = alt._candidates
                    if known is None:
                        # Filled when read (or device by device, by value()).
                        con._pending.append((alt, table))
                        continue
                    for cand in known:
                        con.value(table[cand.device])
    return ClaimInfo(c, claim, ref, tuple(slots), constraints, min_devices)


def _applies_to(names: frozenset[str], request_name: str, subrequest_name: str | None) -> bool:
    """Whether a constraint naming ``names`` covers this request (or subrequest)."""
    if not names:
        return True
    if request_name in names:
        return True
    return subrequest_name is not None and f"{request_name}/{subrequest_name}" in names


def _plan_slots(
    ref: str,
    claim: ResourceClaim,
    classes: Mapping[str, DeviceClass],
    features: Features,
    then: Callable[[_Req], None],
) -> Iterator[_SlotPlan]:
    """Check the claim's requests in order, yielding each one's plan (or raising).

    ``then`` is called with each (sub)request right after it was checked, before the
    next one is.
    """
    devices_spec = claim.spec.devices if claim.spec is not None else None
    requests = list(devices_spec.requests or []) if devices_spec is not None else []
    for r, request in enumerate(requests):
        subrequests = list(request.first_available or [])
        if not features.prioritized_list and subrequests:
            raise AllocationInputError(
                f"claim {ref}, request {request.name}: has subrequests, but the "
                "DRAPrioritizedList feature is disabled",
                claim=ref,
                request=request.name,
            )
        if not features.consumable_capacity:
            if request.exactly is not None and request.exactly.capacity is not None:
                raise AllocationInputError(
                    f"claim {ref}, request {request.name}: has capacity requests, but the "
                    "DRAConsumableCapacity feature is disabled",
                    claim=ref,
                    request=request.name,
                )
            for sub in subrequests:
                if sub.capacity is not None:
                    raise AllocationInputError(
                        f"claim {ref}, subrequest {sub.name}: has capacity requests, but "
                        "the DRAConsumableCapacity feature is disabled",
                        claim=ref,
                        request=f"{request.name}/{sub.name}",
                    )
        alternatives: list[_Req] = []
        if subrequests:
            for s, sub in enumerate(subrequests):
                alternatives.append(
                    _plan_request(ref, r, s, request.name, sub, True, classes, features)
                )
                then(alternatives[-1])
        else:
            alternatives.append(
                _plan_request(ref, r, None, request.name, request, False, classes, features)
            )
            then(alternatives[-1])
        yield _SlotPlan(r, request.name, tuple(alternatives), bool(subrequests))


def _plan_constraints(
    ref: str, claim: ResourceClaim
) -> tuple[tuple[int, Literal["match", "distinct"], str, frozenset[str]], ...]:
    """Parse the claim's constraints: (index, kind, attribute, request names)."""
    devices_spec = claim.spec.devices if claim.spec is not None else None
    out: list[tuple[int, Literal["match", "distinct"], str, frozenset[str]]] = []
    for i, constraint in enumerate(
        (devices_spec.constraints or []) if devices_spec is not None else []
    ):
        names = frozenset(constraint.requests or ())
        if constraint.match_attribute is not None:
            out.append((i, "match", constraint.match_attribute, names))
        elif constraint.distinct_attribute is not None:
            out.append((i, "distinct", constraint.distinct_attribute, names))
        else:
            raise AllocationInputError(
                f"claim {ref}, constraint #{i}: empty constraint (unsupported constraint type?)",
                claim=ref,
            )
    return tuple(out)


def _plan_request(
    ref: str,
    r: int,
    s: int | None,
    parent_name: str,
    request: Any,
    is_sub: bool,
    classes: Mapping[str, DeviceClass],
    features: Features,
) -> _Req:
    """Kubernetes' validateDeviceRequest for a request (``exactly``) or a subrequest."""
    name: str = request.name
    full_name = f"{parent_name}/{name}" if is_sub else name
    spec = request if is_sub else request.exactly
    if spec is None:
        raise AllocationInputError(
            f"claim {ref}, request {name}: missing device class name (unsupported request type?)",
            claim=ref,
            request=full_name,
        )
    selectors = list(spec.selectors or [])
    for i, selector in enumerate(selectors):
        if selector.cel is None:
            raise AllocationInputError(
                f"claim {ref}, request {name}, selector #{i}: CEL expression empty "
                "(unsupported selector type?)",
                claim=ref,
                request=full_name,
            )
    admin_set = (not is_sub) and spec.admin_access is not None
    if not features.admin_access and admin_set:
        raise AllocationInputError(
            f"claim {ref}, request {name}: admin access is requested, but the feature is disabled",
            claim=ref,
            request=full_name,
        )
    class_name = spec.device_class_name or ""
    if not class_name:
        raise AllocationInputError(
            f"claim {ref}, request {name}: missing device class name (unsupported request type?)",
            claim=ref,
            request=full_name,
        )
    device_class = classes.get(class_name)
    if device_class is None:
        raise AllocationInputError(
            f"claim {ref}, request {name}: could not retrieve device class {class_name}: "
            f'deviceclass.resource.k8s.io "{class_name}" not found',
            claim=ref,
            request=full_name,
        )
    mode = spec.allocation_mode or ""
    if mode not in ("ExactCount", "All"):
        hint = (
            ""
            if mode
            else " (allocationMode is not set; dra_core.load applies the API server's"
            " default, ExactCount, or set it in the request)"
        )
        raise AllocationInputError(
            f"claim {ref}, request {name}: unsupported count mode {mode}{hint}",
            claim=ref,
            request=full_name,
        )
    capacity = spec.capacity
    req = _Req(
        claim_ref=ref,
        name=name,
        full_name=full_name,
        class_name=class_name,
        device_class=device_class,
        mode=mode,
        count=int(spec.count or 0) if mode == "ExactCount" else 0,
        admin_access=bool(spec.admin_access) if not is_sub else False,
        selectors=selectors,
        tolerations=tuple(spec.tolerations or ()),
        capacity_requests=(dict(capacity.requests) if capacity and capacity.requests else None),
        request=r,
        subrequest=s,
        request_name=parent_name,
    )
    if mode == "ExactCount":
        # Candidates depend only on the device table and what the request asks
        # for; errors name the claim only through its selectors.
        req.signature = (
            class_name,
            tuple(sel.cel.expression if sel.cel is not None else None for sel in selectors),
            ref if selectors else "",
            tuple(sorted((k, v.value) for k, v in (req.capacity_requests or {}).items())),
            tuple((t.key, t.operator, t.value, t.effect) for t in req.tolerations),
            req.admin_access,
        )
    return req


def _request_info(builder: _Builder, c: int, req: _Req) -> RequestInfo:
    """Return the request's :class:`RequestInfo` on this node (``All``: its candidates now)."""
    key = req.keys.get(c)
    if key is None:
        key = req.keys[c] = RequestKey(c, req.request, req.subrequest)
    if req.mode == "ExactCount":
        # RequestInfo.__init__'s ExactCount branch, without the keyword arguments: this
        # runs for every request on every node.
        lazy = builder.candidates_exact(req)
        info = RequestInfo.__new__(RequestInfo)
        info.key = key
        info.name = req.full_name
        info.request_name = req.request_name
        info.subrequest_name = req.name if req.subrequest is not None else None
        info.class_name = req.class_name
        info.device_class = req.device_class
        info.all_devices = False
        info.count = req.count
        info.admin_access = req.admin_access
        info.tolerations = req.tolerations
        info.constraints = req.constraints
        info._builder = builder
        info._check = builder.check_abort
        info._lazy = lazy
        info._candidates = lazy.known()
        info._has_poison = lazy.poisoned
        return info
    candidates = tuple(builder.candidates_all(req))
    return RequestInfo(
        key=key,
        name=req.full_name,
        request_name=req.request_name,
        subrequest_name=req.name if req.subrequest is not None else None,
        class_name=req.class_name,
        device_class=req.device_class,
        all_devices=True,
        count=len(candidates),
        admin_access=req.admin_access,
        tolerations=req.tolerations,
        candidates=candidates,
        constraints=req.constraints,
        builder=builder,
    )
