"""The CP-SAT model of one allocation :class:`~dra_core.allocator.problem.Problem`.

One boolean per (request or subrequest, candidate device): ``assigned(slot, candidate)``
is true when that request takes that device. Every rule of the search engine becomes one
``_add_<rule>()`` method below, named after the rule it mirrors (see the rules list in
:mod:`dra_core.allocator.problem`):

========================== =========================================================
method                     the search engine's rule
========================== =========================================================
``_add_request_counts``    ``count`` devices per request; ``All`` takes every candidate
``_add_subrequest_choice`` a ``firstAvailable`` request uses exactly one subrequest
``_add_claim_limit``       at most 32 devices per claim (``AllocationResultsMaxSize``)
``_add_device_in_use``     a device is used once per call; admin access checks its claim
``_add_match_attribute``   ``matchAttribute``: all chosen values share an element
``_add_distinct_attribute`` ``distinctAttribute``: chosen values pairwise disjoint
``_add_shared_counters``   the counters of a pool cover the devices that consume them
``_add_consumable_capacity`` shares of a shareable device fit its capacity left
========================== =========================================================

Quantities are exact fractions; CP-SAT wants integers. Every group of quantities that
is compared together (one counter of one pool, one capacity of one device) is scaled
by the lcm of its denominators and divided by the gcd of the results, which keeps the
comparison exact and the numbers small.

Explanations: built with ``explain=True``, every constraint that a user can act on (a
request that must be satisfied, a claim's device limit, a constraint, a counter set,
a shared device's capacity) is enforced only under its own *guard* literal. Solving
with the guards as assumptions, and removing guards one at a time, yields a minimal
set of them that cannot hold together (see :mod:`dra_core.allocator.explain`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from dra_core.allocator.problem import (
    AttributeValue,
    Candidate,
    Choice,
    ConstraintInfo,
    Problem,
    RequestInfo,
    RequestSlot,
    Solution,
)
from dra_core.errors import AllocationInputError

if TYPE_CHECKING:
    # OR-Tools is imported where a model is built or solved, not with this module:
    # importing it costs about 0.25 s (it brings numpy and pandas), which every
    # ``import dra_core`` would pay even when CP-SAT is never used.
    from ortools.sat.python import cp_model

__all__ = [
    "AllocationModel",
    "Guard",
    "SolverParams",
    "Variables",
    "integer_scale",
]


@dataclass(frozen=True, slots=True)
class SolverParams:
    """The one place where CP-SAT's parameters are chosen.

    Attributes:
        time_limit: seconds of wall time per solve. When it runs out before CP-SAT
            has an answer, the engine raises :class:`~dra_core.errors.AllocationTimeout`
            (never "does not fit").
        num_workers: search threads. 1 keeps results reproducible run to run; the
            Kubernetes-order solve always uses 1 (its fixed search needs it).
        random_seed: CP-SAT's seed, fixed for determinism.
        log: print CP-SAT's search log (debugging).

    """

    time_limit: float = 10.0
    num_workers: int = 1
    random_seed: int = 0
    log: bool = False

    def solver(self, *, fixed_search: bool = False) -> cp_model.CpSolver:
        """Build a solver configured with these parameters.

        ``fixed_search`` follows the model's decision strategy depth-first, true
        before false, without presolve (whose reductions may drop feasible
        solutions): the first solution found is then the lexicographically first.
        """
        from ortools.sat.python import cp_model

        solver = cp_model.CpSolver()
        p = solver.parameters
        p.max_time_in_seconds = float(self.time_limit)
        p.random_seed = int(self.random_seed)
        p.log_search_progress = bool(self.log)
        # Put every at-most-one ("a device is used once") into the LP relaxation:
        # counting arguments such as "33 devices wanted from 32" are then one LP
        # away instead of an exponential pigeonhole proof.
        p.linearization_level = 2
        if fixed_search:
            p.num_workers = 1
            p.search_branching = cp_model.FIXED_SEARCH
            # Presolve only promises to keep *a* solution: its reductions (even with
            # keep_all_feasible_solutions_in_presolve) were seen to lose the
            # lexicographically first one, so the fixed search runs without it.
            p.cp_model_presolve = False
            p.keep_all_feasible_solutions_in_presolve = True
            p.symmetry_level = 0
        else:
            p.num_workers = max(1, int(self.num_workers))
        return solver


@dataclass(frozen=True, slots=True)
class Guard:
    """A user-facing constraint that can be switched off, for explanations.

    Attributes:
        kind: ``"request"``, ``"claim-limit"``, ``"match"``, ``"distinct"``,
            ``"counters"`` or ``"capacity"``.
        claim: index of the claim, when the guard belongs to one.
        subject: what it is about: a request name, a constraint attribute, a
            counter set ``driver/pool/set``, a device ``driver/pool/device``.
        detail: a short English sentence.

    """

    kind: str
    claim: int | None
    subject: str
    detail: str


def integer_scale(values: Iterable[Fraction]) -> tuple[int, int]:
    """``(multiplier, divisor)`` so that ``v * multiplier / divisor`` is an integer for all.

    Worked example: ``[1/2, 3, 9/2]`` -> multiplier 2 (lcm of denominators) gives
    ``[1, 6, 9]``, divisor 1; ``[4Gi, 8Gi]`` -> multiplier 1, divisor 4Gi, giving ``[1, 2]``.
    """
    vals = [Fraction(v) for v in values]
    multiplier = 1
    for v in vals:
        multiplier = multiplier * v.denominator // math.gcd(multiplier, v.denominator)
    divisor = 0
    for v in vals:
        divisor = math.gcd(divisor, int(v * multiplier))
    return multiplier, divisor or 1


def _scaled(value: Fraction, scale: tuple[int, int]) -> int:
    multiplier, divisor = scale
    return int(Fraction(value) * multiplier) // divisor


def _cannot_add(problem: Problem, claim: int, info: RequestInfo, device: int) -> Exception:
    """Kubernetes' error for an ``All`` request's device that a constraint refuses."""
    claim_info = problem.claims[claim]
    device_id = problem.devices[device].id
    name = info.subrequest_name or info.request_name
    return AllocationInputError(
        f"claim {claim_info.ref}, request {name}: cannot add device "
        f"{device_id} because a claim constraint would not be satisfied",
        claim=claim_info.ref,
        request=info.name,
        device=str(device_id),
    )


def _tokens(con: ConstraintInfo, value: AttributeValue | None) -> list[Any]:
    """Return the elements a constraint compares for one value (typed: kinds never mix)."""
    if value is None or not value.kind:
        return []
    if con.list_type_attributes:
        return sorted(((value.kind, e) for e in value.values), key=repr)
    return [(value.kind, value.values)]


@dataclass(eq=False)
class _Slot:
    """One request or subrequest, as the model indexes it."""

    index: int
    claim: int
    slot: RequestSlot
    info: RequestInfo
    alternative: int  # position among the request's alternatives


@dataclass(eq=False)
class Variables:
    """The model's decision variables.

    ``assigned(slot, candidate)``: the request ``slots[slot]`` takes its candidate
    number ``candidate``. ``active(slot)``: the request is the one used for its
    parent (always true for a plain request, one of the alternatives of a
    ``firstAvailable`` request).
    """

    model: cp_model.CpModel
    slots: list[_Slot] = field(default_factory=list)
    _assigned: dict[tuple[int, int], cp_model.IntVar] = field(default_factory=dict)
    _active: dict[int, cp_model.IntVar] = field(default_factory=dict)

    def add_slot(self, slot: _Slot) -> None:
        """Create the variables of one request or subrequest."""
        self.slots.append(slot)
        self._active[slot.index] = self.model.new_bool_var(f"active[{slot.info.name}]")
        for c, cand in enumerate(slot.info.candidates):
            self._assigned[(slot.index, c)] = self.model.new_bool_var(
                f"assigned[{slot.info.name},{cand.device}]"
            )

    def assigned(self, slot: int, candidate: int) -> cp_model.IntVar:
        """Request ``slot`` takes its candidate ``candidate``."""
        return self._assigned[(slot, candidate)]

    def active(self, slot: int) -> cp_model.IntVar:
        """Request ``slot`` is the alternative used for its request."""
        return self._active[slot]

    def row(self, slot: int) -> list[cp_model.IntVar]:
        """Every ``assigned`` variable of one request, in candidate order."""
        n = len(self.slots[slot].info.candidates)
        return [self._assigned[(slot, c)] for c in range(n)]

    def uses(self) -> dict[int, list[tuple[int, int, cp_model.IntVar]]]:
        """Per device index: ``(slot, candidate, variable)`` of every request that may take it."""
        out: dict[int, list[tuple[int, int, cp_model.IntVar]]] = defaultdict(list)
        for slot in self.slots:
            for c, cand in enumerate(slot.info.candidates):
                out[cand.device].append((slot.index, c, self._assigned[(slot.index, c)]))
        return out


class AllocationModel:
    """One CP-SAT model of a :class:`Problem` (the whole node, every claim at once)."""

    def __init__(self, problem: Problem, *, explain: bool = False) -> None:
        self.problem = problem
        self.explain = explain
        from ortools.sat.python import cp_model

        self.model = cp_model.CpModel()
        self.vars = Variables(self.model)
        self.guards: list[tuple[cp_model.IntVar, Guard]] = []
        # stop(slot, candidate) -> (variable, the error the search raises there).
        self.stops: dict[tuple[int, int], tuple[cp_model.IntVar, Exception]] = {}
        self.stop_kind: dict[tuple[int, int], str] = {}
        self.after: dict[int, Any] = {}
        self.stop_in: dict[int, Any] = {}
        # slot indices of each (claim, request), in alternative order.
        self.request_slots: dict[tuple[int, int], list[int]] = {}
        self._create_variables()
        self._add_request_counts()
        self._add_subrequest_choice()
        self._add_claim_limit()
        self._add_device_in_use()
        self._add_match_attribute()
        self._add_distinct_attribute()
        self._add_shared_counters()
        self._add_consumable_capacity()
        self._add_all_request_refusals()

    # --- plumbing ---------------------------------------------------------------------

    def _create_variables(self) -> None:
        for claim in self.problem.claims:
            for slot in claim.requests:
                indices: list[int] = []
                for a, info in enumerate(slot.alternatives):
                    index = len(self.vars.slots)
                    self.vars.add_slot(_Slot(index, claim.index, slot, info, a))
                    indices.append(index)
                self.request_slots[(claim.index, slot.request)] = indices
        self._create_stops()

    def _create_stops(self) -> None:
        """Create the places where the search's walk ends with an error.

        The search raises when its walk *reaches* a poisoned candidate (a selector
        error) that no earlier choice holds, or an ``All`` request's device that a
        claim constraint refuses. Whether it gets there depends on the choices made
        before, so each such place is a variable ``stop(slot, candidate)``: true when
        the walk ends there. A stop is a leaf of the search like a solution is: the
        choices before it must be consistent, the ones after it do not exist. In
        Kubernetes order the first leaf wins, error or solution.
        """
        for slot in self.vars.slots:
            info = slot.info
            if info.all_devices:
                if not info.constraints:
                    continue
                # Every device of an All request up to the first one that cannot be
                # taken at all may be where a constraint refuses it.
                for c, cand in enumerate(info.candidates):
                    if not cand.usable:
                        break
                    error = _cannot_add(self.problem, slot.claim, info, cand.device)
                    self._new_stop(slot.index, c, error, kind="all")
                continue
            for c, cand in enumerate(info.candidates):
                if cand.error is not None:
                    self._new_stop(slot.index, c, cand.error, kind="poison")
                    # The search never takes a poisoned candidate.
                    self.model.add(self.vars.assigned(slot.index, c) == 0)
        if not self.stops:
            return
        self.model.add_at_most_one(var for var, _ in self.stops.values())
        # after(slot): a stop lies strictly before the slot in the walk's order
        # (claims, requests, alternatives), so the walk never reaches it.
        before: Any = 0
        for slot in self.vars.slots:
            here = [var for (s, _), (var, _) in self.stops.items() if s == slot.index]
            after = self.model.new_bool_var(f"after[{slot.info.name}]")
            self.model.add(after == before)
            self.after[slot.index] = after
            self.stop_in[slot.index] = sum(here) if here else 0
            before = after + self.stop_in[slot.index]

    def _new_stop(self, slot: int, candidate: int, error: Exception, *, kind: str) -> None:
        var = self.model.new_bool_var(f"stop[{self.vars.slots[slot].info.name},{candidate}]")
        self.stops[(slot, candidate)] = (var, error)
        self.stop_kind[(slot, candidate)] = kind

    def forbid_stops(self) -> None:
        """Rule out every stop (for optimising once it is known that none is reached)."""
        for var, _ in self.stops.values():
            self.model.add(var == 0)

    def stop_uses(self, *kinds: str) -> dict[int, list[tuple[int, int, cp_model.IntVar]]]:
        """Per device: the stops at it, as uses (the search checks them like a take)."""
        out: dict[int, list[tuple[int, int, cp_model.IntVar]]] = defaultdict(list)
        for (slot, c), (var, _) in sorted(self.stops.items()):
            if self.stop_kind[(slot, c)] in kinds:
                device = self.vars.slots[slot].info.candidates[c].device
                out[device].append((slot, c, var))
        return out

    def _normal(self, slot: int) -> list[Any]:
        """Return the literals under which a slot is walked to its end (none: always)."""
        if not self.stops:
            return []
        normal = self.model.new_bool_var(f"normal[{self.vars.slots[slot].info.name}]")
        self.model.add(normal + self.after[slot] + self.stop_in[slot] == 1)
        return [normal]

    def _guard(self, guard: Guard) -> list[cp_model.IntVar]:
        """Return the enforcement literals of a user-facing constraint (none unless explaining)."""
        if not self.explain:
            return []
        literal = self.model.new_bool_var(f"guard[{guard.kind}:{guard.subject}]")
        self.guards.append((literal, guard))
        return [literal]

    def _claim_ref(self, claim: int) -> str:
        return self.problem.claims[claim].ref

    # --- the rules ----------------------------------------------------------------------

    def _add_request_counts(self) -> None:
        # count/All: an active request takes exactly ``count`` of its candidates; an
        # inactive one takes none. ``All`` takes every candidate, so one that can never
        # be taken (``usable=False``) or an empty list makes the request impossible.
        # With stops: a request after the stop takes nothing; the request holding the
        # stop has taken fewer than ``count`` devices, all before the stop.
        for slot in self.vars.slots:
            info = slot.info
            row = self.vars.row(slot.index)
            active = self.vars.active(slot.index)
            normal = self._normal(slot.index)
            if info.all_devices:
                if not info.candidates or not all(c.usable for c in info.candidates):
                    self.model.add(active == 0).only_enforce_if(normal)
                for var, cand in zip(row, info.candidates, strict=True):
                    if not cand.usable:
                        self.model.add(var == 0)
                for var in row:
                    self.model.add(var == active).only_enforce_if(normal)
            else:
                self.model.add(sum(row) == info.count * active).only_enforce_if(normal)
            if not self.stops:
                continue
            self.model.add(sum(row) == 0).only_enforce_if(self.after[slot.index])
            for (s, c), (stop, _) in self.stops.items():
                if s != slot.index:
                    continue
                self.model.add(active == 1).only_enforce_if(stop)
                self.model.add(sum(row[c:]) == 0).only_enforce_if(stop)
                if info.all_devices:
                    self.model.add(sum(row[:c]) == c).only_enforce_if(stop)
                else:
                    self.model.add(sum(row[:c]) <= info.count - 1).only_enforce_if(stop)

    def _add_subrequest_choice(self) -> None:
        # firstAvailable: exactly one alternative of each request is used (a plain
        # request has one alternative). Explaining: "request r must be satisfied".
        for claim in self.problem.claims:
            for slot in claim.requests:
                indices = self.request_slots[(claim.index, slot.request)]
                actives = [self.vars.active(i) for i in indices]
                guard = self._guard(
                    Guard(
                        "request",
                        claim.index,
                        slot.name,
                        f"claim {claim.ref}, request {slot.name} must be satisfied",
                    )
                )
                reached = []
                if self.stops:
                    # A request the walk never reaches needs nothing.
                    first = self.request_slots[(claim.index, slot.request)][0]
                    reached = [self.after[first].Not()]
                self.model.add(sum(actives) <= 1)
                self.model.add(sum(actives) == 1).only_enforce_if([*guard, *reached])

    def _add_claim_limit(self) -> None:
        # AllocationResultsMaxSize: a claim holds at most 32 devices.
        limit = self.problem.max_devices_per_claim
        for claim in self.problem.claims:
            terms = [
                slot.info.count * self.vars.active(slot.index)
                for slot in self.vars.slots
                if slot.claim == claim.index and slot.info.count
            ]
            most = sum(s.info.count for s in self.vars.slots if s.claim == claim.index)
            if most <= limit:
                continue  # cannot be exceeded whatever is chosen
            guard = self._guard(
                Guard(
                    "claim-limit",
                    claim.index,
                    claim.ref,
                    f"claim {claim.ref} can hold at most {limit} devices",
                )
            )
            self.model.add(sum(terms) <= limit).only_enforce_if(guard)

    def _add_device_in_use(self) -> None:
        # Device in use: a device that cannot be shared is taken at most once per
        # call. Kubernetes checks a new choice against the earlier ones: without admin
        # access against every claim, with admin access only against its own claim.
        # So: at most one use per claim, and a use without admin access excludes
        # every use in earlier claims. A request never takes a device twice.
        all_uses = self.vars.uses()
        # The search checks "in use" before it evaluates a selector or a constraint,
        # so a stop only happens at a device that is free.
        for device, stops in self.stop_uses("poison", "all").items():
            all_uses.setdefault(device, []).extend(stops)
        for device, uses in sorted(all_uses.items()):
            if self.problem.devices[device].shareable:
                continue
            if len(uses) < 2:
                continue
            if not any(self.vars.slots[s].info.admin_access for s, _, _ in uses):
                self.model.add_at_most_one(var for _, _, var in uses)
                continue
            by_claim: dict[int, list[tuple[bool, cp_model.IntVar]]] = defaultdict(list)
            for s, _, var in uses:
                slot = self.vars.slots[s]
                by_claim[slot.claim].append((slot.info.admin_access, var))
            earlier: list[cp_model.IntVar] = []
            for claim in sorted(by_claim):
                claim_uses = by_claim[claim]
                if len(claim_uses) > 1:
                    self.model.add_at_most_one(var for _, var in claim_uses)
                if earlier:
                    for admin, var in claim_uses:
                        if not admin:
                            self.model.add(sum(earlier) == 0).only_enforce_if(var)
                earlier.extend(var for _, var in claim_uses)

    def _scope(self, claim: int, constraint: int) -> list[tuple[int, int, cp_model.IntVar]]:
        """``(slot, candidate, variable)`` in the constraint's scope, in choice order."""
        out = []
        for slot in self.vars.slots:
            if slot.claim != claim or constraint not in slot.info.constraints:
                continue
            for c in range(len(slot.info.candidates)):
                out.append((slot.index, c, self.vars.assigned(slot.index, c)))
        # Choice order: request order, then candidate order. Alternatives of one
        # request exclude each other, so their relative order does not matter.
        out.sort(key=lambda t: (self.vars.slots[t[0]].slot.request, t[1]))
        return out

    def _value(self, con: ConstraintInfo, slot: int, candidate: int) -> AttributeValue | None:
        device = self.vars.slots[slot].info.candidates[candidate].device
        return con.values.get(device)

    def _add_match_attribute(self) -> None:
        # matchAttribute: the chosen devices' value sets have a common element. One
        # witness element is chosen; every chosen device must contain it. A device
        # without the attribute is never admitted. With list-type attributes off, a
        # value constraints cannot compare (kind "") is only admitted alone.
        for claim in self.problem.claims:
            for k, con in enumerate(claim.constraints):
                if con.kind != "match":
                    continue
                scope = self._scope(claim.index, k)
                if not scope:
                    continue
                guard = self._guard(
                    Guard(
                        "match",
                        claim.index,
                        con.attribute,
                        f"claim {claim.ref}: matchAttribute {con.attribute}",
                    )
                )
                witness: dict[Any, cp_model.IntVar] = {}
                for slot, c, var in scope:
                    value = self._value(con, slot, c)
                    if value is None or (not value.kind and con.list_type_attributes):
                        self.model.add(var == 0).only_enforce_if(guard)
                        continue
                    if not value.kind:
                        others = [v for s2, c2, v in scope if (s2, c2) != (slot, c)]
                        self.model.add(sum(others) == 0).only_enforce_if([var, *guard])
                        continue
                    if con.list_type_attributes:
                        tokens = [(value.kind, e) for e in value.values]
                    else:
                        tokens = [(value.kind, value.values)]
                    options = []
                    for token in sorted(tokens, key=repr):
                        if token not in witness:
                            witness[token] = self.model.new_bool_var(f"witness[{con.attribute}]")
                        options.append(witness[token])
                    self.model.add_bool_or(options).only_enforce_if([var, *guard])
                if witness:
                    self.model.add_at_most_one(witness.values())
                    if not self.stops:
                        self._add_match_counting(claim.index, k, con, scope, witness, guard)

    def _add_match_counting(
        self,
        claim: int,
        k: int,
        con: ConstraintInfo,
        scope: list[tuple[int, int, cp_model.IntVar]],
        witness: dict[Any, cp_model.IntVar],
        guard: list[cp_model.IntVar],
    ) -> None:
        # Redundant, for propagation: when the witness is element t, every device the
        # requests in scope take must contain t, so the devices containing t must be at
        # least as many as those requests need. A witness whose devices are too few is
        # ruled out at once, instead of by trying every combination of them.
        needed = []
        for entry in self.vars.slots:
            if entry.claim == claim and k in entry.info.constraints and entry.info.count:
                needed.append(entry.info.count * self.vars.active(entry.index))
        if not needed:
            return
        # Count devices, not (request, device) pairs: within one claim a device that
        # cannot be shared is taken once, and a 0/1 count per device lets CP-SAT see
        # at once that ten devices never make eleven.
        by_device: dict[int, list[cp_model.IntVar]] = defaultdict(list)
        tokens_of: dict[int, list[Any]] = {}
        for slot, c, var in scope:
            device = self.vars.slots[slot].info.candidates[c].device
            value = self._value(con, slot, c)
            if value is None or not value.kind:
                continue
            by_device[device].append(var)
            tokens_of[device] = _tokens(con, value)
        taken: dict[int, Any] = {}
        for device in sorted(by_device):
            takers = by_device[device]
            most = 1 if not self.problem.devices[device].shareable else len(takers)
            count = self.model.new_int_var(0, most, f"taken[{con.attribute},{device}]")
            self.model.add(count == sum(takers))
            taken[device] = count
        holders: dict[Any, list[Any]] = defaultdict(list)
        for device in sorted(taken):
            for token in tokens_of[device]:
                holders[token].append(taken[device])
        for token in sorted(witness, key=repr):
            self.model.add(sum(holders[token]) >= sum(needed)).only_enforce_if(
                [witness[token], *guard]
            )

    def _add_distinct_attribute(self) -> None:
        # distinctAttribute: the chosen devices' value sets are pairwise disjoint, so
        # every element is used by at most one chosen device. A device without the
        # attribute is never admitted; one whose value cannot be compared (kind "") is
        # only admitted as the first device in choice order.
        for claim in self.problem.claims:
            for k, con in enumerate(claim.constraints):
                if con.kind != "distinct":
                    continue
                scope = self._scope(claim.index, k)
                if not scope:
                    continue
                guard = self._guard(
                    Guard(
                        "distinct",
                        claim.index,
                        con.attribute,
                        f"claim {claim.ref}: distinctAttribute {con.attribute}",
                    )
                )
                holders: dict[Any, list[cp_model.IntVar]] = defaultdict(list)
                for position, (slot, c, var) in enumerate(scope):
                    value = self._value(con, slot, c)
                    if value is None:
                        self.model.add(var == 0).only_enforce_if(guard)
                        continue
                    if not value.kind:
                        # Alternatives of one request exclude each other, so
                        # including them in "before" changes nothing.
                        before = [v for _, _, v in scope[:position]]
                        if before:
                            self.model.add(sum(before) == 0).only_enforce_if([var, *guard])
                        continue
                    for element in value.values:
                        holders[(value.kind, element)].append(var)
                for token in sorted(holders, key=repr):
                    if len(holders[token]) > 1:
                        self.model.add(sum(holders[token]) <= 1).only_enforce_if(guard)

    def _add_shared_counters(self) -> None:
        # Shared counters: per pool and counter, what the chosen devices consume stays
        # within what is left. A device that cannot be shared consumes per use; a
        # shareable one once (it is one device), and not at all when its counters are
        # already paid for by shares in use.
        problem = self.problem
        uses = self.vars.uses()
        # The search checks counters before constraints: an All request's stop happens
        # only where the device's counters would still fit.
        for device, stops in self.stop_uses("all").items():
            uses.setdefault(device, []).extend(stops)
        by_pool: dict[Any, list[int]] = defaultdict(list)
        for device in sorted(uses):
            info = problem.devices[device]
            if info.consumes and not info.counters_prepaid:
                by_pool[info.pool].append(device)
        for pool in sorted(by_pool, key=str):
            available = problem.counters.get(pool, {})
            terms: dict[tuple[str, str], list[tuple[Fraction, Any]]] = defaultdict(list)
            for device in by_pool[pool]:
                info = problem.devices[device]
                if info.shareable:
                    used = self.model.new_bool_var(f"used[{info.id}]")
                    for _, _, var in uses[device]:
                        self.model.add_implication(var, used)
                    takers: list[Any] = [used]
                else:
                    takers = [var for _, _, var in uses[device]]
                for key, amount in info.consumes:
                    for taker in takers:
                        terms[key].append((amount.value, taker))
            overdrawn = sorted({key[0] for key, left in available.items() if left.value < 0})
            if overdrawn:
                # Kubernetes checks all of a pool's counters whenever it takes a device
                # that consumes from the pool, so a counter set that the allocated claims
                # already overdrew blocks every such device (and nothing else: a pool
                # whose devices are not chosen is never checked).
                guard = self._guard(
                    Guard(
                        "counters",
                        None,
                        f"{pool}/{overdrawn[0]}",
                        f"counter set {overdrawn[0]} of pool {pool} (already overdrawn)",
                    )
                )
                for takers_of_key in terms.values():
                    for _, taker in takers_of_key:
                        self.model.add(taker == 0).only_enforce_if(guard)
                continue
            guards_by_set: dict[str, list[cp_model.IntVar]] = {}
            for key in sorted(terms):
                if key not in available:
                    continue  # the search never admits such a device (filtered)
                have = available[key].value
                scale = integer_scale([have, *(a for a, _ in terms[key])])
                set_name = key[0]
                if set_name not in guards_by_set:
                    guards_by_set[set_name] = self._guard(
                        Guard(
                            "counters",
                            None,
                            f"{pool}/{set_name}",
                            f"counter set {set_name} of pool {pool}",
                        )
                    )
                expr = sum(_scaled(a, scale) * v for a, v in terms[key])
                self.model.add(expr <= _scaled(have, scale)).only_enforce_if(
                    guards_by_set[set_name]
                )

    def _add_consumable_capacity(self) -> None:
        # Consumable capacity: the shares chosen on a shareable device, each with the
        # amount its request consumes after request-policy rounding, fit the capacity
        # that allocated shares left.
        uses = self.vars.uses()
        for device in sorted(uses):
            info = self.problem.devices[device]
            if not info.shareable or len(uses[device]) < 1:
                continue
            guard: list[cp_model.IntVar] | None = None
            for name in sorted(info.capacity_left):
                left = info.capacity_left[name].value
                terms: list[tuple[Fraction, Any]] = []
                for slot, c, var in uses[device]:
                    cand: Candidate = self.vars.slots[slot].info.candidates[c]
                    amount = cand.demand.get(name)
                    if amount is not None and amount.value:
                        terms.append((amount.value, var))
                if not terms or sum(a for a, _ in terms) <= left:
                    continue  # holds whatever is chosen
                if guard is None:
                    guard = self._guard(
                        Guard(
                            "capacity",
                            None,
                            str(info.id),
                            f"the capacity left on shared device {info.id}",
                        )
                    )
                scale = integer_scale([left, *(a for a, _ in terms)])
                expr = sum(_scaled(a, scale) * v for a, v in terms)
                self.model.add(expr <= _scaled(left, scale)).only_enforce_if(guard)

    def _add_all_request_refusals(self) -> None:
        # "cannot add device ... because a claim constraint would not be satisfied":
        # the search takes an All request's devices in order and raises when a
        # constraint refuses one, given the devices chosen before it. A stop there
        # needs a real refusal by at least one of the request's constraints.
        for (slot_index, c), (stop, _) in sorted(self.stops.items()):
            if self.stop_kind[(slot_index, c)] != "all":
                continue
            slot = self.vars.slots[slot_index]
            claim = self.problem.claims[slot.claim]
            device = slot.info.candidates[c].device
            refusals: list[Any] = []
            for k in slot.info.constraints:
                con = claim.constraints[k]
                value = con.values.get(device)
                if value is None:
                    refusals = []  # refused whatever was chosen before
                    break
                refused = self.model.new_bool_var(f"refused[{con.attribute},{device}]")
                refusals.append(refused)
                earlier = [
                    (s2, c2, var)
                    for s2, c2, var in self._scope(slot.claim, k)
                    if (s2, c2) != (slot_index, c)
                ]
                mine = _tokens(con, value)
                if con.kind == "match" and con.list_type_attributes and not value.kind:
                    self.model.add(refused == 1)  # never admitted
                elif not value.kind:
                    # Admitted only as the first device in scope.
                    self.model.add_bool_or([v for _, _, v in earlier]).only_enforce_if(refused)
                elif con.kind == "match":
                    # Refused when every element of its value is missing from some
                    # device chosen before (the running intersection misses them all).
                    for token in mine:
                        lacking = [
                            v
                            for s2, c2, v in earlier
                            if token not in _tokens(con, self._value(con, s2, c2))
                        ]
                        self.model.add_bool_or(lacking).only_enforce_if(refused)
                else:
                    # distinct: refused when a device chosen before shares an element.
                    sharing = [
                        v
                        for s2, c2, v in earlier
                        if set(mine) & set(_tokens(con, self._value(con, s2, c2)))
                    ]
                    self.model.add_bool_or(sharing).only_enforce_if(refused)
            if refusals:
                self.model.add_bool_or(refusals).only_enforce_if(stop)

    # --- Kubernetes order -------------------------------------------------------------

    def add_kubernetes_order(self) -> None:
        """Make the fixed search visit decisions in the search engine's order.

        Claims in order, requests in order; for a ``firstAvailable`` request first
        which subrequest (earlier preferred), then its devices. Within a request the
        search takes the lexicographically first combination of candidate positions;
        with a fixed count that is the lexicographically *largest* 0/1 vector over
        candidates in order, so every variable is tried true first.
        """
        order: list[cp_model.IntVar] = []
        for claim in self.problem.claims:
            for slot in claim.requests:
                indices = self.request_slots[(claim.index, slot.request)]
                if slot.first_available:
                    order.extend(self.vars.active(i) for i in indices)
                for i in indices:
                    for c, var in enumerate(self.vars.row(i)):
                        order.append(var)
                        stop = self.stops.get((i, c))
                        if stop is not None:
                            order.append(stop[0])
        if order:
            from ortools.sat.python import cp_model

            self.model.add_decision_strategy(
                order, cp_model.CHOOSE_FIRST, cp_model.SELECT_MAX_VALUE
            )

    # --- reading a solution -------------------------------------------------------------

    def solution(self, solver: cp_model.CpSolver) -> Solution:
        """Read the neutral :class:`Solution` from the solver's current assignment."""
        for var, error in self.stops.values():
            if solver.boolean_value(var):
                raise error
        choices: list[tuple[Choice, ...]] = []
        selected: dict[tuple[int, int], int] = {}
        for claim in self.problem.claims:
            picked: list[Choice] = []
            for slot in claim.requests:
                for i in self.request_slots[(claim.index, slot.request)]:
                    if not solver.boolean_value(self.vars.active(i)):
                        continue
                    s = self.vars.slots[i]
                    if slot.first_available:
                        selected[(claim.index, slot.request)] = s.alternative
                    for c, cand in enumerate(s.info.candidates):
                        if solver.boolean_value(self.vars.assigned(i, c)):
                            picked.append(Choice(s.info.key, cand))
                    break
            choices.append(tuple(picked))
        return Solution(tuple(choices), selected)

    def chosen_literals(self, solver: cp_model.CpSolver) -> list[cp_model.IntVar]:
        """Return the ``assigned`` variables that are true in the solver's assignment."""
        return [
            self.vars.assigned(slot.index, c)
            for slot in self.vars.slots
            for c in range(len(slot.info.candidates))
            if solver.boolean_value(self.vars.assigned(slot.index, c))
        ]

    def slots_of_claim(self, claim: int) -> Sequence[_Slot]:
        """Return the requests and subrequests of one claim."""
        return [s for s in self.vars.slots if s.claim == claim]
