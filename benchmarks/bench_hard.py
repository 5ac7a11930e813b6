"""Search vs CP-SAT vs auto on the hard shapes of issue 4.

Two ways to run it (neither is part of the test suite: ``benchmarks`` is not in
``testpaths``):

- ``python benchmarks/bench_hard.py [--search-cap 60] [--repeat 5] [--only NAME]``
  prints a Markdown table: per shape, the expected answer, the median time of
  ``cpsat`` and ``auto`` over ``--repeat`` runs, and one run of ``search`` stopped
  after ``--search-cap`` seconds (reported as "> cap").
- ``pytest benchmarks/bench_hard.py --benchmark-only`` times ``cpsat`` and ``auto``
  with pytest-benchmark.

Each timed call builds a fresh :class:`~dra_core.Allocator` from already validated
models and allocates, so it includes the inventory, the selectors (CEL), the problem
and the engine, as a scheduler's filter would pay on a cold node.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import shapes
from dra_core.allocator import Allocator
from dra_core.api import DeviceClass, Node, ResourceClaim, ResourceSlice
from dra_core.errors import AllocationTimeout
from dra_core.features import Features


class Prepared:
    """A shape's case as validated models, ready to allocate many times."""

    def __init__(self, shape: shapes.Shape) -> None:
        case = shape.case
        self.shape = shape
        self.node = Node.model_validate(case["node"])
        self.slices = [ResourceSlice.model_validate(s) for s in case["slices"]]
        self.classes = [DeviceClass.model_validate(c) for c in case["classes"]]
        self.claims = [ResourceClaim.model_validate(c) for c in case["claims"]]
        self.features = Features.from_mapping(case["features"])

    def allocate(self, engine: str, timeout: float | None = None) -> Any:
        allocator = Allocator(slices=self.slices, classes=self.classes, features=self.features)
        return allocator.allocate(self.node, self.claims, engine=engine, timeout=timeout)


def timed(prepared: Prepared, engine: str, timeout: float | None = None) -> tuple[float, Any]:
    started = time.perf_counter()
    try:
        result: Any = prepared.allocate(engine, timeout)
    except AllocationTimeout:
        result = TimeoutError
    return time.perf_counter() - started, result


def median_time(prepared: Prepared, engine: str, repeat: int) -> tuple[float, Any]:
    times = []
    result: Any = None
    for _ in range(repeat):
        elapsed, result = timed(prepared, engine)
        times.append(elapsed)
    return statistics.median(times), result


def _answer(result: Any) -> str:
    if result is TimeoutError:
        return "timeout"
    return "fits" if result is not None else "no fit"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--search-cap", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", default="", help="substring of shape names to run")
    parser.add_argument("--no-search", action="store_true", help="skip the search column")
    args = parser.parse_args(argv)

    print("| shape | expected | cpsat (median) | auto (median) | search (1 run) | agree |")
    print("|---|---|---|---|---|---|")
    for shape in shapes.all_shapes():
        if args.only and args.only not in shape.name:
            continue
        prepared = Prepared(shape)
        prepared.allocate("cpsat")  # warm the process (imports, CEL compile cache)
        cp_time, cp_result = median_time(prepared, "cpsat", args.repeat)
        auto_time, auto_result = median_time(prepared, "auto", args.repeat)
        if args.no_search:
            search_cell = "-"
            agree = _answer(cp_result) == _answer(auto_result)
        else:
            s_time, s_result = timed(prepared, "search", args.search_cap)
            search_cell = (
                f"> {args.search_cap:.0f} s (stopped)"
                if s_result is TimeoutError
                else f"{_ms(s_time)} ({_answer(s_result)})"
            )
            agree = _answer(cp_result) == _answer(auto_result) and (
                s_result is TimeoutError
                or [r.model_dump() for r in s_result or []]
                == [r.model_dump() for r in cp_result or []]
            )
        expected = "fits" if shape.fits else "no fit"
        ok = agree and _answer(cp_result) == expected
        print(
            f"| {shape.name} | {expected} | {_ms(cp_time)} ({_answer(cp_result)}) "
            f"| {_ms(auto_time)} ({_answer(auto_result)}) | {search_cell} | "
            f"{'yes' if ok else 'NO'} |",
            flush=True,
        )
    return 0


# --- pytest-benchmark -------------------------------------------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - running as a script without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:
    _SHAPES = list(shapes.all_shapes())

    @pytest.mark.parametrize("engine", ["cpsat", "auto"])
    @pytest.mark.parametrize("shape", _SHAPES, ids=lambda s: s.name)
    def test_hard_shape(benchmark: Any, shape: shapes.Shape, engine: str) -> None:
        prepared = Prepared(shape)
        result = benchmark(prepared.allocate, engine)
        assert (result is not None) == shape.fits


if __name__ == "__main__":
    sys.exit(main())
