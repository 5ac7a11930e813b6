"""Benchmarks of ``allocate``: every conformance case, and Kubernetes' scheduler shapes.

Run: ``pytest benchmarks/bench_allocate.py --benchmark-only`` (add
``--benchmark-columns=median`` for the per-case medians).

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
from pathlib import Path
from typing import Any

import pytest

import dra_core.inventory as inventory_module
from dra_core.allocator import Allocator
from dra_core.api import DeviceClass, Node, ResourceClaim, ResourceSlice
from dra_core.features import Features
from dra_core.state import AllocatedState, DeviceID

SHARED = Path(os.environ.get("DRA_CORE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
CASES = sorted((SHARED / "conformance" / "cases").glob("*.json"))


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


@pytest.mark.parametrize("caches", ["warm", "cold"])
@pytest.mark.parametrize("in_use", [0, 50, 99])
@pytest.mark.parametrize("shape", ["basic", "selector", "matchAttribute"])
def test_scheduler_shape(benchmark: Any, shape: str, in_use: int, caches: str) -> None:
    """``warm``: dra-core's caches across calls are used (same slice objects, same
    state); ``cold``: they are dropped before every call, so each call rebuilds the
    inventory, the CEL view of every device and the selector results (CEL's own
    compile cache and per-value memo stay warm, like Go's compile cache)."""
    slices = [_slice()]
    classes = [
        DeviceClass.model_validate(
            {
                "metadata": {"name": "class"},
                "spec": {"selectors": [{"cel": {"expression": 'device.driver == "d"'}}]},
            }
        )
    ]
    node = Node.model_validate({"metadata": {"name": "node-1"}})
    claims = [_claim(shape)]
    busy = in_use * 10 // 100
    state = AllocatedState.from_devices(
        DeviceID(DRIVER, "node-1", f"device-{i}") for i in range(busy)
    )

    def run() -> Any:
        if caches == "cold":
            inventory_module._ENTRY_CACHE.clear()
            inventory_module._INVENTORIES.clear()
        allocator = Allocator(slices=slices, classes=classes, allocated_state=state)
        return allocator.allocate(node, claims)

    first = run()  # warm the CEL caches
    expected_fit = {"basic": busy < 10, "selector": busy < 10, "matchAttribute": busy <= 5}
    assert (first is not None) == expected_fit[shape]
    benchmark(run)
