"""The Cluster: the DRA objects of one cluster, kept current by events.

See docs/cluster.md for the model. In short:

- **Objects in.** Nodes, ResourceSlices, DeviceClasses, ResourceClaims,
  ResourceClaimTemplates and DeviceTaintRules, by ``(kind, namespace, name)``.
- **Derived state**, updated by every change at the cost of what it touches: the
  inventory (slices by node and pool, see :mod:`dra_core.cluster._inventory`), the
  slices as the scheduler sees them (DeviceTaintRules applied), the devices in use
  (:class:`~dra_core.state.AllocatedState`), and each node's equivalence key.
- **Questions.** :meth:`Cluster.filter` over every node, :meth:`Cluster.reserve` and
  :meth:`Cluster.unreserve` as kube-scheduler's assume cache, :meth:`Cluster.fork`.

Equivalence keys (why grouping nodes is exact)
==============================================
Whether claims fit on a node depends only on the pools the node sees (in allocation
order), the devices in use in them, the classes, the claims and the features. A node's
key describes the first two, naming nothing that differs between nodes with the same
answer:

- a pool whose slices all name this node (``nodeName``) enters as its content without
  node and pool names (the devices, attributes, capacities, counters, taints after
  DeviceTaintRules, binding conditions; whether it is complete and valid), plus which of
  its devices are in use and how (dedicated, shares, consumed capacity);
- a pool that belongs to another node and shows this node no device (the counter sets
  that every node looks at) adds nothing when it is complete and valid: it offers no
  device and no error;
- any other pool (``allNodes``, node selectors, per-device node selection) enters as
  itself: its identity, the slices of it this node sees and the devices selected for
  this node. Its devices in use are the same for every node, so they need no place in
  the key.

Two nodes with equal keys therefore get the same *feasibility* from the allocator, which
is all that grouping is used for: :meth:`FilterView.allocation` runs the allocator on the
node that was asked about, and an error (whose text names a device or a pool) is worked
out on each node of its group. The property test in tests/cluster/ holds this against
:func:`dra_core.allocate` on every node.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dra_core._records import HashedTuple
from dra_core.allocator import Allocator
from dra_core.allocator.engines import get_engine
from dra_core.allocator.problem import build_problem, claim_ref
from dra_core.allocator.search import check_abort
from dra_core.cel import compile_selector
from dra_core.cluster._inventory import ClusterInventory
from dra_core.cluster._view import CANNOT_ALLOCATE, CLAIM_NOT_ON_NODE, FilterView
from dra_core.errors import (
    CELError,
    InputError,
    ManifestError,
    ObjectNotFoundError,
    ReservationError,
)
from dra_core.features import Features
from dra_core.inventory import Pool, PoolID, node_matches, node_selector_matches
from dra_core.state import AllocatedState

if TYPE_CHECKING:
    from dra_core.api import (
        AllocationResult,
        DeviceClass,
        DeviceTaintRule,
        K8sModel,
        Node,
        ResourceClaim,
        ResourceClaimConsumerReference,
        ResourceSlice,
    )
    from dra_core.cluster._capacity import CapacityReport, Demand, HowMany
    from dra_core.cluster._gang import GangExplanation, GangPlacement, NodeFit
    from dra_core.cluster._score import NodeScores
    from dra_core.inventory import SliceEntry

__all__ = ["KINDS", "Cluster"]

#: The kinds a Cluster holds.
KINDS: tuple[str, ...] = (
    "Node",
    "ResourceSlice",
    "DeviceClass",
    "ResourceClaim",
    "ResourceClaimTemplate",
    "DeviceTaintRule",
)
_NAMESPACED = frozenset({"ResourceClaim", "ResourceClaimTemplate"})

Key = tuple[str, str, str]  # kind, namespace, name

# Reference counts of data shared by forks are changed under this one lock.
_REFS = threading.Lock()

_NUMBERS = itertools.count()


class _Sig:
    """A content signature with its hash computed once (nested tuples rehash each time)."""

    __slots__ = ("content", "hash")

    def __init__(self, content: Any) -> None:
        self.content = content
        self.hash = hash(content)

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: object) -> bool:
        return self is other or (
            isinstance(other, _Sig) and self.hash == other.hash and self.content == other.content
        )


def _object_key(model: K8sModel) -> Key:
    kind = type(model).KIND or ""
    meta = model.metadata  # type: ignore[attr-defined]
    namespace = (meta.namespace or "default") if kind in _NAMESPACED else ""
    return kind, namespace, meta.name or ""


def _allocation(claim: ResourceClaim) -> AllocationResult | None:
    status = claim.status
    return status.allocation if status is not None else None


def _label(key: Key) -> str:
    kind, namespace, name = key
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


class _Data:
    """Everything a Cluster holds; shared by forks until one of them writes."""

    __slots__ = (
        "classes",
        "intern",
        "inventory",
        "key_intern",
        "keys",
        "memo",
        "nodes",
        "objects",
        "pool_reps",
        "raw_slices",
        "refs",
        "reserved_added",
        "rules",
        "sigs",
        "state",
    )

    def __init__(self, features: Features) -> None:
        self.objects: dict[str, dict[tuple[str, str], Any]] = {kind: {} for kind in KINDS}
        self.nodes: dict[str, Node] = {}
        self.classes: dict[str, DeviceClass] = {}
        self.raw_slices: dict[str, ResourceSlice] = {}
        self.rules: dict[str, DeviceTaintRule] = {}
        self.inventory = ClusterInventory(features)
        self.state = AllocatedState(consumable_capacity=features.consumable_capacity)
        # node name -> equivalence key (forgotten when something it depends on changes)
        self.keys: dict[str, tuple[Any, ...]] = {}
        # one object per distinct key (shared by forks): grouping nodes and the memo
        # then compare keys by identity, not part by part
        self.key_intern: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        # content signatures of slices, by slice entry: a cache shared by forks
        self.sigs: dict[int, tuple[SliceEntry, int]] = {}
        self.intern: dict[_Sig, int] = {}
        # claims that reserve() added (unreserve() removes them again)
        self.reserved_added: set[tuple[str, str]] = set()
        # (engine and claim specs, node key) -> fits: valid while nothing outside the
        # node keys changes (classes, pools every node sees, devices in use in them);
        # such changes clear it. Also ("score", policy, claim specs), node key) -> raw
        # score, for score() (see _score.py): the same lifetime.
        self.memo: dict[tuple[Any, Any], Any] = {}
        # a pool content signature -> a pool with that content (any node's)
        self.pool_reps: dict[Any, Pool] = {}
        self.refs = 1

    def copy(self) -> _Data:
        other = _Data.__new__(_Data)
        other.objects = {kind: dict(items) for kind, items in self.objects.items()}
        other.nodes = dict(self.nodes)
        other.classes = dict(self.classes)
        other.raw_slices = dict(self.raw_slices)
        other.rules = dict(self.rules)
        other.inventory = self.inventory.copy()
        other.state = self.state.copy()
        other.keys = dict(self.keys)
        other.key_intern = self.key_intern
        other.sigs = self.sigs
        other.intern = self.intern
        other.reserved_added = set(self.reserved_added)
        other.memo = {}
        other.pool_reps = self.pool_reps
        other.refs = 1
        return other


class Cluster:
    """The DRA objects of one cluster and everything derived from them, kept current.

    Args:
        objects: objects to :meth:`apply` right away.
        features: the feature switches (all on by default), as for :func:`dra_core.allocate`.
        share_id_seed: passed to the allocator (share ids of shareable devices).

    Thread safety: every method takes the cluster's lock, so a Cluster may be read from
    several threads while one thread changes it; each call sees the state before or
    after a change, never half of one. Forks are independent objects with their own
    locks.

    """

    def __init__(
        self,
        objects: Iterable[Any] = (),
        *,
        features: Features | Mapping[str, bool] | None = None,
        share_id_seed: str = "",
    ) -> None:
        if features is None:
            self.features = Features()
        elif isinstance(features, Features):
            self.features = features
        else:
            self.features = Features.from_mapping(features)
        self.share_id_seed = share_id_seed
        self._data = _Data(self.features)
        self._lock = threading.RLock()
        self._version = 0
        objects = list(objects)
        if objects:
            self.apply(*objects)

    # --- reading -------------------------------------------------------------------

    @property
    def version(self) -> int:
        """A number that changes with every change of the cluster."""
        return self._version

    @property
    def allocated_state(self) -> AllocatedState:
        """A copy of the devices in use."""
        with self._lock:
            return self._data.state.copy()

    def node_names(self) -> list[str]:
        """Return the names of the cluster's nodes, in the order they were first applied."""
        with self._lock:
            return list(self._data.nodes)

    def objects(self, kind: str | None = None) -> list[Any]:
        """Return the objects the cluster holds, of one kind or of all, in the order applied.

        A replaced object keeps its place. Slices are returned as applied (without the
        taints that DeviceTaintRules add).
        """
        with self._lock:
            kinds = KINDS if kind is None else (kind,)
            out: list[Any] = []
            for k in kinds:
                out.extend(self._data.objects.get(k, {}).values())
            return out

    def get(self, kind: str, name: str, namespace: str = "") -> Any | None:
        """Return the object of that kind and name, or None."""
        if kind in _NAMESPACED:
            namespace = namespace or "default"
        with self._lock:
            return self._data.objects.get(kind, {}).get((namespace, name))

    def __iter__(self) -> Iterator[Any]:
        return iter(self.objects())

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._data.objects.values())

    def __repr__(self) -> str:
        with self._lock:
            counts = ", ".join(
                f"{kind}={len(items)}" for kind, items in self._data.objects.items() if items
            )
        return f"Cluster({counts})"

    # --- changing ------------------------------------------------------------------

    def apply(self, *objects: Any) -> None:
        """Create or replace objects by (kind, namespace, name).

        Accepts models, Kubernetes-shaped dicts (any version :func:`dra_core.load`
        reads; the API server's defaults and validation apply), YAML/JSON text, files
        and lists of those. All or nothing: when one object does not load, nothing is
        applied.

        Raises:
            ManifestError: an object does not load, or is of a kind a Cluster does not
                hold.

        """
        models = _models(objects)
        with self._lock:
            self._write()
            for model in models:
                self._put(model)
            self._version += 1

    def delete(
        self,
        *objects: Any,
        kind: str | None = None,
        name: str | None = None,
        namespace: str = "",
    ) -> None:
        """Remove objects by (kind, namespace, name): models, dicts, or ``kind=``/``name=``.

        All or nothing.

        Raises:
            ObjectNotFoundError: one of them is not in the cluster.

        """
        keys: list[Key] = []
        for obj in objects:
            keys.append(_key_of(obj))
        if kind is not None or name is not None:
            if not kind or not name:
                raise ValueError("delete(kind=..., name=...) needs both a kind and a name")
            ns = (namespace or "default") if kind in _NAMESPACED else ""
            keys.append((kind, ns, name))
        with self._lock:
            for key in keys:
                if (key[1], key[2]) not in self._data.objects.get(key[0], {}):
                    raise ObjectNotFoundError(
                        f"{_label(key)} not found", kind=key[0], name=_label(key).split(" ")[1]
                    )
            self._write()
            for key in keys:
                self._remove(key)
            self._version += 1

    def fork(self) -> Cluster:
        """Return an independent copy, in constant time (copy on write).

        Nothing is copied until one side changes; then that side copies what it holds
        (about a millisecond per thousand nodes). Changes never show on the other side.
        """
        with self._lock, _REFS:
            other = Cluster.__new__(Cluster)
            other.features = self.features
            other.share_id_seed = self.share_id_seed
            other._data = self._data
            other._lock = threading.RLock()
            other._version = self._version
            self._data.refs += 1
            return other

    def _write(self) -> None:
        # Copy on write: data shared with a fork is copied before the first change.
        with _REFS:
            data = self._data
            if data.refs > 1:
                data.refs -= 1
                self._data = data.copy()

    def _put(self, model: Any) -> None:
        key = _object_key(model)
        kind = key[0]
        data = self._data
        store = data.objects[kind]
        old = store.get(key[1:])
        store[key[1:]] = model
        name = key[2]
        if kind == "Node":
            data.nodes[name] = model
            data.keys.pop(name, None)
        elif kind == "ResourceSlice":
            data.raw_slices[name] = model
            self._index_slice(name)
        elif kind == "DeviceClass":
            data.classes[name] = model
            data.memo.clear()
        elif kind == "ResourceClaim":
            data.reserved_added.discard(key[1:])
            self._reallocate(old, model)
        elif kind == "DeviceTaintRule":
            data.rules[name] = model
            self._retaint(old, model)

    def _remove(self, key: Key) -> None:
        kind, namespace, name = key
        data = self._data
        old = data.objects[kind].pop((namespace, name))
        if kind == "Node":
            del data.nodes[name]
            data.keys.pop(name, None)
        elif kind == "ResourceSlice":
            del data.raw_slices[name]
            self._forget_nodes(data.inventory.drop(name))
        elif kind == "DeviceClass":
            del data.classes[name]
            data.memo.clear()
        elif kind == "ResourceClaim":
            data.reserved_added.discard((namespace, name))
            self._reallocate(old, None)
        elif kind == "DeviceTaintRule":
            del data.rules[name]
            self._retaint(old, None)

    def _forget_nodes(self, nodes: set[str] | None) -> None:
        if nodes is None:
            self._data.keys.clear()
            self._data.memo.clear()
        else:
            for n in nodes:
                self._data.keys.pop(n, None)

    def _index_slice(self, name: str) -> None:
        data = self._data
        raw = data.raw_slices[name]
        effective = raw
        if data.rules:
            from dra_core.taintrules import apply_taint_rules

            effective = apply_taint_rules([raw], data.rules.values())[0]
        self._forget_nodes(data.inventory.put(effective))

    def _retaint(self, old: DeviceTaintRule | None, new: DeviceTaintRule | None) -> None:
        # Only the slices a rule (old or new) selects by driver and pool can change.
        selectors = [r.spec.device_selector for r in (old, new) if r is not None]
        data = self._data
        names: Iterable[str]
        if all(sel is not None and sel.driver and sel.pool for sel in selectors):
            # Every slice is in the inventory under its pool: look at those pools only.
            names = {
                entry.name
                for sel in selectors
                if sel is not None and sel.driver and sel.pool
                for entry in data.inventory.pool_entries(PoolID(sel.driver, sel.pool))
            }
        else:
            names = list(data.raw_slices)
        for name in sorted(names):
            raw = data.raw_slices[name]
            driver, pool = raw.spec.driver, raw.spec.pool.name
            for sel in selectors:
                if sel is None or (
                    (not sel.driver or sel.driver == driver) and (not sel.pool or sel.pool == pool)
                ):
                    self._index_slice(name)
                    break

    def _reallocate(self, old: ResourceClaim | None, new: ResourceClaim | None) -> None:
        # Every allocation that is added here has exactly one matching removal, when
        # the claim is replaced or deleted.
        data = self._data
        before = _allocation(old) if old is not None else None
        after = _allocation(new) if new is not None else None
        if before is None and after is None:
            return
        if before is not None:
            data.state.remove_allocation(before)
            self._touch_devices(before)
        if after is not None:
            data.state.add_allocation(after)
            self._touch_devices(after)

    def _touch_devices(self, allocation: AllocationResult) -> None:
        # A node's key holds the use of its own pools' devices only (see the module
        # docstring), so only the owners of node-local pools need a new key.
        data = self._data
        devices = allocation.devices
        if devices is None:
            return
        for result in devices.results:
            owner = data.inventory.pool_is_node_local(PoolID(result.driver, result.pool))
            if owner is not None:
                data.keys.pop(owner, None)
            else:
                data.memo.clear()  # a pool that several nodes see

    # --- equivalence keys ------------------------------------------------------------

    def _key(self, name: str) -> tuple[Any, ...]:
        data = self._data
        key = data.keys.get(name)
        if key is None:
            key = self._compute_key(name)
            interned = data.key_intern
            if len(interned) > 4 * max(1024, len(data.nodes)):
                interned.clear()
            key = interned.setdefault(key, key)
            data.keys[name] = key
        return key

    def _compute_key(self, name: str) -> tuple[Any, ...]:
        data = self._data
        node = data.nodes[name]
        inventory = data.inventory
        try:
            pools = inventory.pools_for_node(node)
            parts: list[Any] = []
            for pool in pools:
                owner = inventory.pool_is_node_local(pool.id)
                if owner == name:
                    pool_sig = self._pool_sig(pool)
                    reps = data.pool_reps
                    if pool_sig not in reps:
                        if len(reps) > 4 * max(1024, len(data.nodes)):
                            reps.clear()
                        reps[pool_sig] = pool
                    parts.append(("L", pool_sig, self._usage_sig(pool)))
                elif (
                    owner is not None
                    and not pool.incomplete
                    and not pool.invalid
                    and not any(s.devices for s in pool.slices)
                ):
                    continue  # another node's counter sets: no device, no error here
                else:
                    parts.append(("F", pool.id, self._foreign_sig(pool, node)))
        except (InputError, ValueError):
            # A malformed node selector: this node is worked out on its own.
            return HashedTuple(("alone", name))
        return HashedTuple(parts)

    def _coarse_key(
        self,
        key: tuple[Any, ...],
        claims: Sequence[ResourceClaim],
        types: dict[Any, dict[tuple[int, int], int] | None],
    ) -> tuple[Any, ...]:
        """Return the node key with devices in use named by their type for these claims.

        A node-local pool's devices in use are listed by position in the node key. For
        given claims, devices of the same type (:meth:`_device_types`) can be swapped
        without changing whether the claims fit, so only how many of each type are in
        use (and how) matters. Pools whose types are unknown keep their positions.
        """
        if key and key[0] == "alone":
            return key
        parts: list[Any] = ["coarse"]
        for part in key:
            if part[0] != "L":
                parts.append(part)
                continue
            _, pool_sig, usage = part
            if pool_sig in types:
                table = types[pool_sig]
            else:
                table = types[pool_sig] = self._device_types(pool_sig, claims)
            if table is None:
                parts.append(part)
                continue
            in_use = sorted((table[(s, i)], *rest) for s, i, *rest in usage)
            parts.append(("T", pool_sig, tuple(in_use)))
        return tuple(parts)

    def _device_types(
        self, pool_sig: Any, claims: Sequence[ResourceClaim]
    ) -> dict[tuple[int, int], int] | None:
        """Return the devices of a pool content numbered by what the claims can tell apart.

        Two devices are of one type when every request (and subrequest) of the claims
        selects both or neither, and they are equal in everything else the allocator
        reads: capacity, counters, taints, binding conditions, node selection,
        ``allowMultipleAllocations``, and their attributes when a claim has constraints
        (which compare attribute values). The search meets no error on such devices
        (checked: a selector error gives None, and positions are kept), and the search
        is complete, so swapping two devices of a type never changes whether the claims
        fit: only which device a result names.
        """
        pool = self._data.pool_reps.get(pool_sig)
        if pool is None:
            return None
        classes = self._data.classes
        alternatives: list[tuple[list[str], list[str]]] = []
        constraints = False
        for claim in claims:
            devices = claim.spec.devices
            if devices is None:
                continue
            constraints = constraints or bool(devices.constraints)
            for request in devices.requests:
                specs: list[Any] = [request.exactly] if request.exactly is not None else []
                specs.extend(request.first_available or [])
                for spec in specs:
                    device_class = classes.get(spec.device_class_name or "")
                    class_selectors = (
                        device_class.spec.selectors
                        if device_class is not None and device_class.spec is not None
                        else []
                    ) or []
                    alternatives.append(
                        (
                            [x.cel.expression for x in class_selectors if x.cel is not None],
                            [x.cel.expression for x in spec.selectors or [] if x.cel is not None],
                        )
                    )
        table: dict[tuple[int, int], int] = {}
        numbers: dict[Any, int] = {}
        for s, slice_entry in enumerate((*pool.slices, *pool.slices_not_targeting_node)):
            for entry in slice_entry.devices:
                selected: list[bool] = []
                try:
                    for class_exprs, request_exprs in alternatives:
                        ok = all(entry.matches(e) for e in class_exprs) and all(
                            entry.matches(e) for e in request_exprs
                        )
                        selected.append(ok)
                except CELError:
                    return None
                device = entry.device
                rest = _freeze(
                    tuple(
                        (k, v)
                        for k, v in device.__dict__.items()
                        if k != "name" and (constraints or k != "attributes")
                    )
                )
                table[(s, entry.index)] = numbers.setdefault((tuple(selected), rest), len(numbers))
        return table

    def _slice_sig(self, entry: SliceEntry) -> int:
        data = self._data
        return _slice_number(
            entry, data.sigs, data.intern, 4 * max(1024, len(data.raw_slices))
        )

    def _pool_sig(self, pool: Pool) -> tuple[Any, ...]:
        return (
            pool.incomplete,
            pool.invalid,
            pool.invalid_reason,
            pool.has_binding_conditions,
            tuple(self._slice_sig(e) for e in pool.slices),
            tuple(self._slice_sig(e) for e in pool.slices_not_targeting_node),
            tuple((n, _freeze(cs)) for n, cs in sorted(pool.counter_sets.items())),
        )

    def _usage_sig(self, pool: Pool) -> tuple[Any, ...]:
        state = self._data.state
        out: list[Any] = []
        for s, slice_entry in enumerate((*pool.slices, *pool.slices_not_targeting_node)):
            for entry in slice_entry.devices:
                did = entry.id
                if not state.is_device_allocated(did):
                    continue
                consumed = state.consumed_capacity(did)
                out.append(
                    (
                        s,
                        entry.index,
                        state.is_dedicated(did),
                        state.has_shares(did),
                        tuple(sorted((k, str(v)) for k, v in consumed.items())) if consumed else (),
                    )
                )
        return tuple(out)

    def _foreign_sig(self, pool: Pool, node: Node) -> tuple[Any, ...]:
        selected: list[Any] = []
        for slice_entry in pool.slices:
            if slice_entry.per_device_node_selection:
                selected.append(
                    tuple(
                        node_matches(
                            node,
                            d.device.node_name or "",
                            bool(d.device.all_nodes),
                            d.device.node_selector,
                        )
                        for d in slice_entry.devices
                    )
                )
        return (
            pool.incomplete,
            pool.invalid,
            tuple(id(e) for e in pool.slices),
            tuple(id(e) for e in pool.slices_not_targeting_node),
            tuple(selected),
        )

    # --- filtering -------------------------------------------------------------------

    def _allocator(self) -> Allocator:
        allocator = Allocator(features=self.features, share_id_seed=self.share_id_seed)
        data = self._data
        allocator.inventory = data.inventory
        allocator.classes = data.classes
        allocator.allocated_state = data.state
        return allocator

    def filter(
        self,
        claims: Sequence[ResourceClaim | Mapping[str, Any]],
        nodes: Iterable[str] | None = None,
        *,
        engine: str = "auto",
        timeout: float | None = None,
        cancel: Any = None,
    ) -> FilterView:
        """Check a pod's claims against every node (or the given node names).

        Claims that are not allocated yet are allocated together on each node against
        the cluster's state, as kube-scheduler's DynamicResources Filter does; a claim
        that is allocated already only fits where its devices are (its node
        selector). Nodes are grouped into equivalence classes (see the module
        docstring) and the allocator runs once per class.

        Raises:
            AllocationInputError, CELCompileError: input that no node can fix (an
                unknown class, a selector that does not compile, too many devices),
                raised once, as from :func:`dra_core.allocate`.
            AllocationTimeout, AllocationCancelled: stopped before an answer.

        """
        claim_models = [_claim_model(c) for c in claims]
        deadline = time.monotonic() + timeout if timeout is not None else None
        with self._lock:
            data = self._data
            pending = [c for c in claim_models if _allocation(c) is None]
            allocated = [c for c in claim_models if _allocation(c) is not None]
            if pending:
                self._prevalidate(pending)
            names = list(data.nodes) if nodes is None else list(dict.fromkeys(nodes))
            reasons: dict[str, str] = {}
            unresolvable: set[str] = set()
            fits: set[str] = set()
            groups: dict[tuple[Any, ...], list[str]] = {}
            # The loop over every node is the cost of a warm filter: names bound once.
            nodes_get, keys_get, compute_key = data.nodes.get, data.keys.get, self._key
            for name in names:
                node = nodes_get(name)
                if node is None:
                    reasons[name] = f'node "{name}" not found'
                    unresolvable.add(name)
                    continue
                if allocated:
                    why = _allocated_elsewhere(allocated, node)
                    if why:
                        reasons[name] = why
                        unresolvable.add(name)
                        continue
                if not pending:
                    fits.add(name)
                    continue
                key = keys_get(name) or compute_key(name)
                members = groups.get(key)
                if members is None:
                    groups[key] = [name]
                else:
                    members.append(name)
            need = _devices_needed(pending) if groups else 0
            memo = data.memo
            claims_sig = _Sig((engine, *(_freeze(c.spec) for c in pending)))
            allocator: Allocator | None = None
            types: dict[Any, dict[tuple[int, int], int] | None] = {}
            for key, members in groups.items():
                check_abort(deadline, timeout, cancel)
                outcome = memo.get((claims_sig, key))
                if outcome is None:
                    # A coarser key for these claims: devices they cannot tell apart
                    # are interchangeable (see _device_types).
                    coarse = self._coarse_key(key, pending, types)
                    outcome = memo.get((claims_sig, coarse))
                    if outcome is None:
                        outcome = self._feasible(
                            members[0], pending, need, engine, deadline, timeout, cancel
                        )
                    if outcome is not None:
                        if len(memo) > 65536:
                            memo.clear()
                        memo[(claims_sig, key)] = outcome
                        memo[(claims_sig, coarse)] = outcome
                if outcome is None:
                    # Error texts name devices and pools: work each node out on its own.
                    allocator = allocator or self._allocator()
                    for name in members:
                        check_abort(deadline, timeout, cancel)
                        one = self._on_node(
                            allocator, name, pending, engine, deadline, timeout, cancel
                        )
                        _record(name, one, fits, reasons, unresolvable)
                    continue
                if outcome is True:
                    fits.update(members)
                    continue
                for name in members:
                    _record(name, outcome, fits, reasons, unresolvable)
            feasible = names if len(fits) == len(names) else [n for n in names if n in fits]
            return FilterView(
                self,
                claim_models,
                engine,
                feasible,
                reasons,
                frozenset(unresolvable),
                self._version,
            )

    def score(
        self,
        claims: Sequence[ResourceClaim | Mapping[str, Any]],
        nodes: Iterable[str] | None = None,
        *,
        policy: str = "best-fit",
        engine: str = "auto",
        timeout: float | None = None,
        cancel: Any = None,
    ) -> NodeScores:
        """Score the nodes where a pod's claims fit, under a policy.

        The claims are filtered as :meth:`filter` does (``engine``); on each feasible
        node, the claims that are not allocated yet are allocated with CP-SAT under
        ``policy`` (``best-fit``, ``pack``, ``spread``; see
        :class:`~dra_core.cluster.NodeScores`), once per equivalence class, and the
        raw scores are remembered until something they depend on changes. The
        cluster does not change; the state stays still from the filter to the last
        score (the lock is held). ``scores.scaled()`` gives 0..10 per node, as an
        extender's prioritize answers.

        Args:
            claims: the pod's claims (models or dicts).
            nodes: node names to score (default: every node), in the order wanted.
            policy: the scoring policy.
            engine: the allocation engine of the filter step.
            timeout: seconds for the whole call. Past it, the feasible nodes not scored
                yet stay unscored (:attr:`NodeScores.unscored`), not an error; a filter
                that does not finish in time raises.
            cancel: a flag (``is_set()``) or callable that stops the call.

        Raises:
            ValueError: an unknown policy.
            AllocationInputError, CELCompileError: as from :meth:`filter`.
            AllocationTimeout: the filter step did not finish within ``timeout``.
            AllocationCancelled: ``cancel`` turned true.

        """
        from dra_core.cluster._score import score_nodes

        return score_nodes(
            self, claims, nodes, policy=policy, engine=engine, timeout=timeout, cancel=cancel
        )

    def _prevalidate(self, claims: Sequence[ResourceClaim]) -> None:
        # Input that no node can fix, raised once: what Kubernetes checks before it
        # looks at any device (on a node without pools), and selectors that do not
        # compile (Kubernetes finds those on the first device it evaluates).
        data = self._data
        build_problem(
            inventory=ClusterInventory(self.features),
            node=None,
            claims=claims,
            classes=data.classes,
            allocated_state=AllocatedState(),
            features=self.features,
        )
        for claim in claims:
            ref = claim_ref(claim)
            for request in claim.spec.devices.requests if claim.spec.devices else []:
                specs: list[Any] = []
                if request.exactly is not None:
                    specs.append(request.exactly)
                specs.extend(request.first_available or [])
                for spec in specs:
                    device_class = data.classes.get(spec.device_class_name or "")
                    if device_class is not None and device_class.spec is not None:
                        owner = f"class {device_class.metadata.name}"
                        _compile_all(device_class.spec.selectors or [], owner)
                    _compile_all(spec.selectors or [], f"claim {ref}")

    def _feasible(
        self,
        name: str,
        claims: Sequence[ResourceClaim],
        need: int,
        engine: str,
        deadline: float | None,
        timeout: float | None,
        cancel: Any,
    ) -> bool | None:
        """Whether the claims fit on the node; None when the node has an input error.

        The allocator's own steps without building results (feasibility is all that
        grouping needs). An error is not worked out here: its text names devices or
        pools of the node, so the caller asks :meth:`_on_node` for each node.
        """
        data = self._data
        node = data.nodes[name]
        if need > 0 and self._too_few_devices(node, claims, need):
            return False
        check = None
        if deadline is not None or cancel is not None:

            def check() -> None:
                check_abort(deadline, timeout, cancel)

        try:
            problem = build_problem(
                inventory=data.inventory,
                node=node,
                claims=claims,
                classes=data.classes,
                allocated_state=data.state,
                features=self.features,
                check_abort=check,
            )
            solution = get_engine(engine)(
                problem, deadline=deadline, timeout=timeout, cancel=cancel, options=None
            )
        except InputError:
            return None
        if solution is None:
            return None if problem.has_invalid_pools else False
        return True

    def _on_node(
        self,
        allocator: Allocator,
        name: str,
        claims: Sequence[ResourceClaim],
        engine: str,
        deadline: float | None,
        timeout: float | None,
        cancel: Any,
    ) -> bool | InputError:
        """Run the plain allocator on one node: fits, does not, or its input error."""
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            result = allocator.allocate(
                self._data.nodes[name], claims, engine=engine, timeout=remaining, cancel=cancel
            )
        except InputError as err:
            return err
        return result is not None

    def _too_few_devices(self, node: Node, claims: Sequence[ResourceClaim], need: int) -> bool:
        """Count first: return true when fewer devices are free than the claims need.

        Exact, because it answers only when the search could not have raised either:
        ``need`` is 0 when a claim has an ``All`` or admin-access request (those look at
        devices in use too), an invalid pool turns "does not fit" into an error, and the
        few free devices are checked for selector errors (the search evaluates selectors
        on free devices only, so it meets no other error).
        """
        data = self._data
        state = data.state
        shareable_on = self.features.consumable_capacity
        try:
            pools = data.inventory.pools_for_node(node)
        except InputError:
            return False
        free: list[Any] = []
        for pool in pools:
            if pool.invalid:
                return False
            if pool.incomplete:
                continue
            for slice_entry in pool.slices:
                for entry in slice_entry.devices:
                    if shareable_on and entry.device.allow_multiple_allocations:
                        return False  # chosen again and again: no count bounds it
                    if not state.is_dedicated(entry.id):
                        free.append(entry)
                        if len(free) >= need:
                            return False
        expressions = _expressions(claims, data.classes)
        for entry in free:
            for expression in expressions:
                try:
                    entry.matches(expression)
                except CELError:
                    return False  # the search may meet this error: let it decide
        return True

    def _allocation_for_view(self, view: FilterView, node: str) -> list[AllocationResult]:
        with self._lock:
            view._check(self._version)
            pending = [c for c in view._claims if _allocation(c) is None]
            results = iter(
                self._allocator().allocate(self._data.nodes[node], pending, engine=view._engine)
                or []
            )
            out: list[AllocationResult] = []
            for claim in view._claims:
                allocation = _allocation(claim)
                out.append(allocation if allocation is not None else next(results))
            return out

    # --- reserving -------------------------------------------------------------------

    def reserve(
        self,
        claims: Sequence[ResourceClaim | Mapping[str, Any]],
        node: str,
        *,
        engine: str = "auto",
        reserved_for: Sequence[ResourceClaimConsumerReference | Mapping[str, Any]] = (),
        timeout: float | None = None,
        cancel: Any = None,
    ) -> list[ResourceClaim]:
        """Allocate ``claims`` on ``node`` and record them as in use (the assume cache).

        Later filters see the devices as taken. The claims are stored in the cluster
        with ``status.allocation`` set (and ``status.reservedFor``, when given) and
        returned in that shape, in order. All or nothing.

        Raises:
            ReservationError: a claim is allocated already (given so, or in the
                cluster), the node is unknown, or the claims do not fit there now.
            AllocationInputError, CEL errors: as :func:`dra_core.allocate`.

        """
        from dra_core.api import ResourceClaimConsumerReference, ResourceClaimStatus

        models = [_claim_model(c) for c in claims]
        consumers = [
            r
            if isinstance(r, ResourceClaimConsumerReference)
            else ResourceClaimConsumerReference.model_validate(r)
            for r in reserved_for
        ]
        refs = tuple(claim_ref(c) for c in models)
        with self._lock:
            data = self._data
            node_model = data.nodes.get(node)
            if node_model is None:
                raise ReservationError(f'node "{node}" not found', node=node, claims=refs)
            for claim in models:
                key = _object_key(claim)
                stored = data.objects["ResourceClaim"].get(key[1:])
                if _allocation(claim) is not None or (
                    stored is not None and _allocation(stored) is not None
                ):
                    raise ReservationError(
                        f"claim {claim_ref(claim)} is allocated already", node=node, claims=refs
                    )
            results = self._allocator().allocate(
                node_model, models, engine=engine, timeout=timeout, cancel=cancel
            )
            if results is None:
                raise ReservationError(f"{CANNOT_ALLOCATE} on node {node}", node=node, claims=refs)
            self._write()
            data = self._data
            out: list[ResourceClaim] = []
            for claim, result in zip(models, results, strict=True):
                status = claim.status or ResourceClaimStatus()
                status = status.model_copy(
                    update={
                        "allocation": result,
                        "reserved_for": [*status.reserved_for, *consumers],
                    }
                )
                allocated = claim.model_copy(update={"status": status})
                key = _object_key(allocated)
                added = key[1:] not in data.objects["ResourceClaim"]
                self._put(allocated)
                if added:
                    data.reserved_added.add(key[1:])
                out.append(allocated)
            self._version += 1
            return out

    def unreserve(self, claims: Sequence[ResourceClaim | Mapping[str, Any]]) -> None:
        """Give back what :meth:`reserve` took: the claims' devices are free again.

        A claim that :meth:`reserve` added is removed again; one that was in the cluster
        before stays, without ``status.allocation`` and ``status.reservedFor``. All or
        nothing.

        Raises:
            ObjectNotFoundError: a claim is not in the cluster or is not allocated.

        """
        keys = [_object_key(_claim_model(c)) for c in claims]
        with self._lock:
            data = self._data
            for key in keys:
                stored = data.objects["ResourceClaim"].get(key[1:])
                if stored is None or _allocation(stored) is None:
                    raise ObjectNotFoundError(
                        f"claim {key[1]}/{key[2]} is not reserved",
                        kind=key[0],
                        name=f"{key[1]}/{key[2]}",
                    )
            self._write()
            data = self._data
            for key in keys:
                if key[1:] in data.reserved_added:
                    self._remove(key)
                    continue
                stored = data.objects["ResourceClaim"][key[1:]]
                status = stored.status.model_copy(update={"allocation": None, "reserved_for": []})
                self._put(stored.model_copy(update={"status": status}))
            self._version += 1


    # --- accounting (dra_core.cluster._capacity) ----------------------------------------

    def capacity(self, by: str | None = None, *, pods: Iterable[Any] = ()) -> CapacityReport:
        """Count what is there and what is free, per node and key (a class by default).

        See :func:`dra_core.cluster._capacity.capacity` and docs/capacity.md.
        """
        from dra_core.cluster._capacity import capacity

        return capacity(self, by, pods=pods)

    def how_many(
        self,
        claims_or_pod: Any,
        *,
        policy: str = "default",
        limit: int | None = None,
        engine: str = "auto",
        pods: Iterable[Any] = (),
    ) -> HowMany:
        """Count how many more copies of a pod (or of its claims) fit, one after another.

        Never changes the cluster. See :func:`dra_core.cluster._capacity.how_many` and
        docs/capacity.md.
        """
        from dra_core.cluster._capacity import how_many

        return how_many(
            self, claims_or_pod, policy=policy, limit=limit, engine=engine, pods=pods
        )

    def demand(self, pod: Any) -> Demand:
        """Return the devices a pod's claims and extended resources ask for.

        The pod's named claims and templates are looked up in this cluster. See
        :func:`dra_core.demand`.
        """
        from dra_core.cluster._capacity import demand

        return demand(pod, cluster=self)


    # --- gangs (dra_core.cluster._gang) -------------------------------------------------

    def place_gang(
        self,
        members: Sequence[Sequence[ResourceClaim | Mapping[str, Any]]],
        *,
        min_count: int | None = None,
        policy: str = "pack",
        timeout: float | None = None,
        same_node_label: str | None = None,
        same_device_attribute: str | None = None,
        nodes: Iterable[str] | None = None,
        engine: str = "auto",
        cancel: Any = None,
        node_fit: NodeFit | None = None,
    ) -> GangPlacement | None:
        """Place a gang jointly: each member (one pod's claims) on one node, or None.

        Never changes the cluster. See :func:`dra_core.place_gang` and docs/gangs.md.
        """
        from dra_core.cluster._gang import place_gang

        return place_gang(
            self,
            members,
            min_count=min_count,
            policy=policy,
            timeout=timeout,
            same_node_label=same_node_label,
            same_device_attribute=same_device_attribute,
            nodes=nodes,
            engine=engine,
            cancel=cancel,
            node_fit=node_fit,
        )

    def explain_gang(
        self,
        members: Sequence[Sequence[ResourceClaim | Mapping[str, Any]]],
        *,
        min_count: int | None = None,
        policy: str = "pack",
        timeout: float | None = None,
        same_node_label: str | None = None,
        same_device_attribute: str | None = None,
        nodes: Iterable[str] | None = None,
        engine: str = "auto",
        cancel: Any = None,
        node_fit: NodeFit | None = None,
    ) -> GangExplanation:
        """Explain whether, and why not, a gang fits (the arguments of :meth:`place_gang`).

        See :func:`dra_core.explain_gang`.
        """
        from dra_core.cluster._gang import explain_gang

        return explain_gang(
            self,
            members,
            min_count=min_count,
            policy=policy,
            timeout=timeout,
            same_node_label=same_node_label,
            same_device_attribute=same_device_attribute,
            nodes=nodes,
            engine=engine,
            cancel=cancel,
            node_fit=node_fit,
        )


# --- helpers -----------------------------------------------------------------------------


def _slice_number(
    entry: SliceEntry,
    numbers: dict[int, tuple[SliceEntry, int]],
    intern: dict[_Sig, int],
    bound: int,
) -> int:
    """Return the content of a slice without node and pool names, as a number.

    Equal numbers mean equal content: ``intern`` maps contents to numbers, ``numbers``
    remembers each entry's (kept with it, so a recycled ``id()`` never matches). Both
    tables are cleared when ``intern`` grows past ``bound``; numbers are never reused, so
    a number that outlives the tables can only miss an equivalence, never make a false
    one.
    """
    hit = numbers.get(id(entry))
    if hit is not None and hit[0] is entry:
        return hit[1]
    spec = entry.slice.spec
    content = _Sig(
        _freeze(tuple((k, v) for k, v in spec.__dict__.items() if k not in ("node_name", "pool")))
    )
    number = intern.get(content)
    if number is None:
        if len(intern) > bound or len(numbers) > 4 * bound:
            intern.clear()
            numbers.clear()
        number = next(_NUMBERS)
        intern[content] = number
    numbers[id(entry)] = (entry, number)
    return number


def _freeze(value: Any) -> Any:
    """Return a hashable value, equal for equal content: models, dicts and lists as tuples.

    Fields left at None or empty are skipped (they are the same on every object of a
    type). Strings, numbers and booleans stand for themselves: a field holds one type,
    and the field name goes with every value, so two different contents never give the
    same value, which is what makes equivalence keys exact.
    """
    t = type(value)
    if t is str or t is int or t is bool or t is float:
        return value
    if t is list or t is tuple:
        return ("[", *[_freeze(v) for v in value])
    if t is dict:
        return ("{", *sorted([(k, _freeze(v)) for k, v in value.items()]))
    fields = getattr(value, "__pydantic_fields__", None)
    if fields is not None:
        out: list[Any] = [t.__name__]
        for k, v in value.__dict__.items():
            if v is None or ((type(v) is list or type(v) is dict) and not v):
                continue
            out.append((k, _freeze(v)))
        return tuple(out)
    return (t.__name__, str(value))


def _record(
    name: str,
    outcome: bool | InputError,
    fits: set[str],
    reasons: dict[str, str],
    unresolvable: set[str],
) -> None:
    if outcome is True:
        fits.add(name)
    elif outcome is False:
        reasons[name] = CANNOT_ALLOCATE
    else:
        reasons[name] = str(outcome)
        unresolvable.add(name)


def _compile_all(selectors: Sequence[Any], owner: str) -> None:
    for i, selector in enumerate(selectors):
        if selector.cel is None:
            continue  # the problem builder reports empty selectors
        try:
            compile_selector(selector.cel.expression)
        except CELError as err:
            raise type(err)(f"{owner}: selector #{i}: {err}", expression=err.expression) from err


def _devices_needed(claims: Sequence[ResourceClaim]) -> int:
    # The fewest distinct devices not in use that the claims need: the counts of their
    # ExactCount requests (the smallest alternative of a firstAvailable list). 0, so
    # that no counting is done, when a request asks for All devices or admin access:
    # those look at devices in use as well.
    need = 0
    for claim in claims:
        devices = claim.spec.devices
        for request in devices.requests if devices is not None else []:
            specs: list[Any] = [request.exactly] if request.exactly is not None else []
            specs.extend(request.first_available or [])
            for spec in specs:
                mode = spec.allocation_mode or "ExactCount"
                if mode != "ExactCount" or getattr(spec, "admin_access", None):
                    return 0
            if request.exactly is not None:
                need += int(request.exactly.count or 0)
            elif request.first_available:
                need += min(int(s.count or 0) for s in request.first_available)
    return need


def _expressions(claims: Sequence[ResourceClaim], classes: Mapping[str, Any]) -> list[str]:
    # Every selector expression of the claims' requests and of their classes.
    out: dict[str, None] = {}
    for claim in claims:
        devices = claim.spec.devices
        for request in devices.requests if devices is not None else []:
            specs: list[Any] = [request.exactly] if request.exactly is not None else []
            specs.extend(request.first_available or [])
            for spec in specs:
                device_class = classes.get(spec.device_class_name or "")
                selectors = list(spec.selectors or [])
                if device_class is not None and device_class.spec is not None:
                    selectors.extend(device_class.spec.selectors or [])
                for selector in selectors:
                    if selector.cel is not None:
                        out[selector.cel.expression] = None
    return list(out)


def _allocated_elsewhere(allocated: Sequence[ResourceClaim], node: Node) -> str:
    for claim in allocated:
        allocation = _allocation(claim)
        assert allocation is not None
        selector = allocation.node_selector
        if selector is None:
            continue
        try:
            if not node_selector_matches(selector, node):
                return CLAIM_NOT_ON_NODE
        except ValueError as err:
            return f"claim {claim_ref(claim)}: {err}"
    return ""


def _claim_model(value: Any) -> ResourceClaim:
    from dra_core.api import ResourceClaim

    if isinstance(value, ResourceClaim):
        return value
    if isinstance(value, Mapping):
        from dra_core.io import parse_object

        loaded = parse_object(value, "ResourceClaim", defaults=True, validate=True)
        assert isinstance(loaded, ResourceClaim)
        return loaded
    raise TypeError(f"expected a ResourceClaim model or dict, got {type(value).__name__}")


def _models(objects: Sequence[Any]) -> list[Any]:
    from dra_core.api import K8sModel
    from dra_core.io import load

    out: list[Any] = []
    for obj in objects:
        loaded = [obj] if isinstance(obj, K8sModel) else load(obj)
        for model in loaded:
            kind = type(model).KIND
            if kind not in KINDS:
                meta = getattr(model, "metadata", None)
                raise ManifestError(
                    f"a Cluster holds {', '.join(KINDS)}; not {kind} (give pods to a Simulator)",
                    kind=kind,
                    name=getattr(meta, "name", None) or None,
                )
            out.append(model)
    return out


def _key_of(obj: Any) -> Key:
    from dra_core.api import K8sModel

    if isinstance(obj, K8sModel):
        return _object_key(obj)
    if isinstance(obj, Mapping):
        kind = obj.get("kind")
        meta = obj.get("metadata")
        if not isinstance(kind, str) or not isinstance(meta, Mapping):
            raise ManifestError("delete needs objects with a kind and metadata.name")
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            raise ManifestError("delete needs objects with a kind and metadata.name", kind=kind)
        namespace = meta.get("namespace") or ""
        if kind in _NAMESPACED:
            namespace = namespace or "default"
        return kind, str(namespace) if kind in _NAMESPACED else "", name
    raise TypeError(f"expected a model or a dict, got {type(obj).__name__}")
