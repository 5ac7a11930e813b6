"""Scoring policies of the CP-SAT engine: each picks what it promises, validly.

Every instance is built so that first-fit (Kubernetes' order) picks something else
than the policy, so a policy that silently fell back to first-fit would fail.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from builders import (
    DRIVER,
    allocated_claim,
    claim,
    device,
    device_class,
    node,
    request,
    slice_with_devices,
)
from dra_core.allocator import Allocator
from dra_core.allocator.cpsat import POLICIES, allocate_scored
from dra_core.allocator.cpsat_model import SolverParams
from dra_core.allocator.validator import validate_allocation
from dra_core.api import AllocationResult, DeviceClass, Node, ResourceClaim, ResourceSlice


def devices_of(results: list[AllocationResult] | None) -> list[str]:
    assert results is not None
    return [r.device for result in results for r in result.devices.results]


def check_valid(case: dict[str, Any], results: list[AllocationResult]) -> None:
    violations = validate_allocation(
        node=Node.model_validate(case["node"]),
        claims=[ResourceClaim.model_validate(c) for c in case["claims"]],
        results=results,
        slices=[ResourceSlice.model_validate(s) for s in case["slices"]],
        classes=[DeviceClass.model_validate(c) for c in case["classes"]],
        allocated_claims=[ResourceClaim.model_validate(c) for c in case.get("allocated", [])],
    )
    assert violations == []


def scored(case: dict[str, Any], policy: str, **kwargs: Any) -> Any:
    pristine = copy.deepcopy(case)
    allocator = Allocator(
        slices=case["slices"],
        classes=case["classes"],
        allocated_claims=case.get("allocated", []),
    )
    out = allocate_scored(allocator, case["node"], case["claims"], policy=policy, **kwargs)
    assert case == pristine, "allocating changed its inputs"
    if out.results is not None:
        check_valid(case, out.results)
    return out


def partitions(gpus: int, used: int = 0) -> dict[str, Any]:
    """GPUs with a counter set of 4 each; per GPU one 4-slice and two 1-slice partitions."""
    counters = [{"name": f"gpu-{g}", "counters": {"slices": {"value": "4"}}} for g in range(gpus)]
    devs = []
    for g in range(gpus):
        for name, size in ((f"gpu-{g}-big", 4), (f"gpu-{g}-a", 1), (f"gpu-{g}-b", 1)):
            devs.append(
                device(
                    name,
                    attributes={"size": size, "gpu": g},
                    consumesCounters=[
                        {"counterSet": f"gpu-{g}", "counters": {"slices": {"value": str(size)}}}
                    ],
                )
            )
    return {
        "node": node(),
        "slices": [
            slice_with_devices("a-devices", *devs, slice_count=2),
            slice_with_devices("b-counters", slice_count=2, sharedCounters=counters),
        ],
        "classes": [device_class()],
    }


def test_best_fit_takes_the_smallest_sufficient_device() -> None:
    case = partitions(2)
    case["claims"] = [claim("c", request("r", count=1))]
    assert devices_of(scored(case, "first-fit").results) == ["gpu-0-big"]
    out = scored(case, "best-fit")
    assert devices_of(out.results) == ["gpu-0-a"]
    assert out.optimal


def test_best_fit_prefers_less_capacity() -> None:
    case = {
        "node": node(),
        "slices": [
            slice_with_devices(
                "s",
                device("large", capacity={"memory": "80Gi"}),
                device("small", capacity={"memory": "40Gi"}),
            )
        ],
        "classes": [device_class()],
        "claims": [claim("c", request("r", count=1))],
    }
    assert devices_of(scored(case, "first-fit").results) == ["large"]
    assert devices_of(scored(case, "best-fit").results) == ["small"]


def test_pack_reuses_a_partly_used_counter_set() -> None:
    case = partitions(2)
    # gpu-1-a is in use: counter set gpu-1 is partly used, gpu-0 is untouched.
    case["allocated"] = [allocated_claim((DRIVER, "pool-1", "gpu-1-a"))]
    case["claims"] = [
        claim("c", request("r", count=1, selectors=(f'device.attributes["{DRIVER}"].size == 1',)))
    ]
    assert devices_of(scored(case, "first-fit").results) == ["gpu-0-a"]
    out = scored(case, "pack")
    assert devices_of(out.results) == ["gpu-1-b"]
    assert out.optimal


def test_spread_uses_different_counter_sets() -> None:
    case = partitions(2)
    case["claims"] = [
        claim("c", request("r", count=2, selectors=(f'device.attributes["{DRIVER}"].size == 1',)))
    ]
    assert devices_of(scored(case, "first-fit").results) == ["gpu-0-a", "gpu-0-b"]
    out = scored(case, "spread")
    assert devices_of(out.results) == ["gpu-0-a", "gpu-1-a"]


def test_pack_keeps_counter_sets_together() -> None:
    case = partitions(3)
    case["claims"] = [
        claim("c0", request("r", count=1, selectors=(f'device.attributes["{DRIVER}"].gpu == 2',))),
        claim("c1", request("r", count=1, selectors=(f'device.attributes["{DRIVER}"].size == 1',))),
    ]
    # first-fit: c0 takes gpu-2-big (the whole GPU 2), c1 opens GPU 0.
    assert devices_of(scored(case, "first-fit").results) == ["gpu-2-big", "gpu-0-a"]
    # pack: both on GPU 2, one counter set opened instead of two.
    assert devices_of(scored(case, "pack").results) == ["gpu-2-a", "gpu-2-b"]


def test_weights_maximise_the_weighted_attributes() -> None:
    case = {
        "node": node(),
        "slices": [
            slice_with_devices(
                "s",
                device("slow", attributes={"perf": 1, "model": "A100"}),
                device("fast", attributes={"perf": 3, "model": "A100"}),
                device("h100", attributes={"perf": 2, "model": "H100"}),
            )
        ],
        "classes": [device_class()],
        "claims": [claim("c", request("r", count=1))],
    }
    assert devices_of(scored(case, "first-fit").results) == ["slow"]
    by_perf = scored(case, "weights", weights={f"{DRIVER}/perf": 1.0})
    assert devices_of(by_perf.results) == ["fast"]
    assert by_perf.score == pytest.approx(3.0)
    by_model = scored(case, "weights", weights={"perf": 1.0, f"{DRIVER}/model=H100": 5.0})
    assert devices_of(by_model.results) == ["h100"]


def test_scores_rank_nodes_for_a_scheduler() -> None:
    # The same claim on two "nodes" (inventories): one with a tight fit, one loose.
    tight = partitions(1)
    loose = partitions(1)
    loose["slices"][0]["spec"]["devices"] = loose["slices"][0]["spec"]["devices"][:1]
    for case in (tight, loose):
        case["claims"] = [claim("c", request("r", count=1))]
    assert scored(tight, "best-fit").score > scored(loose, "best-fit").score


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_says_does_not_fit_when_nothing_fits(policy: str) -> None:
    case = partitions(1)
    case["claims"] = [claim("c", request("r", count=4))]  # at most 3 partitions fit
    out = scored(case, policy)
    assert out.results is None
    assert out.score is None
    assert out.optimal


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_reports_optimality_and_a_score(policy: str) -> None:
    case = partitions(2)
    case["claims"] = [claim("c", request("r", count=2))]
    out = scored(case, policy, params=SolverParams(time_limit=30.0))
    assert out.results is not None
    assert out.optimal  # small instance: proven within the limit
    assert isinstance(out.score, float)


def test_unknown_policy_is_a_value_error() -> None:
    case = partitions(1)
    case["claims"] = [claim("c", request("r", count=1))]
    with pytest.raises(ValueError, match="unknown scoring policy 'tightest'"):
        scored(case, "tightest")


def test_policy_through_the_engine_switch() -> None:
    case = partitions(2)
    allocator = Allocator(slices=case["slices"], classes=case["classes"])
    claims = [claim("c", request("r", count=1))]
    results = allocator.allocate(
        case["node"], claims, engine="cpsat", options={"policy": "best-fit"}
    )
    assert devices_of(results) == ["gpu-0-a"]


def test_auto_hands_scoring_policies_to_cpsat() -> None:
    case = partitions(2)
    allocator = Allocator(slices=case["slices"], classes=case["classes"])
    claims = [claim("c", request("r", count=1))]
    results = allocator.allocate(
        case["node"], claims, engine="auto", options={"policy": "best-fit"}
    )
    assert devices_of(results) == ["gpu-0-a"]


def _poisoned_case() -> dict[str, Any]:
    # d-err has no "foo": the selector fails on it with a CEL runtime error, which
    # Kubernetes only raises when its walk reaches d-err.
    return {
        "node": node(),
        "slices": [
            slice_with_devices(
                "s",
                device("d-ok", attributes={"foo": 1}, capacity={"memory": "8Gi"}),
                device("d-err"),
            )
        ],
        "classes": [device_class()],
    }


def test_policies_never_escape_into_an_error_kubernetes_would_not_raise() -> None:
    case = _poisoned_case()
    case["claims"] = [
        claim("c", request("r", count=1, selectors=(f'device.attributes["{DRIVER}"].foo == 1',)))
    ]
    assert devices_of(scored(case, "first-fit").results) == ["d-ok"]
    for policy in POLICIES:
        assert devices_of(scored(case, policy).results) == ["d-ok"]


def test_policies_raise_the_error_kubernetes_raises() -> None:
    from dra_core.errors import CELRuntimeError

    case = _poisoned_case()
    case["claims"] = [
        claim("c", request("r", count=2, selectors=(f'device.attributes["{DRIVER}"].foo == 1',)))
    ]
    for policy in POLICIES:
        with pytest.raises(CELRuntimeError, match="no such key"):
            scored(case, policy)
