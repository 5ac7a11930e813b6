"""CEL selector evaluation: cel-python's runners against dra-core's path.

Run: ``pytest benchmarks/bench_cel.py --benchmark-columns=min,median,rounds``
(a few minutes). Groups are per selector; each compares, per (device, selector) pair:

- ``celpy-interpreted``: cel-python's ``InterpretedRunner`` on one device;
- ``celpy-compiled``: cel-python's ``CompiledRunner`` on one device;
- ``dra-one``: dra-core's compiled closures on one device, no memo
  (``SelectorProgram.matches_uncached``);
- ``dra-100k``: dra-core's ``matches_many`` over 100,000 NVIDIA-like GPUs with a cold
  memo each round; the timing is for the whole inventory, and ``extra_info`` has the
  amortised microseconds per device.

cel-python has no Kubernetes library, so it gets the few functions these selectors call
(``quantity``, ``semver``, ``isGreaterThan``...) as plain Python functions; that favours
it slightly.
"""

from __future__ import annotations

import sys
from typing import Any

import celpy
import pytest
from celpy import celtypes
from celpy.celparser import CELParser

from conftest import NVIDIA, nvidia_gpu
from dra_core.api.quantity import Quantity
from dra_core.cel import CelDevice, Semver, compile_selector

# Real selectors (tests/data/cel/selectors.txt; two templates rendered with a value).
SELECTORS: dict[str, str] = {
    "class-gpu": "device.driver == 'gpu.nvidia.com' && "
                 "device.attributes['gpu.nvidia.com'].type == 'gpu'",
    "class-mig-profile": "device.driver == 'gpu.nvidia.com' && "
                         "device.attributes['gpu.nvidia.com'].type == 'mig' && "
                         "device.attributes['gpu.nvidia.com'].profile == '1g.12gb'",
    "product-regex": "device.attributes['gpu.nvidia.com'].productName.lowerAscii()"
                     ".matches('^.*a100.*$')",
    "architecture": "device.attributes['gpu.nvidia.com'].architecture == 'Hopper'",
    "memory-gt-40gi": "device.capacity['gpu.nvidia.com'].memory.isGreaterThan(quantity(\"40Gi\"))",
    "memory-and-sms": "device.capacity['gpu.nvidia.com'].memory.isGreaterThan(quantity(\"10Gi\"))"
                      " && device.capacity['gpu.nvidia.com'].multiprocessors"
                      ".isGreaterThan(quantity(\"14\"))",
    "index-lt-2": 'device.attributes["gpu.nvidia.com"].index < 2',
    "driver-version": 'device.attributes["gpu.nvidia.com"].driverVersion'
                      '.compareTo(semver("550.0.0")) >= 0',
    "memory-compare": 'device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("80Gi")) >= 0',
    "product-absent": 'device.attributes["gpu.nvidia.com"].productName == "NONEXISTENT-GPU-XYZ"',
    "sms-lt-30": "device.capacity['gpu.nvidia.com'].multiprocessors.isLessThan(quantity(\"30\"))",
    "hopper-big": "device.attributes['gpu.nvidia.com'].architecture == 'Hopper' && "
                  "device.capacity['gpu.nvidia.com'].memory.isGreaterThan(quantity(\"80Gi\"))",
}
IDS = list(SELECTORS)


# --- cel-python, given the Kubernetes functions these selectors use ------------------------


def _quantity(text: Any) -> Any:
    return Quantity.parse(str(text))


def _semver(text: Any) -> Any:
    return Semver.parse(str(text))


def _compare(a: Any, b: Any) -> int:
    return a.compare(b) if isinstance(a, Semver) else int(a.cmp(b))


def _is_greater_than(a: Any, b: Any) -> Any:
    return celtypes.BoolType(_compare(a, b) > 0)


def _is_less_than(a: Any, b: Any) -> Any:
    return celtypes.BoolType(_compare(a, b) < 0)


def _compare_to(a: Any, b: Any) -> Any:
    return celtypes.IntType(_compare(a, b))


def _lower_ascii(s: Any) -> Any:
    return celtypes.StringType(str(s).lower())


CELPY_FUNCTIONS = {
    "quantity": _quantity,
    "semver": _semver,
    "isGreaterThan": _is_greater_than,
    "isLessThan": _is_less_than,
    "compareTo": _compare_to,
    "lowerAscii": _lower_ascii,
}


def _celpy_value(value: Any) -> Any:
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        return celtypes.IntType(value)
    if isinstance(value, str):
        return celtypes.StringType(value)
    return value  # Semver and Quantity stay opaque; only the functions above use them


def _celpy_activation(device: CelDevice) -> dict[str, Any]:
    def domains(source: dict[str, dict[str, Any]]) -> Any:
        return celtypes.MapType({
            celtypes.StringType(d): celtypes.MapType(
                {celtypes.StringType(k): _celpy_value(v) for k, v in values.items()}
            )
            for d, values in source.items()
        })

    return {
        "device": celtypes.MapType({
            celtypes.StringType("driver"): celtypes.StringType(device.driver),
            celtypes.StringType("attributes"): domains(device.attribute_domains),
            celtypes.StringType("capacity"): domains(device.capacity_domains),
        })
    }


def _celpy_program(expression: str, runner: type[Any]) -> Any:
    # cel-python keeps one parser per process, built for one runner's tree class.
    CELParser.CEL_PARSER = None
    # CompiledRunner's generated code names extension functions "<module>.<name>" and runs
    # in celpy.evaluation's globals: make this module reachable there (benchmark only).
    celpy.evaluation.__dict__.setdefault(__name__.split(".")[0], sys.modules[__name__])
    env = celpy.Environment(runner_class=runner)
    return env.program(env.compile(expression), functions=CELPY_FUNCTIONS)


@pytest.fixture(scope="module")
def one_device() -> CelDevice:
    attributes, capacity = nvidia_gpu(node=2, index=1)
    return CelDevice(driver=NVIDIA, attributes=attributes, capacity=capacity, name="gpu-1")


def _bench_celpy(benchmark: Any, name: str, device: CelDevice, runner: type[Any]) -> None:
    program = _celpy_program(SELECTORS[name], runner)
    activation = _celpy_activation(device)
    expected = compile_selector(SELECTORS[name]).matches_uncached(device)
    assert bool(program.evaluate(activation)) is expected
    benchmark.group = f"cel {name}"
    benchmark.pedantic(program.evaluate, args=(activation,), rounds=20, iterations=5)


@pytest.mark.parametrize("name", IDS)
def test_celpy_interpreted(benchmark: Any, name: str, one_device: CelDevice) -> None:
    _bench_celpy(benchmark, name, one_device, celpy.InterpretedRunner)


@pytest.mark.parametrize("name", IDS)
def test_celpy_compiled(benchmark: Any, name: str, one_device: CelDevice) -> None:
    _bench_celpy(benchmark, name, one_device, celpy.CompiledRunner)


@pytest.mark.parametrize("name", IDS)
def test_dra_one(benchmark: Any, name: str, one_device: CelDevice) -> None:
    program = compile_selector(SELECTORS[name])
    benchmark.group = f"cel {name}"
    benchmark.pedantic(program.matches_uncached, args=(one_device,), rounds=50, iterations=200)


@pytest.mark.parametrize("name", IDS)
def test_dra_100k(benchmark: Any, name: str, nvidia_inventory: list[CelDevice]) -> None:
    program = compile_selector(SELECTORS[name])
    benchmark.group = f"cel {name}"
    results = benchmark.pedantic(
        program.matches_many, args=(nvidia_inventory,), setup=program.clear_memo, rounds=3,
        iterations=1,
    )
    assert len(results) == len(nvidia_inventory)
    assert all(isinstance(r, bool) for r in results)
    best = benchmark.stats.stats.min
    benchmark.extra_info["devices"] = len(nvidia_inventory)
    benchmark.extra_info["us_per_device"] = round(best / len(nvidia_inventory) * 1e6, 3)
    benchmark.extra_info["distinct_inputs"] = len(program._memo)
