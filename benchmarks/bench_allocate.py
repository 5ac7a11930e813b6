"""Benchmarks of ``allocate``: every conformance case, and Kubernetes' scheduler shapes.

Run: ``pytest benchmarks/bench_allocate.py --benchmark-only`` (add
``--benchmark-columns=median`` for the per-case medians).

Side by side with Go: ``python benchmarks/bench_allocate.py [--rounds 7]`` prints, per
scheduler shape, dra-core's µs per call (median over rounds, all shapes timed in one
run) and the ratio against the Go allocator's figures *recorded* below (``GO_RECORDED_US``,
copied from the project's reference notes on the real allocator: Kubernetes v0.36.2,
same machine kind, a quiet machine), unless a Go toolchain is at hand (then measure Go
in the same run instead: shared machines drift by ±30%). It also times the facade with
plain dicts, with and without the cache of validated dicts, and prints the load average
before and after, since a busy shared machine moves every figure.

Data: the conformance cases come from ``tests/data`` (``DRA_CORE_TEST_DATA`` overrides,
as for the tests), so a fresh clone runs every benchmark; missing data fails the case.

The scheduler shapes mirror the ones Kubernetes' own scheduler benchmark uses, one
node each: 10 devices with the attributes model, family, driverVersion, pciRoot and
the capacity memory; claims for one device without and with a selector, and a claim
with 5 requests joined by ``matchAttribute`` on pciRoot over 2 roots; with 0%, 50%
and 99% (9 of 10) of the devices in use. As in Go, building the allocator is part of
the timed function; the models are parsed and the allocated state is built before
(kube-scheduler keeps both across scheduling cycles), and the CEL caches are warm.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import dra_core
import dra_core.inventory as inventory_module
from dra_core.allocator import Allocator, core
from dra_core.api import DeviceClass, Node, ResourceClaim, ResourceSlice
from dra_core.features import Features
from dra_core.state import AllocatedState, DeviceID

DATA = Path(
    os.environ.get("DRA_CORE_TEST_DATA", Path(__file__).resolve().parents[1] / "tests" / "data")
)
# A missing folder gives one path that does not exist: that case fails, never skips.
CASES = sorted((DATA / "conformance" / "cases").glob("*.json")) or [
    DATA / "conformance" / "cases" / "MISSING.json"
]


# --- every conformance case -------------------------------------------------------------


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_conformance_case(benchmark: Any, path: Path) -> None:
    case = json.loads(path.read_text())
    features = Features.from_mapping(case.get("features") or {})
    node = Node.model_validate(case.get("node") or {})
    claims = [ResourceClaim.model_validate(c) for c in case.get("claims") or []]
    slices = [ResourceSlice.model_validate(s) for s in case.get("slices") or []]
    classes = [DeviceClass.model_validate(c) for c in case.get("classes") or []]
    allocated = [ResourceClaim.model_validate(c) for c in case.get("allocatedClaims") or []]
    state = AllocatedState.from_claims(allocated, consumable_capacity=features.consumable_capacity)

    def run() -> Any:
        allocator = Allocator(
            slices=slices, classes=classes, allocated_state=state, features=features
        )
        try:
            return allocator.allocate(node, claims)
        except Exception as err:
            return err

    run()  # warm the CEL caches
    benchmark(run)


# --- the scheduler benchmark shapes --------------------------------------------------------

DRIVER = "d"
SELECTOR = (
    'device.attributes["d"].driverVersion.major() >= 1 && '
    'device.capacity["d"].memory.isGreaterThan(quantity("1Mi"))'
)


# Go's µs per call (NewAllocator + Allocate, warm CEL cache, devices in use as a prebuilt
# set), as recorded with the real allocator (Kubernetes v0.36.2, the project's reference
# notes): a range over empty/half/full, or one figure. None: not recorded.
GO_RECORDED_US: dict[str, tuple[float, float] | None] = {
    "basic-0": (17.0, 24.0),
    "basic-50": (17.0, 24.0),
    "basic-99": (17.0, 24.0),
    "selector-0": (24.0, 40.0),
    "selector-50": (24.0, 40.0),
    "selector-99": (24.0, 40.0),
    "matchAttribute-0": (144.0, 144.0),
    "matchAttribute-50": None,
    "matchAttribute-99": None,
}
SHAPES = ["basic", "selector", "matchAttribute"]
IN_USE = [0, 50, 99]


def _slice_dict() -> dict[str, Any]:
    return _slice().model_dump(by_alias=True, exclude_unset=True, mode="json")


def _slice() -> ResourceSlice:
    devices = [
        {
            "name": f"device-{i}",
            "attributes": {
                "model": {"string": "model-a"},
                "family": {"string": "family-a"},
                "driverVersion": {"version": "1.2.3"},
                "pciRoot": {"string": f"root-{i // 5}"},
            },
            "capacity": {"memory": {"value": "80Gi"}},
        }
        for i in range(10)
    ]
    return ResourceSlice.model_validate(
        {
            "metadata": {"name": "node-1-slice"},
            "spec": {
                "driver": DRIVER,
                "pool": {"name": "node-1", "generation": 1, "resourceSliceCount": 1},
                "nodeName": "node-1",
                "devices": devices,
            },
        }
    )


def _claim(shape: str) -> ResourceClaim:
    def req(name: str, selectors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        exactly: dict[str, Any] = {
            "deviceClassName": "class",
            "allocationMode": "ExactCount",
            "count": 1,
        }
        if selectors:
            exactly["selectors"] = selectors
        return {"name": name, "exactly": exactly}

    devices: dict[str, Any]
    if shape == "basic":
        devices = {"requests": [req("req-0")]}
    elif shape == "selector":
        devices = {"requests": [req("req-0", [{"cel": {"expression": SELECTOR}}])]}
    else:
        devices = {
            "requests": [req(f"req-{i}") for i in range(5)],
            "constraints": [{"matchAttribute": "d/pciRoot"}],
        }
    return ResourceClaim.model_validate(
        {
            "metadata": {"name": "claim", "namespace": "default", "uid": "1"},
            "spec": {"devices": devices},
        }
    )


def _class() -> DeviceClass:
    return DeviceClass.model_validate(
        {
            "metadata": {"name": "class"},
            "spec": {"selectors": [{"cel": {"expression": 'device.driver == "d"'}}]},
        }
    )


def _state(in_use: int) -> AllocatedState:
    busy = in_use * 10 // 100
    return AllocatedState.from_devices(
        DeviceID(DRIVER, "node-1", f"device-{i}") for i in range(busy)
    )


def _expect_fit(shape: str, in_use: int) -> bool:
    busy = in_use * 10 // 100
    return {"basic": busy < 10, "selector": busy < 10, "matchAttribute": busy <= 5}[shape]


def per_node_call(shape: str, in_use: int) -> Callable[[], Any]:
    """Go's timed unit: a new Allocator and one allocate, from parsed models, warm caches."""
    slices = [_slice()]
    classes = [_class()]
    node = Node.model_validate({"metadata": {"name": "node-1"}})
    claims = [_claim(shape)]
    state = _state(in_use)

    def run() -> Any:
        allocator = Allocator(slices=slices, classes=classes, allocated_state=state)
        return allocator.allocate(node, claims)

    assert (run() is not None) == _expect_fit(shape, in_use)  # also warms the CEL caches
    return run


def facade_dict_call(shape: str, in_use: int, *, cached: bool) -> Callable[[], Any]:
    """``dra_core.allocate`` with plain dicts; ``cached=False`` forgets validated dicts first."""
    slices = [_slice_dict()]
    classes = [_class().model_dump(by_alias=True, exclude_unset=True, mode="json")]
    node = {"metadata": {"name": "node-1"}}
    claims = [_claim(shape).model_dump(by_alias=True, exclude_unset=True, mode="json")]
    state = _state(in_use)

    def run() -> Any:
        if not cached:
            core.clear_model_cache()
        return dra_core.allocate(
            node=node, claims=claims, slices=slices, classes=classes, allocated_state=state
        )

    assert (run() is not None) == _expect_fit(shape, in_use)
    return run


@pytest.mark.parametrize("caches", ["warm", "cold"])
@pytest.mark.parametrize("in_use", IN_USE)
@pytest.mark.parametrize("shape", SHAPES)
def test_scheduler_shape(benchmark: Any, shape: str, in_use: int, caches: str) -> None:
    """``warm``: dra-core's caches across calls are used (same slice objects, same
    state); ``cold``: they are dropped before every call, so each call rebuilds the
    inventory, the CEL view of every device and the selector results (CEL's own
    compile cache and per-value memo stay warm, like Go's compile cache)."""
    warm = per_node_call(shape, in_use)

    def run() -> Any:
        if caches == "cold":
            inventory_module._ENTRY_CACHE.clear()
            inventory_module._INVENTORIES.clear()
        return warm()

    go = GO_RECORDED_US[f"{shape}-{in_use}"]
    if go is not None and caches == "warm":
        benchmark.extra_info["go_recorded_us"] = list(go)
    benchmark(run)


@pytest.mark.parametrize("cache", ["cached", "uncached"])
@pytest.mark.parametrize("in_use", IN_USE)
@pytest.mark.parametrize("shape", SHAPES)
def test_facade_with_dicts(benchmark: Any, shape: str, in_use: int, cache: str) -> None:
    """``dra_core.allocate`` with plain dicts every call (the same dicts each time).

    ``uncached`` forgets the validated dicts before every call: every slice, class,
    claim and node is validated again, as before the cache existed.
    """
    benchmark(facade_dict_call(shape, in_use, cached=cache == "cached"))


# --- side by side with Go -------------------------------------------------------------------


def _median_us(
    run: Callable[[], Any], rounds: int, budget: float = 0.2
) -> tuple[float, float]:
    """Medians over ``rounds`` of the mean µs per call of a batch lasting about ``budget`` s.

    Returns (wall clock, this thread's CPU time). On a busy shared machine the wall clock
    also counts the time other processes held the CPU; the CPU time does not (it still
    pays for their cache and memory traffic), so it is the closer one to a quiet run.
    """
    start = time.perf_counter()
    calls = 0
    while time.perf_counter() - start < budget / 4:
        run()
        calls += 1
    batch = max(1, calls * 4)
    wall = []
    cpu = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        c0 = time.thread_time()
        for _ in range(batch):
            run()
        cpu.append((time.thread_time() - c0) / batch * 1e6)
        wall.append((time.perf_counter() - t0) / batch * 1e6)
    return statistics.median(wall), statistics.median(cpu)


def _ratio(us: float, go: tuple[float, float] | None) -> str:
    if go is None:
        return "n/a"
    low, high = go
    if low == high:
        return f"{us / low:.2f}"
    return f"{us / high:.2f}–{us / low:.2f}"


def main(argv: list[str] | None = None) -> int:
    """Print dra-core's per-node µs per call next to Go's recorded figures."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    go_tool = shutil.which("go")
    print(f"Python {sys.version.split()[0]}; medians of {args.rounds} rounds, one run.")
    print(f"Load average before: {_load()}")
    if go_tool is None:
        print(
            "Go: no toolchain here (`which go` finds nothing): the Go column is the RECORDED "
            "figure (GO_RECORDED_US: v0.36.2, a quieter machine of this kind)."
        )
    else:
        print(
            f"Go: a toolchain is at {go_tool}; the Go column is still the RECORDED figure "
            "(build the reference command to measure it side by side)."
        )
    print()
    print(
        "| shape | in use | dra-core µs/call | CPU µs/call | Go µs/call (recorded) | ratio | "
        "ratio (CPU) | dicts, cached µs | dicts, uncached µs |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for shape in SHAPES:
        for in_use in IN_USE:
            us, cpu = _median_us(per_node_call(shape, in_use), args.rounds)
            cached, _ = _median_us(facade_dict_call(shape, in_use, cached=True), args.rounds)
            uncached, _ = _median_us(
                facade_dict_call(shape, in_use, cached=False), max(3, args.rounds // 2)
            )
            go = GO_RECORDED_US[f"{shape}-{in_use}"]
            go_text = "–" if go is None else (
                f"{go[0]:.0f}" if go[0] == go[1] else f"{go[0]:.0f}–{go[1]:.0f}"
            )
            print(f"| {shape} | {in_use}% | {us:.1f} | {cpu:.1f} | {go_text} | {_ratio(us, go)} | "
                  f"{_ratio(cpu, go)} | {cached:.1f} | {uncached:.1f} |")
    print()
    print("ratio = dra-core / Go (against the range's high and low end); below 1 is faster.")
    print("CPU: this thread's CPU time per call (excludes time other processes held the CPU).")
    print(f"Load average after: {_load()} ({os.cpu_count()} CPUs)")
    return 0


def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # pragma: no cover - not on every platform
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


if __name__ == "__main__":
    sys.exit(main())
