"""The upstream allocator test cases that the shared corpus leaves out, as our own data.

``tests/cases/upstream/*.json`` holds the 33 cases of Kubernetes' allocator test table
(k8s.io/dynamic-resource-allocation v0.36.2, ``allocatortesting``) that are not in
``tests/data/conformance/cases``, written in the same format. They were transcribed by hand
from the Go table and are not machine-checked against the Go allocator; each file's
``source`` says so. They run exactly like the shared cases: through ``dra_core.allocate``
with every engine of ``test_conformance.ENGINES`` and the comparison rules of the
conformance README (``run_case``), then through the solver-independent validator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from test_conformance import ENGINES, _validator, check_with_validator, run_case

CASES = Path(__file__).parent / "cases" / "upstream"

# The upstream names of the 33 cases, so that a lost or renamed file fails a test
# instead of silently shrinking the table.
EXPECTED_NAMES = frozenset(
    {
        "all-devices-no-solution-reversed",
        "all-devices-of-the-incomplete-pool",
        "allow-multiple-allocations-with-partitionable-device",
        "check-combinations-within-single-request-many-pools",
        "check-combinations-within-single-request-multiple-pools-multiple-slices",
        "check-combinations-within-single-request-single-pool-multiple-slices",
        "check-combinations-within-single-request-single-pool-single-slice",
        "consumable-capacity-dedicated-device-with-multiple-consumable-capacity-request",
        "consumable-capacity-multi-allocatable-device-allocation-mode-all-allocating-sufficient",
        "consumable-capacity-multi-allocatable-device-with-missing-capacity-request",
        "different-resourceslices-in-pool-can-target-different-nodes",
        "empty",
        "invalid-CEL-one-device",
        "invalid-pool-is-error-if-no-other-device-can-be-allocated",
        "list-attributes-distinct-constraint-list-of-string-values-all-distinct",
        "list-attributes-distinct-constraint-mixed-scalar-and-list-with-common-elements",
        "list-attributes-match-constaint-list-of-string-values-with-common-elements",
        "list-attributes-match-constaint-list-of-string-values-with-partially-common-elements",
        "list-attributes-match-constaint-list-of-version-values-with-common-elements",
        "multi-host-resource-pool-complete-update-from-node-2-to-node-1",
        "multi-host-resource-pool-incomplete-update-from-node-1-to-node-2",
        "partitionable-devices-device-counter-consumption-references-unknown-counter-set",
        "partitionable-devices-disabled-other-device-do-not-consume-counters",
        "partitionable-devices-multiple-counters",
        "prioritized-list-allocation-mode-all-with-selectors-multiple-pools-across-nodes",
        "prioritized-list-too-many-in-first-subrequest",
        "separate-claims-share-device-admin-access",
        "simple",
        "tainted-two-devices",
        "tainted-two-devices-tolerated",
        "with-constraint-for-request-retry",
        "with-constraint-non-existent-attribute",
        "with-constraint-not-matching-version-attribute",
    }
)

# Cases where dra-core keeps one of the deliberate departures of docs/allocator.md
# ("Where dra-core differs from Kubernetes 1.36 on purpose"). Strict xfail: a case
# that starts passing must be removed from here.
DEPARTURES: dict[str, str] = {}

FEATURE_KEYS = {
    "adminAccess",
    "consumableCapacity",
    "deviceBindingAndStatus",
    "deviceTaints",
    "listTypeAttributes",
    "partitionableDevices",
    "prioritizedList",
}


def _case_files() -> list[Any]:
    return [pytest.param(p, id=p.stem) for p in sorted(CASES.glob("*.json"))]


def _load(path: Path, request: Any) -> dict[str, Any]:
    reason = DEPARTURES.get(path.stem)
    if reason:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    case: dict[str, Any] = json.loads(path.read_text())
    return case


def test_every_left_out_case_is_there() -> None:
    names = {p.stem for p in CASES.glob("*.json")}
    assert names == EXPECTED_NAMES


@pytest.mark.parametrize("path", _case_files())
def test_case_file_is_in_the_conformance_format(path: Path) -> None:
    case = json.loads(path.read_text())
    assert case["name"] == path.stem
    assert "transcribed by hand" in case["source"]
    assert "not machine-checked" in case["source"]
    assert set(case["features"]) == FEATURE_KEYS
    assert all(isinstance(v, bool) for v in case["features"].values())
    assert case["node"]["metadata"]["name"]
    for key in ("slices", "classes", "claims", "allocatedClaims"):
        assert isinstance(case[key], list), key
    expect = case["expect"]
    if expect["error"]:
        assert expect["results"] is None
        assert expect["errorMatch"] == "substring"
    if expect["results"] is not None:
        assert len(expect["resultsDeviceOrderInsensitive"]) == len(expect["results"])
        assert len(expect["results"]) == len(case["claims"])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("path", _case_files())
def test_case(path: Path, engine: str, request: Any) -> None:
    run_case(_load(path, request), engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("path", _case_files())
def test_results_pass_the_validator(path: Path, engine: str, request: Any) -> None:
    validate = _validator()
    if validate is None:
        pytest.skip("dra_core.allocator.validator is not there yet")
    check_with_validator(_load(path, request), engine, validate)
