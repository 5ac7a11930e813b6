"""The engine switch, timeouts, determinism, and the hard shapes of issue 4.

No wall-clock assertions: the time limits here only make CP-SAT give up, and the
tests check what is reported then (never "does not fit").
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from dra_core.allocator import Allocator, engine_names, get_engine
from dra_core.allocator.cpsat import SolverParams, solve
from dra_core.allocator.problem import build_problem
from dra_core.allocator.validator import validate_allocation
from dra_core.api import DeviceClass, Node, ResourceClaim, ResourceSlice
from dra_core.errors import AllocationAborted, AllocationCancelled, AllocationTimeout
from dra_core.features import Features

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import shapes


def allocator_for(case: dict[str, Any]) -> Allocator:
    return Allocator(
        slices=case["slices"],
        classes=case["classes"],
        allocated_claims=case.get("allocatedClaims", []),
        features=Features.from_mapping(case["features"]),
    )


def problem_for(case: dict[str, Any]) -> Any:
    allocator = allocator_for(case)
    return build_problem(
        inventory=allocator.inventory,
        node=Node.model_validate(case["node"]),
        claims=[ResourceClaim.model_validate(c) for c in case["claims"]],
        classes=allocator.classes,
        allocated_state=allocator.allocated_state,
        features=allocator.features,
    )


def check_valid(case: dict[str, Any], results: list[Any]) -> None:
    violations = validate_allocation(
        node=Node.model_validate(case["node"]),
        claims=[ResourceClaim.model_validate(c) for c in case["claims"]],
        results=results,
        slices=[ResourceSlice.model_validate(s) for s in case["slices"]],
        classes=[DeviceClass.model_validate(c) for c in case["classes"]],
        features=Features.from_mapping(case["features"]),
    )
    assert violations == []


def test_engines_are_registered() -> None:
    get_engine("cpsat")
    assert {"auto", "cpsat", "search"} <= set(engine_names())


@pytest.mark.parametrize("engine", ["cpsat", "auto"])
@pytest.mark.parametrize("shape", list(shapes.all_shapes()), ids=lambda s: s.name)
def test_hard_shapes_get_the_right_answer(shape: shapes.Shape, engine: str) -> None:
    case = shape.case_copy()
    results = allocator_for(case).allocate(
        case["node"], case["claims"], engine=engine, options={"time_limit": 120.0}
    )
    assert (results is not None) == shape.fits, shape.why
    if results is not None:
        check_valid(case, results)
    assert case == shape.case, "allocating changed its inputs"


SMALL_SHAPES = [
    shapes.count_exceeds(8),
    shapes.count_exceeds(8, fits=True),
    shapes.match_groups(3, 4, 3),
    shapes.match_groups(3, 4, 3, fits=True),
    shapes.distinct_pigeonhole(4, 3, 2),
    shapes.distinct_pigeonhole(4, 3, 2, fits=True),
    shapes.first_available_limit(island=6, islands=2),
    shapes.first_available_limit(island=6, islands=2, fits=True),
    shapes.mig_seven_of_eight(2),
    shapes.mig_seven_of_eight(2, fits=False),
    shapes.shared_capacity(2, fits=True),
    shapes.shared_capacity(2),
]


@pytest.mark.parametrize("shape", SMALL_SHAPES, ids=lambda s: s.name)
def test_small_shapes_cpsat_returns_what_the_search_returns(shape: shapes.Shape) -> None:
    case = shape.case_copy()
    allocator = allocator_for(case)
    by_search = allocator.allocate(case["node"], case["claims"], engine="search")
    by_cpsat = allocator.allocate(case["node"], case["claims"], engine="cpsat")
    assert (by_search is not None) == shape.fits
    dump = [r.model_dump(by_alias=True) for r in by_search or []]
    assert [r.model_dump(by_alias=True) for r in by_cpsat or []] == dump


def test_cpsat_is_deterministic() -> None:
    shape = shapes.mig_mixed(fits=True)
    problem = problem_for(shape.case)
    first = solve(problem).solution
    for _ in range(2):
        assert solve(build_problem_again(shape)).solution == first


def build_problem_again(shape: shapes.Shape) -> Any:
    return problem_for(shape.case_copy())


def test_unknown_is_a_timeout_never_does_not_fit() -> None:
    # A time limit far too short to decide anything: CP-SAT answers UNKNOWN.
    shape = shapes.mig_mixed(fits=False)
    with pytest.raises(AllocationTimeout) as info:
        solve(problem_for(shape.case), params=SolverParams(time_limit=1e-6))
    assert "not 'does not fit'" in str(info.value)


def test_a_passed_deadline_is_a_timeout() -> None:
    shape = shapes.mig_seven_of_eight(1)
    case = shape.case_copy()
    with pytest.raises(AllocationTimeout):
        allocator_for(case).allocate(case["node"], case["claims"], engine="cpsat", timeout=0.0)


def test_cancellation_before_solving() -> None:
    shape = shapes.mig_seven_of_eight(1)
    case = shape.case_copy()
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(AllocationCancelled):
        allocator_for(case).allocate(case["node"], case["claims"], engine="cpsat", cancel=cancel)


def test_auto_switches_to_cpsat_when_the_budget_runs_out() -> None:
    # The search alone would need far more than 50 steps on this shape.
    shape = shapes.distinct_pigeonhole(8, 7)
    case = shape.case_copy()
    allocator = allocator_for(case)
    with pytest.raises(AllocationAborted):
        allocator.allocate(case["node"], case["claims"], engine="search", options={"max_steps": 50})
    assert (
        allocator.allocate(case["node"], case["claims"], engine="auto", options={"max_steps": 50})
        is None
    )


def test_cancellation_stops_a_running_solve() -> None:
    # A pigeonhole (13 pigeons, 12 holes) without LP: CP-SAT would need far longer
    # than the 120 s safety limit, so only the cancellation can end it early.
    from ortools.sat.python import cp_model

    from dra_core.allocator.cpsat import _run

    model = cp_model.CpModel()
    x = [[model.new_bool_var(f"x{p}_{h}") for h in range(12)] for p in range(13)]
    for row in x:
        model.add_exactly_one(row)
    for h in range(12):
        model.add_at_most_one(x[p][h] for p in range(13))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.linearization_level = 0
    solver.parameters.cp_model_presolve = False
    solver.parameters.symmetry_level = 0
    solver.parameters.max_time_in_seconds = 120.0
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3  # let the solve start, then cancel it

    with pytest.raises(AllocationCancelled):
        _run(solver, model, cancel)
    assert len(calls) == 4  # checked before, then polled until it said stop


def test_a_branch_abandoned_for_the_claim_limit_never_reaches_its_errors() -> None:
    # Subrequest p0 (2 devices) + q (1) + r (30) runs over 32 devices, so the search
    # abandons p0 as soon as it reaches r, before q's walk gets to d-err (whose
    # selector fails). With p1 (1 device) everything fits. CP-SAT must agree.
    foo2 = 'device.attributes["driver-a"].?foo.orValue(0) == 2'
    foo1 = 'device.attributes["driver-a"].foo == 1'

    def sub(name: str, count: int) -> dict[str, Any]:
        return {
            "name": name,
            "deviceClassName": "class-a",
            "allocationMode": "ExactCount",
            "count": count,
            "selectors": [{"cel": {"expression": foo2}}],
        }

    devices = [
        {"name": "d-ok", "attributes": {"foo": {"int": 1}}},
        {"name": "d-err"},
        *({"name": f"g{i:02d}", "attributes": {"foo": {"int": 2}}} for i in range(34)),
    ]
    slices = [
        {
            "metadata": {"name": "s"},
            "spec": {
                "driver": "driver-a",
                "pool": {"name": "pool-1", "generation": 1, "resourceSliceCount": 1},
                "nodeName": "node-1",
                "devices": devices,
            },
        }
    ]
    claims = [
        {
            "metadata": {"name": "c", "namespace": "default"},
            "spec": {
                "devices": {
                    "requests": [
                        {"name": "p", "firstAvailable": [sub("p0", 2), sub("p1", 1)]},
                        {
                            "name": "q",
                            "exactly": {
                                "deviceClassName": "class-a",
                                "allocationMode": "ExactCount",
                                "count": 1,
                                "selectors": [{"cel": {"expression": foo1}}],
                            },
                        },
                        {
                            "name": "r",
                            "exactly": {
                                "deviceClassName": "class-a",
                                "allocationMode": "ExactCount",
                                "count": 30,
                            },
                        },
                    ]
                }
            },
        }
    ]
    allocator = Allocator(slices=slices, classes=[{"metadata": {"name": "class-a"}, "spec": {}}])
    node = {"metadata": {"name": "node-1"}}
    by_search = allocator.allocate(node, claims, engine="search")
    by_cpsat = allocator.allocate(node, claims, engine="cpsat")
    assert by_search is not None
    assert [r.model_dump() for r in by_cpsat or []] == [r.model_dump() for r in by_search]
