"""Results are built without validation, and dicts are validated once: both must be invisible.

- ``build_results`` builds the result models directly; every result must be exactly what
  validating its own dump gives: equal, the same set fields (so the same dump), the same
  private state, field by field and type by type.
- ``allocate`` with dicts remembers validated dicts by content; a dict changed in place,
  or changed to a value that is equal in Python but of another type (``1`` and ``True``),
  must be validated again.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from conftest import data_files
from dra_core import Features, ManifestError, allocate
from dra_core.allocator import core
from dra_core.api import AllocationResult, ResourceSlice, dump

CASES = data_files("conformance", "cases")


def _same(built: Any, validated: Any, path: str = "result") -> None:
    """Fail unless ``built`` and ``validated`` are the same data down to types and set fields."""
    assert type(built) is type(validated), path
    if isinstance(built, BaseModel):
        assert built.__pydantic_fields_set__ == validated.__pydantic_fields_set__, path
        assert built.__pydantic_private__ == validated.__pydantic_private__, path
        assert built.__pydantic_extra__ == validated.__pydantic_extra__, path
        assert list(built.__dict__) == list(validated.__dict__), path
        for name, value in built.__dict__.items():
            _same(value, validated.__dict__[name], f"{path}.{name}")
    elif isinstance(built, list):
        assert len(built) == len(validated), path
        for i, (a, b) in enumerate(zip(built, validated, strict=True)):
            _same(a, b, f"{path}[{i}]")
    elif isinstance(built, dict):
        assert list(built) == list(validated), path
        for key, value in built.items():
            _same(value, validated[key], f"{path}[{key!r}]")
    else:
        assert built == validated, path


def _run(case: dict[str, Any]) -> list[AllocationResult] | None:
    return allocate(
        node=case.get("node"),
        claims=case.get("claims") or [],
        slices=case.get("slices") or [],
        classes=case.get("classes") or [],
        allocated_claims=case.get("allocatedClaims") or [],
        features=Features.from_mapping(case.get("features") or {}),
    )


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_built_results_are_what_validation_gives(path: Path) -> None:
    case = json.loads(path.read_text())
    if case["expect"].get("error"):
        return
    results = _run(case)
    for result in results or []:
        data = result.model_dump(by_alias=True, exclude_unset=True)
        validated = AllocationResult.model_validate(data)
        assert result == validated
        assert dump(result) == dump(validated)
        assert result.model_dump_json() == validated.model_dump_json()
        assert repr(result) == repr(validated)
        _same(result, validated)


def _slice(count: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"name": "s"},
        "spec": {
            "driver": "d",
            "pool": {"name": "p", "generation": 1, "resourceSliceCount": 1},
            "nodeName": "n",
            "devices": [{"name": f"dev-{i}"} for i in range(count)],
        },
    }


def _facade(slices: list[dict[str, Any]]) -> list[AllocationResult] | None:
    claim = {
        "metadata": {"name": "c", "namespace": "ns", "uid": "u"},
        "spec": {
            "devices": {
                "requests": [
                    {
                        "name": "r",
                        "exactly": {
                            "deviceClassName": "cls",
                            "allocationMode": "ExactCount",
                            "count": 2,
                        },
                    }
                ]
            }
        },
    }
    cls = {"metadata": {"name": "cls"}}
    return allocate(node={"metadata": {"name": "n"}}, claims=[claim], slices=slices, classes=[cls])


def test_dicts_are_validated_once_per_content() -> None:
    core.clear_model_cache()
    first = core._model(ResourceSlice, _slice(), "ResourceSlice")
    again = core._model(ResourceSlice, _slice(), "ResourceSlice")
    assert again is first  # equal content, another dict: the remembered model
    assert first == ResourceSlice.model_validate(_slice())


def test_a_dict_changed_in_place_is_validated_again() -> None:
    core.clear_model_cache()
    slices = [_slice(1)]
    assert _facade(slices) is None  # one device, two wanted
    slices[0]["spec"]["devices"].append({"name": "dev-1"})
    results = _facade(slices)
    assert results is not None
    assert [r.device for r in results[0].devices.results] == ["dev-0", "dev-1"]
    slices[0]["spec"]["devices"].pop()
    assert _facade(slices) is None


def test_equal_values_of_another_type_are_validated_again() -> None:
    core.clear_model_cache()
    good = _slice()
    assert core._model(ResourceSlice, good, "ResourceSlice").spec.pool.generation == 1
    bad = copy.deepcopy(good)
    bad["spec"]["pool"]["generation"] = True  # == 1 in Python; Go's decoder rejects it
    assert bad == good
    with pytest.raises(ManifestError):
        core._model(ResourceSlice, bad, "ResourceSlice")


def test_input_that_is_not_plain_data_is_validated_every_time() -> None:
    class Marked(str):
        __slots__ = ()

    core.clear_model_cache()
    data = _slice()
    data["metadata"]["name"] = Marked("s")
    one = core._model(ResourceSlice, data, "ResourceSlice")
    two = core._model(ResourceSlice, data, "ResourceSlice")
    assert one == two and one is not two
    assert not core._cache


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    core.clear_model_cache()
    monkeypatch.setattr(core, "_CACHE_ENTRIES", 3)
    for i in range(10):
        data = _slice()
        data["metadata"]["name"] = f"s{i}"
        core._model(ResourceSlice, data, "ResourceSlice")
    assert len(core._cache) == 3
    assert core._cache_bytes == sum(len(key[1]) for key in core._cache)
    core.clear_model_cache()
