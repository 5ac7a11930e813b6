"""Kubernetes' CEL selector table (tests/data/cel/cases) checked at the selector layer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cel_helpers import device_from_json

from conftest import data_files, data_path, data_relative
from dra_core.api import Device
from dra_core.cel import CelDevice, compile_selector
from dra_core.errors import CELCompileError, CELRuntimeError

CASE_FILES = data_files("cel", "cases")
PREFIX = "selector #0: "


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_case_folder_present() -> None:
    folder = data_path("cel", "cases")
    assert any(folder.glob("*.json"))


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case(path: Path) -> None:
    case = _load(data_path(*data_relative(path)))
    slice_spec = case["slices"][0]["spec"]
    raw_device = slice_spec["devices"][0]
    device = device_from_json(slice_spec["driver"], raw_device)
    # The same device through the API model, as the allocator builds it.
    model = Device.model_validate(raw_device)
    from_model = CelDevice.from_device(slice_spec["driver"], model, name=device.name)
    assert from_model.attribute_domains == device.attribute_domains
    assert from_model.capacity_domains == device.capacity_domains
    assert from_model.allow_multiple_allocations == device.allow_multiple_allocations
    request = case["claims"][0]["spec"]["devices"]["requests"][0]["exactly"]
    (selector,) = request["selectors"]
    expression = selector["cel"]["expression"]
    expect = case["expect"]
    error = expect.get("error")
    if error:
        want = error.split(PREFIX, 1)[1]
        if want.startswith("CEL compile error:"):
            with pytest.raises(CELCompileError) as compile_info:
                compile_selector(expression)
            assert str(compile_info.value).startswith(want)
            assert compile_info.value.expression == expression
            return
        program = compile_selector(expression)
        with pytest.raises(CELRuntimeError) as runtime_info:
            program.matches(device)
        assert want in str(runtime_info.value)
        assert runtime_info.value.device == device.name
        # The memoised path and the plain path agree, errors included.
        with pytest.raises(CELRuntimeError) as again:
            program.matches_uncached(device)
        assert str(again.value) == str(runtime_info.value)
        return
    expected_match = bool(expect.get("results"))
    program = compile_selector(expression)
    assert program.matches(device) is expected_match
    assert program.matches_uncached(device) is expected_match
