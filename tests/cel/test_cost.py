"""Runtime cost: what cel-go's tracker would count, bounded by Kubernetes' estimates.

compile_test.go records cel-go's worst-case estimate (MaxCost) of each table case; an
actual cost can never exceed it, and for expressions whose cost does not depend on value
sizes the two are equal.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cel_helpers import device_from_json

from conftest import data_path
from dra_core.cel import CelDevice, compile_selector

# Estimates from compile_test.go (expectCost), by case name.
ESTIMATES = {
    "runtime-error-lookup-identifier": 6,
    "runtime-error-lookup-map": 6,
    "domain-check-negative": 3,
    "domain-check-positive": 3,
    "real-driver-name": 4,
    "driver-name-qualifier": 4,
    "driver-name-qualifier-map-lookup": 4,
    "bind": 15,
    "qualified-attribute-name": 4,
    "bool": 4,
    "int": 5,
    "string": 5,
    "list-of-bool": 6,
    "list-of-int": 6,
    "list-of-string": 6,
    "list-of-semver": 6,
    "macro-on-list-of-int": 5 + 6 * 64,
    "macro-on-list-of-string": 5 + 4 * 64,
    "macro-on-list-of-semver": 5 + 6 * 64,
    "in-operator-on-list": 4 + 64,
    "version": 6,
    "version_v": 7,
    "quantity": 6,
    "check-positive": 10,
    "check-negative": 11,
    "all": 52,
    "many": 12,
    "check_attribute_domains": 164,
    "check_attribute_ids": 133,
    "split_attribute": 19,
    "regexp_attribute": 18,
    "check_capacity_domains": 164,
    "check_capacity_ids": 133,
    "allow_multiple_allocations": 3,
    "allow_multiple_allocations_default": 3,
    **{f"includes-function-on-{kind}-{sign}": 52
       for kind in ("bool", "int", "string") for sign in ("scalar-positive", "scalar-negative",
                                                         "list-positive", "list-negative")},
    **{f"includes-function-on-semver-{shape}": 53
       for shape in ("scalar-positive", "scalar-negative", "list-positive", "list-negative")},
}
# Cases whose cost does not depend on the sizes of values: actual == estimate.
EXACT = {
    "domain-check-negative", "domain-check-positive", "real-driver-name",
    "driver-name-qualifier", "driver-name-qualifier-map-lookup", "bind",
    "qualified-attribute-name", "bool", "int", "string", "list-of-bool", "list-of-int",
    "list-of-string", "list-of-semver", "version", "version_v", "quantity", "check-positive",
    "many", "allow_multiple_allocations", "allow_multiple_allocations_default",
}


def _case(name: str) -> tuple[str, CelDevice] | None:
    path = data_path("cel", "cases", f"cel-{name}.json")
    case = json.loads(Path(path).read_text(encoding="utf-8"))
    spec = case["slices"][0]["spec"]
    request = case["claims"][0]["spec"]["devices"]["requests"][0]["exactly"]
    return request["selectors"][0]["cel"]["expression"], device_from_json(
        spec["driver"], spec["devices"][0]
    )


CASES = sorted(ESTIMATES)


@pytest.mark.parametrize("name", CASES)
def test_actual_cost_within_kubernetes_estimate(name: str) -> None:
    found = _case(name)
    assert found is not None
    expression, device = found
    cost = compile_selector(expression).actual_cost(device)
    assert 0 < cost <= ESTIMATES[name]
    if name in EXACT:
        assert cost == ESTIMATES[name]


def test_cases_found() -> None:
    data_path("cel", "cases")
    assert len(CASES) > 40


def test_expensive_case_stops_just_past_the_limit() -> None:
    data_path("cel", "cases", "cel-expensive.json")
    found = _case("expensive")
    assert found is not None
    expression, device = found
    cost = compile_selector(expression).actual_cost(device)
    assert 1_000_000 < cost < 1_000_100
