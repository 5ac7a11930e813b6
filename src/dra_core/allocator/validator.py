"""The solver-independent validator: the specification of a valid allocation.

`validate_allocation` checks a set of allocation results against the claims, the device
classes, the ResourceSlices, the devices already in use and the node, with no knowledge of
how the results were found. Every engine's output goes through it in the tests, so it is
written to be obviously right rather than fast: each rule is a plain loop over the
results, and each rule is one function named after what it checks.

It checks *validity*, not *preference*: Kubernetes' allocator returns the first valid
solution in its search order, and whether a result is that first one is a question for the
conformance cases, not for this module.

The rules, by function:

- `_check_shape`: one result per claim; every device result names an existing request
  (``req`` or ``req/sub``); one subrequest per request; at most 32 devices per claim.
- `_check_devices`: the device exists in a complete, valid pool that this node can use;
  it matches the class and request selectors; binding conditions and counter consumption
  only with their features on; taints are tolerated; the result copies the request's
  admin access, tolerations and binding conditions.
- `_check_counts`: ExactCount gives exactly ``count`` devices; All gives every
  selectable device on the node, and at least one.
- `_check_exclusive_use`: a device that is not shared (``allowMultipleAllocations``) is
  used once, by one claim, and is not already allocated. Admin access does not count.
- `_check_capacity`: consumable capacity: consumed amounts follow the request policy and
  add up, with what is already consumed, to no more than the device's capacity; shared
  results carry a share id.
- `_check_counters`: shared counters consumed by devices in use fit in their counter sets.
- `_check_constraints`: ``matchAttribute`` and ``distinctAttribute``, scoped to requests
  or subrequests, on scalar and list-typed attributes.
- `_check_node_selector`: the result's node selector admits this node, and pins the
  allocation to it when a device is node-local.

Counters are keyed by driver *and* pool. Kubernetes 1.36 keys them by pool name only, so
two drivers that use the same pool and counter-set names use up each other's counters
there; dra-core treats that as the upstream bug it is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TypeVar

from dra_core.api import (
    AllocationResult,
    CapacityRequestPolicy,
    Device,
    DeviceAttribute,
    DeviceCapacity,
    DeviceClass,
    DeviceRequestAllocationResult,
    DeviceTaint,
    DeviceToleration,
    Node,
    NodeSelector,
    ResourceClaim,
    ResourceSlice,
)
from dra_core.api.quantity import Quantity
from dra_core.cel import CelDevice, compile_selector
from dra_core.errors import CELError
from dra_core.features import Features

__all__ = ["Violation", "validate_allocation"]

#: Kubernetes' limit on device results per claim (resourceapi.AllocationResultsMaxSize).
MAX_DEVICES_PER_CLAIM = 32

_T = TypeVar("_T")


def _seq(items: Sequence[_T] | None) -> Sequence[_T]:
    return items if items is not None else ()


def _map(items: Mapping[str, _T] | None) -> Mapping[str, _T]:
    return items if items is not None else {}


@dataclass(frozen=True, slots=True)
class Violation:
    """One way in which an allocation breaks the rules.

    Attributes:
        rule: the rule that is broken, e.g. ``"exclusive-use"`` or ``"match-attribute"``.
        message: what is wrong, in words.
        claim: ``namespace/name`` of the claim, when the problem is in one claim.
        request: the request (``req`` or ``req/sub``), when known.
        device: ``driver/pool/device``, when a device is involved.

    """

    rule: str
    message: str
    claim: str | None = None
    request: str | None = None
    device: str | None = None

    def __str__(self) -> str:
        where = ", ".join(
            f"{k} {v}"
            for k, v in (("claim", self.claim), ("request", self.request), ("device", self.device))
            if v
        )
        return (
            f"[{self.rule}] {where}: {self.message}" if where else f"[{self.rule}] {self.message}"
        )


@dataclass(frozen=True, slots=True)
class _DeviceKey:
    driver: str
    pool: str
    device: str

    def __str__(self) -> str:
        return f"{self.driver}/{self.pool}/{self.device}"


@dataclass(slots=True)
class _PoolView:
    """The devices of one pool that the node can use, and the pool's counter sets."""

    driver: str
    name: str
    complete: bool = True
    invalid: str | None = None
    devices: dict[str, tuple[ResourceSlice, Device]] = field(default_factory=dict)
    counters: dict[str, dict[str, Quantity]] = field(default_factory=dict)
    all_devices: dict[str, Device] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _RequestView:
    """A request or the chosen subrequest, with what the rules need of it."""

    name: str  # "req" or "req/sub"
    parent: str  # "req"
    class_name: str | None
    selectors: tuple[str, ...]
    mode: str
    count: int
    admin_access: bool
    tolerations: tuple[DeviceToleration, ...]
    capacity_requests: Mapping[str, Quantity]


# --------------------------------------------------------------------------- helpers


def _claim_name(claim: ResourceClaim) -> str:
    ns = claim.metadata.namespace if claim.metadata else None
    name = claim.metadata.name if claim.metadata else None
    return f"{ns}/{name}" if ns else str(name)


def _label_matches(node: Node, requirement: Any) -> bool:
    labels = _map(node.metadata.labels if node.metadata else None)
    key, op, values = requirement.key, requirement.operator, list(_seq(requirement.values))
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt"):
        if key not in labels or len(values) != 1:
            return False
        try:
            have, want = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def _field_matches(node: Node, requirement: Any) -> bool:
    if requirement.key != "metadata.name":
        return False
    name = node.metadata.name if node.metadata else None
    values = list(_seq(requirement.values))
    if requirement.operator == "In":
        return name in values
    if requirement.operator == "NotIn":
        return name not in values
    return False


def _selector_matches(node: Node, selector: NodeSelector) -> bool:
    # Terms are ORed; the requirements of one term are ANDed; an empty term matches nothing.
    for term in _seq(selector.node_selector_terms):
        exprs = list(_seq(term.match_expressions))
        fields_ = list(_seq(term.match_fields))
        if not exprs and not fields_:
            continue
        if all(_label_matches(node, r) for r in exprs) and all(
            _field_matches(node, r) for r in fields_
        ):
            return True
    return False


def _node_matches(
    node: Node, node_name: str | None, all_nodes: bool | None, selector: NodeSelector | None
) -> bool:
    if node_name:
        return bool(node.metadata and node.metadata.name == node_name)
    if all_nodes:
        return True
    if selector is not None:
        return _selector_matches(node, selector)
    return False


def _slice_is_relevant(node: Node, s: ResourceSlice, features: Features) -> bool:
    spec = s.spec
    per_device = bool(spec.per_device_node_selection)
    if not features.partitionable_devices and (per_device or _seq(spec.shared_counters)):
        return False
    if _seq(spec.shared_counters):
        return True
    if spec.node_name or spec.all_nodes or spec.node_selector is not None:
        return _node_matches(node, spec.node_name, spec.all_nodes, spec.node_selector)
    if per_device:
        return any(
            _node_matches(node, d.node_name, d.all_nodes, d.node_selector)
            for d in _seq(spec.devices)
        )
    return False


def _gather_pools(
    node: Node, slices: Sequence[ResourceSlice], features: Features
) -> dict[tuple[str, str], _PoolView]:
    """Pools usable on the node: generation, completeness, validity.

    A pool's slices for this node are those of the newest generation among the slices
    that concern the node. They are complete when they are as many as
    ``resourceSliceCount``; otherwise the pool is complete when every slice of that
    generation in the cluster makes up the count (a multi-host pool), and obsolete (not
    usable at all) when the cluster already has a newer generation.
    """
    relevant: dict[tuple[str, str], list[ResourceSlice]] = defaultdict(list)
    for s in slices:
        if not _slice_is_relevant(node, s, features):
            continue
        key = (s.spec.driver, s.spec.pool.name)
        have = relevant[key]
        if have and s.spec.pool.generation < have[0].spec.pool.generation:
            continue
        if have and s.spec.pool.generation > have[0].spec.pool.generation:
            have.clear()
        have.append(s)

    pools: dict[tuple[str, str], _PoolView] = {}
    for key, mine in relevant.items():
        view = _PoolView(driver=key[0], name=key[1])
        generation = mine[0].spec.pool.generation
        count = mine[0].spec.pool.resource_slice_count
        same_pool = [s for s in slices if (s.spec.driver, s.spec.pool.name) == key]
        everywhere = [s for s in same_pool if s.spec.pool.generation == generation]
        if len(mine) != count:
            if any(s.spec.pool.generation > generation for s in same_pool):
                continue  # obsolete: a newer generation is being published
            view.complete = len(everywhere) == count
        seen: set[str] = set()
        for s in sorted(mine, key=lambda s: s.metadata.name or ""):
            if features.partitionable_devices and _seq(s.spec.shared_counters):
                for cs in _seq(s.spec.shared_counters):
                    if cs.name in view.counters:
                        view.invalid = f"duplicate counter set name {cs.name}"
                    view.counters[cs.name] = {n: c.value for n, c in _map(cs.counters).items()}
                continue
            for d in _seq(s.spec.devices):
                if d.name in seen:
                    view.invalid = f"duplicate device name {d.name}"
                seen.add(d.name)
                view.devices[d.name] = (s, d)
        for s in everywhere:
            if features.partitionable_devices and _seq(s.spec.shared_counters):
                continue
            for d in _seq(s.spec.devices):
                view.all_devices.setdefault(d.name, d)
        pools[key] = view
    return pools


@dataclass(frozen=True, slots=True)
class _Attr:
    """A device's attribute as the constraints see it.

    ``as_set``: (type, values), scalars as one-element sets, lists first; None when the
    attribute has no value of a known type (an empty list, say). ``scalar``: the scalar
    value, checked in Kubernetes' order (string, int, bool, version); None for lists.
    """

    raw: DeviceAttribute
    as_set: tuple[str, frozenset[Any]] | None
    scalar: tuple[str, Any] | None

    def field(self, kind: str) -> Any:
        """Return the scalar field of one type (None when that field is not set)."""
        return {
            "string": self.raw.string,
            "int": self.raw.int_,
            "bool": self.raw.bool_,
            "version": self.raw.version,
        }[kind]


def _attribute(attr: DeviceAttribute | None) -> _Attr | None:
    """Return the attribute as constraints see it, or None when the device lacks it."""
    if attr is None:
        return None
    as_set: tuple[str, frozenset[Any]] | None = None
    for kind, many in (
        ("int", attr.ints),
        ("bool", attr.bools),
        ("string", attr.strings),
        ("version", attr.versions),
    ):
        if many:
            as_set = (kind, frozenset(many))
            break
    scalar: tuple[str, Any] | None = None
    for kind, one in (
        ("string", attr.string),
        ("int", attr.int_),
        ("bool", attr.bool_),
        ("version", attr.version),
    ):
        if one is not None:
            scalar = (kind, one)
            break
    if as_set is None and scalar is not None:
        as_set = (scalar[0], frozenset([scalar[1]]))
    return _Attr(attr, as_set, scalar)


def _lookup_attribute(device: Device, driver: str, qualified: str) -> DeviceAttribute | None:
    attrs = _map(device.attributes)
    if qualified in attrs:
        return attrs[qualified]
    domain, sep, ident = qualified.partition("/")
    if sep and domain == driver:
        return attrs.get(ident)
    return None


def _tolerates(toleration: DeviceToleration, taint: DeviceTaint) -> bool:
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    if toleration.operator in (None, "", "Equal"):
        return (toleration.value or "") == (taint.value or "")
    return toleration.operator == "Exists"


# The request-policy arithmetic below restates Kubernetes' rules rather than calling the
# allocator's own (allocator/capacity.py) on purpose: the validator is the specification the
# engines are checked against, so it must not share their code.


def _round_up_range(requested: Quantity, policy: CapacityRequestPolicy) -> Quantity:
    rng = policy.valid_range
    assert rng is not None and rng.min is not None
    if requested.cmp(rng.min) < 0:
        return rng.min
    if rng.step is None:
        return requested
    # Go works on Value(), the integer rounded up.
    req, step, low = _ceil(requested.value), _ceil(rng.step.value), _ceil(rng.min.value)
    n, mod = divmod(req - low, step)
    if mod:
        n += 1
    return Quantity.from_int(low + step * n, "BinarySI")


def _ceil(value: Fraction) -> int:
    return -((-value.numerator) // value.denominator)


def _consumed(requested: Quantity | None, capacity: DeviceCapacity) -> Quantity:
    """Return what a request consumes of one capacity, after the policy's rounding."""
    policy = capacity.request_policy
    if requested is None:
        if policy is not None and policy.default is not None:
            return policy.default
        return capacity.value
    if policy is None:
        return requested
    if policy.valid_range is not None and policy.valid_range.min is not None:
        return _round_up_range(requested, policy)
    if policy.valid_values is not None:
        for v in policy.valid_values:
            if requested.cmp(v) <= 0:
                return v
    return requested


def _violates_policy(value: Quantity, policy: CapacityRequestPolicy | None) -> bool:
    if policy is None:
        return False
    if policy.default is not None and value == policy.default:
        return False
    rng = policy.valid_range
    if rng is not None:
        if rng.max is not None and value.cmp(rng.max) > 0:
            return True
        if rng.step is not None and rng.min is not None:
            return (_ceil(value.value) - _ceil(rng.min.value)) % _ceil(rng.step.value) != 0
        return False
    if policy.valid_values:
        return all(value.cmp(v) != 0 for v in policy.valid_values)
    return False


# --------------------------------------------------------------------------- the validator


class _Validation:
    def __init__(
        self,
        *,
        node: Node,
        claims: Sequence[ResourceClaim],
        results: Sequence[AllocationResult],
        slices: Sequence[ResourceSlice],
        classes: Sequence[DeviceClass],
        allocated_claims: Sequence[ResourceClaim],
        features: Features,
    ) -> None:
        self.node = node
        self.claims = claims
        self.results = results
        self.features = features
        self.classes = {c.metadata.name: c for c in classes if c.metadata}
        self.pools = _gather_pools(node, slices, features)
        self.allocated = [
            r
            for c in allocated_claims
            if c.status and c.status.allocation and c.status.allocation.devices
            for r in _seq(c.status.allocation.devices.results)
        ]
        # Capacity that the allocated claims' shared results consume, per device.
        self.allocated_capacity: dict[tuple[str, str, str], dict[str, Fraction]] = defaultdict(
            lambda: defaultdict(Fraction)
        )
        for r in self.allocated:
            for name, q in _map(r.consumed_capacity).items():
                self.allocated_capacity[(r.driver, r.pool, r.device)][name] += q.value
        self.violations: list[Violation] = []
        # (claim index, request name "req" or "req/sub") -> the entries for it.
        self.entries: dict[tuple[int, str], list[DeviceRequestAllocationResult]] = defaultdict(list)
        self.requests: dict[tuple[int, str], _RequestView] = {}

    def fail(self, rule: str, message: str, **where: str | None) -> None:
        self.violations.append(Violation(rule, message, **where))

    # -- lookups

    def device(self, entry: DeviceRequestAllocationResult) -> tuple[ResourceSlice, Device] | None:
        pool = self.pools.get((entry.driver, entry.pool))
        return pool.devices.get(entry.device) if pool else None

    def multi(self, device: Device) -> bool:
        return self.features.consumable_capacity and bool(device.allow_multiple_allocations)

    def selectable(self, req: _RequestView, slice_: ResourceSlice, device: Device) -> bool:
        """Class and request selectors, binding conditions and per-device node selection."""
        if not self.features.device_binding_and_status and _seq(device.binding_conditions):
            return False
        cls = self.classes.get(req.class_name or "")
        exprs: list[str] = []
        if cls is not None:
            exprs.extend(
                s.cel.expression for s in _seq(cls.spec.selectors if cls.spec else None) if s.cel
            )
        exprs.extend(req.selectors)
        cel_device = CelDevice.from_device(slice_.spec.driver, device)
        for expr in exprs:
            try:
                if not compile_selector(expr).matches(cel_device):
                    return False
            except CELError:
                return False
        if slice_.spec.per_device_node_selection:
            return _node_matches(
                self.node, device.node_name, device.all_nodes, device.node_selector
            )
        return True

    # -- rules

    def check_shape(self) -> None:
        if len(self.results) != len(self.claims):
            self.fail("shape", f"{len(self.results)} results for {len(self.claims)} claims")
            return
        for ci, (claim, result) in enumerate(zip(self.claims, self.results, strict=True)):
            cname = _claim_name(claim)
            spec_requests = _seq(claim.spec.devices.requests if claim.spec.devices else None)
            by_name = {r.name: r for r in spec_requests}
            for r in spec_requests:
                if r.exactly is not None:
                    e = r.exactly
                    self.requests[(ci, r.name)] = _RequestView(
                        name=r.name,
                        parent=r.name,
                        class_name=e.device_class_name,
                        selectors=tuple(s.cel.expression for s in _seq(e.selectors) if s.cel),
                        mode=e.allocation_mode or "ExactCount",
                        count=e.count if e.count is not None else 1,
                        admin_access=bool(e.admin_access),
                        tolerations=tuple(_seq(e.tolerations)),
                        capacity_requests=_map(e.capacity.requests if e.capacity else None),
                    )
                for sub in _seq(r.first_available):
                    full = f"{r.name}/{sub.name}"
                    self.requests[(ci, full)] = _RequestView(
                        name=full,
                        parent=r.name,
                        class_name=sub.device_class_name,
                        selectors=tuple(s.cel.expression for s in _seq(sub.selectors) if s.cel),
                        mode=sub.allocation_mode or "ExactCount",
                        count=sub.count if sub.count is not None else 1,
                        admin_access=False,
                        tolerations=tuple(_seq(sub.tolerations)),
                        capacity_requests=_map(sub.capacity.requests if sub.capacity else None),
                    )
            entries = list(_seq(result.devices.results if result.devices else None))
            if len(entries) > MAX_DEVICES_PER_CLAIM:
                self.fail(
                    "claim-limit",
                    f"{len(entries)} devices exceed the claim limit of {MAX_DEVICES_PER_CLAIM}",
                    claim=cname,
                )
            chosen: dict[str, str] = {}
            for entry in entries:
                key = (ci, entry.request)
                if key not in self.requests:
                    self.fail("shape", "no such request", claim=cname, request=entry.request)
                    continue
                parent = self.requests[key].parent
                if parent in chosen and chosen[parent] != entry.request:
                    self.fail(
                        "shape",
                        f"devices from two subrequests {chosen[parent]} and {entry.request}",
                        claim=cname,
                        request=parent,
                    )
                chosen[parent] = entry.request
                self.entries[key].append(entry)
            for name in by_name:
                if name not in chosen:
                    self.fail("count", "request got no devices", claim=cname, request=name)

    def check_devices(self) -> None:
        for (ci, rname), entries in self.entries.items():
            cname = _claim_name(self.claims[ci])
            req = self.requests[(ci, rname)]
            for entry in entries:
                dkey = str(_DeviceKey(entry.driver, entry.pool, entry.device))
                where = {"claim": cname, "request": rname, "device": dkey}
                pool = self.pools.get((entry.driver, entry.pool))
                found = self.device(entry)
                if pool is None or found is None:
                    self.fail("device", "not a device this node can use", **where)
                    continue
                if not pool.complete:
                    self.fail("pool", "pool is incomplete", **where)
                if pool.invalid:
                    self.fail("pool", f"pool is invalid: {pool.invalid}", **where)
                slice_, device = found
                if not self.selectable(req, slice_, device):
                    self.fail("selector", "device is not selectable for this request", **where)
                if not self.features.partitionable_devices and _seq(device.consumes_counters):
                    self.fail("counters", "consumes counters with the feature off", **where)
                if self.features.device_taints:
                    for taint in _seq(device.taints):
                        if taint.effect in ("NoSchedule", "NoExecute") and not any(
                            _tolerates(t, taint) for t in req.tolerations
                        ):
                            self.fail("taint", f"taint {taint.key} is not tolerated", **where)
                if bool(entry.admin_access) != req.admin_access:
                    self.fail("result", "adminAccess differs from the request", **where)
                if list(_seq(entry.tolerations)) != list(req.tolerations):
                    self.fail("result", "tolerations differ from the request", **where)
                if self.features.device_binding_and_status and list(
                    _seq(entry.binding_conditions)
                ) != list(_seq(device.binding_conditions)):
                    self.fail("result", "binding conditions not copied", **where)

    def check_counts(self) -> None:
        for (ci, rname), req in self.requests.items():
            entries = self.entries.get((ci, rname))
            if not entries:
                continue
            cname = _claim_name(self.claims[ci])
            if req.mode == "ExactCount":
                if len(entries) != req.count:
                    self.fail(
                        "count",
                        f"{len(entries)} devices for a request of {req.count}",
                        claim=cname,
                        request=rname,
                    )
            elif req.mode == "All":
                got = {(e.driver, e.pool, e.device) for e in entries}
                # Kubernetes fixes "all" before the search: the selectable devices
                # whose capacity can still hold the request.
                want = {
                    (p.driver, p.name, name)
                    for p in self.pools.values()
                    for name, (s, d) in p.devices.items()
                    if self.selectable(req, s, d)
                    and self.capacity_fits(req, (p.driver, p.name, name), d)
                }
                if got != want:
                    self.fail(
                        "count",
                        f"allocationMode All got {len(got)} devices, {len(want)} are selectable",
                        claim=cname,
                        request=rname,
                    )
            else:
                self.fail(
                    "count", f"unknown allocation mode {req.mode}", claim=cname, request=rname
                )

    def capacity_fits(self, req: _RequestView, key: tuple[str, str, str], device: Device) -> bool:
        """Whether the request fits in what the allocated claims left of the device."""
        if not self.features.consumable_capacity:
            return True
        capacity = _map(device.capacity)
        if set(req.capacity_requests) - set(capacity):
            return False
        for name, cap in capacity.items():
            amount = _consumed(req.capacity_requests.get(name), cap)
            if _violates_policy(amount, cap.request_policy):
                return False
            if self.allocated_capacity[key][name] + amount.value > cap.value.value:
                return False
        return True

    def _uses(self) -> Iterable[tuple[int, _RequestView, DeviceRequestAllocationResult]]:
        for (ci, rname), entries in self.entries.items():
            for e in entries:
                yield ci, self.requests[(ci, rname)], e

    def check_exclusive_use(self) -> None:
        allocated_exclusive = {
            (r.driver, r.pool, r.device)
            for r in self.allocated
            if not r.admin_access and r.share_id is None and not _map(r.consumed_capacity)
        }
        owner: dict[tuple[str, str, str], int] = {}
        admin_in_claim: set[tuple[int, tuple[str, str, str]]] = set()
        for ci, req, e in self._uses():
            found = self.device(e)
            if found is None or self.multi(found[1]):
                continue
            key = (e.driver, e.pool, e.device)
            where = {
                "claim": _claim_name(self.claims[ci]),
                "request": req.name,
                "device": "/".join(key),
            }
            if req.admin_access:
                if (ci, key) in admin_in_claim:
                    self.fail("exclusive-use", "used twice in one claim", **where)
                admin_in_claim.add((ci, key))
                continue
            if key in allocated_exclusive:
                self.fail("exclusive-use", "device is already allocated", **where)
            if key in owner:
                self.fail("exclusive-use", "device is allocated twice", **where)
            owner[key] = ci

    def check_capacity(self) -> None:
        if not self.features.consumable_capacity:
            return
        consumed: dict[tuple[str, str, str], dict[str, Fraction]] = defaultdict(
            lambda: defaultdict(Fraction)
        )
        for key, used in self.allocated_capacity.items():
            for name, already in used.items():
                consumed[key][name] += already
        for ci, req, e in self._uses():
            found = self.device(e)
            if found is None:
                continue
            device = found[1]
            key = (e.driver, e.pool, e.device)
            where = {
                "claim": _claim_name(self.claims[ci]),
                "request": req.name,
                "device": "/".join(key),
            }
            capacity = _map(device.capacity)
            missing = sorted(set(req.capacity_requests) - set(capacity))
            if missing:
                self.fail("capacity", f"requests undefined capacity {missing}", **where)
                continue
            for name, cap in capacity.items():
                amount = _consumed(req.capacity_requests.get(name), cap)
                if _violates_policy(amount, cap.request_policy):
                    self.fail("capacity", f"{name}: {amount} violates the request policy", **where)
                consumed[key][name] += amount.value
            if self.multi(device):
                if e.share_id is None:
                    self.fail("capacity", "shared device result without shareID", **where)
                want = {
                    n: _consumed(req.capacity_requests.get(n), c).value for n, c in capacity.items()
                }
                have = {n: q.value for n, q in _map(e.consumed_capacity).items()}
                if want != have:
                    self.fail("capacity", f"consumedCapacity {have} should be {want}", **where)
        for key, used in consumed.items():
            pool = self.pools.get((key[0], key[1]))
            located = pool.devices.get(key[2]) if pool else None
            if located is None:
                continue
            limits = _map(located[1].capacity)
            for name, total in used.items():
                limit = limits.get(name)
                if limit is not None and total > limit.value.value:
                    self.fail(
                        "capacity",
                        f"{name}: {total} consumed of {limit.value}",
                        device="/".join(key),
                    )

    def check_counters(self) -> None:
        """Counters consumed by devices in use fit in their counter sets.

        As in Kubernetes, a pool's counters are checked when the allocation takes a device
        that consumes counters from it, and then all of the pool's counters: a counter set
        that the allocated claims already overdrew blocks every new device of its pool.
        A shared device pays its counters once, when its first share is taken.
        """
        if not self.features.partitionable_devices:
            return
        allocated = {(r.driver, r.pool, r.device) for r in self.allocated if not r.admin_access}
        new = {(e.driver, e.pool, e.device) for _, req, e in self._uses() if not req.admin_access}
        prepaid = set(self.allocated_capacity)  # shared devices with shares already in use
        for (driver, pool_name), pool in self.pools.items():
            if not pool.counters:
                continue

            mine = {k for k in new if k[:2] == (driver, pool_name)}
            takers = [pool.all_devices.get(k[2]) for k in mine if k not in prepaid]
            if not any(d is not None and _seq(d.consumes_counters) for d in takers):
                continue
            used: dict[tuple[str, str], Fraction] = defaultdict(Fraction)
            for _, _, name in {k for k in allocated | mine if k[:2] == (driver, pool_name)}:
                device = pool.all_devices.get(name)
                for consumption in _seq(device.consumes_counters if device else None):
                    for counter, c in _map(consumption.counters).items():
                        used[(consumption.counter_set, counter)] += c.value.value
            for cs, counters in sorted(pool.counters.items()):
                for counter, available in sorted(counters.items()):
                    amount = used.get((cs, counter), Fraction(0))
                    if amount > available.value:
                        self.fail(
                            "counters",
                            f"counter set {cs} counter {counter}: {amount} consumed of {available}",
                            device=f"{driver}/{pool_name}",
                        )

    def check_constraints(self) -> None:
        for ci, claim in enumerate(self.claims):
            if ci >= len(self.results):
                return
            cname = _claim_name(claim)
            constraints = _seq(claim.spec.devices.constraints if claim.spec.devices else None)
            for i, constraint in enumerate(constraints):
                scope = set(_seq(constraint.requests))
                attribute = constraint.match_attribute or constraint.distinct_attribute
                if attribute is None:
                    self.fail("constraint", f"constraint #{i} is empty", claim=cname)
                    continue
                # Devices in the order the allocation added them (result order).
                values: list[tuple[str, _Attr | None]] = []
                for (cj, rname), entries in self.entries.items():
                    if cj != ci:
                        continue
                    parent = self.requests[(cj, rname)].parent
                    if scope and rname not in scope and parent not in scope:
                        continue
                    for e in entries:
                        found = self.device(e)
                        attr = _lookup_attribute(found[1], e.driver, attribute) if found else None
                        values.append((f"{e.driver}/{e.pool}/{e.device}", _attribute(attr)))
                if constraint.match_attribute:
                    self._check_match(cname, attribute, values)
                else:
                    self._check_distinct(cname, attribute, values)

    def _check_match(
        self, cname: str, attribute: str, values: list[tuple[str, _Attr | None]]
    ) -> None:
        """All devices share a value: a common element of every set, or one scalar.

        With list-type attributes off, Kubernetes compares scalars with the first device's:
        the first device joins with any value, later ones need the same scalar.
        """
        lists = self.features.list_type_attributes
        first: _Attr | None = None
        common: tuple[str, frozenset[Any]] | None = None
        for dkey, value in values:

            def fail(why: str, dkey: str = dkey) -> None:
                self.fail("match-attribute", f"{attribute} {why}", claim=cname, device=dkey)

            if value is None:
                return fail("is not set")
            if first is None:
                first = value
                if lists and value.as_set is None:
                    return fail("has no value of a known type")
                common = value.as_set
                continue
            if lists:
                new = value.as_set
                if new is None or common is None or new[0] != common[0] or not common[1] & new[1]:
                    return fail("has no value in common with the devices before it")
                common = (common[0], common[1] & new[1])
            elif value.scalar is None or first.field(value.scalar[0]) != value.scalar[1]:
                return fail("differs from the first device's")
        return None

    def _check_distinct(
        self, cname: str, attribute: str, values: list[tuple[str, _Attr | None]]
    ) -> None:
        """Every device's value differs from every earlier one (disjoint sets with lists)."""
        lists = self.features.list_type_attributes
        for i, (dkey, value) in enumerate(values):
            if value is None:
                self.fail("distinct-attribute", f"{attribute} is not set", claim=cname, device=dkey)
                continue
            if i == 0:
                continue  # the first device joins with any value
            earlier = [v for _, v in values[:i] if v is not None]
            if lists:
                new = value.as_set
                clash = new is None or any(
                    o.as_set is not None and o.as_set[0] == new[0] and o.as_set[1] & new[1]
                    for o in earlier
                )
            else:
                scalar = value.scalar
                clash = scalar is None or any(o.field(scalar[0]) == scalar[1] for o in earlier)
            if clash:
                self.fail(
                    "distinct-attribute", f"{attribute} is not distinct", claim=cname, device=dkey
                )

    def check_node_selector(self) -> None:
        for claim, result in zip(self.claims, self.results, strict=False):
            cname = _claim_name(claim)
            node_local = False
            for e in _seq(result.devices.results if result.devices else None):
                found = self.device(e)
                if found is None:
                    continue
                s, d = found
                name = d.node_name if s.spec.per_device_node_selection else s.spec.node_name
                node_local = node_local or bool(name) or bool(d.binds_to_node)
            selector = result.node_selector
            if selector is None:
                if node_local:
                    self.fail(
                        "node-selector", "node-local devices but no node selector", claim=cname
                    )
                continue
            if not _selector_matches(self.node, selector):
                self.fail("node-selector", "the node selector excludes this node", claim=cname)


def validate_allocation(
    *,
    node: Node,
    claims: Sequence[ResourceClaim],
    results: Sequence[AllocationResult],
    slices: Sequence[ResourceSlice],
    classes: Sequence[DeviceClass],
    allocated_claims: Sequence[ResourceClaim] = (),
    features: Features | None = None,
) -> list[Violation]:
    """Check allocation results against everything they must satisfy.

    Args:
        node: the node the claims were allocated for.
        claims: the claims, in the order of ``results``.
        results: one allocation result per claim.
        slices: every ResourceSlice in the cluster.
        classes: the DeviceClasses.
        allocated_claims: claims whose ``status.allocation`` is already in use.
        features: the feature switches the allocation ran with (default: all on).

    Returns:
        Every violation found; an empty list means the allocation is valid.

    """
    v = _Validation(
        node=node,
        claims=claims,
        results=results,
        slices=slices,
        classes=classes,
        allocated_claims=allocated_claims,
        features=features or Features(),
    )
    v.check_shape()
    v.check_devices()
    v.check_counts()
    v.check_exclusive_use()
    v.check_capacity()
    v.check_counters()
    v.check_constraints()
    v.check_node_selector()
    return v.violations
