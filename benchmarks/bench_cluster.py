"""The Cluster (issue 9): filtering every node for a pod, events, forks, building.

Run: ``pytest benchmarks/bench_cluster.py --benchmark-only`` (a few minutes: the naive loop
over 5,000 nodes is the slow part). ``python benchmarks/bench_cluster.py`` prints the
summary table of docs/cluster.md.

Shapes: benchmarks/cluster_shapes.py (scheduler_perf's basic devices, one pool and one
slice per node, half of the devices in use at random). Three figures per filter:

- ``warm``: the same pod spec again with nothing changed in between (the memo answers
  every equivalence class);
- ``after an event``: a claim was reserved and released between two filters, as in a
  scheduler's loop (the node that changed gets a new key);
- ``cold``: the memo cleared before every filter (every class is allocated once).

The baseline, measured in the same run, is the naive loop: one ``Allocator`` and one
``allocate`` per node, as kube-scheduler does it (without its 16 goroutines).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import dra_core
from cluster_shapes import ClusterShape, claim, cluster_shape
from dra_core import Cluster

KINDS = ["basic", "selector", "four", "all", "match"]

_SHAPES: dict[tuple[int, int], ClusterShape] = {}
_CLUSTERS: dict[tuple[int, int], Cluster] = {}


def _shape(nodes: int, devices: int) -> ClusterShape:
    key = (nodes, devices)
    if key not in _SHAPES:
        _SHAPES[key] = cluster_shape(nodes, devices, per_root=4 if devices == 8 else 5)
    return _SHAPES[key]


def _cluster(nodes: int, devices: int) -> Cluster:
    key = (nodes, devices)
    if key not in _CLUSTERS:
        _CLUSTERS[key] = Cluster(_shape(nodes, devices).objects())
        _CLUSTERS[key].filter([claim("basic")])  # node keys computed once
    return _CLUSTERS[key]


def _naive(shape: ClusterShape, claims: list[Any]) -> list[str]:
    allocator = dra_core.Allocator(
        slices=shape.slices, classes=shape.classes, allocated_claims=shape.allocated
    )
    return [n.metadata.name for n in shape.nodes if allocator.allocate(n, claims) is not None]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", [(5000, 8), (500, 10)], ids=["5000x8", "500x10"])
def test_filter_warm(benchmark: Any, size: tuple[int, int], kind: str) -> None:
    cluster = _cluster(*size)
    claims = [claim(kind)]
    view = benchmark(cluster.filter, claims)
    benchmark.extra_info["feasible"] = len(view.feasible)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", [(5000, 8), (500, 10)], ids=["5000x8", "500x10"])
def test_filter_cold(benchmark: Any, size: tuple[int, int], kind: str) -> None:
    cluster = _cluster(*size)
    claims = [claim(kind)]

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        cluster._data.memo.clear()
        return (claims,), {}

    benchmark.pedantic(cluster.filter, setup=setup, rounds=7)


@pytest.mark.parametrize("size", [(5000, 8), (500, 10)], ids=["5000x8", "500x10"])
def test_filter_after_an_event(benchmark: Any, size: tuple[int, int]) -> None:
    cluster = _cluster(*size)
    claims = [claim("selector")]
    other = [claim("basic", name="other")]
    state = {"reserved": None}

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        if state["reserved"] is None:
            node = cluster.filter(other).feasible[0]
            state["reserved"] = cluster.reserve(other, node)
        else:
            cluster.unreserve(state["reserved"])
            state["reserved"] = None
        return (claims,), {}

    benchmark.pedantic(cluster.filter, setup=setup, rounds=20)
    if state["reserved"] is not None:
        cluster.unreserve(state["reserved"])


@pytest.mark.parametrize("kind", ["selector", "match"])
def test_naive_loop_5000x8(benchmark: Any, kind: str) -> None:
    shape = _shape(5000, 8)
    claims = [claim(kind)]
    feasible = benchmark.pedantic(_naive, args=(shape, claims), rounds=3)
    assert feasible == list(_cluster(5000, 8).filter(claims).feasible)


def test_claim_allocated_and_released(benchmark: Any) -> None:
    cluster = _cluster(5000, 8)
    shape = _shape(5000, 8)
    one = shape.allocated[0]

    def cycle() -> None:
        cluster.delete(one)  # its devices are free
        cluster.apply(one)  # and in use again

    benchmark(cycle)
    benchmark.extra_info["note"] = "two events per round (delete + apply)"


def test_slice_replaced(benchmark: Any) -> None:
    cluster = _cluster(5000, 8)
    shape = _shape(5000, 8)
    first = shape.slices[0]
    spec = first.spec.model_copy(
        update={"pool": first.spec.pool.model_copy(update={"generation": 2})}
    )
    second = first.model_copy(update={"spec": spec})
    flip = [first, second]

    def replace() -> None:
        flip.reverse()
        cluster.apply(flip[0])

    benchmark(replace)


def test_fork(benchmark: Any) -> None:
    cluster = _cluster(5000, 8)
    benchmark(cluster.fork)


_BUILD = """
import resource, sys, time
sys.path.insert(0, {here!r})
from cluster_shapes import claim, cluster_shape
from dra_core import Cluster
shape = cluster_shape(5000, 8)
pod = [claim("basic")]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
cluster = Cluster(shape.objects())
cluster.filter(pod)  # the first filter computes every node's key
built = time.perf_counter() - start
print(built, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, before / 1024)
"""


def _build_in_a_process() -> tuple[float, float, float]:
    code = _BUILD.format(here=str(Path(__file__).parent))
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def test_build_5000x8_from_models(benchmark: Any) -> None:
    seconds, rss, rss_models = benchmark.pedantic(_build_in_a_process, rounds=1)
    benchmark.extra_info.update(
        {"build_s": seconds, "max_rss_mib": rss, "rss_with_models_only_mib": rss_models}
    )


def main() -> None:
    """Print the table of docs/cluster.md: medians in ms, naive loop in the same run."""
    rows = []
    for size in [(5000, 8), (500, 10)]:
        shape, cluster = _shape(*size), _cluster(*size)
        for kind in KINDS:
            claims = [claim(kind)]
            warm = _median(9, cluster.filter, claims)
            cold = _median(5, cluster.filter, claims, clear=cluster)
            naive = _median(1 if size[0] > 1000 else 3, _naive, shape, claims)
            feasible = len(cluster.filter(claims).feasible)
            rows.append((f"{size[0]}x{size[1]}", kind, feasible, warm, cold, naive))
    print("| cluster | pod | feasible | warm ms | cold ms | naive ms | naive/cold |")
    print("|---|---|---|---|---|---|---|")
    for size_s, kind, feasible, warm_s, cold_s, naive_s in rows:
        print(
            f"| {size_s} | {kind} | {feasible} | {warm_s * 1e3:.1f} | {cold_s * 1e3:.1f} | "
            f"{naive_s * 1e3:.0f} | {naive_s / cold_s:.0f}x |"
        )


def _median(rounds: int, fn: Any, *args: Any, clear: Cluster | None = None) -> float:
    times = []
    for _ in range(rounds):
        if clear is not None:
            clear._data.memo.clear()
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


if __name__ == "__main__":
    main()
