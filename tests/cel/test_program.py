"""SelectorProgram: compile cache, memoisation by read set, cost limit, errors."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dra_core.api import Device
from dra_core.api.quantity import Quantity
from dra_core.cel import (
    DEFAULT_COST_LIMIT,
    CelDevice,
    Semver,
    clear_compile_cache,
    compile_selector,
)
from dra_core.errors import CELCompileError, CELRuntimeError

DRIVER = "gpu.example.com"


def gpu(index: int, model: str = "A100", **extra: object) -> CelDevice:
    return CelDevice(
        driver=DRIVER,
        attributes={"model": model, "index": index, **extra},
        capacity={"memory": Quantity.parse("80Gi")},
        name=f"{DRIVER}/pool/gpu-{index}",
    )


def test_compile_cache_returns_the_same_program() -> None:
    first = compile_selector('device.driver == "a"')
    assert compile_selector('device.driver == "a"') is first
    assert compile_selector('device.driver == "a"', cost_limit=10) is not first
    clear_compile_cache()
    assert compile_selector('device.driver == "a"') is not first


def test_compile_errors_are_cached_and_fresh() -> None:
    with pytest.raises(CELCompileError) as first:
        compile_selector("1 +")
    with pytest.raises(CELCompileError) as second:
        compile_selector("1 +")
    assert str(first.value) == str(second.value)
    assert first.value is not second.value
    assert second.value.expression == "1 +"
    assert str(second.value).startswith("CEL compile error: compilation failed: ERROR: <input>:1:")


def test_non_bool_result_is_a_compile_error() -> None:
    for expression, kind in (("1", "int"), ('"a"', "string"), ("[1]", "list(int)"),
                             ('device.capacity["d"].m', "kubernetes.Quantity")):
        with pytest.raises(CELCompileError) as info:
            compile_selector(expression)
        assert str(info.value) == (
            f"CEL compile error: must evaluate to bool or the unknown type, not {kind}"
        )


def test_dyn_result_compiles_and_is_checked_at_runtime() -> None:
    program = compile_selector('device.attributes["gpu.example.com"].model')
    with pytest.raises(CELRuntimeError) as info:
        program.matches(gpu(0))
    assert str(info.value) == (
        "CEL runtime error: CEL result of type string could not be converted to bool: "
        "unsupported native conversion from string to 'bool'"
    )


def test_read_sets() -> None:
    cases = {
        'device.driver == "x"': (("d",),),
        'device.attributes["gpu.example.com"].model == "A100"': (("a", DRIVER, "model"),),
        'device.attributes["gpu.example.com"]["model"] == "A100"': (("a", DRIVER, "model"),),
        'cel.bind(g, device.attributes["gpu.example.com"], g.model == "x")':
            (("a", DRIVER, "model"),),
        'has(device.attributes["gpu.example.com"].model)': (("a", DRIVER, "model"),),
        '"model" in device.attributes["gpu.example.com"]': (("a", DRIVER, "model"),),
        'device.capacity["gpu.example.com"].memory.isGreaterThan(quantity("1"))':
            (("c", DRIVER, "memory"),),
        'device.attributes["gpu.example.com"].size() > 1': (("A", DRIVER),),
        "device.attributes.size() > 1": (("AA",),),
        "device.allowMultipleAllocations": (("m",),),
        "true": (),
    }
    for expression, items in cases.items():
        assert compile_selector(expression).read_set == items, expression
    # A key computed at runtime: the whole attribute map (and the driver) is read.
    dynamic = compile_selector("device.attributes[device.driver].size() > 0")
    assert set(dynamic.read_set or ()) == {("AA",), ("d",)}
    # The device as a whole: evaluated per device.
    whole = compile_selector("[device].size() == 1")
    assert whole.read_set is None
    assert whole.matches(gpu(0)) is True


def test_identical_devices_share_one_evaluation() -> None:
    clear_compile_cache()
    program = compile_selector('device.attributes["gpu.example.com"].model == "A100"')
    devices = [gpu(i) for i in range(1000)] + [gpu(i, "H100") for i in range(1000)]
    results = program.matches_many(devices)
    assert results == [True] * 1000 + [False] * 1000
    assert len(program._memo) == 2  # one entry per distinct model


def test_memo_distinguishes_bool_from_int() -> None:
    program = compile_selector('device.attributes["gpu.example.com"].flag == true')
    one = CelDevice(driver=DRIVER, attributes={"flag": 1})
    true = CelDevice(driver=DRIVER, attributes={"flag": True})
    assert program.matches(one) is False
    assert program.matches(true) is True
    assert program.matches(one) is False


def test_memo_distinguishes_missing_from_present() -> None:
    program = compile_selector('device.attributes["gpu.example.com"].?flag.orValue(false)')
    assert program.matches(CelDevice(driver=DRIVER)) is False
    assert program.matches(CelDevice(driver=DRIVER, attributes={"flag": True})) is True


def test_runtime_errors_carry_the_device_and_a_hint() -> None:
    program = compile_selector('device.attributes["gpu.example.com"].memory > 1')
    device = gpu(3)
    for _ in range(2):  # the memoised error is raised again with the same text
        with pytest.raises(CELRuntimeError) as info:
            program.matches(device)
        message = str(info.value)
        assert message.startswith("CEL runtime error: no such key: memory")
        assert "has(...)" in message and ".?memory and .orValue(default)" in message
        assert info.value.device == device.name
        assert info.value.expression == program.expression


def test_matches_many_returns_errors_in_place() -> None:
    program = compile_selector('device.attributes["gpu.example.com"].index > 0')
    devices = [gpu(1), CelDevice(driver=DRIVER, name="bare"), gpu(0)]
    results = program.matches_many(devices)
    assert results[0] is True
    assert isinstance(results[1], CELRuntimeError)
    assert results[1].device == "bare"
    assert results[2] is False


def test_cost_limit_stops_a_hostile_expression() -> None:
    expression = "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].all(a, " * 7 + "true" + ")" * 7
    program = compile_selector(expression)
    with pytest.raises(CELRuntimeError) as info:
        program.matches(gpu(0))
    assert str(info.value) == "CEL runtime error: operation cancelled: actual cost limit exceeded"


def test_cost_limit_is_per_program() -> None:
    expression = "[1, 2, 3].all(x, x > 0)"
    assert compile_selector(expression).matches(gpu(0)) is True
    with pytest.raises(CELRuntimeError):
        compile_selector(expression, cost_limit=5).matches(gpu(0))
    assert DEFAULT_COST_LIMIT == 1_000_000


def test_exponential_string_growth_is_stopped() -> None:
    doubling = "cel.bind(s, \"ab\", " + "cel.bind(s, s + s, " * 40 + "s.size() > 0" + ")" * 41
    with pytest.raises(CELRuntimeError) as info:
        compile_selector(doubling).matches(gpu(0))
    assert "actual cost limit exceeded" in str(info.value)


def test_error_in_and_is_absorbed_by_false() -> None:
    program = compile_selector(
        'device.attributes["gpu.example.com"].nope == 1 && device.driver == "other"'
    )
    assert program.matches(gpu(0)) is False


def test_device_error_fails_every_selector() -> None:
    device = CelDevice(driver=DRIVER, error="attribute v: parse semantic version: bad")
    with pytest.raises(CELRuntimeError) as info:
        compile_selector("true").matches(device)
    assert str(info.value) == "CEL runtime error: attribute v: parse semantic version: bad"


def test_from_device_converts_every_attribute_type_without_mutating() -> None:
    raw = {
        "name": "gpu-0",
        "attributes": {
            "i": {"int": 1}, "b": {"bool": True}, "s": {"string": "x"},
            "v": {"version": "1.2.3"}, "is": {"ints": [1, 2]}, "bs": {"bools": [True]},
            "ss": {"strings": ["a"]}, "vs": {"versions": ["1.0.0"]},
            "other.example.com/o": {"int": 2},
        },
        "capacity": {"memory": {"value": "1Gi"}},
        "allowMultipleAllocations": True,
    }
    model = Device.model_validate(raw)
    before = copy.deepcopy(model.model_dump())
    device = CelDevice.from_device(DRIVER, model)
    assert model.model_dump() == before
    assert device.attribute_domains == {
        DRIVER: {"i": 1, "b": True, "s": "x", "v": Semver.parse("1.2.3"), "is": (1, 2),
                 "bs": (True,), "ss": ("a",), "vs": (Semver.parse("1.0.0"),)},
        "other.example.com": {"o": 2},
    }
    assert device.capacity_domains == {DRIVER: {"memory": Quantity.parse("1Gi")}}
    assert device.allow_multiple_allocations is True
    assert device.error is None
    assert device.name == f"{DRIVER}/gpu-0"


def test_from_device_records_a_bad_version_as_the_device_error() -> None:
    model = Device.model_validate({"name": "d", "attributes": {"v": {"version": "1.0"}}})
    device = CelDevice.from_device(DRIVER, model)
    assert device.error == (
        "attribute v: parse semantic version: No Major.Minor.Patch elements found"
    )


def test_direct_construction_does_not_mutate_inputs() -> None:
    attributes = {"tags": ["a", "b"], "model": "x"}
    capacity = {"memory": Quantity.parse("1Gi")}
    CelDevice(driver=DRIVER, attributes=attributes, capacity=capacity)
    assert attributes == {"tags": ["a", "b"], "model": "x"}
    assert capacity == {"memory": Quantity.parse("1Gi")}


def test_direct_construction_rejects_unsupported_values() -> None:
    with pytest.raises(TypeError):
        CelDevice(driver=DRIVER, attributes={"x": 1.5})
    with pytest.raises(TypeError):
        CelDevice(driver=DRIVER, capacity={"x": 5})


def test_not_cel_never_escapes_as_a_raw_exception() -> None:
    for text in ["", "(", "a.", "device.attributes[", "'unterminated", "1 ? 2", "\x00",
                 "a" * 20000, "(" * 400 + "true" + ")" * 400, "!" * 3000 + "true",
                 "device.attributes[\"x\"].y.z()", "{}.a{b: 1}"]:
        try:
            program = compile_selector(text)
        except CELCompileError as exc:
            assert str(exc).startswith("CEL compile error: ")
            continue
        try:
            program.matches(gpu(0))
        except CELRuntimeError as exc:
            assert str(exc).startswith("CEL runtime error: ")


def test_a_device_error_is_not_memoised_for_healthy_devices() -> None:
    program = compile_selector("true")
    broken = CelDevice(driver=DRIVER, error="attribute v: parse semantic version: bad")
    with pytest.raises(CELRuntimeError):
        program.matches(broken)
    assert program.matches(CelDevice(driver=DRIVER)) is True
    assert program.matches_many([CelDevice(driver=DRIVER), broken])[0] is True


_TOKENS = ["device", ".", "attributes", "capacity", "driver", "[", "]", "(", ")", '"x"', "1",
           "2u", "1.5", "true", "&&", "||", "!", "==", "<", "+", "-", "*", "/", "%", "?", ":",
           ",", "in", "has", "all", "exists", "x", "size", "quantity", '"1Gi"', "{", "}",
           "cel", "bind", ".?", "orValue", "b'a'", "null", "[?", "-9223372036854775808"]


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=40),
                 st.lists(st.sampled_from(_TOKENS), max_size=14).map(" ".join)))
def test_arbitrary_text_gives_typed_outcomes(text: str) -> None:
    try:
        program = compile_selector(text)
    except CELCompileError as exc:
        assert str(exc).startswith("CEL compile error: ")
        assert "internal error" not in str(exc)
        return
    for result in program.matches_many([gpu(0), CelDevice(driver=DRIVER)]):
        if isinstance(result, CELRuntimeError):
            assert str(result).startswith("CEL runtime error: ")
            assert "internal error" not in str(result)
        else:
            assert isinstance(result, bool)
