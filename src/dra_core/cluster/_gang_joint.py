"""Several nodes' allocations decided together, for pools that several nodes see.

Nodes interact only through pools that more than one node sees (slices with a node
selector, ``allNodes`` or per-device node selection) and through claims that members on
different nodes share (a pod group's claim, KEP-5729, on devices that several nodes
see). Allocating node after node, first fit, can then fail where another choice on an
earlier node would have worked. :func:`allocate_jointly` decides every node of one
assignment at once: it builds each node's problem with the per-node builder (every
rule of the per-node engine: selectors, counters, consumable capacity, constraints,
``firstAvailable``) and merges them into one problem over the union of the devices:

- a device that several nodes see is one device of the merged problem, so exclusive
  use, shared counters and consumable capacity hold across the nodes;
- a claim that members on several nodes share is one claim, and its candidates are
  the devices that every one of those nodes sees: its allocation's node selector then
  admits all of them (an ``All`` request takes every matching device of the node where
  it is allocated, so such a request can be shared only between nodes that see the
  same matching devices);
- every other claim keeps its own node's candidates.

The merged problem goes to a complete engine; its answer is split back into each
node's problem and turned into results by the per-node result builder, so each node's
results are exactly what the per-node allocator would return for those devices.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dra_core.allocator.engines import get_engine
from dra_core.allocator.problem import (
    Candidate,
    Choice,
    ClaimInfo,
    ConstraintInfo,
    DeviceInfo,
    DeviceLocation,
    Problem,
    RequestInfo,
    RequestKey,
    RequestSlot,
    Solution,
    build_problem,
)
from dra_core.allocator.results import build_results
from dra_core.cluster._cluster import _allocation, _freeze
from dra_core.errors import AllocationTimeout, InputError

if TYPE_CHECKING:
    from dra_core.api import AllocationResult, ResourceClaim
    from dra_core.cluster._cluster import Cluster
    from dra_core.cluster._gang import GangPlacement, _Planner
    from dra_core.state import DeviceID

__all__ = ["JointSearch", "allocate_jointly"]


class _MergedCounters(Mapping[Any, Any]):
    """The counters left per pool, each pool read from a problem that has it.

    Every node's problem is built against the same allocated state, so a pool that
    several of them see has the same counters in each; they are worked out lazily, as
    the per-node problems do (``values_of``, ``overdrawn`` when the source has them).
    """

    def __init__(self, sources: Mapping[Any, Problem]) -> None:
        self._sources = sources

    def __getitem__(self, pool: Any) -> Any:
        return self._sources[pool].counters[pool]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)

    def values_of(self, pool: Any) -> Any:
        """Return the pool's available counters as numbers ({} for a pool without any)."""
        source = self._sources.get(pool)
        if source is None:
            return {}
        counters = source.counters
        values_of = getattr(counters, "values_of", None)
        if values_of is not None:
            return values_of(pool)
        return {k: q.value for k, q in counters.get(pool, {}).items()}

    def overdrawn(self, pool: Any) -> bool:
        """Whether devices in use already consume more than the pool's counters."""
        source = self._sources.get(pool)
        if source is None:
            return False
        overdrawn = getattr(source.counters, "overdrawn", None)
        if overdrawn is not None:
            return bool(overdrawn(pool))
        return any(v < 0 for v in self.values_of(pool).values())


def _merge(
    problems: Sequence[Problem], keys: Sequence[Sequence[Hashable]], *, union: bool = False
) -> tuple[Problem, list[list[int]]] | None:
    """Merge per-node problems into one; None when a shared claim cannot be shared.

    ``keys[i][c]`` is the identity of claim ``c`` of problem ``i``: equal keys are one
    claim, whose candidates are the devices every holder sees (with ``union``: any
    holder sees, for the relaxation of :meth:`JointSearch._relaxed`). Returns the
    merged problem and, per problem, its claims' merged indices.
    """
    first = problems[0]
    device_index: dict[DeviceID, int] = {}
    pool_index: dict[Any, int] = {}
    devices: list[DeviceInfo] = []
    pools: list[Any] = []
    sources: dict[Any, Problem] = {}
    for problem in problems:
        for pool in problem.pools:
            if pool.id not in pool_index:
                pool_index[pool.id] = len(pools)
                pools.append(pool)
                sources[pool.id] = problem
        for info in problem.devices:
            if info.id in device_index:
                continue
            index = len(devices)
            device_index[info.id] = index
            location = DeviceLocation(
                pool_index[info.pool], info.location.slice, info.location.device
            )
            # Every field as the node's problem has it (the same state, the same
            # device), but the index and the pool's position in the merged problem.
            devices.append(info.copy_with(index=index, location=location))
            sources.setdefault(info.pool, problem)
    # Which problems hold each claim.
    where: dict[Hashable, list[int]] = {}
    for i, problem_keys in enumerate(keys):
        for key in problem_keys:
            where.setdefault(key, []).append(i)
    merged_index: dict[Hashable, int] = {}
    claims: list[ClaimInfo] = []
    back: list[list[int]] = []
    for i, problem in enumerate(problems):
        mine: list[int] = []
        for c, claim_info in enumerate(problem.claims):
            key = keys[i][c]
            if key in merged_index:
                mine.append(merged_index[key])
                continue
            holders = [problems[j] for j in where[key]]
            merged = _merge_claim(
                len(claims),
                claim_info,
                holders,
                keys,
                where[key],
                key,
                devices,
                device_index,
                union=union,
            )
            if merged is None:
                return None
            merged_index[key] = len(claims)
            mine.append(len(claims))
            claims.append(merged)
        back.append(mine)
    problem = Problem(
        node=None,
        features=first.features,
        claims=tuple(claims),
        devices=tuple(devices),
        pools=tuple(pools),
        counters=_MergedCounters(sources),
        has_invalid_pools=any(p.has_invalid_pools for p in problems),
        max_devices_per_claim=first.max_devices_per_claim,
    )
    return problem, back


def _merge_claim(
    index: int,
    info: ClaimInfo,
    holders: Sequence[Problem],
    keys: Sequence[Sequence[Hashable]],
    holder_indices: Sequence[int],
    key: Hashable,
    devices: Sequence[DeviceInfo],
    device_index: dict[DeviceID, int],
    *,
    union: bool = False,
) -> ClaimInfo | None:
    """Return claim ``info`` renumbered, with the candidates every holder sees.

    With ``union``, the candidates any holder sees, each once (a relaxation: ``All``
    requests are not merged this way).
    """
    # The same claim in each holder's problem (same spec, so the same requests).
    copies = [
        holder.claims[list(keys[j]).index(key)]
        for holder, j in zip(holders, holder_indices, strict=True)
    ]
    seen = [{d.id for d in holder.devices} for holder in holders]
    constraints = tuple(
        ConstraintInfo(con.index, con.kind, con.attribute, con.requests, con.list_type_attributes)
        for con in info.constraints
    )
    slots: list[RequestSlot] = []
    for r, slot in enumerate(info.requests):
        alternatives: list[RequestInfo] = []
        for s, alt in enumerate(slot.alternatives):
            table = holders[0].devices
            candidates: list[Candidate] = []
            if union:
                taken: set[int] = set()
                for holder, copy in zip(holders, copies, strict=True):
                    for cand in copy.requests[r].alternatives[s].candidates:
                        d = device_index[holder.devices[cand.device].id]
                        if d not in taken:
                            taken.add(d)
                            candidates.append(Candidate(d, cand.demand, cand.error, cand.usable))
            for cand in () if union else alt.candidates:
                device_id = table[cand.device].id
                if not all(device_id in ids for ids in seen):
                    continue
                if len(copies) > 1 and table[cand.device].entry.device.binds_to_node:
                    continue  # pinned to the one node where it is allocated
                candidates.append(
                    Candidate(device_index[device_id], cand.demand, cand.error, cand.usable)
                )
            if alt.all_devices and len(copies) > 1 and not union:
                # All: every matching device of the node where it is allocated. Shared
                # across nodes only when each of them sees the same matching devices.
                sets = [
                    {
                        holder.devices[c.device].id
                        for c in copy.requests[r].alternatives[s].candidates
                    }
                    for holder, copy in zip(holders, copies, strict=True)
                ]
                if any(other != sets[0] for other in sets[1:]):
                    return None
            request = RequestInfo(
                key=RequestKey(index, alt.key.request, alt.key.subrequest),
                name=alt.name,
                request_name=alt.request_name,
                subrequest_name=alt.subrequest_name,
                class_name=alt.class_name,
                device_class=alt.device_class,
                all_devices=alt.all_devices,
                count=alt.count,
                admin_access=alt.admin_access,
                tolerations=alt.tolerations,
                candidates=tuple(candidates),
                constraints=alt.constraints,
                has_poison=any(c.error is not None for c in candidates),
            )
            for k in alt.constraints:
                for cand in candidates:
                    constraints[k].value(devices[cand.device])
            alternatives.append(request)
        slots.append(
            RequestSlot(index, slot.request, slot.name, tuple(alternatives), slot.first_available)
        )
    return ClaimInfo(index, info.claim, info.ref, tuple(slots), constraints, info.min_devices)


def _split(
    problem: Problem, solution: Solution, merged: Problem, claim_map: Sequence[int]
) -> Solution:
    """Return the part of the merged ``solution`` that concerns ``problem``'s claims."""
    local = {info.id: info.index for info in problem.devices}
    choices: list[tuple[Choice, ...]] = []
    selected: dict[tuple[int, int], int] = {}
    for c, m in enumerate(claim_map):
        out: list[Choice] = []
        for choice in solution.choices[m]:
            key = choice.request
            device = local[merged.devices[choice.candidate.device].id]
            alt = problem.claims[c].requests[key.request].alternatives[key.subrequest or 0]
            candidate = next(cand for cand in alt.candidates if cand.device == device)
            out.append(Choice(RequestKey(c, key.request, key.subrequest), candidate))
        choices.append(tuple(out))
        for (mc, r), s in solution.selected.items():
            if mc == m:
                selected[(c, r)] = s
    return Solution(tuple(choices), selected)


def allocate_jointly(
    cluster: Cluster,
    plan: Sequence[tuple[str, Sequence[ResourceClaim]]],
    keys: Sequence[Sequence[Hashable]],
    *,
    engine: str,
    deadline: float | None,
    timeout: float | None,
    cancel: Any,
) -> list[list[AllocationResult]] | None:
    """Allocate each node's claims, all nodes at once; None when they do not fit together.

    ``plan`` lists ``(node, claims)``; ``keys`` gives each claim's identity (equal keys
    on several nodes are one claim, allocated once, on devices all those nodes see).
    Returns, per node, one AllocationResult per claim in its order.

    Raises:
        InputError: as the per-node allocator.
        AllocationTimeout, AllocationCancelled: stopped before an answer.

    """
    with cluster._lock:
        data = cluster._data
        problems = [
            build_problem(
                inventory=data.inventory,
                node=data.nodes[name],
                claims=list(claims),
                classes=data.classes,
                allocated_state=data.state,
                features=cluster.features,
            )
            for name, claims in plan
        ]
    merged = _merge(problems, keys)
    if merged is None:
        return None
    problem, back = merged
    solution = get_engine(engine)(
        problem, deadline=deadline, timeout=timeout, cancel=cancel, options=None
    )
    if solution is None:
        return None
    out: list[list[AllocationResult]] = []
    for node_problem, claim_map in zip(problems, back, strict=True):
        local = _split(node_problem, solution, problem, claim_map)
        out.append(build_results(node_problem, local, seed=cluster.share_id_seed))
    return out


# --- the exact search over assignments ---------------------------------------------------

# Bounds of the exact search (small instances). Running out raises AllocationTimeout:
# undecided, never "does not fit".
_MAX_STEPS = 200_000  # assignments tried, partial ones included
_MAX_JOINT_CHECKS = 2_000  # complete assignments decided by allocate_jointly
# After this many failed joint checks at one level of members placed, the relaxation
# (JointSearch._relaxed) is tried once for that level; at most this many member mixes.
_RELAX_AFTER = 8
_MAX_RELAXED = 32


@dataclass(frozen=True)
class _Leaf:
    """A complete assignment: per member a node index or None."""

    assign: tuple[int | None, ...]
    value: int  # index of the attribute value tried
    label: str | None
    fresh: int  # nodes used that have no device in use


class JointSearch:
    """Exact search over member-to-node assignments, decided jointly across nodes.

    Used when nodes share pools or members on several nodes may share a claim, where
    the per-group patterns of the master are only an upper bound. The search visits the
    assignments level by level in the order of the objective (members placed, most
    first; then nodes used, fewest first for ``pack`` and most first for ``spread``;
    then nodes in use first for ``pack``, untouched first for ``spread``) and returns the
    first that :func:`allocate_jointly` accepts. So the answer is the best placement,
    or None when no assignment at all works.

    Three cuts keep it small without losing any answer:

    - **Symmetry.** Members with the same claims (the same shared claims by name) are
      interchangeable, and so are nodes with the same coarse equivalence key (which
      names every pool that several nodes see), label value and set of members that fit
      there alone. Of every class of assignments that such swaps turn into one another,
      only the lexicographically smallest is visited: its interchangeable members have
      non-decreasing nodes (left out last), and the nodes of one class are opened in
      order. Swapping two interchangeable members or nodes changes neither feasibility
      nor the objective, and the smallest member of a class has both properties
      (otherwise a swap would give a smaller one).
    - **Each node alone.** A set of members that does not fit on its node against the
      devices in use cannot fit there when other nodes also take devices: every
      partial assignment whose node fails alone is dropped with all its extensions
      (the per-node engine decides it, memoised per node class and member multiset).
    - **A relaxation per level.** When a level (a number of members placed) has failed
      several times, :meth:`_relaxed` asks whether that many members could fit with
      nodes forgotten; when not, the rest of the level is skipped.
    """

    def __init__(self, planner: _Planner, *, use_label: bool = True) -> None:
        self.p = planner
        self.label = planner.label if use_label else None
        self.steps = 0
        self.checks = 0
        self.memo: dict[Any, bool] = {}
        self._setup()

    def _setup(self) -> None:
        p = self.p
        members = p.members
        n = len(members)
        counts: Counter[tuple[str, str]] = Counter()
        for member in members:
            counts.update(
                {_claim_key(c) for c in member if _allocation(c) is None and c.metadata.name}
            )
        signatures: dict[Any, int] = {}
        self.sig: list[int] = []
        for m, member in enumerate(members):
            sig = (
                *(
                    ("a", _freeze(_allocation(c)))
                    if _allocation(c) is not None
                    else ("s", _claim_key(c))
                    if c.metadata.name and counts[_claim_key(c)] > 1
                    else ("p", _freeze(c.spec))
                    for c in member
                ),
                ("node-fit", p.member_key(m)),
            )
            self.sig.append(signatures.setdefault(sig, len(signatures)))
        self.prev_same = [
            max((j for j in range(m) if self.sig[j] == self.sig[m]), default=-1) for m in range(n)
        ]
        self.values: list[Any] = list(p.values_tried)
        snap = p.snap
        with snap._lock:
            known = snap._data.nodes
            labels = {
                name: dict(known[name].metadata.labels or {})
                for name in p.node_names
                if name in known
            }
        names = [name for name in p.node_names if name in labels]
        if self.label is not None:
            names = [name for name in names if self.label in labels[name]]
        # Where each member fits alone (the filter), per attribute value.
        self.alone: dict[tuple[int, int], Any] = {}
        fits: dict[str, list[tuple[int, int]]] = {name: [] for name in names}
        for vi, value in enumerate(self.values):
            for m in range(n):
                key = (self.sig[m], vi)
                if key in self.alone:
                    continue
                p.check()
                view = snap.filter(
                    p.restricted(members[m], value),
                    names,
                    engine=p.engine,
                    timeout=p._left(),
                    cancel=p.cancel,
                )
                self.alone[key] = view
                for name in view.feasible:
                    fits[name].append(key)
        self.nodes = [name for name in names if fits[name]]
        index = {name: i for i, name in enumerate(self.nodes)}
        self.cands: dict[tuple[int, int], list[int]] = {}
        for m in range(n):
            for vi in range(len(self.values)):
                view = self.alone[(self.sig[m], vi)]
                self.cands[(m, vi)] = sorted(index[x] for x in view.feasible if x in index)
        # Node classes: interchangeable nodes.
        types: dict[Any, Any] = {}
        classes: dict[Any, int] = {}
        self.cls: list[int] = []
        self.in_use: list[bool] = []
        self.node_label: list[str | None] = []
        self.class_nodes: list[list[int]] = []
        for i, name in enumerate(self.nodes):
            key = p._node_key(name, types)
            label = labels[name].get(self.label) if self.label is not None else None
            extra = p.node_fit.node_key(name) if p.node_fit is not None else None
            c = classes.setdefault((key, label, tuple(fits[name]), extra), len(classes))
            if c == len(self.class_nodes):
                self.class_nodes.append([])
            self.class_nodes[c].append(i)
            self.cls.append(c)
            self.in_use.append(_key_in_use(key))
            self.node_label.append(label)

    # --- the search ------------------------------------------------------------------

    def search(self, min_count: int) -> tuple[_Leaf, list[list[AllocationResult]]] | None:
        """Return the best assignment that allocates jointly, with its results, or None."""
        n = len(self.p.members)
        for target in range(n, min_count - 1, -1):
            if target == 0:
                return _Leaf((None,) * n, 0, None, 0), []
            most = min(target, len(self.nodes))
            ks = range(1, most + 1) if self.p.policy == "pack" else range(most, 0, -1)
            failed = 0
            refuted = False
            for k in ks:
                leaves = self._level(target, k)
                pack = self.p.policy == "pack"
                leaves.sort(
                    key=lambda leaf: (
                        leaf.fresh if pack else -leaf.fresh,
                        leaf.value,
                        [len(self.nodes) if x is None else x for x in leaf.assign],
                    )
                )
                for leaf in leaves:
                    if failed == _RELAX_AFTER and not self._relaxed(target):
                        refuted = True  # no assignment of this level can allocate
                        break
                    results = self._joint(leaf)
                    if results is not None:
                        return leaf, results
                    failed += 1
                if refuted:
                    break
        return None

    def _relaxed(self, target: int) -> bool:
        """Whether ``target`` members might fit at all: False proves that none can.

        The relaxation forgets which node each member is on: every claim may take any
        device that any of the nodes sees, and the members are placed on no node in
        particular. Every real placement is a solution of it (its devices are among
        those, used once each, with the same counters and capacity), so when the
        relaxation has no solution for any mix of ``target`` members, no placement of
        ``target`` members exists. Node-local devices need only come from the first
        ``target`` nodes of each node class (``target`` members use at most that many
        nodes of a class, and the nodes of a class are interchangeable). Tried for
        every attribute value and every mix of interchangeable members (at most
        ``_MAX_RELAXED`` mixes; beyond that, and with ``All`` requests, it refutes
        nothing).
        """
        classes: dict[int, list[int]] = {}
        for m, sig in enumerate(self.sig):
            classes.setdefault(sig, []).append(m)
        groups = list(classes.values())
        mixes: list[tuple[int, ...]] = []

        def mix(i: int, left: int, acc: tuple[int, ...]) -> None:
            if len(mixes) > _MAX_RELAXED:
                return
            if i == len(groups):
                if left == 0:
                    mixes.append(acc)
                return
            for c in range(min(left, len(groups[i])), -1, -1):
                mix(i + 1, left - c, (*acc, c))

        mix(0, target, ())
        if len(mixes) > _MAX_RELAXED:
            return True
        for vi in range(len(self.values)):
            for counts in mixes:
                members = [m for g, c in zip(groups, counts, strict=True) for m in g[:c]]
                if any(not self.cands[(m, vi)] for m in members):
                    continue
                used = sorted({self.cls[x] for m in members for x in self.cands[(m, vi)]})
                nodes = [x for c in used for x in self.class_nodes[c][:target]]
                if self._relaxed_fits(members, nodes, vi):
                    return True
        return False

    def _relaxed_fits(self, members: list[int], nodes: list[int], vi: int) -> bool:
        claims, keys = self._claims_of(members, vi)
        if not claims:
            return True
        p = self.p
        p.check()
        p.stats["relaxations"] = p.stats.get("relaxations", 0) + 1
        try:
            with p.snap._lock:
                data = p.snap._data
                problems = [
                    build_problem(
                        inventory=data.inventory,
                        node=data.nodes[self.nodes[x]],
                        claims=claims,
                        classes=data.classes,
                        allocated_state=data.state,
                        features=p.snap.features,
                    )
                    for x in nodes
                ]
            if any(
                alt.all_devices
                for claim in problems[0].claims
                for slot in claim.requests
                for alt in slot.alternatives
            ):
                return True  # All takes a node's devices: no relaxation over nodes
            merged = _merge(problems, [keys] * len(problems), union=True)
            assert merged is not None  # only All requests refuse to merge
            solution = get_engine(p.engine)(
                merged[0], deadline=p.deadline, timeout=p.timeout, cancel=p.cancel, options=None
            )
        except InputError:
            return True  # refutes nothing
        return solution is not None

    def _level(self, target: int, k: int) -> list[_Leaf]:
        leaves: list[_Leaf] = []
        n = len(self.p.members)
        for vi in range(len(self.values)):
            self._dfs(0, target, k, vi, [None] * n, {}, None, 0, leaves)
        return leaves

    def _dfs(
        self,
        m: int,
        target: int,
        k: int,
        vi: int,
        assign: list[int | None],
        on: dict[int, list[int]],
        label: str | None,
        count: int,
        leaves: list[_Leaf],
    ) -> None:
        self.steps += 1
        if self.steps > _MAX_STEPS:
            raise AllocationTimeout(
                f"gang: more than {_MAX_STEPS} assignments of members to nodes to try "
                "(pools shared between nodes); not decided, which is not 'does not fit'",
                timeout=self.p.timeout,
            )
        if self.steps % 256 == 0:
            self.p.check()
        n = len(assign)
        left = n - m
        if count + left < target or k - len(on) > target - count:
            return
        if m == n:
            if count == target and len(on) == k:
                fresh = sum(1 for x in on if not self.in_use[x])
                leaves.append(_Leaf(tuple(assign), vi, label, fresh))
            return
        prev = self.prev_same[m]
        # Interchangeable members take non-decreasing nodes, "left out" last.
        low: int | None = -1 if prev < 0 else assign[prev]
        if count < target and low is not None:
            for x in self.cands[(m, vi)]:
                if x < low:
                    continue
                opened = x not in on
                if opened and (len(on) >= k or self._first_unused(x, on) != x):
                    continue
                here_label = self.node_label[x]
                if self.label is not None and label is not None and here_label != label:
                    continue
                here = [*on.get(x, []), m]
                if not self._fits(x, here, vi):
                    continue
                assign[m] = x
                on[x] = here
                self._dfs(
                    m + 1,
                    target,
                    k,
                    vi,
                    assign,
                    on,
                    label if label is not None else here_label,
                    count + 1,
                    leaves,
                )
                assign[m] = None
                if opened:
                    del on[x]
                else:
                    on[x] = here[:-1]
        self._dfs(m + 1, target, k, vi, assign, on, label, count, leaves)

    def _first_unused(self, x: int, on: dict[int, list[int]]) -> int:
        for y in self.class_nodes[self.cls[x]]:
            if y not in on:
                return y
        return -1

    def _claims_of(self, members: Sequence[int], vi: int) -> tuple[list[Any], list[Any]]:
        """Return the pending claims of ``members`` (restricted to the value) once, and keys."""
        claims: list[Any] = []
        keys: list[Any] = []
        seen: set[Any] = set()
        for m in members:
            pending = [c for c in self.p.members[m] if _allocation(c) is None]
            restricted = self.p.restricted(pending, self.values[vi])
            for j, (claim, used) in enumerate(zip(pending, restricted, strict=True)):
                key = ("claim", *_claim_key(claim)) if claim.metadata.name else ("anon", m, j)
                if key in seen:
                    continue
                seen.add(key)
                claims.append(used)
                keys.append(key)
        return claims, keys

    def _fits(self, x: int, members: list[int], vi: int) -> bool:
        memo_key = (self.cls[x], vi, tuple(sorted(self.sig[m] for m in members)))
        found = self.memo.get(memo_key)
        node_fit = self.p.node_fit
        if found is None and node_fit is not None and node_fit.reasons(self.nodes[x], members):
            found = self.memo[memo_key] = False  # cpu, memory or pods run out
        if found is None:
            claims, _ = self._claims_of(members, vi)
            with self.p.snap._lock:
                node = self.p.snap._data.nodes[self.nodes[x]]
            found = self.memo[memo_key] = self.p.fits_on(node, claims)
        return found

    def _joint(self, leaf: _Leaf) -> list[list[AllocationResult]] | None:
        self.checks += 1
        self.p.stats["joint_checks"] = self.p.stats.get("joint_checks", 0) + 1
        if self.checks > _MAX_JOINT_CHECKS:
            raise AllocationTimeout(
                f"gang: more than {_MAX_JOINT_CHECKS} placements to check across nodes "
                "(pools shared between nodes); not decided, which is not 'does not fit'",
                timeout=self.p.timeout,
            )
        self.p.check()
        used = sorted({x for x in leaf.assign if x is not None})
        plan: list[tuple[str, list[Any]]] = []
        keys: list[list[Any]] = []
        for x in used:
            here = [m for m, y in enumerate(leaf.assign) if y == x]
            claims, claim_keys = self._claims_of(here, leaf.value)
            plan.append((self.nodes[x], claims))
            keys.append(claim_keys)
        try:
            return allocate_jointly(
                self.p.snap,
                plan,
                keys,
                engine=self.p.engine,
                deadline=self.p.deadline,
                timeout=self.p.timeout,
                cancel=self.p.cancel,
            )
        except InputError:
            # Each node alone passed; an error only this combination reaches makes it
            # not fit (as in the per-node pattern search): never a wrong "fits".
            return None

    def placement(
        self, leaf: _Leaf, results: list[list[AllocationResult]], stats: dict[str, Any]
    ) -> GangPlacement:
        """Return the placement of ``leaf`` with the results of :func:`allocate_jointly`."""
        p = self.p
        n = len(p.members)
        used = sorted({x for x in leaf.assign if x is not None})
        by_key: dict[Any, AllocationResult] = {}
        for u, node_results in zip(used, results, strict=True):
            here = [m for m, y in enumerate(leaf.assign) if y == u]
            _, keys = self._claims_of(here, leaf.value)
            for key, result in zip(keys, node_results, strict=True):
                by_key.setdefault(key, result)  # a shared claim: one allocation
        nodes: list[str | None] = [None] * n
        allocations: list[tuple[AllocationResult, ...] | None] = [None] * n
        for m, x in enumerate(leaf.assign):
            if x is None:
                continue
            nodes[m] = self.nodes[x]
            out: list[AllocationResult] = []
            for j, claim in enumerate(c for c in p.members[m] if _allocation(c) is None):
                key = ("claim", *_claim_key(claim)) if claim.metadata.name else ("anon", m, j)
                out.append(by_key[key])
            results_iter = iter(out)
            full: list[AllocationResult] = []
            for claim in p.members[m]:
                allocation = _allocation(claim)
                full.append(allocation if allocation is not None else next(results_iter))
            allocations[m] = tuple(full)
        from dra_core.cluster._gang import _NO_VALUE, GangPlacement

        value = self.values[leaf.value]
        return GangPlacement(
            tuple(nodes),
            tuple(allocations),
            p.policy,
            label_value=leaf.label if self.label is not None else None,
            attribute_value=(
                (value[1] if isinstance(value, tuple) else value)
                if p.attribute is not None and value is not _NO_VALUE
                else None
            ),
            optimal=True,
            stats=stats,
            _claims=tuple(p.members),
        )


def _claim_key(claim: ResourceClaim) -> tuple[str, str]:
    return (claim.metadata.namespace or "default", claim.metadata.name or "")


def _key_in_use(key: Any) -> bool:
    """Whether a node key says some device of the node's own pools is in use."""
    return any(
        isinstance(part, tuple) and len(part) > 2 and part[0] in ("L", "T") and bool(part[2])
        for part in key
    )
