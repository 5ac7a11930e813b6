"""Why claims do not fit on a node, in terms a user can act on.

:func:`explain` answers two questions.

1. *Per request*: how many devices the class and the selectors match, and what
   happened to them: in use, tainted, on another node (or in a pool this node cannot
   use yet), out of counters, out of capacity; what is left are the candidates.
2. *Together*: when every request has candidates and the claims still do not fit,
   which requests, constraints, counter sets, shared capacities and claim limits cannot
   all hold at once. This is a minimal conflicting set: the CP-SAT model is built with
   each of those behind an assumption literal; CP-SAT names a set of assumptions that
   is infeasible, and removing its members one at a time while the rest stays
   infeasible leaves a set in which every member matters.

Worked example: a claim wants 11 devices sharing ``numa`` on a node whose devices form
groups of 10. Every request has 120 candidates, so the per-request counts look fine;
the conflict is ``{request r00 .. r10 must be satisfied, matchAttribute numa}``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dra_core.allocator.core import Allocator
from dra_core.allocator.cpsat import solve
from dra_core.allocator.cpsat_model import AllocationModel, Guard, SolverParams
from dra_core.allocator.problem import Problem, RequestInfo, build_problem
from dra_core.errors import AllocationTimeout, CELError
from dra_core.features import Features
from dra_core.inventory import DeviceEntry, node_matches

if TYPE_CHECKING:
    from dra_core.api import DeviceClass, Node, ResourceClaim, ResourceSlice

__all__ = ["Conflict", "Explanation", "RequestDiagnosis", "explain", "explain_problem"]


@dataclass(frozen=True, slots=True)
class RequestDiagnosis:
    """What became of the devices one request (or subrequest) could use.

    Attributes:
        claim: ``namespace/name`` of the claim.
        request: ``req`` or ``req/sub``.
        wanted: the device count, or ``"all"``.
        matched: devices anywhere that the class and the request's selectors select.
        in_use: of those, on this node and already allocated to someone else.
        tainted: on this node, with a taint the request does not tolerate.
        other_node: not usable from this node (other nodes' devices, device node
            selection), or in a pool this node cannot use now (incomplete, invalid).
        out_of_counters: the device's shared counters are used up.
        out_of_capacity: the device's consumable capacity cannot take the request.
        other: excluded for another reason (binding conditions with the feature off,
            a feature that is off).
        selector_errors: devices where evaluating a selector failed.
        candidates: what is left: devices the request can take on its own.

    """

    claim: str
    request: str
    wanted: int | str
    matched: int = 0
    in_use: int = 0
    tainted: int = 0
    other_node: int = 0
    out_of_counters: int = 0
    out_of_capacity: int = 0
    other: int = 0
    selector_errors: int = 0
    candidates: int = 0

    @property
    def enough(self) -> bool:
        """Whether the request has enough candidates when considered alone."""
        if self.wanted == "all":
            return self.candidates > 0 and self.candidates == self.matched - self.other_node
        return isinstance(self.wanted, int) and self.candidates >= self.wanted

    def describe(self) -> str:
        """Return one line of English."""
        wanted = "all devices" if self.wanted == "all" else f"{self.wanted} device(s)"
        parts = [
            f"{n} {what}"
            for n, what in (
                (self.in_use, "in use"),
                (self.tainted, "tainted"),
                (self.other_node, "on other nodes or unusable pools"),
                (self.out_of_counters, "out of counters"),
                (self.out_of_capacity, "out of capacity"),
                (self.other, "excluded otherwise"),
                (self.selector_errors, "selector errors"),
            )
            if n
        ]
        lost = f" ({', '.join(parts)})" if parts else ""
        return (
            f"claim {self.claim}, request {self.request}: wants {wanted}; "
            f"{self.matched} match the class and selectors{lost}; "
            f"{self.candidates} candidate(s) left"
        )


@dataclass(frozen=True, slots=True)
class Conflict:
    """One member of a minimal conflicting set (see :class:`~.cpsat_model.Guard`)."""

    kind: str
    claim: str | None
    subject: str
    detail: str


@dataclass(frozen=True, slots=True)
class Explanation:
    """The answer of :func:`explain`.

    Attributes:
        node: the node's name.
        fits: whether the claims fit together on the node.
        requests: one diagnosis per request and subrequest, in claim order.
        conflict: when they do not fit, a minimal set of requirements that cannot
            all hold (empty when they fit, or when one request alone lacks devices:
            then ``requests`` says which).
        minimal: True when ``conflict`` was minimised to the end (False when the time
            limit stopped the minimisation: the set is then conflicting, not minimal).

    """

    node: str
    fits: bool
    requests: tuple[RequestDiagnosis, ...] = ()
    conflict: tuple[Conflict, ...] = ()
    minimal: bool = True
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        """Return the explanation as English text, one fact per line."""
        lines = [f"node {self.node}: the claims " + ("fit" if self.fits else "do not fit")]
        lines.extend(f"  {r.describe()}" for r in self.requests)
        if self.conflict:
            what = "a minimal set" if self.minimal else "a set (not minimised: time limit)"
            lines.append(f"  {what} of requirements that cannot all hold:")
            lines.extend(f"    - {c.detail}" for c in self.conflict)
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        return {
            "node": self.node,
            "fits": self.fits,
            "requests": [
                {name: getattr(r, name) for name in RequestDiagnosis.__slots__}
                for r in self.requests
            ],
            "conflict": [
                {"kind": c.kind, "claim": c.claim, "subject": c.subject, "detail": c.detail}
                for c in self.conflict
            ],
            "minimal": self.minimal,
            "notes": list(self.notes),
        }


# --- per request ----------------------------------------------------------------------------


def _selected(entry: DeviceEntry, info: RequestInfo, selectors: Sequence[str]) -> bool | None:
    """Class and request selectors on one device; None when a selector fails."""
    try:
        return all(entry.matches(expr) for expr in selectors)
    except CELError:
        return None


def _selectors(info: RequestInfo, claim: ResourceClaim) -> list[str]:
    exprs: list[str] = []
    spec = info.device_class.spec
    for sel in (spec.selectors if spec is not None else None) or []:
        if sel.cel is not None:
            exprs.append(sel.cel.expression)
    request = next(r for r in claim.spec.devices.requests or [] if r.name == info.request_name)
    body: Any = request.exactly
    if info.subrequest_name is not None:
        body = next(s for s in request.first_available or [] if s.name == info.subrequest_name)
    for sel in (body.selectors if body is not None else None) or []:
        if sel.cel is not None:
            exprs.append(sel.cel.expression)
    return exprs


def _taint_blocks(entry: DeviceEntry, info: RequestInfo) -> bool:
    for taint in entry.device.taints or []:
        if taint.effect not in ("NoSchedule", "NoExecute"):
            continue
        tolerated = False
        for tol in info.tolerations:
            if tol.effect and tol.effect != taint.effect:
                continue
            if tol.key and tol.key != taint.key:
                continue
            operator = tol.operator or "Equal"
            if operator == "Exists" or (
                operator == "Equal" and (tol.value or "") == (taint.value or "")
            ):
                tolerated = True
                break
        if not tolerated:
            return True
    return False


def _counters_short(problem: Problem, device: int) -> bool:
    info = problem.devices[device]
    if not info.consumes or info.counters_prepaid:
        return False
    available = problem.counters.get(info.pool, {})
    if any(q.sign() < 0 for q in available.values()):
        return True
    need: dict[tuple[str, str], Any] = {}
    for key, amount in info.consumes:
        need[key] = need.get(key, 0) + amount.value
    return any(key not in available or total > available[key].value for key, total in need.items())


def _diagnose(
    problem: Problem,
    allocator: Allocator,
    claim_index: int,
    info: RequestInfo,
) -> RequestDiagnosis:
    claim = problem.claims[claim_index]
    selectors = _selectors(info, claim.claim)
    by_id = {d.id: d for d in problem.devices}
    pools_here = {p.id for p in problem.pools}
    candidates = {c.device for c in info.candidates if c.usable and c.error is None}
    state = allocator.allocated_state
    features = problem.features
    counts = dict.fromkeys(
        (
            "matched",
            "in_use",
            "tainted",
            "other_node",
            "out_of_counters",
            "out_of_capacity",
            "other",
            "selector_errors",
            "candidates",
        ),
        0,
    )
    for entry in allocator.inventory.device_entries():
        hit = _selected(entry, info, selectors)
        if hit is None:
            counts["selector_errors"] += 1
            continue
        if not hit:
            continue
        counts["matched"] += 1
        device = by_id.get(entry.id)
        if device is None or entry.slice.pool_id not in pools_here:
            counts["other_node"] += 1
            continue
        if device.index in candidates:
            counts["candidates"] += 1
            continue
        if entry.slice.per_device_node_selection and not _node_ok(problem, entry):
            counts["other_node"] += 1
        elif not info.admin_access and state.is_dedicated(entry.id):
            counts["in_use"] += 1
        elif features.device_taints and _taint_blocks(entry, info):
            counts["tainted"] += 1
        elif _counters_short(problem, device.index):
            counts["out_of_counters"] += 1
        elif entry.device.capacity and features.consumable_capacity:
            counts["out_of_capacity"] += 1
        else:
            counts["other"] += 1
    wanted: int | str = "all" if info.all_devices else info.count
    return RequestDiagnosis(claim.ref, info.name, wanted, **counts)


def _node_ok(problem: Problem, entry: DeviceEntry) -> bool:
    device = entry.device
    try:
        return node_matches(
            problem.node, device.node_name or "", bool(device.all_nodes), device.node_selector
        )
    except ValueError:
        return False


# --- together ---------------------------------------------------------------------------------


def _minimal_conflict(problem: Problem, params: SolverParams) -> tuple[tuple[Conflict, ...], bool]:
    """Find a minimal set of guards that cannot hold together (deletion-based)."""
    from ortools.sat.python import cp_model  # imported on use: see cpsat_model

    am = AllocationModel(problem, explain=True)
    # The Kubernetes-order solve already showed that no error is reached, so the
    # places where the search would raise are ruled out here.
    am.forbid_stops()
    literals = [lit for lit, _ in am.guards]
    guards = {lit.index: guard for lit, guard in am.guards}

    # The whole minimisation shares one time limit; when it runs out, the set found
    # so far is returned as conflicting but not proven minimal.
    deadline = time.monotonic() + params.time_limit

    def infeasible(assumed: list[Any]) -> tuple[bool | None, list[int]]:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, []
        am.model.clear_assumptions()
        am.model.add_assumptions(assumed)
        solver = SolverParams(left, 1, params.random_seed).solver()
        status = solver.solve(am.model)
        if status == cp_model.INFEASIBLE:
            return True, list(solver.sufficient_assumptions_for_infeasibility())
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return False, []
        return None, []

    verdict, core = infeasible(literals)
    if not verdict:
        return (), verdict is not None
    current = [lit for lit in literals if lit.index in set(core)] or literals
    minimal = True
    i = 0
    while i < len(current):
        trial = current[:i] + current[i + 1 :]
        verdict, core = infeasible(trial)
        if verdict is None:
            minimal = False
            break
        if verdict:
            keep = set(core)
            # Members CP-SAT did not need can go too, but never members before i,
            # which were already shown to be necessary.
            current = current[:i] + [lit for lit in trial[i:] if lit.index in keep]
        else:
            i += 1
    out = []
    for lit in current:
        guard: Guard = guards[lit.index]
        ref = problem.claims[guard.claim].ref if guard.claim is not None else None
        out.append(Conflict(guard.kind, ref, guard.subject, guard.detail))
    return tuple(out), minimal


def explain_problem(
    problem: Problem, allocator: Allocator, *, params: SolverParams | None = None
) -> Explanation:
    """Explain a built problem (see :func:`explain`)."""
    params = params or SolverParams()
    node = problem.node.metadata.name if problem.node is not None else ""
    diagnoses = [
        _diagnose(problem, allocator, claim.index, alt)
        for claim in problem.claims
        for slot in claim.requests
        for alt in slot.alternatives
    ]
    notes: list[str] = []
    if problem.has_invalid_pools:
        notes.append("some resource pools are invalid; their devices are not counted")
    try:
        outcome = solve(problem, params=params)
    except AllocationTimeout:
        notes.append("CP-SAT found no answer within the time limit: fit not decided")
        return Explanation(node, False, tuple(diagnoses), (), False, tuple(notes))
    if outcome.solution is not None:
        return Explanation(node, True, tuple(diagnoses), (), True, tuple(notes))
    conflict, minimal = _minimal_conflict(problem, params)
    return Explanation(node, False, tuple(diagnoses), conflict, minimal, tuple(notes))


def explain(
    *,
    node: Node | Mapping[str, Any],
    claims: Sequence[ResourceClaim | Mapping[str, Any]],
    slices: Iterable[ResourceSlice | Mapping[str, Any]],
    classes: Iterable[DeviceClass | Mapping[str, Any]],
    allocated_claims: Iterable[ResourceClaim | Mapping[str, Any]] = (),
    features: Features | Mapping[str, bool] | None = None,
    time_limit: float = 10.0,
) -> Explanation:
    """Explain whether, and why not, ``claims`` fit together on ``node``.

    Takes the same inputs as :func:`dra_core.allocate` (models or dicts).

    Raises:
        InputError: the input is invalid for every node (as :func:`dra_core.allocate`).

    """
    from dra_core.api import Node as NodeModel
    from dra_core.api import ResourceClaim as ClaimModel

    allocator = Allocator(
        slices=slices, classes=classes, allocated_claims=allocated_claims, features=features
    )
    node_model = node if isinstance(node, NodeModel) else NodeModel.model_validate(node)
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
    return explain_problem(problem, allocator, params=SolverParams(time_limit=time_limit))
