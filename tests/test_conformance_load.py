"""Every object of every conformance and CEL case loads and dumps back to the same JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import data_files, data_path, data_relative
from dra_core.api import (
    AllocationResult,
    DeviceClass,
    K8sModel,
    Node,
    ResourceClaim,
    ResourceSlice,
    dump,
)
from dra_core.io import dump_json, load, parse_object


def case_files() -> list[str]:
    return [
        "/".join(data_relative(p))
        for folder in (("conformance", "cases"), ("cel", "cases"))
        for p in data_files(*folder)
    ]


def objects_of(case: dict[str, Any]) -> list[tuple[str, dict[str, Any], type[K8sModel]]]:
    found: list[tuple[str, dict[str, Any], type[K8sModel]]] = []
    if case.get("node"):
        found.append(("node", case["node"], Node))
    for key, cls in (
        ("slices", ResourceSlice),
        ("classes", DeviceClass),
        ("claims", ResourceClaim),
        ("allocatedClaims", ResourceClaim),
    ):
        found.extend((f"{key}[{i}]", o, cls) for i, o in enumerate(case.get(key) or []))
    results = (case.get("expect") or {}).get("results") or []
    found.extend((f"expect.results[{i}]", r, AllocationResult) for i, r in enumerate(results) if r)
    return found


@pytest.mark.parametrize("name", case_files())
def test_case_objects_round_trip(name: str) -> None:
    path: Path = data_path(*name.split("/"))
    case = json.loads(path.read_text())
    objects = objects_of(case)
    assert objects, "a case has objects"
    for where, data, cls in objects:
        model = cls.model_validate(data)
        assert dump(model) == data, where
        if cls is AllocationResult:
            continue
        # the same object through dra_core.io, as written (no defaults, no API validation)
        loaded = parse_object(data, cls)
        assert isinstance(loaded, cls)
        again = dump(loaded)
        again.pop("kind", None)
        again.pop("apiVersion", None)
        assert again == data, where


def test_conformance_cases_through_load_and_dump() -> None:
    root = data_path("conformance", "cases")
    for path in sorted(root.glob("*.json"))[:40]:
        case = json.loads(path.read_text())
        typed = [
            {"apiVersion": "resource.k8s.io/v1", "kind": cls.__name__, **data}
            for _, data, cls in objects_of(case)
            if cls in (ResourceSlice, DeviceClass, ResourceClaim)
        ]
        if not typed:
            continue
        objects = load(typed, defaults=False, validate=False)
        assert [dump(o) for o in objects] == typed
        assert load(dump_json(objects), defaults=False, validate=False) == objects
