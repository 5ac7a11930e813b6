"""Kubernetes' own allocator test table (and the CEL selector cases), through dra_core.allocate.

Comparison rules: tests/data/conformance/README.md. Results are a multiset; within one
result the devices are compared in order unless ``resultsDeviceOrderInsensitive``
says otherwise; a non-null ``shareID`` only needs to be present; an expected error is
a substring of the message. Every case also checks that the inputs were not changed,
and every result goes through the solver-independent validator when it exists.
"""

from __future__ import annotations

import copy
import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import data_files, data_path, data_relative
from dra_core import DraCoreError, Features
from dra_core.allocator import allocate

# Engines that claim Kubernetes compatibility ("auto" is the default engine).
ENGINES = ["search", "cpsat", "auto"]

CASE_DIRS = (("conformance", "cases"), ("cel", "cases"))


def _case_files() -> list[Any]:
    return [
        pytest.param(p, id=f"{parts[0]}/{p.stem}")
        for parts in CASE_DIRS
        for p in data_files(*parts)
    ]


def _normalise(value: Any) -> Any:
    """Drop nulls (Go omits them) and reduce share ids to "present"."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item is None:
                continue
            if key == "shareID":
                out[key] = "<present>"
                continue
            out[key] = _normalise(item)
        return out
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _result_matches(actual: dict[str, Any], expected: dict[str, Any], unordered: bool) -> bool:
    if not unordered:
        return _canonical(actual) == _canonical(expected)
    a = dict(actual)
    e = dict(expected)
    a_devices = dict(a.pop("devices", {}))
    e_devices = dict(e.pop("devices", {}))
    a_results = sorted(_canonical(r) for r in a_devices.pop("results", []) or [])
    e_results = sorted(_canonical(r) for r in e_devices.pop("results", []) or [])
    return (
        a_results == e_results
        and _canonical(a) == _canonical(e)
        and _canonical(a_devices) == _canonical(e_devices)
    )


def _multiset_match(
    actual: list[dict[str, Any]], expected: list[dict[str, Any]], unordered: list[bool]
) -> bool:
    if len(actual) != len(expected):
        return False
    left = list(range(len(actual)))
    for i, exp in enumerate(expected):
        flag = unordered[i] if i < len(unordered) else False
        for j in left:
            if _result_matches(actual[j], exp, flag):
                left.remove(j)
                break
        else:
            return False
    return True


def _validator() -> Callable[..., Any] | None:
    try:
        module = importlib.import_module("dra_core.allocator.validator")
    except ImportError:
        return None
    return getattr(module, "validate_allocation", None)


def run_case(case: dict[str, Any], engine: str) -> list[Any] | None:
    """Allocate one case and check it against its expectation."""
    pristine = copy.deepcopy(case)
    expect = case["expect"]
    kwargs = dict(
        node=case.get("node"),
        claims=case.get("claims") or [],
        slices=case.get("slices") or [],
        classes=case.get("classes") or [],
        allocated_claims=case.get("allocatedClaims") or [],
        features=Features.from_mapping(case.get("features") or {}),
        engine=engine,
    )
    if expect.get("error"):
        with pytest.raises(DraCoreError) as info:
            allocate(**kwargs)
        assert expect["error"] in str(info.value)
    else:
        results = allocate(**kwargs)  # type: ignore[arg-type]
        want = expect.get("results")
        if want is None and not kwargs["claims"]:
            # No claims: Kubernetes returns an empty list (nothing to allocate
            # succeeds); the table writes that as null.
            assert results == []
        elif want is None:
            assert results is None, "expected 'does not fit'"
        else:
            assert results is not None, "expected an allocation, got 'does not fit'"
            got = [
                _normalise(
                    r.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True)
                )
                for r in results
            ]
            expected = [_normalise(r) for r in want]
            assert _multiset_match(
                got, expected, list(expect.get("resultsDeviceOrderInsensitive") or [])
            ), f"results differ:\n got {json.dumps(got)}\nwant {json.dumps(expected)}"
    assert case == pristine, "allocating changed its inputs"
    return None if expect.get("error") else results


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("path", _case_files())
def test_case(path: Path, engine: str) -> None:
    path = data_path(*data_relative(path))
    case = json.loads(path.read_text())
    run_case(case, engine)


# Cases where the validator (dra_core.allocator.validator) disagrees with Kubernetes'
# own expected result, which the allocator reproduces. Strict: they must start
# passing once the validator is fixed, and then be removed from here.
VALIDATOR_DISAGREES: dict[str, str] = {}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("path", _case_files())
def test_results_pass_the_validator(path: Path, engine: str, request: Any) -> None:
    path = data_path(*data_relative(path))
    validate = _validator()
    if validate is None:
        pytest.skip("dra_core.allocator.validator is not there yet")
    reason = VALIDATOR_DISAGREES.get(path.stem)
    if reason:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    check_with_validator(json.loads(path.read_text()), engine, validate)


def check_with_validator(case: dict[str, Any], engine: str, validate: Callable[..., Any]) -> None:
    """Allocate one case (checked as in ``run_case``), then validate the results."""
    results = run_case(case, engine)
    if not results:
        return
    from dra_core.api import DeviceClass, Node, ResourceClaim, ResourceSlice

    violations = validate(
        results=results,
        node=Node.model_validate(case.get("node") or {}),
        claims=[ResourceClaim.model_validate(c) for c in case.get("claims") or []],
        slices=[ResourceSlice.model_validate(s) for s in case.get("slices") or []],
        classes=[DeviceClass.model_validate(c) for c in case.get("classes") or []],
        allocated_claims=[
            ResourceClaim.model_validate(c) for c in case.get("allocatedClaims") or []
        ],
        features=Features.from_mapping(case.get("features") or {}),
    )
    assert not violations, f"the validator refused the results: {violations}"
