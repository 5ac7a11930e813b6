"""The validator must accept what the allocator finds and refuse each kind of broken result.

Each test starts from a valid allocation, breaks one rule in it, and checks that the
validator names that rule.
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
    distinct_attribute,
    match_attribute,
    node,
    request,
    slice_with_devices,
)
from dra_core import Features, allocate
from dra_core.allocator.validator import Violation, validate_allocation
from dra_core.api import AllocationResult, DeviceClass, Node, ResourceClaim, ResourceSlice


def _validate(
    *,
    claims: list[dict[str, Any]],
    results: list[AllocationResult],
    slices: list[dict[str, Any]],
    classes: list[dict[str, Any]],
    allocated: list[dict[str, Any]] = (),  # type: ignore[assignment]
    features: Features | None = None,
) -> list[Violation]:
    return validate_allocation(
        node=Node.model_validate(node()),
        claims=[ResourceClaim.model_validate(c) for c in claims],
        results=results,
        slices=[ResourceSlice.model_validate(s) for s in slices],
        classes=[DeviceClass.model_validate(c) for c in classes],
        allocated_claims=[ResourceClaim.model_validate(c) for c in allocated],
        features=features,
    )


def _rules(violations: list[Violation]) -> set[str]:
    return {v.rule for v in violations}


def _with_devices(result: AllocationResult, *names: str) -> AllocationResult:
    """A copy of ``result`` whose device results are for ``names`` instead."""
    dumped = result.model_dump(by_alias=True, exclude_none=True)
    first = dumped["devices"]["results"][0]
    dumped["devices"]["results"] = [dict(first, device=n) for n in names]
    return AllocationResult.model_validate(dumped)


GPUS = slice_with_devices(
    "slice-1",
    *(
        device(f"gpu-{i}", attributes={"model": "a" if i < 2 else "b", "numa": i % 2})
        for i in range(4)
    ),
)
CLASSES = [device_class("class-a", f"device.driver == '{DRIVER}'")]


def _allocate(claims: list[dict[str, Any]], **kw: Any) -> list[AllocationResult]:
    results = allocate(node=node(), claims=claims, slices=[GPUS], classes=CLASSES, **kw)
    assert results is not None
    return results


def test_accepts_the_allocators_result() -> None:
    claims = [claim("c0", request(count=2), constraints=[match_attribute(f"{DRIVER}/model")])]
    results = _allocate(claims)
    assert _validate(claims=claims, results=results, slices=[GPUS], classes=CLASSES) == []


def test_refuses_a_device_that_does_not_exist() -> None:
    claims = [claim("c0")]
    broken = [_with_devices(_allocate(claims)[0], "gpu-99")]
    violations = _validate(claims=claims, results=broken, slices=[GPUS], classes=CLASSES)
    assert "device" in _rules(violations)
    assert any(v.device == f"{DRIVER}/pool-1/gpu-99" for v in violations)


def test_refuses_the_wrong_count() -> None:
    claims = [claim("c0", request(count=2))]
    broken = [_with_devices(_allocate(claims)[0], "gpu-0")]
    assert "count" in _rules(
        _validate(claims=claims, results=broken, slices=[GPUS], classes=CLASSES)
    )


def test_refuses_a_device_twice_across_claims() -> None:
    claims = [claim("c0"), claim("c1")]
    results = _allocate(claims)
    broken = [results[0], _with_devices(results[1], results[0].devices.results[0].device)]
    rules = _rules(_validate(claims=claims, results=broken, slices=[GPUS], classes=CLASSES))
    assert "exclusive-use" in rules


def test_refuses_a_device_already_in_use() -> None:
    claims = [claim("c0")]
    in_use = [allocated_claim((DRIVER, "pool-1", "gpu-0"))]
    results = _allocate(claims, allocated_claims=in_use)
    assert results[0].devices.results[0].device != "gpu-0"
    broken = [_with_devices(results[0], "gpu-0")]
    violations = _validate(
        claims=claims, results=broken, slices=[GPUS], classes=CLASSES, allocated=in_use
    )
    assert "exclusive-use" in _rules(violations)


def test_refuses_a_device_the_selector_rejects() -> None:
    claims = [claim("c0", request(selectors=(f"device.attributes['{DRIVER}'].model == 'b'",)))]
    results = _allocate(claims)
    assert results[0].devices.results[0].device == "gpu-2"
    broken = [_with_devices(results[0], "gpu-0")]
    violations = _validate(claims=claims, results=broken, slices=[GPUS], classes=CLASSES)
    assert "selector" in _rules(violations)


@pytest.mark.parametrize(
    ("constraint", "devices", "rule"),
    [
        (match_attribute(f"{DRIVER}/model"), ("gpu-0", "gpu-2"), "match-attribute"),
        (distinct_attribute(f"{DRIVER}/numa"), ("gpu-0", "gpu-2"), "distinct-attribute"),
        (match_attribute(f"{DRIVER}/missing"), ("gpu-0", "gpu-1"), "match-attribute"),
    ],
)
def test_refuses_a_broken_constraint(
    constraint: dict[str, Any], devices: tuple[str, ...], rule: str
) -> None:
    plain = [claim("c0", request(count=2))]
    results = [_with_devices(_allocate(plain)[0], *devices)]
    constrained = [claim("c0", request(count=2), constraints=[constraint])]
    violations = _validate(claims=constrained, results=results, slices=[GPUS], classes=CLASSES)
    assert rule in _rules(violations)


def test_refuses_more_than_32_devices_per_claim() -> None:
    many = slice_with_devices("many", *(device(f"d{i}") for i in range(40)))
    claims = [claim("c0", request(count=33))]
    template = allocate(node=node(), claims=[claim("c0")], slices=[many], classes=CLASSES)
    assert template is not None
    broken = [_with_devices(template[0], *(f"d{i}" for i in range(33)))]
    rules = _rules(_validate(claims=claims, results=broken, slices=[many], classes=CLASSES))
    assert "claim-limit" in rules


def test_refuses_overused_counters() -> None:
    counters = slice_with_devices(
        "counters",
        sharedCounters=[{"name": "mem", "counters": {"memory": {"value": "8Gi"}}}],
        slice_count=2,
    )
    parts = slice_with_devices(
        "parts",
        *(
            device(
                f"part-{i}",
                consumesCounters=[{"counterSet": "mem", "counters": {"memory": {"value": "6Gi"}}}],
            )
            for i in range(2)
        ),
        slice_count=2,
    )
    slices = [counters, parts]
    claims = [claim("c0", request(count=1))]
    results = allocate(node=node(), claims=claims, slices=slices, classes=CLASSES)
    assert results is not None
    # Two 6Gi partitions of an 8Gi counter cannot both be in use.
    assert (
        allocate(
            node=node(), claims=[claim("c0", request(count=2))], slices=slices, classes=CLASSES
        )
        is None
    )
    two = [claim("c0", request(count=2))]
    broken = [_with_devices(results[0], "part-0", "part-1")]
    assert "counters" in _rules(
        _validate(claims=two, results=broken, slices=slices, classes=CLASSES)
    )


def test_refuses_an_untolerated_taint() -> None:
    tainted = slice_with_devices(
        "tainted",
        device("gpu-0", taints=[{"key": "broken", "effect": "NoSchedule"}]),
        device("gpu-1"),
    )
    claims = [claim("c0")]
    results = allocate(node=node(), claims=claims, slices=[tainted], classes=CLASSES)
    assert results is not None and results[0].devices.results[0].device == "gpu-1"
    broken = [_with_devices(results[0], "gpu-0")]
    assert "taint" in _rules(
        _validate(claims=claims, results=broken, slices=[tainted], classes=CLASSES)
    )


def test_refuses_a_node_selector_for_another_node() -> None:
    claims = [claim("c0")]
    result = _allocate(claims)[0]
    dumped = result.model_dump(by_alias=True, exclude_none=True)
    dumped["nodeSelector"]["nodeSelectorTerms"][0]["matchFields"][0]["values"] = ["node-2"]
    broken = [AllocationResult.model_validate(dumped)]
    rules = _rules(_validate(claims=claims, results=broken, slices=[GPUS], classes=CLASSES))
    assert "node-selector" in rules


def test_does_not_mutate_its_inputs() -> None:
    claims = [claim("c0", request(count=2))]
    results = _allocate(claims)
    before = [r.model_dump() for r in results], copy.deepcopy(claims)
    _validate(claims=claims, results=results, slices=[GPUS], classes=CLASSES)
    assert ([r.model_dump() for r in results], claims) == before
