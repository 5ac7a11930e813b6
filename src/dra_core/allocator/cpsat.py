"""The CP-SAT engines: ``"cpsat"`` (complete, scoring) and ``"auto"`` (search, then CP-SAT).

Both solve the same :class:`~dra_core.allocator.problem.Problem` as the search engine,
with the model of :mod:`dra_core.allocator.cpsat_model`. ``"auto"``
(:func:`~dra_core.allocator.engines.auto_engine`, re-exported here) is defined and
registered in :mod:`dra_core.allocator.engines`, so that allocations the search settles
never import this module.

Kubernetes order (policy ``first-fit``, the default)
    The answer is exactly the search engine's: the first solution in Kubernetes' order
    (claims, requests, subrequests earlier first, then for each request the
    lexicographically first combination of candidates). The model's decision strategy
    lists the variables in that order, true first, and CP-SAT runs a fixed search on
    one worker with no presolve reduction that may drop solutions. A conflict-driven
    search that always decides the first open variable of a fixed order, preferred
    value first, finds the lexicographically first solution: every learned clause is
    implied by the model, so it never cuts that solution off, and every decision agrees
    with it until it is found. Tests check it against the search on every conformance
    case and on random instances.

Scoring policies (beyond Kubernetes)
    ``best-fit``: the smallest sufficient devices: fewest counters consumed (as a
    fraction of each counter set) and least capacity (left over after a share).
    ``pack``: reuse what is already partly used: counter sets, shared devices and
    pools that are already in use cost nothing, opening a fresh one costs.
    ``spread``: the opposite: as many different counter sets, shared devices and pools
    as possible, untouched ones preferred.
    ``weights``: maximise the sum of user weights over device attributes,
    ``{"gpu.example.com/memory": 1.0, "gpu.example.com/model=H100": 5.0}`` (numeric and
    boolean attributes are multiplied by their value; ``name=value`` weighs a match).
    Ties go to the earlier devices in Kubernetes order. Each result says whether it is
    proven optimal or the best found within the time limit, and gives a per-node
    ``score`` (higher is better; comparable between nodes for the same claims and
    policy) that a scheduler's score step can use.

Timeouts: a CP-SAT ``UNKNOWN`` is never "does not fit": it raises
:class:`~dra_core.errors.AllocationTimeout`.

Errors the search raises while walking (a selector error on a device it reaches, an
``All`` request's device that a claim constraint refuses given the devices chosen
before it) are *stops* in the model: leaves of the walk like solutions, so CP-SAT
raises exactly when, and what, the search raises (see
:meth:`~dra_core.allocator.cpsat_model.AllocationModel._create_stops`). One corner is
answered by the search itself: stops together with a claim that can ask for more than
32 devices (see ``docs/cpsat.md``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from dra_core.allocator.cpsat_model import AllocationModel, SolverParams
from dra_core.allocator.engines import DEFAULT_AUTO_STEPS, auto_engine, register_engine
from dra_core.allocator.problem import Problem, Solution, build_problem
from dra_core.allocator.results import build_results
from dra_core.allocator.search import search
from dra_core.errors import AllocationCancelled, AllocationTimeout, InvalidPoolsError

if TYPE_CHECKING:
    # At run time OR-Tools is imported by the functions that solve (see cpsat_model).
    from ortools.sat.python import cp_model

    from dra_core.allocator.core import Allocator
    from dra_core.api import AllocationResult, Node, ResourceClaim

__all__ = [
    "DEFAULT_AUTO_STEPS",
    "POLICIES",
    "CpSatOutcome",
    "ScoredAllocation",
    "SolverParams",
    "allocate_scored",
    "auto_engine",
    "counting_says_no",
    "cpsat_engine",
    "solve",
]

#: The scoring policies; ``first-fit`` is Kubernetes' order.
POLICIES = ("first-fit", "best-fit", "pack", "spread", "weights")

# Costs are integers: fractions are scaled by this before rounding.
_UNIT = 1000


@dataclass(frozen=True, slots=True)
class CpSatOutcome:
    """What one CP-SAT solve found.

    Attributes:
        solution: the chosen devices, or None when the claims do not fit.
        policy: the scoring policy.
        optimal: True when the solution is proven best for the policy (always true
            for ``first-fit``, whose answer is unique), or when "does not fit" is proven.
        score: higher is better; None when the claims do not fit. For ``first-fit``
            the number of devices allocated, negated (fewer is better).
        objective: the raw minimised objective (integer cost units), when scored.
        wall_time: seconds spent in CP-SAT.

    """

    solution: Solution | None
    policy: str
    optimal: bool
    score: float | None
    objective: int | None = None
    wall_time: float = 0.0
    details: Mapping[str, Any] = field(default_factory=dict)


# --- checks the search makes while walking ---------------------------------------------------


# --- counting before solving -----------------------------------------------------------------


def counting_says_no(problem: Problem) -> bool:
    """Return True when a counting argument alone shows that the claims cannot fit.

    Two arguments, each sound whatever else the claims ask for (CP-SAT would reach
    the same answer, only slower, through its LP):

    - *Too few devices*: requests without admin access whose candidates are all in a
      set C of devices that cannot be shared need at least as many devices as C has
      (each such device serves one of them at most).
    - *No group big enough* (``matchAttribute``): every device a claim's requests in
      the constraint's scope take must share one element of the attribute; when even
      the most common element is held by fewer devices than those requests need,
      nothing fits.

    Problems where the search could raise an error on its way (poisoned candidates,
    ``All`` requests under constraints) are never answered here.
    """
    if problem.has_poison:
        return False
    devices = problem.devices
    plain: list[tuple[frozenset[int], int]] = []
    for claim in problem.claims:
        for slot in claim.requests:
            for alt in slot.alternatives:
                if alt.all_devices and alt.constraints:
                    return False
            if len(slot.alternatives) != 1:
                continue
            alt = slot.alternatives[0]
            if alt.admin_access or alt.all_devices:
                continue
            cands = frozenset(c.device for c in alt.candidates)
            if any(devices[d].shareable for d in cands):
                continue
            plain.append((cands, alt.count))
    for pool in {cands for cands, _ in plain}:
        needed = sum(count for cands, count in plain if cands <= pool)
        if needed > len(pool):
            return True
    return any(_match_group_too_small(problem, claim) for claim in problem.claims)


def _match_group_too_small(problem: Problem, claim: Any) -> bool:
    for k, con in enumerate(claim.constraints):
        if con.kind != "match":
            continue
        needed = 0
        holders: dict[Any, set[int]] = {}
        countable = True
        for slot in claim.requests:
            if not any(k in alt.constraints for alt in slot.alternatives):
                continue
            alt = slot.alternatives[0]
            if len(slot.alternatives) != 1 or alt.all_devices:
                countable = False  # subrequests or All: the count is not fixed
                break
            needed += alt.count
            for cand in alt.candidates:
                if problem.devices[cand.device].shareable:
                    countable = False  # one device may serve several requests
                    break
                value = con.values.get(cand.device)
                if value is None or not value.kind:
                    continue
                elements = (
                    [(value.kind, e) for e in value.values]
                    if con.list_type_attributes
                    else [(value.kind, value.values)]
                )
                for element in elements:
                    holders.setdefault(element, set()).add(cand.device)
            if not countable:
                break
        if not countable or needed < 2:
            continue
        if max((len(h) for h in holders.values()), default=0) < needed:
            return True
    return False


# --- scoring ---------------------------------------------------------------------------------


def _attribute_weight(problem: Problem, device: int, weights: Mapping[str, float]) -> Fraction:
    info = problem.devices[device]
    attrs = info.entry.device.attributes or {}
    total = Fraction(0)
    for key, weight in weights.items():
        name, eq, wanted = key.partition("=")
        attr = attrs.get(name)
        if attr is None:
            domain, sep, ident = name.partition("/")
            if sep and domain == info.id.driver:
                attr = attrs.get(ident)
        if attr is None:
            continue
        w = Fraction(weight).limit_denominator(10**6)
        if eq:
            scalar = attr.string if attr.string is not None else attr.version
            if scalar is None and attr.int_ is not None:
                scalar = str(attr.int_)
            if scalar is None and attr.bool_ is not None:
                scalar = "true" if attr.bool_ else "false"
            if scalar == wanted:
                total += w
        elif attr.bool_ is not None:
            total += w if attr.bool_ else 0
        elif attr.int_ is not None:
            total += w * attr.int_
    return total


def _counter_totals(problem: Problem) -> dict[Any, dict[tuple[str, str], Fraction]]:
    totals: dict[Any, dict[tuple[str, str], Fraction]] = {}
    for pool in problem.pools:
        sets = getattr(pool, "counter_sets", None) or {}
        out: dict[tuple[str, str], Fraction] = {}
        for set_name, counter_set in sets.items():
            for cname, counter in (counter_set.counters or {}).items():
                out[(set_name, cname)] = counter.value.value
        totals[pool.id] = out
    return totals


def _groups(problem: Problem, device: int) -> list[tuple[str, str]]:
    """Return the groups a device belongs to, for ``pack`` and ``spread``."""
    info = problem.devices[device]
    if info.consumes:
        return sorted({("counters", f"{info.pool}/{key[0]}") for key, _ in info.consumes})
    if info.shareable:
        return [("shared", str(info.id))]
    return [("pool", str(info.pool))]


def _group_in_use(problem: Problem, group: tuple[str, str], totals: Any) -> bool:
    kind, name = group
    if kind == "counters":
        for info in problem.devices:
            for key, _ in info.consumes:
                if f"{info.pool}/{key[0]}" == name:
                    have = problem.counters.get(info.pool, {}).get(key)
                    total = totals.get(info.pool, {}).get(key)
                    if have is not None and total is not None and have.value < total:
                        return True
        return False
    if kind == "shared":
        return any(
            str(i.id) == name and (i.counters_prepaid or _capacity_used(i)) for i in problem.devices
        )
    # A pool is in use when one of its devices is not a candidate of anything although
    # it matched before; approximated by devices consumed elsewhere: none known here.
    return False


def _capacity_used(info: Any) -> bool:
    capacity = info.entry.device.capacity or {}
    for name, cap in capacity.items():
        left = info.capacity_left.get(name)
        if left is not None and left.value < cap.value.value:
            return True
    return False


def _objective(am: AllocationModel, policy: str, weights: Mapping[str, float]) -> Any:
    """Build the cost to minimise for ``policy`` (integers), ties broken by Kubernetes order."""
    problem = am.problem
    model = am.model
    slots = am.vars.slots
    # Ties: earlier requests get earlier devices (a weighted sum of positions, the
    # weight falling with the request's place), always below one cost unit.
    position_terms = []
    max_position = 0
    for slot in slots:
        weight = len(slots) - slot.index
        for c, cand in enumerate(slot.info.candidates):
            position_terms.append((weight * (cand.device + 1), am.vars.assigned(slot.index, c)))
            max_position += weight * (cand.device + 1)
    tie = sum(p * v for p, v in position_terms)
    big = max_position + 1
    costs: list[Any] = []
    if policy == "best-fit":
        totals = _counter_totals(problem)
        caps: dict[str, Fraction] = {}
        for info in problem.devices:
            for name, cap in (info.entry.device.capacity or {}).items():
                caps[name] = max(caps.get(name, Fraction(0)), cap.value.value)
        for slot in slots:
            for c, cand in enumerate(slot.info.candidates):
                info = problem.devices[cand.device]
                size = Fraction(0)
                for key, amount in info.consumes:
                    total = totals.get(info.pool, {}).get(key)
                    if total:
                        size += amount.value / total
                for name, cap in (info.entry.device.capacity or {}).items():
                    if not caps.get(name):
                        continue
                    if info.shareable:
                        demand = cand.demand.get(name)
                        left = info.capacity_left.get(name, cap.value).value
                        size += (left - (demand.value if demand else 0)) / caps[name]
                    else:
                        size += cap.value.value / caps[name]
                cost = round(size * _UNIT)
                if cost:
                    costs.append(cost * am.vars.assigned(slot.index, c))
    elif policy in ("pack", "spread"):
        totals = _counter_totals(problem)
        members: dict[tuple[str, str], list[Any]] = {}
        for slot in slots:
            for c, cand in enumerate(slot.info.candidates):
                for group in _groups(problem, cand.device):
                    members.setdefault(group, []).append(am.vars.assigned(slot.index, c))
        for group in sorted(members):
            opened = model.new_bool_var(f"opened[{group[0]}:{group[1]}]")
            for var in members[group]:
                model.add_implication(var, opened)
            model.add_bool_or(members[group]).only_enforce_if(opened)
            in_use = _group_in_use(problem, group, totals)
            if policy == "pack":
                costs.append((0 if in_use else _UNIT) * opened)
            else:
                costs.append(-(_UNIT // 2 if in_use else _UNIT) * opened)
    elif policy == "weights":
        for slot in slots:
            for c, cand in enumerate(slot.info.candidates):
                gain = round(_attribute_weight(problem, cand.device, weights) * _UNIT)
                if gain:
                    costs.append(-gain * am.vars.assigned(slot.index, c))
    else:
        raise _unknown_policy(policy)
    return sum(costs) * big + tie, big


def _unknown_policy(policy: str) -> ValueError:
    return ValueError(f"unknown scoring policy {policy!r}; known policies: {', '.join(POLICIES)}")


# --- solving -----------------------------------------------------------------------------------


def _time_limit(params: SolverParams, deadline: float | None, timeout: float | None) -> float:
    limit = params.time_limit
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AllocationTimeout(f"allocation did not finish within {timeout}s", timeout=timeout)
        limit = min(limit, left)
    return limit


def _status_name(status: Any) -> str:
    from ortools.sat.python import cp_model

    names = {
        cp_model.OPTIMAL: "OPTIMAL",
        cp_model.FEASIBLE: "FEASIBLE",
        cp_model.INFEASIBLE: "INFEASIBLE",
        cp_model.MODEL_INVALID: "MODEL_INVALID",
        cp_model.UNKNOWN: "UNKNOWN",
    }
    return names.get(status) or str(status)


def solve(
    problem: Problem,
    *,
    policy: str = "first-fit",
    weights: Mapping[str, float] | None = None,
    params: SolverParams | None = None,
    deadline: float | None = None,
    timeout: float | None = None,
    cancel: Any = None,
) -> CpSatOutcome:
    """Solve ``problem`` with CP-SAT under a scoring policy.

    Args:
        problem: the problem built by :func:`~dra_core.allocator.problem.build_problem`.
        policy: one of :data:`POLICIES`; ``first-fit`` gives the search's answer.
        weights: attribute weights for the ``weights`` policy.
        params: solver parameters (time limit, workers, seed).
        deadline: a :func:`time.monotonic` value; the solve stops by then.
        timeout: the time limit the deadline came from (for the error message).
        cancel: a flag (``is_set()``) or callable, watched while CP-SAT runs.

    Raises:
        AllocationTimeout: CP-SAT ran out of time without an answer.
        AllocationCancelled: ``cancel`` turned true.
        InputError: a poisoned candidate, or an ``All`` request whose devices break a
            claim constraint (see the module docstring).
        ValueError: an unknown policy.

    """
    from ortools.sat.python import cp_model

    if policy not in POLICIES:
        raise _unknown_policy(policy)
    params = params or SolverParams()
    limit = _time_limit(params, deadline, timeout)
    if counting_says_no(problem):
        return CpSatOutcome(None, policy, True, None, None, 0.0, {"counting": True})
    am = AllocationModel(problem)
    effective = SolverParams(limit, params.num_workers, params.random_seed, params.log)
    started = time.perf_counter()
    if policy == "first-fit" and am.stops and _may_exceed_limit(problem):
        # The one corner the model does not capture (docs/cpsat.md): the search
        # abandons a branch when a later request would run the claim over 32
        # devices, so some places where it would raise are never reached. There the
        # search itself is the answer (this needs a selector error or an All request
        # under constraints, and a claim that can exceed the limit).
        solution = search(problem, deadline=deadline, timeout=timeout, cancel=cancel)
        elapsed = time.perf_counter() - started
        score = None if solution is None else float(-sum(len(c) for c in solution.choices))
        return CpSatOutcome(solution, policy, True, score, None, elapsed, {"search": True})
    if policy != "first-fit" and am.stops:
        # Errors first, as Kubernetes would raise them; then optimise over the real
        # solutions only (a stop must never be a way to escape the constraints).
        solve(problem, params=params, deadline=deadline, timeout=timeout, cancel=cancel)
        am.forbid_stops()
    if policy == "first-fit":
        # Two solves. The first, CP-SAT's own search with presolve and LP, settles
        # "does not fit" quickly (counting arguments are cheap for it and exponential
        # for a fixed depth-first order). Only when the claims fit does the fixed
        # search pick the Kubernetes-order solution among the feasible ones.
        solver = effective.solver()
        status = _run(solver, am.model, cancel)
        if status == cp_model.FEASIBLE or status == cp_model.OPTIMAL:
            am.add_kubernetes_order()
            left = SolverParams(
                max(0.001, limit - (time.perf_counter() - started)),
                1,
                params.random_seed,
                params.log,
            )
            solver = left.solver(fixed_search=True)
            status = _run(solver, am.model, cancel)
        elapsed = time.perf_counter() - started
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            solution = am.solution(solver)
            count = sum(len(c) for c in solution.choices)
            return CpSatOutcome(solution, policy, True, float(-count), None, elapsed)
        if status == cp_model.INFEASIBLE:
            return CpSatOutcome(None, policy, True, None, None, elapsed)
        raise _timeout(status, limit, timeout)
    objective, big = _objective(am, policy, weights or {})
    am.model.minimize(objective)
    solver = effective.solver()
    status = _run(solver, am.model, cancel)
    elapsed = time.perf_counter() - started
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        value = int(solver.objective_value)
        cost = value // big
        return CpSatOutcome(
            am.solution(solver),
            policy,
            status == cp_model.OPTIMAL,
            -cost / _UNIT,
            cost,
            elapsed,
            {"status": _status_name(status), "bound": solver.best_objective_bound},
        )
    if status == cp_model.INFEASIBLE:
        return CpSatOutcome(None, policy, True, None, None, elapsed)
    raise _timeout(status, limit, timeout)


def _may_exceed_limit(problem: Problem) -> bool:
    """Whether some claim could ask for more devices than a claim may hold."""
    for claim in problem.claims:
        most = sum(max(alt.count for alt in slot.alternatives) for slot in claim.requests)
        if most > problem.max_devices_per_claim:
            return True
    return False


def _timeout(status: Any, limit: float, timeout: float | None) -> AllocationTimeout:
    from ortools.sat.python import cp_model

    if status == cp_model.MODEL_INVALID:  # pragma: no cover - a bug in the model
        raise RuntimeError("CP-SAT rejected the allocation model as invalid")
    return AllocationTimeout(
        f"CP-SAT found no answer within {limit:.3g}s (status {_status_name(status)}); "
        "this is not 'does not fit': raise the time limit or try again",
        timeout=timeout if timeout is not None else limit,
    )


# --- the engines --------------------------------------------------------------------------------


def _params(options: Mapping[str, Any] | None) -> SolverParams:
    options = options or {}
    base = SolverParams()
    return SolverParams(
        time_limit=float(options.get("time_limit", base.time_limit)),
        num_workers=int(options.get("num_workers", base.num_workers)),
        random_seed=int(options.get("random_seed", base.random_seed)),
        log=bool(options.get("log", base.log)),
    )


def _cancelled(cancel: Any) -> bool:
    return bool(cancel.is_set() if hasattr(cancel, "is_set") else cancel())


def _run(solver: cp_model.CpSolver, model: cp_model.CpModel, cancel: Any) -> Any:
    """Solve, stopping CP-SAT when ``cancel`` turns true (checked every 10 ms).

    A stopped search is reported as :class:`AllocationCancelled`, never as an answer.
    """
    if cancel is None:
        return solver.solve(model)
    _check_cancel(cancel)
    done = threading.Event()
    stopped = threading.Event()

    def watch() -> None:
        # Every start has exactly one stop: the watcher ends when the solve ends.
        while not done.wait(0.01):
            if _cancelled(cancel):
                stopped.set()
                solver.stop_search()
                return

    watcher = threading.Thread(target=watch, name="dra-core-cpsat-cancel", daemon=True)
    watcher.start()
    try:
        status = solver.solve(model)
    finally:
        done.set()
        watcher.join()
    if stopped.is_set():
        raise AllocationCancelled("allocation was cancelled")
    return status


def _check_cancel(cancel: Any) -> None:
    if cancel is None:
        return
    if _cancelled(cancel):
        raise AllocationCancelled("allocation was cancelled")


def cpsat_engine(
    problem: Problem,
    *,
    deadline: float | None = None,
    timeout: float | None = None,
    cancel: Any = None,
    options: Mapping[str, Any] | None = None,
) -> Solution | None:
    """Run the ``"cpsat"`` engine: :func:`solve` with ``options``.

    ``options`` may set ``policy``, ``weights``, ``time_limit``, ``num_workers`` and
    ``random_seed``. Cancellation is watched while CP-SAT runs.
    """
    _check_cancel(cancel)
    options = options or {}
    outcome = solve(
        problem,
        policy=str(options.get("policy", "first-fit")),
        weights=options.get("weights"),
        params=_params(options),
        deadline=deadline,
        timeout=timeout,
        cancel=cancel,
    )
    return outcome.solution


@dataclass(frozen=True, slots=True)
class ScoredAllocation:
    """The result of :func:`allocate_scored` on one node.

    Attributes:
        results: one AllocationResult per claim, or None when they do not fit.
        policy: the scoring policy used.
        optimal: True when proven best for the policy; False means "the best found
            within the time limit".
        score: higher is better, comparable between nodes for the same claims and
            policy; None when the claims do not fit. Use it in a scheduler's score step.

    """

    results: list[AllocationResult] | None
    policy: str
    optimal: bool
    score: float | None


def allocate_scored(
    allocator: Allocator,
    node: Node | Mapping[str, Any] | None,
    claims: Sequence[ResourceClaim | Mapping[str, Any]],
    *,
    policy: str = "best-fit",
    weights: Mapping[str, float] | None = None,
    params: SolverParams | None = None,
) -> ScoredAllocation:
    """Allocate ``claims`` on ``node`` with CP-SAT under a scoring policy.

    ``allocator`` holds the slices, classes, allocated state and features (see
    :class:`~dra_core.allocator.core.Allocator`); build it once and score every node.
    ``policy="first-fit"`` gives Kubernetes' devices.

    Raises:
        InputError: input that no node can satisfy.
        AllocationTimeout: CP-SAT had no answer at all within the time limit.
        ValueError: an unknown policy.

    """
    from dra_core.api import Node as NodeModel
    from dra_core.api import ResourceClaim as ClaimModel

    node_model = (
        None
        if node is None
        else node
        if isinstance(node, NodeModel)
        else NodeModel.model_validate(node)
    )
    claim_models = [
        c if isinstance(c, ClaimModel) else ClaimModel.model_validate(c) for c in claims
    ]
    problem = build_problem(
        inventory=allocator.inventory,
        node=node_model,
        claims=claim_models,
        classes=allocator.classes,
        allocated_state=allocator.allocated_state,
        features=allocator.features,
    )
    outcome = solve(problem, policy=policy, weights=weights, params=params)
    if outcome.solution is None:
        if problem.has_invalid_pools:
            # As the facade: only an error when nothing could be allocated.
            invalid = {str(p.id): p.invalid_reason for p in problem.pools if p.invalid}
            raise InvalidPoolsError(
                "invalid resource pools were encountered: "
                + "; ".join(f"{pool}: {reason}" for pool, reason in invalid.items()),
                pools=invalid,
            )
        return ScoredAllocation(None, policy, outcome.optimal, None)
    results = build_results(problem, outcome.solution, seed=allocator.share_id_seed)
    return ScoredAllocation(results, policy, outcome.optimal, outcome.score)


register_engine("cpsat", cpsat_engine)
