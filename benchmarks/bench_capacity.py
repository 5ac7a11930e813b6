"""Capacity and how-many-more on big clusters (issue 13's speed targets).

- ``capacity`` over 5,000 nodes × 8 GPUs with half of them in use: ≤ 100 ms;
- ``how_many`` for a one-GPU pod on the same cluster (about 20,000 fit): ≤ 2 s;
- ``how_many`` for a four-GPU pod with ``matchAttribute`` on the PCIe root: ≤ 5 s.

Run with ``pytest benchmarks/bench_capacity.py`` (pytest-benchmark), or
``python benchmarks/bench_capacity.py`` for one timed run of each, cold and warm.
"""

from __future__ import annotations

import gc
import random
import sys
import time
from typing import Any

import pytest

import dra_core
from dra_core.api import ResourceClaim, ResourceSlice
from dra_core.cluster._capacity import CapacityReport, capacity, how_many

DRIVER = "gpu.nvidia.com"
NODES = 5000
GPUS = 8


def gpu_cluster(nodes: int = NODES, gpus: int = GPUS, *, seed: int = 1) -> dra_core.Cluster:
    """Nodes with ``gpus`` GPUs each (two PCIe roots), half of them in use (random, seeded)."""
    rng = random.Random(seed)
    objects: list[Any] = [
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "DeviceClass",
            "metadata": {"name": "gpu.nvidia.com"},
            "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{DRIVER}"'}}]},
        }
    ]
    claims: list[Any] = []
    for n in range(nodes):
        name = f"node-{n:05d}"
        objects.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
        devices = [
            {
                "name": f"gpu-{g}",
                "attributes": {
                    "productName": {"string": "NVIDIA A100-SXM4-80GB"},
                    "pcieRoot": {"string": f"pci0000:{g // (gpus // 2):02x}"},
                    "index": {"int": g},
                },
                "capacity": {"memory": {"value": "80Gi"}},
            }
            for g in range(gpus)
        ]
        objects.append(
            ResourceSlice.model_validate(
                {
                    "metadata": {"name": f"{name}-gpus"},
                    "spec": {
                        "driver": DRIVER,
                        "nodeName": name,
                        "pool": {"name": name, "generation": 1, "resourceSliceCount": 1},
                        "devices": devices,
                    },
                }
            )
        )
        used = rng.sample(range(gpus), gpus // 2)
        claims.append(
            ResourceClaim.model_validate(
                {
                    "metadata": {"name": f"in-use-{n}", "namespace": "default"},
                    "spec": {"devices": {"requests": []}},
                    "status": {
                        "allocation": {
                            "devices": {
                                "results": [
                                    {
                                        "request": "r",
                                        "driver": DRIVER,
                                        "pool": name,
                                        "device": f"gpu-{g}",
                                    }
                                    for g in sorted(used)
                                ]
                            }
                        }
                    },
                }
            )
        )
    return dra_core.Cluster([*objects, *claims])


def one_gpu_claim() -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": "one-gpu", "namespace": "default"},
        "spec": {
            "devices": {
                "requests": [
                    {"name": "gpu", "exactly": {"deviceClassName": "gpu.nvidia.com", "count": 1}}
                ]
            }
        },
    }


def four_gpus_one_root_claim() -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": "four-gpus", "namespace": "default"},
        "spec": {
            "devices": {
                "requests": [
                    {"name": "gpus", "exactly": {"deviceClassName": "gpu.nvidia.com", "count": 4}}
                ],
                "constraints": [{"matchAttribute": f"{DRIVER}/pcieRoot"}],
            }
        },
    }


@pytest.fixture(scope="module")
def cluster() -> dra_core.Cluster:
    # Built, then looked at once (the content numbering of 5,000 slices, ~0.6 s, is a
    # first-time cost that `python benchmarks/bench_capacity.py` reports on its own), and
    # the garbage of building collected, so that rounds measure the steady state.
    c = gpu_cluster()
    capacity(c)
    gc.collect()
    return c


def test_capacity_5000x8(benchmark: Any, cluster: dra_core.Cluster) -> None:
    report = benchmark(cluster_capacity, cluster)
    total = report.totals[0]
    assert (total.total, total.allocated, total.free) == (NODES * GPUS, NODES * 4, NODES * 4)


def test_capacity_5000x8_after_a_change(benchmark: Any, cluster: dra_core.Cluster) -> None:
    # A fresh fork with one more claim reserved each round: nothing carried over from
    # an unchanged cluster but the per-slice content numbers.
    def setup() -> tuple[tuple[dra_core.Cluster], dict[str, Any]]:
        fork = cluster.fork()
        fork.reserve([one_gpu_claim()], "node-00000")
        return (fork,), {}

    report = benchmark.pedantic(cluster_capacity, setup=setup, rounds=5)
    assert report.totals[0].allocated == NODES * 4 + 1


def test_how_many_one_gpu(benchmark: Any, cluster: dra_core.Cluster) -> None:
    answer = benchmark.pedantic(how_many, args=(cluster, [one_gpu_claim()]), rounds=3, iterations=1)
    assert answer.count == NODES * 4


def test_how_many_four_gpus_one_root(benchmark: Any, cluster: dra_core.Cluster) -> None:
    answer = benchmark.pedantic(
        how_many, args=(cluster, [four_gpus_one_root_claim()]), rounds=3, iterations=1
    )
    assert answer.count is not None and 0 < answer.count < NODES * 2


def cluster_capacity(cluster: dra_core.Cluster) -> CapacityReport:
    return capacity(cluster)


def _timed(label: str, fn: Any, *args: Any) -> Any:
    # Wall clock and this process's CPU time: on a shared machine the second is the one
    # that does not depend on what else runs.
    start, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    print(f"{label:<52} {1000 * wall:8.1f} ms wall {1000 * used:8.1f} ms cpu", flush=True)
    return out


def main() -> int:
    start = time.perf_counter()
    c = gpu_cluster()
    print(f"build {NODES} nodes × {GPUS} GPUs: {time.perf_counter() - start:.1f} s")
    gc.collect()
    _timed("capacity (cold: first look at each slice)", capacity, c)
    gc.collect()  # the numbering's garbage, collected once (else in the next call)
    for _ in range(3):
        _timed("capacity (warm)", capacity, c)
    fork = c.fork()
    fork.reserve([one_gpu_claim()], "node-00000")
    _timed("capacity (after one reserve, on a fork)", capacity, fork)
    _timed("capacity by productName", capacity, c, "gpu.nvidia.com/productName")
    one = _timed("how_many one GPU", how_many, c, [one_gpu_claim()])
    print("   ", one.count, one.reason)
    one = _timed("how_many one GPU (again)", how_many, c, [one_gpu_claim()])
    four = _timed("how_many four GPUs on one PCIe root", how_many, c, [four_gpus_one_root_claim()])
    print("   ", four.count, four.reason)
    return 0


if __name__ == "__main__":
    sys.exit(main())
