"""Selectors are evaluated as the search reaches devices, as in Kubernetes.

The Problem still reads as if every device had been evaluated: ``candidates``,
``has_poison`` and ``ConstraintInfo.values`` give what the eager build gave.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

import dra_core.inventory as inventory_module
from builders import claim, device, device_class, match_attribute, node, request, slice_with_devices
from dra_core.allocator import Allocator
from dra_core.allocator.problem import Problem, build_problem
from dra_core.allocator.search import search
from dra_core.api import Node, ResourceClaim
from dra_core.errors import CELRuntimeError

SELECTOR = 'device.attributes["driver-a"].model == "a"'


def _devices() -> list[dict[str, Any]]:
    # gpu-2 has no model: the selector fails there with "no such key".
    return [
        device("gpu-0", attributes={"model": "a", "root": "r0"}),
        device("gpu-1", attributes={"model": "b", "root": "r1"}),
        device("gpu-2", attributes={"root": "r1"}),
        device("gpu-3", attributes={"model": "a", "root": "r1"}),
        device("gpu-4", attributes={"model": "a", "root": "r1"}),
    ]


def _allocator() -> Allocator:
    # A new slice object: nothing is evaluated yet.
    return Allocator(
        slices=[slice_with_devices("slice-1", *_devices())], classes=[device_class("class-a")]
    )


def _problem(allocator: Allocator, claims: list[dict[str, Any]]) -> Problem:
    return build_problem(
        inventory=allocator.inventory,
        node=Node.model_validate(node()),
        claims=[ResourceClaim.model_validate(c) for c in claims],
        classes=allocator.classes,
        allocated_state=allocator.allocated_state,
        features=allocator.features,
    )


def _evaluated(allocator: Allocator) -> list[str]:
    return [e.id.device for e in allocator.inventory.device_entries() if e._cel_device is not None]


def test_a_one_device_request_evaluates_up_to_its_first_match() -> None:
    allocator = _allocator()
    claims = [claim("c", request(selectors=(SELECTOR,)))]
    results = allocator.allocate(node(), claims)
    assert results is not None
    assert [d.device for d in results[0].devices.results] == ["gpu-0"]
    assert _evaluated(allocator) == ["gpu-0"]


def test_an_error_past_the_devices_the_search_needs_never_surfaces() -> None:
    allocator = _allocator()
    two = [claim("c", request(count=2, selectors=(SELECTOR,)))]
    # gpu-1 does not match, gpu-2 fails: the search reaches gpu-2 before a second match.
    with pytest.raises(CELRuntimeError, match="no such key: model"):
        allocator.allocate(node(), two)
    one = [claim("c", request(count=1, selectors=(SELECTOR,)))]
    assert _allocator().allocate(node(), one) is not None


def test_reading_the_problem_gives_what_the_eager_build_gave() -> None:
    claims = [
        claim(
            "c",
            request("r0", selectors=(SELECTOR,)),
            request("r1"),
            constraints=[match_attribute("driver-a/root")],
        )
    ]
    inventory_module._ENTRY_CACHE.clear()
    inventory_module._INVENTORIES.clear()
    lazy = _problem(_allocator(), claims)
    # r0 takes gpu-0, r1 finds no other device on root r0; r0 moves on to gpu-2.
    with pytest.raises(CELRuntimeError, match="no such key: model"):
        search(lazy)

    inventory_module._ENTRY_CACHE.clear()
    inventory_module._INVENTORIES.clear()
    eager = _problem(_allocator(), claims)
    eager_requests = [alt for slot in eager.claims[0].requests for alt in slot.alternatives]
    eager_view = (
        [[c.device for c in alt.candidates] for alt in eager_requests],
        [[str(c.error) for c in alt.candidates if c.error] for alt in eager_requests],
        [alt.has_poison for alt in eager_requests],
        eager.has_poison,
        [dict(con.values) for con in eager.claims[0].constraints],
    )
    lazy_requests = [alt for slot in lazy.claims[0].requests for alt in slot.alternatives]
    lazy_view = (
        [[c.device for c in alt.candidates] for alt in lazy_requests],
        [[str(c.error) for c in alt.candidates if c.error] for alt in lazy_requests],
        [alt.has_poison for alt in lazy_requests],
        lazy.has_poison,
        [dict(con.values) for con in lazy.claims[0].constraints],
    )
    assert lazy_view == eager_view
    assert eager_view[0] == [[0, 2, 3, 4], [0, 1, 2, 3, 4]]  # gpu-2 poisoned for r0
    assert eager_view[2] == [True, False]
    assert set(eager_view[4][0]) == {0, 1, 2, 3, 4}


@pytest.mark.parametrize("engine", ["search", "cpsat", "auto"])
def test_every_engine_sees_the_poisoned_device(engine: str) -> None:
    claims = [claim("c", request(count=2, selectors=(SELECTOR,)))]
    with pytest.raises(CELRuntimeError, match="no such key: model"):
        _allocator().allocate(node(), claims, engine=engine)


def test_threads_sharing_a_candidate_list_see_the_same_candidates() -> None:
    devices = [
        device(f"gpu-{i}", attributes={"model": "a" if i % 3 else "b", "root": f"r{i % 2}"})
        for i in range(60)
    ]
    allocator = Allocator(
        slices=[slice_with_devices("slice-1", *devices)], classes=[device_class("class-a")]
    )
    claims = [claim("c", request(count=3, selectors=(SELECTOR,)))]
    problems = [_problem(allocator, claims) for _ in range(4)]
    # Every problem shares one lazy candidate list (same device table and request).
    assert len({id(p.claims[0].requests[0].alternatives[0]._lazy) for p in problems}) == 1
    results: list[list[int]] = [[] for _ in problems]

    def walk(k: int) -> None:
        req = problems[k].claims[0].requests[0].alternatives[0]
        i = 0
        while req.reach(i + 1):
            results[k].append(req.candidate(i).device)
            i += 1

    threads = [threading.Thread(target=walk, args=(k,)) for k in range(len(problems))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = [i for i in range(60) if i % 3]
    assert results == [expected] * len(problems)
    assert [c.device for c in problems[0].claims[0].requests[0].alternatives[0].candidates] == (
        expected
    )
