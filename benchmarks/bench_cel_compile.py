"""Compile time of the worst selectors the API admits (10 KiB, cel-go's nesting limits).

Run: ``pytest benchmarks/bench_cel_compile.py --benchmark-columns=min,median,rounds``

Each round compiles from scratch (parse, type-check, fold constants, build closures,
find the read set), bypassing the compile cache. Target: at most 50 ms for every
expression here. The start-up benchmark runs a whole process: import, then the first
``allocate`` of a small case (target: at most 30 ms after the import).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest

from dra_core.cel import CEL_SELECTOR_EXPRESSION_MAX_LENGTH
from dra_core.cel._program import _compile, too_long

LIMIT = CEL_SELECTOR_EXPRESSION_MAX_LENGTH


def _fill(prefix: str, unit: str, suffix: str) -> str:
    """``prefix + unit * n + suffix`` as long as the 10 KiB limit allows."""
    return prefix + unit * ((LIMIT - len(prefix) - len(suffix)) // len(unit)) + suffix


WORST: dict[str, str] = {
    "int-list-10k": _fill("size([", "1234, ", "0]) > 0"),
    "int-map-10k": _fill("size({", "1: 1, ", "0: 0}) > 0"),
    "string-map-10k": _fill("size({", "'k1': 1, ", "'z': 0}) > 0"),
    "in-list-10k": _fill('device.attributes["d"].x in [', "12345, ", "0]"),
    "and-chain-10k": _fill("", 'device.driver == "a" && ', "true"),
    "or-attributes-10k": _fill("", 'device.attributes["d"].x == 1 || ', "false"),
    "string-10k": _fill('"', "a", '" != ""'),
    "nested-parentheses-249": "(" * 249 + "true" + ")" * 249,
    "nested-lists-249": "[" * 249 + "1" + "]" * 249 + " != []",
    "nested-macros-248": "[1].all(x, " * 248 + "true" + ")" * 248,
    "ternaries-249": "false ? true : " * 249 + "true",
    "additions-250": "1" + " + 1" * 249 + " > 0",
}


@pytest.mark.parametrize("name", WORST)
def test_compile_worst_case(benchmark: Any, name: str) -> None:
    expression = WORST[name]
    assert not too_long(expression)
    benchmark(_compile, expression, 1_000_000)


_STARTUP = textwrap.dedent(
    """
    import time
    import dra_core
    start = time.perf_counter()
    dra_core.allocate(
        node={"metadata": {"name": "n"}},
        claims=[{"metadata": {"name": "c", "namespace": "default"}, "spec": {"devices": {
            "requests": [{"name": "r", "exactly": {
                "deviceClassName": "gpu", "allocationMode": "ExactCount", "count": 1}}]}}}],
        slices=[{"metadata": {"name": "s"}, "spec": {
            "driver": "d", "nodeName": "n",
            "pool": {"name": "p", "generation": 1, "resourceSliceCount": 1},
            "devices": [{"name": "g0", "attributes": {"model": {"string": "a"}}}]}}],
        classes=[{"metadata": {"name": "gpu"}, "spec": {"selectors": [{"cel": {
            "expression": 'device.driver == "d" && device.attributes["d"].model == "a"'}}]}}],
    )
    print(time.perf_counter() - start)
    """
)


def test_first_allocate_after_import(benchmark: Any) -> None:
    """Whole processes; the figure is the first allocate's time, printed by the child."""
    seconds: list[float] = []

    def run() -> None:
        out = subprocess.run(
            [sys.executable, "-c", _STARTUP], capture_output=True, text=True, check=True
        )
        seconds.append(float(out.stdout))

    benchmark.pedantic(run, rounds=5, iterations=1)
    benchmark.extra_info["first_allocate_ms_min"] = round(min(seconds) * 1000, 2)
    benchmark.extra_info["first_allocate_ms_median"] = round(
        sorted(seconds)[len(seconds) // 2] * 1000, 2
    )
