"""The search's in-order shortcut gives exactly what the full walk gives.

``search`` answers problems of one claim without constraints, whose ``ExactCount``
requests share one candidate list, by taking candidates in order (``_in_order``); the
backtracking walk (``_Search``) must agree on everything: the devices, their order, the
requests they go to, "does not fit", and which poisoned candidate raises. Checked on
every conformance case and on random instances built to hit the shortcut: several
requests over one list, devices in use, devices whose attribute is missing (a selector
error: a poisoned candidate), shareable devices (the shortcut must hand over).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import (
    allocated_claim,
    claim,
    device,
    device_class,
    node,
    request,
    slice_with_devices,
)
from conftest import data_files
from dra_core.allocator.problem import Problem, build_problem
from dra_core.allocator.search import _UNDECIDED, _in_order, _Search
from dra_core.api import DeviceClass, Node, ResourceClaim, ResourceSlice
from dra_core.errors import DraCoreError
from dra_core.features import Features
from dra_core.inventory import Inventory
from dra_core.state import AllocatedState

CASES = data_files("conformance", "cases")


def _problem(manifests: dict[str, Any], features: Features) -> Problem | DraCoreError:
    """A fresh problem (its own inventory: nothing is shared with another build)."""
    classes: dict[str, DeviceClass] = {}
    for c in manifests["classes"]:
        model = DeviceClass.model_validate(c)
        classes.setdefault(model.metadata.name or "", model)
    state = AllocatedState.from_claims(
        [ResourceClaim.model_validate(c) for c in manifests["allocated_claims"]],
        consumable_capacity=features.consumable_capacity,
    )
    try:
        return build_problem(
            inventory=Inventory(
                [ResourceSlice.model_validate(s) for s in manifests["slices"]], features
            ),
            node=Node.model_validate(manifests["node"] or {}),
            claims=[ResourceClaim.model_validate(c) for c in manifests["claims"]],
            classes=classes,
            allocated_state=state,
            features=features,
        )
    except DraCoreError as err:
        return err


def _outcome(run: Any) -> Any:
    try:
        solution = run()
    except DraCoreError as err:
        return ("error", type(err).__name__, str(err))
    if solution is None or solution is _UNDECIDED:
        return solution
    return (
        tuple(tuple((c.request, c.device) for c in claim) for claim in solution.choices),
        dict(solution.selected),
    )


def _compare(manifests: dict[str, Any], features: Features) -> bool:
    """Assert agreement where the shortcut answers; return whether it answered."""
    first = _problem(manifests, features)
    second = _problem(manifests, features)
    if isinstance(first, DraCoreError) or isinstance(second, DraCoreError):
        return False
    shortcut = _outcome(lambda: _in_order(first))
    if shortcut is _UNDECIDED:
        return False
    walk = _outcome(
        lambda: _Search(second, deadline=None, timeout=None, cancel=None, max_steps=None).run()
    )
    assert shortcut == walk
    return True


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_the_shortcut_agrees_with_the_walk_on_every_case(path: Path) -> None:
    case = json.loads(path.read_text())
    manifests = {
        "node": case.get("node"),
        "claims": case.get("claims") or [],
        "slices": case.get("slices") or [],
        "classes": case.get("classes") or [],
        "allocated_claims": case.get("allocatedClaims") or [],
    }
    _compare(manifests, Features.from_mapping(case.get("features") or {}))


@st.composite
def _one_list_instances(draw: st.DrawFn) -> dict[str, Any]:
    devices = []
    for i in range(draw(st.integers(0, 6))):
        attributes = {} if draw(st.integers(0, 4)) == 0 else {"a": draw(st.integers(0, 2))}
        extra = {"allowMultipleAllocations": True} if draw(st.integers(0, 6)) == 0 else {}
        devices.append(device(f"d{i}", attributes=attributes, **extra))
    names = [d["name"] for d in devices]
    in_use = draw(st.sets(st.sampled_from(names), max_size=2)) if names else set()
    # One list for every request, usually; sometimes another selector (not the shortcut's).
    shared = draw(st.sampled_from([(), ('device.attributes["driver-a"].a >= 1',)]))
    requests = []
    for r in range(draw(st.integers(1, 3))):
        selectors = shared
        if draw(st.integers(0, 5)) == 0:
            selectors = ('device.attributes["driver-a"].a == 2',)
        requests.append(request(f"r{r}", count=draw(st.integers(0, 3)), selectors=selectors))
    in_use_results = [("driver-a", "pool-1", name) for name in sorted(in_use)]
    return {
        "node": node(),
        "claims": [claim("c", *requests)],
        "slices": [slice_with_devices("s", *devices)],
        "classes": [device_class()],
        "allocated_claims": [allocated_claim(*in_use_results)] if in_use_results else [],
    }


@settings(max_examples=300, deadline=None)
@given(_one_list_instances())
def test_the_shortcut_agrees_with_the_walk_on_random_instances(inst: dict[str, Any]) -> None:
    _compare(inst, Features())


def test_the_random_instances_reach_the_shortcut() -> None:
    # A guard on the property above: the shortcut answers these (and raises on poison).
    fits = {
        "node": node(),
        "claims": [claim("c", request("r0", count=1), request("r1", count=2))],
        "slices": [slice_with_devices("s", *(device(f"d{i}") for i in range(4)))],
        "classes": [device_class()],
        "allocated_claims": [allocated_claim(("driver-a", "pool-1", "d0"))],
    }
    assert _compare(fits, Features())
    selector = 'device.attributes["driver-a"].a == 1'
    devices = [device("d0", attributes={"a": 1}), device("d1"), device("d2", attributes={"a": 1})]
    poisoned = {
        **fits,
        "claims": [claim("c", request("r0", count=2, selectors=(selector,)))],
        "slices": [slice_with_devices("s", *devices)],
        "allocated_claims": [],
    }
    assert _compare(poisoned, Features())
