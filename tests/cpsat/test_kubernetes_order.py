"""Property: CP-SAT in Kubernetes order returns exactly what the search returns.

On random small instances (``allocation_instances`` in ``tests/strategies.py``) both
engines must end the same way: identical results (devices, order, share ids, consumed
capacity, config, node selector), both "does not fit", or the same error. CP-SAT results
also pass the solver-independent validator, and allocating never changes the inputs.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings

from dra_core.allocator import Allocator, allocate
from dra_core.allocator.validator import validate_allocation
from dra_core.api import DeviceClass, Node, ResourceClaim, ResourceSlice
from dra_core.errors import DraCoreError
from dra_core.features import Features
from strategies import allocation_instances


def outcome(case: dict[str, Any], engine: str) -> Any:
    try:
        results = allocate(
            node=case["node"],
            claims=case["claims"],
            slices=case["slices"],
            classes=case["classes"],
            allocated_claims=case["allocatedClaims"],
            features=Features.from_mapping(case["features"]),
            engine=engine,
        )
    except DraCoreError as err:
        return ("error", type(err).__name__, str(err))
    if results is None:
        return None
    return [r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in results]


def validate(case: dict[str, Any], results: list[Any]) -> list[Any]:
    from dra_core.api import AllocationResult

    return validate_allocation(
        node=Node.model_validate(case["node"]),
        claims=[ResourceClaim.model_validate(c) for c in case["claims"]],
        results=[AllocationResult.model_validate(r) for r in results],
        slices=[ResourceSlice.model_validate(s) for s in case["slices"]],
        classes=[DeviceClass.model_validate(c) for c in case["classes"]],
        allocated_claims=[ResourceClaim.model_validate(c) for c in case["allocatedClaims"]],
        features=Features.from_mapping(case["features"]),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(allocation_instances())
def test_cpsat_returns_exactly_what_the_search_returns(case: dict[str, Any]) -> None:
    pristine = copy.deepcopy(case)
    by_search = outcome(case, "search")
    by_cpsat = outcome(case, "cpsat")
    assert by_cpsat == by_search, json.dumps({"search": by_search, "cpsat": by_cpsat})[:4000]
    assert case == pristine, "allocating changed its inputs"
    if isinstance(by_cpsat, list):
        assert validate(case, by_cpsat) == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(allocation_instances())
def test_auto_agrees_with_the_search_even_when_it_switches(case: dict[str, Any]) -> None:
    # A budget of 1 step makes "auto" hand almost every instance to CP-SAT.
    by_search = outcome(case, "search")
    try:
        allocator = Allocator(
            slices=case["slices"],
            classes=case["classes"],
            allocated_claims=case["allocatedClaims"],
            features=Features.from_mapping(case["features"]),
        )
        results = allocator.allocate(
            case["node"], case["claims"], engine="auto", options={"max_steps": 1}
        )
    except DraCoreError as err:
        by_auto: Any = ("error", type(err).__name__, str(err))
    else:
        by_auto = (
            None
            if results is None
            else [r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in results]
        )
    assert by_auto == by_search


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(allocation_instances())
def test_counting_never_refuses_what_the_model_allows(case: dict[str, Any]) -> None:
    from ortools.sat.python import cp_model

    from dra_core.allocator.cpsat import counting_says_no
    from dra_core.allocator.cpsat_model import AllocationModel, SolverParams
    from dra_core.allocator.problem import build_problem

    allocator = Allocator(
        slices=case["slices"],
        classes=case["classes"],
        allocated_claims=case["allocatedClaims"],
        features=Features.from_mapping(case["features"]),
    )
    try:
        problem = build_problem(
            inventory=allocator.inventory,
            node=Node.model_validate(case["node"]),
            claims=[ResourceClaim.model_validate(c) for c in case["claims"]],
            classes=allocator.classes,
            allocated_state=allocator.allocated_state,
            features=allocator.features,
        )
    except DraCoreError:
        return  # bad input: nothing to count
    if counting_says_no(problem):
        solver = SolverParams().solver()
        assert solver.solve(AllocationModel(problem).model) == cp_model.INFEASIBLE
